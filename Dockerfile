# Both binaries, static and non-root:
#   docker build --build-arg VERSION=v0.1.0 --target operator -t ghcr.io/superviber/blue-operator:v0.1.0 .
#   docker build --build-arg VERSION=v0.1.0 --target blue-mcp -t ghcr.io/superviber/blue-mcp:v0.1.0 .
FROM golang:1.26 AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY controllers/ controllers/
COPY mcpserver/ mcpserver/
COPY cmd/ cmd/
COPY Makefile ./
# The Makefile holds the release build flags (tags, static, stripped).
RUN make build VERSION=${VERSION} BIN=/out

FROM gcr.io/distroless/static-debian12:nonroot AS operator
COPY --from=build /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]

FROM gcr.io/distroless/static-debian12:nonroot AS blue-mcp
COPY --from=build /out/blue-mcp /blue-mcp
USER 65532:65532
ENTRYPOINT ["/blue-mcp"]

# Both binaries, static and non-root, on an empty image (`make image` builds the
# same images as OCI archives without Docker; hack/image's test compares them):
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
COPY hack/image/ hack/image/
COPY Makefile ./
# The Makefile holds the release build flags (tags, static, stripped).
RUN make build VERSION=${VERSION} BIN=/out
# The image's root (passwd and group with nonroot 65532, CA certificates, /tmp,
# the binary), written by the same code as make image's.
RUN go run ./hack/image -rootfs /rootfs/operator -name manager -binary /out/manager && \
    go run ./hack/image -rootfs /rootfs/blue-mcp -name blue-mcp -binary /out/blue-mcp

FROM scratch AS operator
COPY --from=build /rootfs/operator/ /
COPY --from=build --chown=65532:65532 /rootfs/operator/home/nonroot /home/nonroot
USER 65532:65532
ENTRYPOINT ["/manager"]

FROM scratch AS blue-mcp
COPY --from=build /rootfs/blue-mcp/ /
COPY --from=build --chown=65532:65532 /rootfs/blue-mcp/home/nonroot /home/nonroot
USER 65532:65532
ENTRYPOINT ["/blue-mcp"]

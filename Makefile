# blue-operator. `make help` lists the targets.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

# Tools are built from their Go modules at pinned versions into a cache
# outside the repo; nothing is downloaded but Go modules.
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/blue-operator
TOOLS_BIN ?= $(CACHE_DIR)/tools/bin
CONTROLLER_TOOLS_VERSION ?= v0.23.0
STATICCHECK_VERSION ?= 2026.1
CONTROLLER_GEN ?= $(TOOLS_BIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)

GO_TEST_FLAGS ?=

# The Kubernetes components the tests and the local stack run, besides etcd
# and kube-apiserver (hack/setup-envtest.sh builds them in one go): the
# control plane, kubectl, and the test node's kubelet and kube-proxy
# (hack/setup-node.sh adds the node's container runtime, CNI plugins and
# NetworkPolicy engine).
CONTROL_PLANE = kube-controller-manager kube-scheduler kubectl kubelet kube-proxy

# Everything here is built without cgo, as the release binaries are: the
# tests run the code the images ship, link without the system linker, and
# share compiled packages with the test cluster's binaries, which
# hack/setup-envtest.sh builds with the same settings. (GO_TEST_FLAGS=-race
# needs CGO_ENABLED=1.)
export CGO_ENABLED ?= 0

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_-]+:.*##/ {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Development

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Regenerate deepcopy code.
	$(CONTROLLER_GEN) object paths=./api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Regenerate the CRD and RBAC manifests, and the Helm chart from them.
	$(CONTROLLER_GEN) crd rbac:roleName=blue-operator paths=./api/... paths=./controllers/... \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	@$(MAKE) --no-print-directory helm

.PHONY: helm
helm: ## Regenerate the Helm chart (deploy/helm/blue-operator) from config/ and deploy/monitoring.
	go run ./hack/helmchart

.PHONY: verify-generated
verify-generated: $(CONTROLLER_GEN) ## Fail when committed generated files are stale.
	CONTROLLER_GEN=$(CONTROLLER_GEN) hack/verify-generated.sh

.PHONY: fmt
fmt: ## gofmt the tree.
	gofmt -w $$(git ls-files '*.go')

.PHONY: lint
lint: ## gofmt check, go vet.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...

.PHONY: envtest-assets
envtest-assets: ## Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet and kube-proxy (cached; make test-tools adds the node and promtool).
	@hack/setup-envtest.sh $(CONTROL_PLANE) >/dev/null

.PHONY: node
node: ## Build the test node: containerd, runc (Debian), CNI plugins, kube-network-policies, kubelet, kube-proxy and its images, Traefik's among them (cached), and print its directory.
	@hack/setup-node.sh

.PHONY: promtool
promtool: ## Build promtool from the Prometheus Go module (cached) and print its directory.
	@hack/setup-promtool.sh

##@ Test

# npm packages the tests run (dynalite, a real DynamoDB API), pinned by
# package-lock.json.
node_modules: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# The binaries the tests run, built from their Go modules and cached outside
# the repo (hack/setup-*.sh). make test builds them after lint (not as a
# prerequisite, so make -j keeps that order): its go vet has compiled
# the packages the control plane shares with this repository. The three
# build at once: each has long single-threaded stretches (links) that the
# others' compiles fill, so both cores stay busy. The node's runtime builds
# alongside the control plane and waits for it only to link in its kubelet
# and kube-proxy.
.PHONY: test-tools
test-tools: ## Build the control plane, the test node, kubectl and promtool for the tests (cached; minutes on a cold machine).
	@hack/setup-promtool.sh >/dev/null & promtool=$$!; hack/setup-node.sh >/dev/null & node=$$!; rc=0; \
		hack/setup-envtest.sh $(CONTROL_PLANE) >/dev/null || rc=$$?; \
		wait $$node || rc=$$?; wait $$promtool || rc=$$?; exit $$rc

# On a cold machine the tools' module downloads (and the node's Debian
# packages) wait on the network while go vet's first compile waits on the
# CPU: started first, in the background, they overlap it. Each script takes
# its cache's lock, so the build that follows waits for its download; with
# the tools built it is instant. Its output is dropped: the build reports
# whatever failed.
.PHONY: prefetch-tools
prefetch-tools:
	@{ BLUE_PREFETCH=1 hack/setup-envtest.sh $(CONTROL_PLANE); BLUE_PREFETCH=1 hack/setup-node.sh; \
		BLUE_PREFETCH=1 hack/setup-promtool.sh; } >/dev/null 2>&1 &

# lint has already run go vet ./... with every analyzer, so make test's go
# test skips go test's own vet pass: with a different set of analyzers it
# would type-check the whole dependency graph a second time (minutes cold).
# Test binaries are linked without symbol table and DWARF (-s -w): stack
# traces still name every function and line, and each of the 70-odd links
# takes about 40% less (a minute or more of every run on 2 cores).
# Each fuzz target's seed corpus and any input it once failed on run here as
# ordinary tests; make fuzz runs the fuzzing engine itself.
.PHONY: test
test: prefetch-tools lint verify-generated node_modules ## Unit, envtest integration and end-to-end tests, and each fuzz target's corpus (the CI command).
	@$(MAKE) --no-print-directory test-tools
	KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh $(CONTROL_PLANE))" \
		BLUE_NODE_BIN="$$(hack/setup-node.sh)" \
		PROMTOOL_DIR="$$(hack/setup-promtool.sh)" \
		go test -vet=off -ldflags='-s -w' $(GO_TEST_FLAGS) -count=1 ./...

# Every fuzz target, as "Name:package". make fuzz runs each for FUZZTIME
# (FUZZTIME=10m make fuzz for a real run). The engine instruments every
# package a target links, so a first run compiles all of them again (about
# 4 minutes on 2 cores); later runs take about a minute.
FUZZ_TARGETS = \
	FuzzMarkdown:./mcpserver/blue FuzzFileName:./mcpserver/blue \
	FuzzPageToken:./mcpserver/store FuzzNameChecksMatchTheirExpressions:./mcpserver/store \
	FuzzSessionID:./mcpserver/server FuzzBearerToken:./mcpserver/server FuzzHostGuard:./mcpserver/server \
	FuzzJWT:./mcpserver/server FuzzClaims:./mcpserver/server \
	FuzzDecodeArgsNoLaxerThanSchema:./mcpserver/tools FuzzResourceURI:./mcpserver/tools FuzzResourceCursor:./mcpserver/tools \
	FuzzToolArguments:./test/mcpserver/server
FUZZTIME ?= 2s

# On a loaded machine Go's fuzzing engine can miss its own deadline and
# fail with "context deadline exceeded" without a failing input; such a run
# found nothing and is run once more. A finding always writes its input.
.PHONY: fuzz
fuzz: node_modules ## Run every fuzz target for FUZZTIME each (default 2s).
	@for t in $(FUZZ_TARGETS); do \
		name=$${t%%:*}; pkg=$${t#*:}; \
		echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
		for try in 1 2; do \
			out=$$(go test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $$pkg 2>&1) && break; \
			if [ $$try = 2 ] || echo "$$out" | grep -q "Failing input written" || ! echo "$$out" | grep -q "context deadline exceeded"; then echo "$$out"; exit 1; fi; \
			echo "fuzz $$name: the engine missed its deadline without a finding; running it again"; \
		done; \
	done

.PHONY: monitoring
monitoring: ## promtool check rules and test rules on deploy/monitoring, and its metrics against the binaries' (also part of make test).
	KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh)" PROMTOOL_DIR="$$(hack/setup-promtool.sh)" \
		go test -count=1 -v ./test/monitoring

.PHONY: e2e
e2e: node_modules ## The end-to-end journey on the local stack (also part of make test), with step timings; needs root.
	KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh $(CONTROL_PLANE))" BLUE_NODE_BIN="$$(hack/setup-node.sh)" \
		go test -count=1 -v -run TestJourney ./test/e2e

.PHONY: bench-operator
bench-operator: ## Operator convergence benchmark against a baseline (prints figures).
	KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh)" go run ./hack/bench-operator $(BENCH_ARGS)

.PHONY: bench-mcp
bench-mcp: node_modules ## MCP server overhead, RSS, start-up and STS calls against a bare go-sdk server (prints figures).
	go run ./hack/bench-mcp $(BENCH_ARGS)

.PHONY: bench
bench: bench-operator bench-mcp ## All benchmarks.

##@ Build

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

BIN ?= bin
# Release builds: static, stripped, and without grpc's x/net/trace (the
# Infisical SDK pulls grpc in through its GCP auth). x/net/trace's init makes
# text/template reachable, and with it the linker keeps every exported method
# of every type: the tag takes blue-mcp from 31 to 22 MB. The Dockerfile and
# hack/bench-mcp build through these targets.
RELEASE_BUILD = CGO_ENABLED=0 go build -tags grpcnotrace -trimpath -ldflags "-s -w -X main.version=$(VERSION)"

.PHONY: build
build: ## Build the operator and the server into bin/ (or BIN=dir) with the version from git (make lambda builds the client's Lambda).
	$(RELEASE_BUILD) -o $(BIN)/ ./cmd/manager ./cmd/blue-mcp

IMAGES ?= $(BIN)/images

.PHONY: image
image: build ## Build the operator and server images as OCI archives (no Docker) into bin/images/ (or IMAGES=dir).
	@# The images' CA certificates are Debian's ca-certificates: installed when absent.
	@test -r /etc/ssl/certs/ca-certificates.crt || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ca-certificates; }
	@mkdir -p $(IMAGES)
	go run ./hack/image -image blue-operator -name manager -binary $(BIN)/manager -version $(VERSION) -o $(IMAGES)/blue-operator.oci.tar
	go run ./hack/image -image blue-mcp -name blue-mcp -binary $(BIN)/blue-mcp -version $(VERSION) -o $(IMAGES)/blue-mcp.oci.tar

.PHONY: build-blue-mcp
build-blue-mcp: ## Build only blue-mcp into bin/ (or BIN=dir), as build does.
	$(RELEASE_BUILD) -o $(BIN)/ ./cmd/blue-mcp

# The client's data-access Lambda (cmd/blue-data-lambda) as a provided.al2023
# function: a linux binary named bootstrap and the zip Terraform deploys, in
# $(LAMBDA_DIR) (under the gitignored bin/). LAMBDA_ARCH=arm64 for Graviton.
LAMBDA_DIR ?= $(BIN)/lambda
LAMBDA_ARCH ?= amd64
# The tests' make lambda sets LAMBDA_TRIMPATH= on its command line (the
# environment cannot drop it from a release build): -trimpath only rewrites file
# names in the binary, and would compile the standard library and the AWS SDK
# once more on a cold machine (a minute and a half on 2 cores).
LAMBDA_TRIMPATH = -trimpath

.PHONY: lambda
lambda: ## Build the client's data Lambda: bin/lambda/bootstrap and bin/lambda/blue-data-lambda.zip (or LAMBDA_DIR=dir; linux, provided.al2023).
	@mkdir -p $(LAMBDA_DIR)
	GOOS=linux GOARCH=$(LAMBDA_ARCH) CGO_ENABLED=0 go build -tags lambda.norpc $(LAMBDA_TRIMPATH) -ldflags "-s -w" -o $(LAMBDA_DIR)/bootstrap ./cmd/blue-data-lambda
	go run ./hack/lambdazip $(LAMBDA_DIR)/bootstrap $(LAMBDA_DIR)/blue-data-lambda.zip
	@echo "$(LAMBDA_DIR)/blue-data-lambda.zip"

.PHONY: build-installer
build-installer: ## Render the install manifests into dist/install.yaml.
	@mkdir -p dist
	go run ./hack/manifests/render config/default > dist/install.yaml

$(CONTROLLER_GEN):
	hack/build-tool.sh sigs.k8s.io/controller-tools $(CONTROLLER_TOOLS_VERSION) sigs.k8s.io/controller-tools/cmd/controller-gen $(CONTROLLER_GEN)

##@ Run

.PHONY: run-local
run-local: node_modules ## The local stack: control plane, a real node, the operator, Traefik, the sample tenants and their clients' systems, until Ctrl-C; needs root.
	KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh $(CONTROL_PLANE))" BLUE_NODE_BIN="$$(hack/setup-node.sh)" \
		go run ./test/cmd/local-stack $(LOCAL_ARGS)

#!/usr/bin/env bash
# Builds promtool (and hack/promql-metrics, the PromQL parser the monitoring
# tests use) from the Prometheus Go module and prints the directory holding
# both binaries.
#
# Prometheus publishes promtool as a prebuilt download, which cannot work on
# machines that only reach the Go module proxy; both are built here instead,
# in a module of their own outside the repository, so
# github.com/prometheus/prometheus never enters this repository's go.mod (its
# requirements would raise client_golang in the binaries). The build leaves
# out Prometheus's service-discovery plugins (tag remove_all_sd: promtool
# needs none of them to check and unit-test rules). Binaries are cached
# outside the repo, keyed by the Prometheus version and the helper's source;
# a second run is instant.
#
# Usage: hack/setup-promtool.sh
# Logs go to stderr; stdout is only the directory. With BLUE_PREFETCH=1 it
# only downloads the modules and prints nothing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prometheus_version=${PROMETHEUS_VERSION:-v0.316.0}
helper="$root/hack/promql-metrics/main.go"
# Rebuilt when the helper or this script changes.
build_sum=$(cat "$helper" "${BASH_SOURCE[0]}" "$root/hack/lib/build-list.sh" | sha256sum | cut -c1-12)
# The module's v0.X.Y is Prometheus X/100.X%100.Y (v0.316.0 is 3.16.0).
if [[ ! $prometheus_version =~ ^v0\.([0-9]+)\.([0-9]+)$ ]]; then
  echo "setup-promtool: cannot read a Prometheus version from '$prometheus_version'" >&2
  exit 1
fi
release="$((BASH_REMATCH[1] / 100)).$((BASH_REMATCH[1] % 100)).${BASH_REMATCH[2]}"

cache=${BLUE_PROMTOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/blue-operator/promtool}
bindir="$cache/$prometheus_version-$build_sum/bin"
srcdir="$cache/$prometheus_version-src"
if [[ -x "$bindir/promtool" && -x "$bindir/promql-metrics" ]]; then
  echo "$bindir"
  exit 0
fi
mkdir -p "$bindir" "$srcdir"

# One build at a time per cache directory.
exec 9>"$cache/.lock"
flock 9
if [[ -x "$bindir/promtool" && -x "$bindir/promql-metrics" ]]; then
  echo "$bindir"
  exit 0
fi

# Built with the settings `make test` builds this repository with (no cgo,
# no -trimpath), in a module that requires this repository's build list
# (hack/lib/build-list.sh): client-go, the Kubernetes API types, the AWS SDK
# and the standard library that promtool links are the repository's, and
# compile once on a cold machine.
export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
. "$root/hack/lib/build-list.sh"

{
  echo "module blueoperator.local/promtool"
  echo
  echo "go $(repo_go_version "$root")"
  echo
  echo "require github.com/prometheus/prometheus $prometheus_version"
  echo
  echo "require ("
  repo_requirements "$root"
  echo ")"
} >"$srcdir/go.mod"
cp "$helper" "$srcdir/promql-metrics.go"
if prefetch_only; then
  (cd "$srcdir" && go get "github.com/prometheus/prometheus/cmd/promtool@$prometheus_version" >&2 &&
    go list -tags remove_all_sd -deps github.com/prometheus/prometheus/cmd/promtool >/dev/null)
  exit 0
fi
echo "setup-promtool: building promtool $prometheus_version (a few minutes on a cold cache)" >&2
(
  cd "$srcdir"
  go get "github.com/prometheus/prometheus/cmd/promtool@$prometheus_version" >&2
  go build -tags remove_all_sd -ldflags "-s -w \
    -X github.com/prometheus/common/version.Version=$release \
    -X github.com/prometheus/common/version.Branch=$prometheus_version" \
    -o "$bindir/promtool.tmp" github.com/prometheus/prometheus/cmd/promtool
  go build -ldflags '-s -w' -o "$bindir/promql-metrics.tmp" ./promql-metrics.go
)
mv "$bindir/promtool.tmp" "$bindir/promtool"
mv "$bindir/promql-metrics.tmp" "$bindir/promql-metrics"
echo "$bindir"

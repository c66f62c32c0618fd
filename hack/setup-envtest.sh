#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver and, on request,
# kube-controller-manager and kube-scheduler) from their Go modules and prints
# the directory to use as KUBEBUILDER_ASSETS.
#
# The upstream setup-envtest downloads prebuilt binaries, which cannot work on
# machines that only reach the Go module proxy. The Kubernetes version follows
# k8s.io/client-go in go.mod (v0.X.Y -> v1.X.Y), so the API server always
# matches the client libraries. Binaries are cached outside the repo, keyed by
# version; a second run is instant.
#
# Usage: hack/setup-envtest.sh [kube-controller-manager] [kube-scheduler] [kubectl]
# Logs go to stderr; stdout is only the directory.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
client_go=$(go list -modfile="$root/go.mod" -m -f '{{.Version}}' k8s.io/client-go 2>/dev/null ||
  awk '$1 == "k8s.io/client-go" {print $2; exit} $2 == "k8s.io/client-go" {print $3; exit}' "$root/go.mod")
if [[ ! $client_go =~ ^v0\.([0-9]+)\.([0-9]+)$ ]]; then
  echo "setup-envtest: cannot read k8s.io/client-go version from go.mod (got '$client_go')" >&2
  exit 1
fi
minor=${BASH_REMATCH[1]}
kube_version="v1.${minor}.${BASH_REMATCH[2]}"
staging_version="$client_go"
# etcd release line that Kubernetes 1.37 is tested with.
etcd_version=${ETCD_VERSION:-v3.7.3}

cache=${BLUE_ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/blue-operator/control-plane}
bindir="$cache/$kube_version-etcd-$etcd_version/bin"
srcdir="$cache/$kube_version-etcd-$etcd_version/src"
mkdir -p "$bindir" "$srcdir"

want=(etcd kube-apiserver "$@")
missing=()
for c in "${want[@]}"; do
  [[ -x "$bindir/$c" ]] || missing+=("$c")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "$bindir"
  exit 0
fi

# One build at a time per cache directory.
exec 9>"$cache/.lock"
flock 9

export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0

build_etcd() {
  local d="$srcdir/etcd"
  mkdir -p "$d"
  cat >"$d/go.mod" <<MOD
module blueoperator.local/controlplane/etcd

go 1.26

require go.etcd.io/etcd/server/v3 $etcd_version
MOD
  cat >"$d/main.go" <<'GO'
// Command etcd is etcd's own main, built from its Go module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  echo "setup-envtest: building etcd $etcd_version" >&2
  (cd "$d" && go mod tidy >&2 && go build -trimpath -ldflags '-s -w' -o "$bindir/etcd.tmp" . && mv "$bindir/etcd.tmp" "$bindir/etcd")
}

build_kube() {
  local d="$srcdir/kube"
  mkdir -p "$d"
  {
    echo "module blueoperator.local/controlplane/kube"
    echo
    echo "go 1.26"
    echo
    echo "require k8s.io/kubernetes $kube_version"
    echo
    echo "replace ("
    # k8s.io/kubernetes points its staging modules at ./staging, which does not
    # resolve outside its own tree: pin each to its published release instead.
    for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go \
      cloud-provider cluster-bootstrap code-generator component-base component-helpers \
      controller-manager cri-api cri-client cri-streaming csi-translation-lib \
      dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator \
      kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics \
      mount-utils pod-security-admission streaming; do
      echo "	k8s.io/$m => k8s.io/$m $staging_version"
    done
    echo ")"
  } >"$d/go.mod"
  cat >"$d/deps.go" <<'GO'
// Package deps only names the command packages so that `go mod tidy` records
// everything they need.
package deps

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
	_ "k8s.io/kubectl/pkg/cmd"
)
GO
  local pkg="k8s.io/component-base/version"
  local cpkg="k8s.io/client-go/pkg/version"
  local ld="-s -w"
  for p in "$pkg" "$cpkg"; do
    ld+=" -X $p.gitVersion=$kube_version -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  local targets=()
  for c in "$@"; do targets+=("k8s.io/kubernetes/cmd/$c"); done
  echo "setup-envtest: building ${*} $kube_version (several minutes on a cold cache)" >&2
  (cd "$d" && { [[ -f go.sum ]] || go mod tidy >&2; } &&
    go build -trimpath -ldflags "$ld" -o "$bindir/.new/" "${targets[@]}")
  for c in "$@"; do mv "$bindir/.new/$c" "$bindir/$c"; done
  rmdir "$bindir/.new"
}

kube=()
for c in "${missing[@]}"; do
  case "$c" in
    etcd) build_etcd ;;
    kube-apiserver | kube-controller-manager | kube-scheduler | kubectl) kube+=("$c") ;;
    *) echo "setup-envtest: unknown component '$c'" >&2; exit 2 ;;
  esac
done
[[ ${#kube[@]} -eq 0 ]] || build_kube "${kube[@]}"
echo "$bindir"

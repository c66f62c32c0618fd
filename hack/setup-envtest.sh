#!/usr/bin/env bash
# Builds the test cluster's Kubernetes binaries (etcd, kube-apiserver and, on
# request, kube-controller-manager, kube-scheduler, kubectl, and the node's
# kubelet and kube-proxy) from their Go modules and prints the directory to
# use as KUBEBUILDER_ASSETS.
#
# The upstream setup-envtest downloads prebuilt binaries, which cannot work on
# machines that only reach the Go module proxy. The Kubernetes version follows
# k8s.io/client-go in go.mod (v0.X.Y -> v1.X.Y), so the API server always
# matches the client libraries. Binaries are cached outside the repo, keyed by
# version; a second run is instant.
#
# Usage: hack/setup-envtest.sh [kube-controller-manager] [kube-scheduler] [kubectl] [kubelet] [kube-proxy]
# Logs go to stderr; stdout is only the directory. With BLUE_PREFETCH=1 it
# only downloads the modules and prints nothing.
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

want=(etcd kube-apiserver)
for c in "$@"; do
  case "$c" in
    etcd | kube-apiserver) ;;
    kube-controller-manager | kube-scheduler | kubectl | kubelet | kube-proxy) [[ " ${want[*]} " == *" $c "* ]] || want+=("$c") ;;
    *) echo "setup-envtest: unknown component '$c' (kube-controller-manager, kube-scheduler, kubectl, kubelet, kube-proxy)" >&2; exit 2 ;;
  esac
done
# Sets missing to the wanted components not built yet; prints the directory
# and exits when there are none.
exit_if_built() {
  missing=()
  for c in "${want[@]}"; do
    [[ -x "$bindir/$c" ]] || missing+=("$c")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "$bindir"
    exit 0
  fi
}
exit_if_built

# One build at a time per cache directory; another may just have built them.
exec 9>"$cache/.lock"
flock 9
exit_if_built

# Every component is built in one module and one `go build`, with the
# settings `make test` builds this repository with (no cgo, no -trimpath),
# and the module requires this repository's version of every module it
# shares with it. So each package is compiled once on a cold machine: the
# standard library, client-go, apimachinery, grpc, kustomize and the rest
# come from the repository's own compile, and etcd and the Kubernetes
# commands share theirs with each other.
export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0

# The module requires this repository's build list (hack/lib/build-list.sh):
# the control plane runs on the versions this repository ships with, never
# older than the ones etcd and Kubernetes ask for, sometimes newer (x/net,
# grpc, otel): the same libraries the operator's client code is tested with.
. "$root/hack/lib/build-list.sh"

d="$srcdir/module"
mkdir -p "$d/etcd"
{
  echo "module blueoperator.local/controlplane"
  echo
  echo "go $(repo_go_version "$root")"
  echo
  echo "require ("
  echo "	go.etcd.io/etcd/server/v3 $etcd_version"
  echo "	k8s.io/kubernetes $kube_version"
  echo ")"
  echo
  echo "require ("
  repo_requirements "$root"
  echo ")"
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
// everything they need, whichever of them a run builds: the module is the
// same for every set of components, so one build never undoes another's.
package deps

import (
	_ "go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/kubectl/pkg/cmd"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-proxy/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
	_ "k8s.io/kubernetes/cmd/kubelet/app"
)
GO
cat >"$d/etcd/main.go" <<'GO'
// Command etcd is etcd's own main, built from its Go module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO

# Without the version stamped the commands report v0.0.0-master, and kubectl
# refuses to talk to such an API server. etcd has none of these packages;
# the linker ignores -X for packages a binary does not contain.
ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld+=" -X $p.gitVersion=$kube_version -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
targets=()
for c in "${missing[@]}"; do
  case "$c" in
    etcd) targets+=(./etcd) ;;
    *) targets+=("k8s.io/kubernetes/cmd/$c") ;;
  esac
done
echo "setup-envtest: building ${missing[*]} (etcd $etcd_version, Kubernetes $kube_version; several minutes on a cold cache)" >&2
rm -rf "$bindir/.new"
if prefetch_only; then
  (cd "$d" && go mod tidy >&2)
  exit 0
fi
(cd "$d" && go mod tidy >&2 && go build -ldflags "$ld" -o "$bindir/.new/" "${targets[@]}")
for c in "${missing[@]}"; do mv "$bindir/.new/$c" "$bindir/$c"; done
rmdir "$bindir/.new"
echo "$bindir"

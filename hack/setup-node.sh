#!/usr/bin/env bash
# Builds the test node's runtime from Go modules and Debian packages and prints
# its directory (BLUE_NODE_BIN for test/node): containerd, its runc shim and
# ctr; the CNI bridge, host-local and loopback plugins (in cni/); the
# NetworkPolicy engine kube-network-policies, with hack/node's patch applied;
# and, as OCI archives in images/, the sandbox image (superviber/pause:node),
# the probe pods' image (superviber/netcheck:node, hack/node/netcheck), the
# NetworkPolicy engine's (superviber/kube-network-policies:node) and the
# ingress controller's, Traefik (superviber/traefik:node, built by
# hack/setup-ingress.sh in a cache and module of its own). It also links in
# the kubelet and kube-proxy that hack/setup-envtest.sh builds with the
# control plane, and installs Debian's runc and nftables (kube-proxy
# programs Services with nft) when they are missing.
#
# Like the control plane, everything is built in one generated module that
# requires this repository's build list, with the settings `make test` uses
# (no cgo, no -trimpath), so the libraries it shares with the repository
# (client-go, grpc, x/sys, ...) are compiled once on a cold machine. Cached
# outside the repo, keyed by the versions and the patch; a second run is
# instant. Traefik has its own build list (see hack/setup-ingress.sh) and
# is asked for only to pack its image, so its version never touches the
# runtime's key.
#
# Logs go to stderr; stdout is only the directory. With BLUE_PREFETCH=1 it
# only installs the Debian packages and downloads the modules.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/hack/lib/build-list.sh"
containerd_version=v2.4.2
plugins_version=v1.10.0
knp_version=v0.8.0
patch_file="$root/hack/node/kube-network-policies-nfqueue.patch"
# The images change with their commands' source, with the image builder and
# with Traefik's build (its key, printed without building).
images=(pause netcheck kube-network-policies traefik)
ingress_key=$("$root/hack/setup-ingress.sh" --key)
images_key=$({ cat "$root"/hack/node/*/*.go "$root"/hack/image/*.go "$patch_file"; echo "$ingress_key"; } | sha256sum | cut -c1-12)
patch_key=$(sha256sum <"$patch_file" | cut -c1-12)

cache=${BLUE_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/blue-operator/node}
key="containerd-$containerd_version-cni-$plugins_version-knp-$knp_version-$patch_key"
bindir="$cache/$key/bin"
srcdir="$cache/$key/src"
mkdir -p "$bindir" "$srcdir"

runtime=(containerd containerd-shim-runc-v2 ctr kube-network-policies cni/bridge cni/host-local cni/loopback)
runtime_built() {
  for b in "${runtime[@]}"; do [[ -x "$bindir/$b" ]] || return 1; done
}
images_built() {
  for i in "${images[@]}"; do [[ -r "$bindir/images/$images_key/$i.oci.tar" ]] || return 1; done
  [[ $(readlink "$bindir/images/current") == "$images_key" ]]
}
# kubelet and kube-proxy come from the control plane's build (same module,
# same compile as kube-apiserver; instant when built), and follow it when
# the Kubernetes version changes. They are asked for last, so that the
# runtime builds while hack/setup-envtest.sh builds the control plane
# (make test-tools runs both at once; this one waits for that one's lock).
kube_dir() { "$root/hack/setup-envtest.sh" kubelet kube-proxy; }
kube_built() { [[ $(readlink "$bindir/kubelet") == "$kube/kubelet" && $(readlink "$bindir/kube-proxy") == "$kube/kube-proxy" ]]; }
built() { runtime_built && images_built && command -v runc nft >/dev/null; }
if built && ! prefetch_only; then
  kube=$(kube_dir)
  if kube_built; then
    echo "$bindir"
    exit 0
  fi
fi
exec 9>"$cache/.lock"
flock 9

# Debian's runc is the OCI runtime (containerd's own is a separate project,
# not a Go module it ships); kube-proxy's nftables mode runs nft.
need=()
command -v runc >/dev/null || need+=(runc)
command -v nft >/dev/null || need+=(nftables)
if [[ ${#need[@]} -gt 0 ]]; then
  echo "setup-node: installing ${need[*]} (Debian)" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } >&2
fi
# The node's netfilter sees bridged pod traffic only with br_netfilter.
if [[ ! -d /proc/sys/net/bridge ]] && ! modprobe br_netfilter 2>/dev/null; then
  echo "setup-node: this kernel has no br_netfilter (/proc/sys/net/bridge): the test node cannot filter pod traffic" >&2
  exit 1
fi

# Traefik's modules, for its image (hack/setup-ingress.sh takes its own
# cache's lock, never this one).
prefetch_ingress() { BLUE_PREFETCH=1 "$root/hack/setup-ingress.sh" >&2; }

export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
d="$srcdir/module"
mkdir -p "$d"
if ! runtime_built; then
  # kube-network-policies from its released module, with our patch: a copy of
  # the module the generated module replaces it with.
  echo "setup-node: building containerd $containerd_version, CNI plugins $plugins_version, kube-network-policies $knp_version (minutes on a cold cache)" >&2
  knp_src=$(cd "$root" && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kube-network-policies@$knp_version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  rm -rf "$d/kube-network-policies"
  cp -r "$knp_src" "$d/kube-network-policies"
  chmod -R u+w "$d/kube-network-policies"
  patch -s -p1 -d "$d/kube-network-policies" <"$patch_file"
  {
    echo "module blueoperator.local/node"
    echo
    echo "go $(repo_go_version "$root")"
    echo
    echo "require ("
    echo "	github.com/containerd/containerd/v2 $containerd_version"
    echo "	github.com/containernetworking/plugins $plugins_version"
    echo "	sigs.k8s.io/kube-network-policies $knp_version"
    echo ")"
    echo
    echo "require ("
    repo_requirements "$root"
    echo ")"
    echo
    echo "replace sigs.k8s.io/kube-network-policies => ./kube-network-policies"
  } >"$d/go.mod"
  cat >"$d/deps.go" <<'GO'
// Package deps only names the command packages so that `go mod tidy` records
// everything they need.
package deps

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd/builtins"
	_ "github.com/containernetworking/plugins/plugins/main/bridge"
	_ "sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
)
GO
  v=github.com/containerd/containerd/v2/version
  ld="-s -w -X $v.Version=$containerd_version -X $v.Revision=blue-operator -X $v.Package=github.com/containerd/containerd/v2"
  if prefetch_only; then
    (cd "$d" && go mod tidy >&2)
    prefetch_ingress
    exit 0
  fi
  rm -rf "$bindir/.new"
  (cd "$d" && go mod tidy >&2 && go build -ldflags "$ld" -o "$bindir/.new/" \
    github.com/containerd/containerd/v2/cmd/containerd \
    github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
    github.com/containerd/containerd/v2/cmd/ctr \
    github.com/containernetworking/plugins/plugins/main/bridge \
    github.com/containernetworking/plugins/plugins/main/loopback \
    github.com/containernetworking/plugins/plugins/ipam/host-local \
    sigs.k8s.io/kube-network-policies/cmd)
  mkdir -p "$bindir/cni"
  for b in bridge loopback host-local; do mv "$bindir/.new/$b" "$bindir/cni/$b"; done
  mv "$bindir/.new/cmd" "$bindir/kube-network-policies"
  for b in containerd containerd-shim-runc-v2 ctr; do mv "$bindir/.new/$b" "$bindir/$b"; done
  rmdir "$bindir/.new"
fi
if prefetch_only; then
  prefetch_ingress
  exit 0
fi

# The images: no registry is reachable, so the node's containerd is pinned
# to this sandbox image, and test/node imports them all. Traefik's binary
# comes from its own cache (instant when built; its lock is taken inside
# this one, and it never takes this one).
if ! images_built; then
  mkdir -p "$bindir/images/$images_key"
  ingress_bin=$("$root/hack/setup-ingress.sh")
  for i in "${images[@]}"; do
    bin="$bindir/$i"
    if [[ $i == traefik ]]; then
      bin="$ingress_bin/traefik"
    elif [[ -d "$root/hack/node/$i" ]]; then
      bin="$bindir/images/$i"
      (cd "$root" && go build -ldflags "-s -w" -o "$bin" "./hack/node/$i")
    fi
    out="$bindir/images/$images_key/$i.oci.tar"
    (cd "$root" && go run ./hack/image -image "$i" -name "$i" -binary "$bin" -version node -o "$out.tmp" >&2)
    mv "$out.tmp" "$out"
  done
  rm -f "$bindir/images/pause" "$bindir/images/netcheck"
fi
# test/node imports images/current; older keys go.
ln -sfn "$images_key" "$bindir/images/current.tmp" && mv -T "$bindir/images/current.tmp" "$bindir/images/current"
for d in "$bindir"/images/*/; do
  d=${d%/}
  [[ $(basename "$d") == "$images_key" || $(basename "$d") == current ]] || rm -rf "$d"
done

# kubelet and kube-proxy, linked in (atomically: another run may be using
# them).
kube=$(kube_dir)
for c in kubelet kube-proxy; do
  ln -sfn "$kube/$c" "$bindir/.$c" && mv -T "$bindir/.$c" "$bindir/$c"
done

echo "$bindir"

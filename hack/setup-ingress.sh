#!/usr/bin/env bash
# Builds Traefik, the test node's ingress controller (its Kubernetes Ingress
# provider), from its Go module and prints the directory holding the binary,
# bin/traefik. hack/setup-node.sh packs it as the node's image
# superviber/traefik:node.
#
# Traefik's released module does not build from the Go module proxy as it
# is, so it is built here from a patched copy, in a generated module of its
# own that requires only Traefik and starts from Traefik's go.sum: the build
# list is Traefik's own as released, not this repository's
# (hack/lib/build-list.sh), which has OpenTelemetry's log modules at v1 where
# Traefik needs v0.20. There is no go mod tidy: it would also resolve the
# modules that only tests of Traefik's dependencies import, at whatever
# version is newest that day. From hack/node/traefik-build:
#   - ext-stub stands in for github.com/traefik/traefik/dynamic/ext, which
#     Traefik's go.mod replaces with a directory of its repository that the
#     module's zip leaves out: the two empty types Traefik embeds, as
#     upstream's are.
#   - the patch: Traefik's go.mod replaces github.com/abbot/go-http-auth with
#     a fork the proxy does not serve, so this build has go-http-auth v0.4.0,
#     which checks passwords differently; the patch makes the basicAuth and
#     digestAuth middlewares fail to build ("not in this build"), so a router
#     that uses one is refused rather than served. It also leaves out ACME's
#     DNS-01 challenge providers (lego's providers/dns, hundreds of cloud DNS
#     SDK packages no test uses): a DNS challenge is an error.
# Both can go when Traefik's released module builds from the proxy (the fork
# served, or Traefik back on an upstream go-http-auth with the API it uses,
# and the ext directory in the zip); the DNS edit is only a saving. The
# replace and exclude lines below repeat Traefik's own (they apply only in
# the main module).
#
# Built with the settings `make test` uses (no cgo, no -trimpath). Cached
# outside the repo, keyed by the version, the patch, the stub and the
# generated go.mod; a second run is instant. About 1,700 packages: some
# minutes on 2 cores with a cold build cache.
#
# Usage: hack/setup-ingress.sh [--key]
# Logs go to stderr; stdout is only the directory (with --key, only the cache
# key, without building). With BLUE_PREFETCH=1 it only downloads the modules
# and prints nothing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/hack/lib/build-list.sh"
traefik_version=v3.7.13
build="$root/hack/node/traefik-build"
patch_file="$build/traefik-$traefik_version.patch"

# gomod GO_VERSION prints the generated module's go.mod (GO_VERSION is
# Traefik's own).
gomod() {
  cat <<EOF
module blueoperator.local/ingress

go $1

require github.com/traefik/traefik/v3 $traefik_version

replace github.com/traefik/traefik/v3 => ./traefik

replace github.com/traefik/traefik/dynamic/ext => ./ext-stub

replace github.com/abbot/go-http-auth => github.com/abbot/go-http-auth v0.4.0

replace github.com/gorilla/mux => github.com/containous/mux v0.0.0-20250523120546-41b6ec3aed59

exclude github.com/tencentcloud/tencentcloud-sdk-go v3.0.83+incompatible
EOF
}
key="traefik-$traefik_version-$({ cat "$patch_file" "$build"/ext-stub/*; gomod GO; } | sha256sum | cut -c1-12)"
if [[ ${1:-} == --key ]]; then
  echo "$key"
  exit 0
fi

cache=${BLUE_INGRESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/blue-operator/ingress}
bindir="$cache/$key/bin"
srcdir="$cache/$key/src"
done_or_exit() {
  if [[ -x "$bindir/traefik" ]]; then
    prefetch_only || echo "$bindir"
    exit 0
  fi
}
done_or_exit
mkdir -p "$bindir" "$srcdir"
# One build at a time per cache directory.
exec 9>"$cache/.lock"
flock 9
done_or_exit

export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
# The patched copy of Traefik's module, which the generated module replaces
# it with. Downloaded outside any module (srcdir has no go.mod).
src=$(cd "$srcdir" && go mod download -json "github.com/traefik/traefik/v3@$traefik_version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [[ -z $src ]]; then
  echo "setup-ingress: cannot download github.com/traefik/traefik/v3@$traefik_version" >&2
  exit 1
fi
d="$srcdir/module"
rm -rf "$d"
mkdir -p "$d"
cp -r "$src" "$d/traefik"
chmod -R u+w "$d/traefik"
patch -s -p1 -d "$d/traefik" <"$patch_file"
cp -r "$build/ext-stub" "$d/ext-stub"
gomod "$(awk '$1 == "go" {print $2; exit}' "$d/traefik/go.mod")" >"$d/go.mod"
cp "$d/traefik/go.sum" "$d/go.sum"
cmd=github.com/traefik/traefik/v3/cmd/traefik
if prefetch_only; then
  (cd "$d" && go list -deps "$cmd" >/dev/null)
  exit 0
fi

echo "setup-ingress: building Traefik $traefik_version (minutes on a cold cache)" >&2
rm -f "$bindir/.traefik.new"
(cd "$d" && go build -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$traefik_version" \
    -o "$bindir/.traefik.new" "$cmd")
mv "$bindir/.traefik.new" "$bindir/traefik"
echo "$bindir"

#!/usr/bin/env bash
# Builds one Go command from its module at a pinned version into a file, in
# a throwaway module that requires this repository's build list
# (hack/lib/build-list.sh): the libraries it shares with the repository
# (the Kubernetes API types, apimachinery, x/tools) are compiled once on a
# cold machine, not again at the versions the tool's own go.mod names, as
# `go install pkg@version` would.
#
# Usage: hack/build-tool.sh MODULE VERSION PACKAGE OUTPUT
# e.g.   hack/build-tool.sh sigs.k8s.io/controller-tools v0.23.0 sigs.k8s.io/controller-tools/cmd/controller-gen bin/controller-gen
set -euo pipefail

if [[ $# -ne 4 ]]; then
  echo "usage: $0 MODULE VERSION PACKAGE OUTPUT" >&2
  exit 2
fi
module=$1 version=$2 pkg=$3 out=$4
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/hack/lib/build-list.sh"

export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
{
  echo "module blueoperator.local/tool"
  echo
  echo "go $(repo_go_version "$root")"
  echo
  echo "require $module $version"
  echo
  echo "require ("
  repo_requirements "$root"
  echo ")"
} >"$src/go.mod"
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
(cd "$src" && go build -o "$out.tmp" "$pkg" && mv "$out.tmp" "$out")

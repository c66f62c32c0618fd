#!/usr/bin/env bash
# Builds the AWS Lambda Runtime Interface Emulator (aws-lambda-rie) from its
# Go module and prints the directory that holds it.
#
# The emulator's releases are prebuilt binaries, which cannot be downloaded
# on machines that only reach the Go module proxy, so it is built from the
# pinned module version. The binary is cached outside the repo, keyed by
# version; a second run is instant.
#
# Usage: hack/setup-lambda-rie.sh
# Logs go to stderr; stdout is only the directory.
set -euo pipefail

rie_version=${RIE_VERSION:-v0.0.0-20261030222936-bef5c4ba774d}

cache=${BLUE_RIE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/blue-operator/lambda-rie}
bindir="$cache/$rie_version/bin"
srcdir="$cache/$rie_version/src"
mkdir -p "$bindir" "$srcdir"

if [[ -x "$bindir/aws-lambda-rie" ]]; then
  echo "$bindir"
  exit 0
fi

# One build at a time per cache directory.
exec 9>"$cache/.lock"
flock 9
if [[ -x "$bindir/aws-lambda-rie" ]]; then
  echo "$bindir"
  exit 0
fi

# With the settings `make test` builds with and this repository's build list
# (hack/lib/build-list.sh), so what it shares with the repository compiles
# once on a cold machine.
export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/hack/lib/build-list.sh"

{
  echo "module blueoperator.local/lambda-rie"
  echo
  echo "go $(repo_go_version "$root")"
  echo
  echo "require github.com/aws/aws-lambda-runtime-interface-emulator $rie_version"
  echo
  echo "require ("
  repo_requirements "$root"
  echo ")"
} >"$srcdir/go.mod"
cat >"$srcdir/deps.go" <<'GO'
// Package deps only names the emulator's command so that `go mod tidy`
// records everything it needs.
package deps

import _ "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
GO
echo "setup-lambda-rie: building aws-lambda-rie $rie_version" >&2
(cd "$srcdir" && go mod tidy >&2 &&
  go build -ldflags '-s -w' -o "$bindir/aws-lambda-rie.tmp" \
    github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie &&
  mv "$bindir/aws-lambda-rie.tmp" "$bindir/aws-lambda-rie")
echo "$bindir"

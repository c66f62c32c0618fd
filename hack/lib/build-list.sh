# Sourced by the hack/setup-*.sh scripts that build tools from Go modules in
# a generated module of their own (the control plane, the test node,
# promtool).
#
# Such a module requires this repository's build list, so it compiles each
# library it shares with the repository at the repository's version, with
# the settings `make test` builds with (no cgo, no -trimpath): on a cold
# machine each of those packages is compiled once, not once per tool. go mod
# tidy keeps these versions as minimums and drops the modules the tool does
# not use; where a tool asks for a newer version the newer one wins (the
# build is still correct, it just shares less). A module this repository
# replaces is left to the tool's own choice.

# repo_requirements ROOT prints ROOT's build list as require lines.
repo_requirements() {
  (cd "$1" && GOFLAGS=-mod=readonly go list -m -f '{{if not (or .Main .Replace)}}	{{.Path}} {{.Version}}{{end}}' all)
}

# repo_go_version ROOT prints the go version ROOT's go.mod declares.
repo_go_version() {
  awk '$1 == "go" {print $2; exit}' "$1/go.mod"
}

# prefetch_only says whether this run only downloads what the build needs
# (BLUE_PREFETCH=1, as make test starts it alongside go vet): on a cold
# machine the downloads, which wait on the network, then overlap a compile,
# which waits on the CPU.
prefetch_only() {
  [[ ${BLUE_PREFETCH:-} == 1 ]]
}

package main

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The release build (make build, the Dockerfile, hack/bench-mcp) must keep
// grpc's x/net/trace out of blue-mcp. Its init makes text/template, and with
// it reflect's MethodByName, reachable; the linker then keeps every exported
// method of every type, which costs 9 MB of binary and ~5 MiB of idle RSS.
func TestReleaseBuildLeavesOutNetTrace(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), "make", "-s", "-n", "build-blue-mcp")
	cmd.Dir = "../.."
	plan, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n build-blue-mcp: %v\n%s", err, plan)
	}
	m := regexp.MustCompile(`-tags[= ](\S+)`).FindSubmatch(plan)
	if m == nil {
		t.Fatalf("the release build names no build tags:\n%s", plan)
	}
	tags := string(m[1])

	deps := func(tags string) []string {
		out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", "-tags", tags, ".").Output()
		if err != nil {
			t.Fatalf("go list -deps -tags %q: %v", tags, err)
		}
		return strings.Fields(string(out))
	}
	if !slices.Contains(deps(""), "golang.org/x/net/trace") {
		t.Fatal("blue-mcp no longer imports golang.org/x/net/trace at all: the release tags may be dropped (and this test with them)")
	}
	if slices.Contains(deps(tags), "golang.org/x/net/trace") {
		t.Errorf("with the release tags %q blue-mcp still links golang.org/x/net/trace", tags)
	}
}

// The image is built by the same Makefile target, so it gets the same flags.
func TestDockerfileBuildsThroughTheMakefile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	if !regexp.MustCompile(`(?m)^RUN make build\b`).MatchString(df) {
		t.Error("the Dockerfile does not build with `make build`")
	}
	if strings.Contains(df, "go build") {
		t.Error("the Dockerfile runs go build itself; build through the Makefile's release target")
	}
	// The build context holds only what .dockerignore lets through.
	ignore, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Fields(string(ignore)), "!Makefile") {
		t.Error(".dockerignore keeps the Makefile out of the build context")
	}
}

package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The zip clients deploy is built with -trimpath, so it carries no file names
// of the machine that built it; only the tests turn it off (LAMBDA_TRIMPATH=),
// to share compiled packages with the rest of make test.
func TestReleaseLambdaTrimsPaths(t *testing.T) {
	for _, tc := range []struct {
		vars []string
		want bool
	}{
		{vars: nil, want: true},
		{vars: []string{"LAMBDA_TRIMPATH="}, want: false},
	} {
		args := append([]string{"-s", "-n", "lambda", "LAMBDA_DIR=" + t.TempDir()}, tc.vars...)
		cmd := exec.CommandContext(t.Context(), "make", args...)
		cmd.Dir = "../.."
		plan, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, plan)
		}
		var build string
		for _, l := range strings.Split(string(plan), "\n") {
			if strings.Contains(l, "go build") {
				build = l
			}
		}
		if build == "" {
			t.Fatalf("make %s runs no go build:\n%s", strings.Join(args, " "), plan)
		}
		if got := strings.Contains(build, "-trimpath"); got != tc.want {
			t.Errorf("make lambda %v: -trimpath in %q is %v, want %v", tc.vars, build, got, tc.want)
		}
	}
}

// Package testutil holds the small pieces several test suites need: a log
// sink safe for concurrent writers, a clock a test moves by hand, waits
// for a condition, and a build of the repository's commands. It imports
// nothing of the project, so any package's tests can use it.
package testutil

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Buffer collects output (logs, a child process's stdout) from concurrent
// writers.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Clock is a settable clock shared by a test and the code under test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Eventually polls cond every interval until it returns nil, and fails t
// with cond's last error once timeout has passed: a wait for a condition,
// never a fixed sleep.
func Eventually(t testing.TB, timeout, interval time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(interval)
	}
}

// EventuallyTrue is Eventually for a condition that has nothing to say.
func EventuallyTrue(t testing.TB, timeout, interval time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(interval)
	}
}

// BuildCommand builds one of the repository's commands (cmd/<name>) into dir
// and returns the binary's path, so tests run the binary a user runs.
// buildFlags go to go build before the package (for example -ldflags); the
// linker's flags are -s -w (as a release build's) unless they say otherwise:
// without symbol table and DWARF a link takes about 40% less.
func BuildCommand(ctx context.Context, dir, name string, buildFlags ...string) (string, error) {
	bin := filepath.Join(dir, name)
	args := []string{"build", "-o", bin}
	if !slices.ContainsFunc(buildFlags, func(f string) bool { return strings.HasPrefix(f, "-ldflags") }) {
		args = append(args, "-ldflags=-s -w")
	}
	args = append(append(args, buildFlags...), "github.com/superviber/blue-operator/cmd/"+name)
	out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build cmd/%s: %w\n%s", name, err, out)
	}
	return bin, nil
}

// RunWithCommand is a TestMain body for the tests of one command: it builds
// cmd/<name> into a temporary directory, sets *bin to it, runs the tests and
// removes the directory.
func RunWithCommand(m *testing.M, bin *string, name string, buildFlags ...string) int {
	dir, err := os.MkdirTemp("", name+"-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if *bin, err = BuildCommand(context.Background(), dir, name, buildFlags...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

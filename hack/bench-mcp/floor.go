package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// floorResult is the idle memory of the SDK floor (./sdkfloor): the same
// third-party packages as blue-mcp, nothing of the server run.
type floorResult struct {
	All, NoInfisical []memory
}

// measureFloor builds the floor, as releases are built, with and without
// the Infisical go-sdk, and starts each s.starts times, reading its memory
// after the same idle time as blue-mcp's.
func measureFloor(ctx context.Context, tmp string, s settings) (*floorResult, error) {
	r := &floorResult{}
	for _, v := range []struct {
		tags string
		out  *[]memory
	}{{"grpcnotrace", &r.All}, {"grpcnotrace,noinfisical", &r.NoInfisical}} {
		bin := filepath.Join(tmp, "sdkfloor-"+strings.ReplaceAll(v.tags, ",", "-"))
		// Built as make build-blue-mcp builds the server (RELEASE_BUILD).
		build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-tags", v.tags, "-o", bin,
			"github.com/superviber/blue-operator/hack/bench-mcp/sdkfloor")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return r, fmt.Errorf("build the SDK floor (tags %q): %w\n%s", v.tags, err, out)
		}
		for i := range s.starts {
			m, err := idleFloor(ctx, bin, s.idle)
			if err != nil {
				return r, fmt.Errorf("SDK floor (tags %q) start %d: %w", v.tags, i+1, err)
			}
			*v.out = append(*v.out, m)
		}
	}
	return r, nil
}

// idleFloor starts the floor, waits for its "ready" and then idle, reads
// its memory and ends it (closing its stdin).
func idleFloor(ctx context.Context, bin string, idle time.Duration) (memory, error) {
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return memory{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return memory{}, err
	}
	if err := cmd.Start(); err != nil {
		return memory{}, err
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "ready" {
		return memory{}, errors.New("it never said ready")
	}
	select {
	case <-time.After(idle):
	case <-ctx.Done():
		return memory{}, ctx.Err()
	}
	return readMemory(cmd.Process.Pid)
}

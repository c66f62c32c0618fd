package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/superviber/blue-operator/api/contract"
	"github.com/superviber/blue-operator/test/world"
)

// readyPoll is how often /readyz is polled while a binary starts.
const readyPoll = 2 * time.Millisecond

// stsWindowRefresh is the long-lived binary's Infisical refresh interval:
// short, so the STS window spans several config refreshes (a refresh that
// wrongly dropped the credential cache would show as AssumeRole calls).
const stsWindowRefresh = time.Second

// proc is a child process.
type proc struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed when it has exited
	stdin    io.Closer     // optional: closed on stop
	url      string        // its /mcp URL
	base     string        // scheme://host of /readyz
	metrics  string        // scheme://host of /metrics
	logPath  string
	stopOnce sync.Once
}

func startProc(cmd *exec.Cmd) (*proc, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(cmd.Path), err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop asks the process to go (SIGTERM, stdin closed), then kills it after
// 5 s. It is idempotent, so it can sit in the cleanups too.
func (p *proc) stop() {
	p.stopOnce.Do(func() {
		if p.stdin != nil {
			_ = p.stdin.Close()
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
}

func (p *proc) logTail() string {
	if p.logPath == "" {
		return ""
	}
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// memory is what /proc/<pid>/status says about a process's memory, in KiB.
type memory struct {
	RSS, Anon, File, HWM int64
}

func (m memory) MiB() float64 { return float64(m.RSS) / 1024 }

func readMemory(pid int) (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, fmt.Errorf("read RSS: %w", err)
	}
	var m memory
	fields := map[string]*int64{"VmRSS:": &m.RSS, "RssAnon:": &m.Anon, "RssFile:": &m.File, "VmHWM:": &m.HWM}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 {
			if p, ok := fields[f[0]]; ok {
				*p, _ = strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	if m.RSS == 0 {
		return m, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return m, nil
}

// binary is cmd/blue-mcp built for this run, with the environment the
// operator would give a pod of the seeded tenant.
type binary struct {
	path string
	size int64
	e    *env
	// extra is added to the pod's environment (-server-env).
	extra []string
}

func buildBinary(ctx context.Context, e *env, tmp string, extra []string) (*binary, error) {
	path := filepath.Join(tmp, "blue-mcp")
	// Built as releases are, by the Makefile's target (tags, static, stripped).
	build := exec.CommandContext(ctx, "make", "-s", "build-blue-mcp", "BIN="+tmp, "VERSION=bench")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("make build-blue-mcp: %w\n%s", err, out)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("built binary: %w", err)
	}
	return &binary{path: path, size: fi.Size(), e: e, extra: extra}, nil
}

// environ is the pod's environment. It is built from nothing rather than
// inherited: the host's AWS_CA_BUNDLE, profiles or proxies must not reach the
// child. The hop role's key stands in for IRSA through the default chain.
func (b *binary) environ(tier, listen, metrics, publicURL string) []string {
	t := b.e.tenant
	home := filepath.Join(b.e.tmp, "home")
	_ = os.MkdirAll(home, 0o700)
	return []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + home,
		"AWS_ACCESS_KEY_ID=" + t.HopKey.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + t.HopKey.SecretAccessKey,
		"AWS_REGION=" + world.Region,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "no-aws-credentials"),
		contract.EnvTenant + "=" + t.Name,
		contract.EnvClientAccount + "=" + t.Account,
		contract.EnvExternalID + "=" + t.ExternalID,
		contract.EnvTier + "=" + tier,
		contract.EnvPublicURL + "=" + publicURL,
		contract.EnvAuthMode + "=token",
		contract.EnvTokenHashes + "=" + contract.TokenHash(t.Token),
		contract.EnvListenAddr + "=" + listen,
		contract.EnvMetricsAddr + "=" + metrics,
		contract.EnvInfisicalSite + "=" + b.e.w.Infisical.URL(),
		contract.EnvInfisicalProj + "=" + t.Project,
		contract.EnvInfisicalEnv + "=" + t.Environment,
		contract.EnvInfisicalPath + "=" + t.SecretPath,
		contract.EnvInfisicalMethod + "=universal",
		contract.EnvInfisicalCID + "=" + t.ClientID,
		contract.EnvInfisicalSecret + "=" + t.ClientSecret,
	}
}

// freeAddr returns a loopback address nobody listens on (the child binds it
// a moment later; a collision fails the start loudly).
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr, nil
}

var startCount int

// start runs the binary and returns once /readyz answers 200.
func (b *binary) start(ctx context.Context, tier string, extraArgs ...string) (*proc, error) {
	p, _, err := b.startTimed(ctx, tier, extraArgs...)
	return p, err
}

// startTimed is start that also returns the time from just before exec to
// the first 200 from /readyz.
func (b *binary) startTimed(ctx context.Context, tier string, extraArgs ...string) (*proc, time.Duration, error) {
	listen, err := freeAddr()
	if err != nil {
		return nil, 0, err
	}
	metrics, err := freeAddr()
	if err != nil {
		return nil, 0, err
	}
	base := "http://" + listen
	startCount++
	logPath := filepath.Join(b.e.tmp, fmt.Sprintf("blue-mcp-%d.log", startCount))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, 0, fmt.Errorf("log file: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor

	args := append([]string{
		"--sts-endpoint", b.e.w.STSURL,
		"--s3-endpoint", b.e.w.S3.Endpoint(),
		"--dynamodb-endpoint", b.e.w.DDB.Endpoint(),
	}, extraArgs...)
	cmd := exec.Command(b.path, args...)
	cmd.Env = append(b.environ(tier, listen, metrics, base+"/mcp"), b.extra...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childProcAttr()

	hc := &http.Client{Timeout: time.Second}
	t0 := time.Now()
	p, err := startProc(cmd)
	if err != nil {
		return nil, 0, err
	}
	p.url, p.base, p.metrics, p.logPath = base+"/mcp", base, "http://"+metrics, logPath
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := readyOnce(ctx, hc, base+"/readyz")
		if ok {
			ready := time.Since(t0)
			hc.CloseIdleConnections()
			return p, ready, nil
		}
		select {
		case <-p.done:
			return nil, 0, fmt.Errorf("blue-mcp exited before ready (%v); log:\n%s", p.cmd.ProcessState, p.logTail())
		case <-ctx.Done():
			p.stop()
			return nil, 0, fmt.Errorf("waiting for /readyz: %w", ctx.Err())
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, 0, fmt.Errorf("blue-mcp not ready after 30s (last: %v); log:\n%s", err, p.logTail())
		}
		time.Sleep(readyPoll)
	}
}

func readyOnce(ctx context.Context, hc *http.Client, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("/readyz %d", resp.StatusCode)
	}
	return true, nil
}

// scrape reads some gauges from the binary's /metrics.
func scrape(ctx context.Context, p *proc, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.metrics+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && want[f[0]] {
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				out[f[0]] = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	return out, nil
}

// startResult is phases 2 and 3.
type startResult struct {
	Ready   []time.Duration
	Idle    []memory
	Heap    []float64 // go_memstats_heap_inuse_bytes at the RSS reading
	Alloc   []float64 // go_memstats_heap_alloc_bytes: the objects in those spans
	Stack   []float64 // go_memstats_stack_inuse_bytes
	Gs      []float64 // go_goroutines
	Sys     []float64 // go_memstats_sys_bytes
	BinSize int64
}

// measureStarts starts the binary s.starts times; each time it measures
// start to ready, then lets it sit idle and reads its RSS.
func measureStarts(ctx context.Context, b *binary, s settings) (*startResult, error) {
	r := &startResult{BinSize: b.size}
	for i := range s.starts {
		p, ready, err := b.startTimed(ctx, "enterprise")
		if err != nil {
			return r, fmt.Errorf("start %d: %w", i+1, err)
		}
		r.Ready = append(r.Ready, ready)
		select {
		case <-time.After(s.idle):
		case <-ctx.Done():
		}
		m, err := readMemory(p.cmd.Process.Pid)
		if err == nil {
			r.Idle = append(r.Idle, m)
			if g, err := scrape(ctx, p, "go_memstats_heap_inuse_bytes", "go_memstats_heap_alloc_bytes", "go_memstats_stack_inuse_bytes", "go_goroutines", "go_memstats_sys_bytes"); err == nil {
				r.Heap = append(r.Heap, g["go_memstats_heap_inuse_bytes"])
				r.Alloc = append(r.Alloc, g["go_memstats_heap_alloc_bytes"])
				r.Stack = append(r.Stack, g["go_memstats_stack_inuse_bytes"])
				r.Gs = append(r.Gs, g["go_goroutines"])
				r.Sys = append(r.Sys, g["go_memstats_sys_bytes"])
			}
		}
		p.stop()
		if err != nil {
			return r, fmt.Errorf("start %d: %w", i+1, err)
		}
		progress("  start %d: ready in %.1f ms, idle RSS %.1f MiB", i+1, ms(ready), m.MiB())
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
	}
	if len(r.Ready) == 0 {
		return r, errors.New("no start measured")
	}
	return r, nil
}

// Command bench-mcp measures the per-tenant MCP server (cmd/blue-mcp) against
// the outside world it talks to, all on loopback and speaking the real
// protocols (test/world: STS, Infisical, gofakes3, dynalite):
//
//  1. per-call overhead of blue_rfc_get through auth, the real server and the
//     real store, against a bare go-sdk server with a no-op tool (same
//     transport settings) plus the storage round trip of the same read;
//  2. idle RSS of the real blue-mcp binary;
//  3. start to ready (/readyz 200) of the binary;
//  4. STS calls during a steady stream of tool calls (should be none);
//  5. 100 concurrent sessions against an enterprise-tier binary, against a
//     bare go-sdk server process.
//
// The machine it runs on may be shared and noisy, so latencies are reported
// as ratios against baselines measured in the same run, interleaved with the
// subject so drift hits both alike.
//
// Run it with `make bench-mcp`; BENCH_ARGS=-quick is a smoke run. Missed
// targets are reported, not failed: it exits non-zero only when a figure could
// not be measured (the report is still printed).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-mcp:", err)
		os.Exit(1)
	}
}

// settings are the command-line flags.
type settings struct {
	calls        int           // per-call phase: calls per target
	batch        int           // per-call phase: calls per target before switching
	warmup       int           // calls per target before measuring
	starts       int           // binary starts for start-to-ready and idle RSS
	idle         time.Duration // how long the binary sits idle before RSS is read
	stsCalls     int           // tool calls during which STS calls are counted
	stsSessions  int           // sessions making them
	sessions     int           // concurrent sessions
	loadFor      time.Duration // how long each concurrent target is driven
	cpuProfile   string        // optional CPU profile of the in-process server
	latencies    []time.Duration
	latencyModes []dataMode
	jitter       time.Duration
	latencyDocs  int
	latencyWarm  int
	quick        bool
	only         map[string]bool // phases to run (-only); nil: all
	serverEnv    []string        // NAME=value added to the blue-mcp binary's environment (-server-env)
	serveBare    bool            // internal: run as the bare baseline server process
	barePayload  string          // internal: with serveBare, the result its payload tool answers with
}

func parseFlags(args []string) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("bench-mcp", flag.ContinueOnError)
	fs.IntVar(&s.calls, "calls", 2000, "per-call overhead: measured calls per target (blue_rfc_get, bare no-op, storage)")
	fs.IntVar(&s.batch, "batch", 20, "per-call overhead: consecutive calls to one target before switching to the next")
	fs.IntVar(&s.warmup, "warmup", 200, "calls per target before anything is measured")
	fs.IntVar(&s.starts, "starts", 5, "starts of the blue-mcp binary for start-to-ready and idle RSS (medians)")
	fs.DurationVar(&s.idle, "idle", 2*time.Second, "how long the ready binary sits idle before its RSS is read")
	fs.IntVar(&s.stsCalls, "sts-calls", 10000, "tool calls during which STS calls are counted")
	fs.IntVar(&s.stsSessions, "sts-sessions", 8, "client sessions making those calls, concurrently")
	fs.IntVar(&s.sessions, "sessions", 100, "concurrent client sessions in the load phase")
	fs.DurationVar(&s.loadFor, "load-for", 10*time.Second, "how long each load target (real, bare, storage) is driven, in two halves")
	fs.StringVar(&s.cpuProfile, "cpuprofile", "", "write a CPU profile of blue_rfc_get calls against the in-process server here (and of bare no-op calls to <file>.bare)")
	latencies := fs.String("latency", "50ms,100ms", "latency across accounts: per-round-trip delays to measure the tools at (comma-separated; empty: skip the phase)")
	modes := fs.String("latency-modes", "direct,api", "latency across accounts: data modes to measure (direct: S3 and DynamoDB; api: the client's API Gateway)")
	fs.DurationVar(&s.jitter, "latency-jitter", 10*time.Millisecond, "latency across accounts: up to this much more per round trip, at random")
	fs.IntVar(&s.latencyDocs, "latency-docs", 1000, "latency across accounts: documents seeded, spread over the kinds")
	fs.IntVar(&s.latencyWarm, "latency-warm", 10, "latency across accounts: warm calls per tool")
	fs.BoolVar(&s.quick, "quick", false, "smoke run: few calls, short phases")
	only := fs.String("only", "", "run only these phases (comma-separated: "+strings.Join(phaseNames, ", ")+"); empty: all")
	serverEnv := fs.String("server-env", "", "space-separated NAME=value added to the blue-mcp binary's environment, to measure a runtime setting (e.g. GOGC=50 GOMAXPROCS=1); empty: the pod's environment only")
	fs.BoolVar(&s.serveBare, "serve-bare", false, "internal: serve the bare baseline and print its address")
	fs.StringVar(&s.barePayload, "bare-payload", "", "internal: with -serve-bare, a file holding the result the payload tool answers with")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if s.quick {
		// Only what was not set explicitly is shrunk.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		shrink := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		shrink("calls", func() { s.calls = 100 })
		shrink("warmup", func() { s.warmup = 20 })
		shrink("starts", func() { s.starts = 2 })
		shrink("idle", func() { s.idle = 500 * time.Millisecond })
		shrink("sts-calls", func() { s.stsCalls = 400 })
		shrink("sessions", func() { s.sessions = 20 })
		shrink("load-for", func() { s.loadFor = time.Second })
		shrink("latency", func() { *latencies = "50ms" })
		shrink("latency-docs", func() { s.latencyDocs = 100 })
		shrink("latency-warm", func() { s.latencyWarm = 3 })
	}
	for _, v := range strings.Split(*latencies, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return s, fmt.Errorf("-latency %q: want durations such as 50ms,100ms", *latencies)
		}
		s.latencies = append(s.latencies, d)
	}
	for _, kv := range strings.Fields(*serverEnv) {
		if name, _, ok := strings.Cut(kv, "="); !ok || name == "" {
			return s, fmt.Errorf("-server-env %q: want NAME=value pairs separated by spaces", *serverEnv)
		}
		s.serverEnv = append(s.serverEnv, kv)
	}
	for _, v := range strings.Split(*only, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		if !slices.Contains(phaseNames, v) {
			return s, fmt.Errorf("-only %q: unknown phase %q, want some of %s", *only, v, strings.Join(phaseNames, ", "))
		}
		if s.only == nil {
			s.only = map[string]bool{}
		}
		s.only[v] = true
	}
	for _, v := range strings.Split(*modes, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		m, ok := modeSetting[v]
		if !ok {
			return s, fmt.Errorf("-latency-modes %q: want direct, api or both", *modes)
		}
		s.latencyModes = append(s.latencyModes, m)
	}
	if s.only["latency"] && len(s.latencies) == 0 {
		return s, errors.New("-only latency with no -latency values would measure nothing")
	}
	switch {
	case s.calls < 1 || s.batch < 1 || s.warmup < 0:
		return s, errors.New("-calls and -batch must be positive, -warmup not negative")
	case s.starts < 1:
		return s, errors.New("-starts must be at least 1")
	case s.stsCalls < 1 || s.stsSessions < 1:
		return s, errors.New("-sts-calls and -sts-sessions must be positive")
	case s.sessions < 1 || s.loadFor <= 0:
		return s, errors.New("-sessions and -load-for must be positive")
	case s.idle < 0:
		return s, errors.New("-idle must not be negative")
	case s.latencyDocs < 0 || s.latencyWarm < 1 || s.jitter < 0:
		return s, errors.New("-latency-docs must not be negative, -latency-warm must be positive, -latency-jitter not negative")
	}
	return s, nil
}

// phaseNames are the phases -only selects.
var phaseNames = []string{"overhead", "starts", "sts", "load", "latency"}

// runs reports whether the phase named key is selected (-only; all without it).
func (s settings) runs(key string) bool { return s.only == nil || s.only[key] }

func run(ctx context.Context, args []string) error {
	s, err := parseFlags(args)
	if err != nil {
		return err
	}
	if s.serveBare {
		return serveBareProcess(ctx, s.barePayload)
	}

	var cl cleanups
	defer cl.run()

	tmp, err := os.MkdirTemp("", "bench-mcp-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	cl.add(func() { _ = os.RemoveAll(tmp) })

	progress("starting STS, Infisical, gofakes3 and dynalite on loopback")
	e, err := startEnv(ctx, &cl, tmp)
	if err != nil {
		return err
	}

	r := &report{settings: s}
	// Each phase records its figures or its error; one failing phase does not
	// hide the others. key is the phase's -only name ("" for the steps every
	// later phase needs).
	phase := func(key, name string, fn func() error) {
		if key != "" && !s.runs(key) {
			return
		}
		if ctx.Err() != nil {
			r.errors = append(r.errors, fmt.Sprintf("%s: skipped: %v", name, ctx.Err()))
			return
		}
		progress("%s", name)
		start := time.Now()
		if err := fn(); err != nil {
			r.errors = append(r.errors, fmt.Sprintf("%s: %v", name, err))
			progress("%s failed: %v", name, err)
			return
		}
		progress("%s done in %.1fs", name, time.Since(start).Seconds())
	}

	phase("overhead", "per-call overhead (in-process)", func() error {
		o, err := measureOverhead(ctx, e, s)
		r.overhead = o
		return err
	})

	var bin *binary
	if s.runs("starts") || s.runs("sts") || s.runs("load") || s.runs("latency") {
		phase("", "build cmd/blue-mcp", func() error {
			bin, err = buildBinary(ctx, e, tmp, s.serverEnv)
			return err
		})
	}
	if bin != nil {
		phase("starts", "start to ready and idle RSS", func() error {
			st, err := measureStarts(ctx, bin, s)
			r.starts = st
			return err
		})
		phase("starts", "the SDK floor's idle memory, with and without the Infisical go-sdk", func() error {
			f, err := measureFloor(ctx, tmp, s)
			r.floor = f
			return err
		})
		var live *proc
		if s.runs("sts") || s.runs("load") {
			phase("", "start the long-lived enterprise-tier binary", func() error {
				live, err = bin.start(ctx, "enterprise", "--infisical-refresh", stsWindowRefresh.String())
				if err == nil {
					cl.add(live.stop)
				}
				return err
			})
		}
		if live != nil {
			phase("sts", "STS calls in steady state", func() error {
				c, err := measureSTS(ctx, e, live, s)
				r.sts = c
				return err
			})
			phase("load", "concurrent sessions", func() error {
				l, err := measureLoad(ctx, e, live, bin, tmp, s)
				r.load = l
				return err
			})
			live.stop()
		}
		if len(s.latencies) > 0 {
			phase("latency", fmt.Sprintf("seed %d documents for the latency phase", s.latencyDocs), func() error {
				if err := e.seedMany(ctx, s.latencyDocs); err != nil {
					return err
				}
				return primeIndex(ctx, e, bin)
			})
			for _, mode := range s.latencyModes {
				for _, l := range s.latencies {
					phase("latency", fmt.Sprintf("latency across accounts, %s, at %v", mode, l), func() error {
						lr, err := measureLatency(ctx, e, bin, mode, l, s.jitter, s.latencyWarm)
						if lr != nil {
							lr.docs = s.latencyDocs + 1
							r.latency = append(r.latency, lr)
						}
						return err
					})
				}
			}
		}
	}

	r.print(os.Stdout)
	if len(r.errors) > 0 {
		return fmt.Errorf("some figures could not be measured:\n  %s", strings.Join(r.errors, "\n  "))
	}
	return nil
}

// cleanups run in reverse order of registration, once, whatever happened.
type cleanups struct{ fns []func() }

func (c *cleanups) add(fn func()) { c.fns = append(c.fns, fn) }

func (c *cleanups) run() {
	for i := len(c.fns) - 1; i >= 0; i-- {
		c.fns[i]()
	}
	c.fns = nil
}

var started = time.Now()

// progress goes to stderr so stdout holds only the report.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
}

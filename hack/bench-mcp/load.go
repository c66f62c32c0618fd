package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/superviber/blue-operator/api/contract"
	"github.com/superviber/blue-operator/test/ststest"
)

// runResult is what a set of workers did.
type runResult struct {
	Lat      durations
	Errors   int
	FirstErr error
	Elapsed  time.Duration
}

func (r *runResult) merge(o runResult) {
	r.Lat = append(r.Lat, o.Lat...)
	r.Errors += o.Errors
	if r.FirstErr == nil {
		r.FirstErr = o.FirstErr
	}
	r.Elapsed += o.Elapsed
}

// Throughput is successful calls per second.
func (r runResult) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(len(r.Lat)) / r.Elapsed.Seconds()
}

// drive runs one worker per call function, each calling in a loop until it
// has made its share of total calls (total > 0) or until d has passed.
func drive(ctx context.Context, calls []func(context.Context) error, total int, d time.Duration) runResult {
	var (
		mu  sync.Mutex
		res runResult
		wg  sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var deadline time.Time
	if total <= 0 {
		deadline = time.Now().Add(d)
	}
	start := time.Now()
	for i, call := range calls {
		share := 0
		if total > 0 {
			share = total / len(calls)
			if i < total%len(calls) {
				share++
			}
		}
		wg.Go(func() {
			var lat durations
			errs := 0
			var first error
			for n := 0; ; n++ {
				if (total > 0 && n >= share) || (total <= 0 && !time.Now().Before(deadline)) || ctx.Err() != nil {
					break
				}
				t0 := time.Now()
				if err := call(ctx); err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.merge(runResult{Lat: lat, Errors: errs, FirstErr: first})
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}

func sessionCalls(ss []*mcp.ClientSession, mk func(*mcp.ClientSession) func(context.Context) error) []func(context.Context) error {
	out := make([]func(context.Context) error, len(ss))
	for i, s := range ss {
		out[i] = mk(s)
	}
	return out
}

// stsResult is phase 4.
type stsResult struct {
	Calls          int
	Errors         int
	AssumeRole     int // during the measured calls
	OtherSTS       int // any other STS request during them
	WarmupAssume   int // AssumeRole calls the warm-up caused (the first call per caller)
	InfisicalLists int // config refreshes during the measured calls
	Elapsed        time.Duration
	After          memory // the binary's memory once idle after the calls
}

// measureSTS warms the long-lived binary up, then makes s.stsCalls
// blue_rfc_get calls over several sessions and counts what the test STS saw.
func measureSTS(ctx context.Context, e *env, live *proc, s settings) (*stsResult, error) {
	sts := e.w.STS
	ss, err := connectMany(ctx, s.stsSessions, live.url, e.tenant.Token)
	if err != nil {
		return nil, err
	}
	defer closeSessions(ss)
	calls := sessionCalls(ss, rfcGet)

	r := &stsResult{}
	a0 := sts.Calls(ststest.ActionAssumeRole)
	if w := drive(ctx, calls, 10*len(calls), 0); w.Errors > 0 {
		return nil, fmt.Errorf("warm-up: %d errors, first: %w", w.Errors, w.FirstErr)
	}
	a1, n1, l1 := sts.Calls(ststest.ActionAssumeRole), len(sts.Records()), e.w.Infisical.Counts().Lists
	r.WarmupAssume = a1 - a0

	m := drive(ctx, calls, s.stsCalls, 0)
	a2, n2, l2 := sts.Calls(ststest.ActionAssumeRole), len(sts.Records()), e.w.Infisical.Counts().Lists
	r.Calls, r.Errors, r.Elapsed = len(m.Lat), m.Errors, m.Elapsed
	r.AssumeRole = a2 - a1
	r.OtherSTS = (n2 - n1) - r.AssumeRole
	r.InfisicalLists = l2 - l1
	e.resetRecordings()
	if m.Errors > 0 {
		return r, fmt.Errorf("%d of %d calls failed, first: %w", m.Errors, s.stsCalls, m.FirstErr)
	}
	select {
	case <-time.After(s.idle):
	case <-ctx.Done():
		return r, ctx.Err()
	}
	if r.After, err = readMemory(live.cmd.Process.Pid); err != nil {
		return r, err
	}
	return r, nil
}

// loadResult is phase 5.
type loadResult struct {
	Sessions int
	// Real is blue_rfc_get against the binary; Bare the bare go-sdk process
	// answering with blue_rfc_get's exact result; Storage the same store call alone.
	Real, Bare, Storage runResult
	// Apart is blue_rfc_get with nothing to share: each session a caller
	// of its own (its own token, so its own store and credentials) reading
	// an RFC of its own, against a binary accepting those tokens.
	Apart    runResult
	ApartCPU loadCPU
	// CPU is the CPU time each target's calls used, by process.
	RealCPU, BareCPU, StorageCPU loadCPU
	After                        memory // the binary's memory right after the load
}

// loadCPU is CPU time used during one target's calls, by process.
type loadCPU struct {
	Server   time.Duration // blue-mcp or the bare process
	Bench    time.Duration // this process: the clients (and gofakes3, STS, Infisical)
	Dynalite time.Duration
}

func (a loadCPU) add(b loadCPU) loadCPU {
	return loadCPU{a.Server + b.Server, a.Bench + b.Bench, a.Dynalite + b.Dynalite}
}

// perCall divides by n calls.
func (a loadCPU) perCall(n int) loadCPU {
	if n == 0 {
		return loadCPU{}
	}
	d := time.Duration(n)
	return loadCPU{a.Server / d, a.Bench / d, a.Dynalite / d}
}

// measureLoad drives the enterprise-tier binary (blue_rfc_get) and a bare
// go-sdk server process answering with the same result, with s.sessions
// concurrent sessions each, and the store directly with as many goroutines
// (the ceiling the storage backends allow on this machine). Each target runs
// twice for half of s.loadFor, in the order real, bare, storage and then
// reversed, so drift hits them alike.
func measureLoad(ctx context.Context, e *env, live *proc, bin *binary, dir string, s settings) (*loadResult, error) {
	sess, err := connect(ctx, live.url, e.tenant.Token)
	if err != nil {
		return nil, err
	}
	res, err := rfcGetResult(ctx, sess)
	_ = sess.Close()
	if err != nil {
		return nil, err
	}
	bare, err := startBareProcess(ctx, dir, res)
	if err != nil {
		return nil, err
	}
	defer bare.stop()
	st := e.newStore(0)
	meter := newCPUMeter()

	r := &loadResult{Sessions: s.sessions}
	type loadTarget struct {
		name string
		url  string // "" for the store
		pid  int    // the server process, 0 for the store
		mk   func(*mcp.ClientSession) func(context.Context) error
		into *runResult
		cpu  *loadCPU
	}
	targets := []loadTarget{
		{"blue-mcp", live.url, live.cmd.Process.Pid, rfcGet, &r.Real, &r.RealCPU},
		{"bare", bare.url, bare.cmd.Process.Pid, payload, &r.Bare, &r.BareCPU},
		{"storage", "", 0, nil, &r.Storage, &r.StorageCPU},
	}
	half := s.loadFor / 2
	for pass := range 2 {
		for j := range targets {
			t := targets[j]
			if pass == 1 {
				t = targets[len(targets)-1-j]
			}
			var calls []func(context.Context) error
			var ss []*mcp.ClientSession
			if t.url == "" {
				calls = make([]func(context.Context) error, s.sessions)
				for i := range calls {
					calls[i] = storeLookup(st)
				}
			} else {
				if ss, err = connectMany(ctx, s.sessions, t.url, e.tenant.Token); err != nil {
					return r, fmt.Errorf("%s: %w", t.name, err)
				}
				calls = sessionCalls(ss, t.mk)
				if w := drive(ctx, calls, len(calls), 0); w.Errors > 0 { // one warm-up call per session
					closeSessions(ss)
					return r, fmt.Errorf("%s warm-up: %d errors, first: %w", t.name, w.Errors, w.FirstErr)
				}
			}
			c0, p0 := meter.read(), procCPU(t.pid)
			res := drive(ctx, calls, 0, half)
			c1, p1 := meter.read(), procCPU(t.pid)
			*t.cpu = t.cpu.add(loadCPU{Server: p1 - p0, Bench: c1.self - c0.self, Dynalite: c1.node - c0.node})
			if t.pid == live.cmd.Process.Pid {
				if m, err := readMemory(live.cmd.Process.Pid); err == nil && m.RSS > r.After.RSS {
					r.After = m
				}
			}
			closeSessions(ss)
			t.into.merge(res)
			progress("  %s pass %d: %d calls, %d errors, %.0f calls/s", t.name, pass+1, len(res.Lat), res.Errors, res.Throughput())
			e.resetRecordings()
			if ctx.Err() != nil {
				return r, ctx.Err()
			}
		}
	}
	if err := measureApart(ctx, e, bin, s, r, meter); err != nil {
		return r, fmt.Errorf("sessions apart: %w", err)
	}
	return r, nil
}

// measureApart drives a binary that accepts one token per session, each
// session reading its own RFC: no two calls share a read, so this is what
// many engineers each on their own document cost (issue #15 measures the
// shared case; this one is reported beside it).
func measureApart(ctx context.Context, e *env, bin *binary, s settings, r *loadResult, meter *cpuMeter) error {
	ids, err := e.seedRFCs(ctx, s.sessions)
	if err != nil {
		return err
	}
	tokens := make([]string, s.sessions)
	hashes := make([]string, s.sessions)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("bench-apart-%d-%s", i, e.tenant.Token)
		hashes[i] = contract.TokenHash(tokens[i])
	}
	p, err := bin.start(ctx, "enterprise", "--token-sha256", strings.Join(hashes, ","))
	if err != nil {
		return err
	}
	defer p.stop()
	ss := make([]*mcp.ClientSession, s.sessions)
	defer func() { closeSessions(ss) }()
	calls := make([]func(context.Context) error, s.sessions)
	for i := range ss {
		if ss[i], err = connect(ctx, p.url, tokens[i]); err != nil {
			return err
		}
		sess, args := ss[i], map[string]any{"title": ids[i]}
		calls[i] = func(ctx context.Context) error { _, err := callTool(ctx, sess, "blue_rfc_get", args); return err }
	}
	if w := drive(ctx, calls, len(calls), 0); w.Errors > 0 { // one warm-up call per session: its credentials
		return fmt.Errorf("warm-up: %d errors, first: %w", w.Errors, w.FirstErr)
	}
	c0, p0 := meter.read(), procCPU(p.cmd.Process.Pid)
	res := drive(ctx, calls, 0, s.loadFor/2)
	c1, p1 := meter.read(), procCPU(p.cmd.Process.Pid)
	r.Apart, r.ApartCPU = res, loadCPU{Server: p1 - p0, Bench: c1.self - c0.self, Dynalite: c1.node - c0.node}
	progress("  blue-mcp, sessions apart: %d calls, %d errors, %.0f calls/s", len(res.Lat), res.Errors, res.Throughput())
	e.resetRecordings()
	return nil
}

// rfcGetResult is one blue_rfc_get's result, for the bare server to answer
// with: its structured content encoded once, as blue-mcp hands it to the SDK
// (decoded into maps it would cost more to encode again).
func rfcGetResult(ctx context.Context, sess *mcp.ClientSession) (*mcp.CallToolResult, error) {
	res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "blue_rfc_get", Arguments: rfcGetArgs})
	if err != nil {
		return nil, fmt.Errorf("blue_rfc_get: %w", err)
	}
	if res.IsError {
		return nil, errors.New("blue_rfc_get: tool error")
	}
	if res.StructuredContent != nil {
		b, err := json.Marshal(res.StructuredContent)
		if err != nil {
			return nil, fmt.Errorf("re-encode blue_rfc_get's structured content: %w", err)
		}
		res.StructuredContent = json.RawMessage(b)
	}
	return res, nil
}

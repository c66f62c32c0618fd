package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/superviber/blue-operator/test/world"
)

// target is one thing whose per-call latency is measured.
type target struct {
	name string
	call func(context.Context) error
}

// Phase 1's targets, in the order of overheadResult's arrays.
const (
	tSubject = iota
	tBare
	tStorage
	tStorageUncached
	tPayload
	nTargets
)

// overheadResult is phase 1.
type overheadResult struct {
	Subject, Bare, Storage, StorageUncached durations
	// Payload is the bare server answering with blue_rfc_get's exact result.
	Payload durations
	// CPU is the CPU time each target's calls used in total, in this process
	// and in dynalite, in the order of the targets.
	CPU [nTargets]cpuTimes
	// Alloc is the bytes this process allocated during each target's calls.
	Alloc [nTargets]uint64
	// Handler is the server's own mean blue_rfc_get time (its latency
	// histogram, measured around the tool handler by the audit middleware).
	Handler time.Duration
	// RoundRatios is Ratio computed within each round from that round's
	// batch medians: its spread shows how much the machine's noise moves it.
	RoundRatios []float64
	// PayloadRoundRatios is PayloadRatio per round, likewise.
	PayloadRoundRatios []float64
	// Response sizes of one call, as JSON-RPC results.
	SubjectBytes, BareBytes int
}

// Ratio is blue_rfc_get over bare no-op plus storage, by medians.
func (o *overheadResult) Ratio() float64 {
	return ratio(o.Subject.median(), o.Bare.median()+o.Storage.median())
}

// StrictRatio reads the target the other way: blue_rfc_get less the storage
// round trip, over the bare no-op; only the server's part is scaled.
func (o *overheadResult) StrictRatio() float64 {
	return ratio(o.Subject.median()-o.Storage.median(), o.Bare.median())
}

// PayloadRatio is blue_rfc_get over the bare server answering with the same
// result plus storage: what the server adds beyond carrying its result.
func (o *overheadResult) PayloadRatio() float64 {
	return ratio(o.Subject.median(), o.Payload.median()+o.Storage.median())
}

// measureOverhead drives blue_rfc_get against the real server in-process
// (wired as cmd/blue-mcp wires it, logging JSON audit lines to a file as the
// binary does), the bare server in-process, and the store directly, all from
// this process, interleaved in batches whose order rotates every round.
func measureOverhead(ctx context.Context, e *env, s settings) (*overheadResult, error) {
	logf, err := e.logFile("in-process.log")
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	log := slog.New(slog.NewJSONHandler(logf, nil)).With("tenant", e.tenant.Name)
	srv, stopSrv, err := e.w.Start(e.tenant, world.ServerOptions{Log: log})
	if err != nil {
		return nil, fmt.Errorf("start in-process server: %w", err)
	}
	defer stopSrv()
	subj, err := connect(ctx, srv.URL, e.tenant.Token)
	if err != nil {
		return nil, err
	}
	defer func() { _ = subj.Close() }()

	// The bare server also serves blue_rfc_get's exact result.
	res, err := rfcGetResult(ctx, subj)
	if err != nil {
		return nil, err
	}
	bareURL, stopBare, err := serveBare(res)
	if err != nil {
		return nil, err
	}
	defer stopBare()
	bare, err := connect(ctx, bareURL, e.tenant.Token)
	if err != nil {
		return nil, err
	}
	defer func() { _ = bare.Close() }()

	r := &overheadResult{}
	if r.SubjectBytes, err = resultSize(ctx, subj, "blue_rfc_get", rfcGetArgs); err != nil {
		return nil, err
	}
	if r.BareBytes, err = resultSize(ctx, bare, noopTool, noopArgs); err != nil {
		return nil, err
	}

	targets := [nTargets]target{
		tSubject:         {"blue_rfc_get", rfcGet(subj)},
		tBare:            {"bare no-op", noop(bare)},
		tStorage:         {"store lookup", storeLookup(e.newStore(0))},
		tStorageUncached: {"store lookup uncached", storeLookup(e.newStore(-1))},
		tPayload:         {"bare, blue_rfc_get's result", payload(bare)},
	}
	var lat [nTargets]durations
	for _, t := range targets {
		for range s.warmup {
			if err := t.call(ctx); err != nil {
				return nil, fmt.Errorf("warm-up %s: %w", t.name, err)
			}
		}
	}
	e.resetRecordings()

	h0, err := handlerHist(srv.Registry)
	if err != nil {
		return nil, err
	}
	meter := newCPUMeter()
	rounds := (s.calls + s.batch - 1) / s.batch
	for round := range rounds {
		var batch [nTargets]durations
		for j := range targets {
			// Rotating the order puts every target first, second... equally
			// often, so neither drift nor cache effects favour one.
			k := (round + j) % len(targets)
			n := min(s.batch, s.calls-len(lat[k]))
			c0, a0 := meter.read(), allocated()
			for range n {
				t0 := time.Now()
				if err := targets[k].call(ctx); err != nil {
					return nil, fmt.Errorf("%s: %w", targets[k].name, err)
				}
				d := time.Since(t0)
				lat[k] = append(lat[k], d)
				batch[k] = append(batch[k], d)
			}
			r.CPU[k] = r.CPU[k].add(meter.read().sub(c0))
			r.Alloc[k] += allocated() - a0
		}
		if len(batch[tSubject]) > 0 && len(batch[tBare]) > 0 && len(batch[tStorage]) > 0 {
			r.RoundRatios = append(r.RoundRatios, ratio(batch[tSubject].median(), batch[tBare].median()+batch[tStorage].median()))
		}
		if len(batch[tSubject]) > 0 && len(batch[tPayload]) > 0 && len(batch[tStorage]) > 0 {
			r.PayloadRoundRatios = append(r.PayloadRoundRatios, ratio(batch[tSubject].median(), batch[tPayload].median()+batch[tStorage].median()))
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	h1, err := handlerHist(srv.Registry)
	if err != nil {
		return nil, err
	}
	if n := h1.count - h0.count; n > 0 {
		r.Handler = time.Duration((h1.sum - h0.sum) / float64(n) * float64(time.Second))
	}
	r.Subject, r.Bare, r.Storage, r.StorageUncached, r.Payload = lat[tSubject], lat[tBare], lat[tStorage], lat[tStorageUncached], lat[tPayload]
	e.resetRecordings()

	if s.cpuProfile != "" {
		if err := profile(ctx, s.cpuProfile, s.calls, targets[tSubject]); err != nil {
			return r, err
		}
		if err := profile(ctx, s.cpuProfile+".bare", s.calls, targets[tBare]); err != nil {
			return r, err
		}
		progress("  CPU profiles written to %s and %s.bare", s.cpuProfile, s.cpuProfile)
	}
	return r, nil
}

// allocated is the bytes this process has allocated on the heap so far
// (cheap: no stop-the-world, unlike runtime.ReadMemStats).
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// profile writes a CPU profile of this process (client, server and the Go
// test backends) while n calls of t run alone, and allocation profiles from
// just before and after (compare with go tool pprof -sample_index=alloc_space
// -base <path>.allocs.before <path>.allocs.after).
func profile(ctx context.Context, path string, n int, t target) error {
	if err := writeAllocs(path + ".allocs.before"); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	for range n {
		if err := t.call(ctx); err != nil {
			pprof.StopCPUProfile()
			return fmt.Errorf("profiling %s: %w", t.name, err)
		}
	}
	pprof.StopCPUProfile()
	return writeAllocs(path + ".allocs.after")
}

func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("allocs profile: %w", err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		return fmt.Errorf("allocs profile: %w", err)
	}
	return nil
}

// resultSize is the size of one call's result as JSON.
func resultSize(ctx context.Context, s *mcp.ClientSession, tool string, args map[string]any) (int, error) {
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", tool, err)
	}
	if res.IsError {
		return 0, fmt.Errorf("%s: tool error", tool)
	}
	b, err := json.Marshal(res)
	if err != nil {
		return 0, fmt.Errorf("%s: marshal result: %w", tool, err)
	}
	return len(b), nil
}

type hist struct {
	sum   float64
	count uint64
}

// handlerHist reads the server's blue_rfc_get latency histogram.
func handlerHist(reg *prometheus.Registry) (hist, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return hist{}, fmt.Errorf("gather server metrics: %w", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "blue_mcp_tool_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "tool" && l.GetValue() == "blue_rfc_get" {
					return hist{sum: m.GetHistogram().GetSampleSum(), count: m.GetHistogram().GetSampleCount()}, nil
				}
			}
		}
	}
	return hist{}, nil
}

package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets the report marks PASS or FAIL.
const (
	targetRatio    = 1.2  // blue_rfc_get / (bare with the same result + storage), medians
	targetRSSMiB   = 20.0 // idle RSS of blue-mcp
	targetAnonMiB  = 6.0  // its anonymous part (issue #15)
	targetReady    = 300 * time.Millisecond
	targetSTSCalls = 0 // STS calls during steady-state tool calls
	// Under load, blue-mcp against the bare process answering with the
	// same result (issue #15).
	targetLoadThroughput = 0.8
	targetLoadP50        = 1.5
)

// report collects every phase's figures.
type report struct {
	settings
	overhead *overheadResult
	starts   *startResult
	floor    *floorResult
	sts      *stsResult
	load     *loadResult
	latency  []*latencyResult
	errors   []string
}

func mark(pass bool) string {
	if pass {
		return "PASS"
	}
	return "FAIL"
}

func (r *report) print(out io.Writer) {
	fmt.Fprintf(out, "\nblue-mcp benchmark: %d CPUs (GOMAXPROCS %d), %s; latencies are medians unless marked\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(out, "every backend on loopback: test STS, test Infisical, gofakes3 (in this process), dynalite (node, behind a recording proxy)\n")
	if len(r.serverEnv) > 0 {
		fmt.Fprintf(out, "the blue-mcp binary runs with %s added to the pod's environment (-server-env): not the shipped defaults\n", strings.Join(r.serverEnv, " "))
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	row := func(n, figure, value, target, result string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n, figure, value, target, result)
	}
	// missing is the row of a figure without a value: an error, unless -only
	// left its phase out.
	missing := func(n, key, figure, target string) {
		if !r.runs(key) {
			row(n, figure, "not run (-only)", target, "")
			return
		}
		row(n, figure, "not measured", target, "ERROR")
	}
	row("#", "figure", "value", "target", "result")
	row("-", "------", "-----", "------", "------")

	if o := r.overhead; o != nil && len(o.Subject) > 0 {
		spread := func(q []float64) string {
			return fmt.Sprintf("%.2f / %.2f / %.2f", quantile(q, 0.25), medianFloat(q), quantile(q, 0.75))
		}
		row("1", fmt.Sprintf("blue_rfc_get %q (auth + server + store), %d calls", docRef, len(o.Subject)), fmtUS(o.Subject.median()), "", "")
		row("1", "  bare go-sdk server answering with blue_rfc_get's exact result", fmtUS(o.Payload.median()), "", "")
		row("1", "  storage: the store call it makes (GetByTitleOrID: one BatchGetItem + cached body)", fmtUS(o.Storage.median()), "", "")
		row("1", "blue_rfc_get / (bare with the same result + storage)", fmt.Sprintf("%.2f", o.PayloadRatio()), fmt.Sprintf("<= %.2f", targetRatio), mark(o.PayloadRatio() <= targetRatio))
		if q := o.PayloadRoundRatios; len(q) > 0 {
			row("1", fmt.Sprintf("  the same ratio per round of %d calls each: p25 / median / p75", r.batch), spread(q), "(spread)", "")
		}
		row("1", "  overhead beyond that", fmtUS(o.Subject.median()-o.Payload.median()-o.Storage.median()), "", "")
		row("1", "  bare go-sdk server, no-op tool, same transport", fmtUS(o.Bare.median()), "", "")
		row("1", "  blue_rfc_get / (bare no-op + storage)", fmt.Sprintf("%.2f", o.Ratio()), "(info)", "")
		if q := o.RoundRatios; len(q) > 0 {
			row("1", "  that ratio per round: p25 / median / p75", spread(q), "(spread)", "")
		}
		row("1", "  (blue_rfc_get - storage) / bare no-op, the stricter reading", fmt.Sprintf("%.2f", o.StrictRatio()), "(info)", "")
	} else {
		missing("1", "overhead", "blue_rfc_get / (bare with the same result + storage)", fmt.Sprintf("<= %.2f", targetRatio))
	}

	if st := r.starts; st != nil && len(st.Idle) > 0 {
		rss := medianMem(st.Idle)
		row("2", fmt.Sprintf("idle RSS of blue-mcp, median of %d starts", len(st.Idle)), fmt.Sprintf("%.1f MiB", rss.MiB()),
			fmt.Sprintf("< %.0f MiB", targetRSSMiB), mark(rss.MiB() < targetRSSMiB))
		anon := kib(rss.Anon)
		row("2", "  of which anonymous (grows per pod; the rest is the binary's shared pages)", fmt.Sprintf("%.1f MiB", anon),
			fmt.Sprintf("<= %.0f MiB", targetAnonMiB), mark(anon <= targetAnonMiB))
		if f := r.floor; f != nil && len(f.All) > 0 && len(f.NoInfisical) > 0 {
			all, noInf := kib(medianMem(f.All).Anon), kib(medianMem(f.NoInfisical).Anon)
			row("2", "  SDK floor: anonymous of a binary linking the same third-party packages, running nothing", fmt.Sprintf("%.1f MiB", all), "(baseline)", "")
			row("2", "    of it, the Infisical go-sdk's package state", fmt.Sprintf("%.1f MiB", all-noInf), "(info)", "")
			row("2", "  blue-mcp's own anonymous memory, above that floor", fmt.Sprintf("%.1f MiB", anon-all), "(info)", "")
		}
	} else {
		missing("2", "starts", "idle RSS of blue-mcp", fmt.Sprintf("< %.0f MiB", targetRSSMiB))
	}
	if st := r.starts; st != nil && len(st.Ready) > 0 {
		ready := durations(st.Ready).median()
		row("3", fmt.Sprintf("start to /readyz 200, median of %d", len(st.Ready)), fmt.Sprintf("%.1f ms", ms(ready)),
			fmt.Sprintf("< %d ms", targetReady.Milliseconds()), mark(ready < targetReady))
	} else {
		missing("3", "starts", "start to /readyz 200", fmt.Sprintf("< %d ms", targetReady.Milliseconds()))
	}

	if c := r.sts; c != nil {
		row("4", fmt.Sprintf("STS AssumeRole during %d blue_rfc_get (binary)", c.Calls), fmt.Sprint(c.AssumeRole),
			fmt.Sprint(targetSTSCalls), mark(c.AssumeRole+c.OtherSTS == targetSTSCalls && c.Errors == 0))
	} else {
		missing("4", "sts", "STS AssumeRole during steady-state calls", fmt.Sprint(targetSTSCalls))
	}

	if l := r.load; l != nil && len(l.Real.Lat) > 0 {
		loadRow := func(name string, x runResult) {
			row("5", fmt.Sprintf("%s, %d sessions: p50 / p99", name, l.Sessions),
				fmt.Sprintf("%s / %s", fmtMS(x.Lat.median()), fmtMS(x.Lat.pct(99))), "", "")
			row("5", fmt.Sprintf("%s, %d sessions: throughput", name, l.Sessions), fmt.Sprintf("%.0f calls/s", x.Throughput()), "", "")
		}
		loadRow("blue-mcp enterprise, blue_rfc_get", l.Real)
		loadRow("bare go-sdk process, the same result", l.Bare)
		tput := l.Real.Throughput() / max(l.Bare.Throughput(), 1e-9)
		p50 := ratio(l.Real.Lat.median(), l.Bare.Lat.median())
		row("5", "blue-mcp / bare: throughput", fmt.Sprintf("%.2f", tput), fmt.Sprintf(">= %.1f", targetLoadThroughput), mark(tput >= targetLoadThroughput))
		row("5", "blue-mcp / bare: p50", fmt.Sprintf("%.2f", p50), fmt.Sprintf("<= %.1f", targetLoadP50), mark(p50 > 0 && p50 <= targetLoadP50))
		row("5", "blue-mcp / bare: p99", fmt.Sprintf("%.2f", ratio(l.Real.Lat.pct(99), l.Bare.Lat.pct(99))), "(info)", "")
		if len(l.Apart.Lat) > 0 {
			loadRow("blue-mcp, a caller and an RFC per session (nothing shared)", l.Apart)
			row("5", "  that / bare: throughput, p50", fmt.Sprintf("%.2f, %.2f", l.Apart.Throughput()/max(l.Bare.Throughput(), 1e-9),
				ratio(l.Apart.Lat.median(), l.Bare.Lat.median())), "(info)", "")
		}
		row("5", "failed calls under load (blue-mcp)", fmt.Sprint(l.Real.Errors), "0", mark(l.Real.Errors == 0))
	} else {
		missing("5", "load", "concurrent sessions", "")
	}
	_ = tw.Flush()

	printLatency(out, r.latency)
	r.printDetails(out)
	if len(r.errors) > 0 {
		fmt.Fprintf(out, "\nnot measured:\n")
		for _, e := range r.errors {
			fmt.Fprintf(out, "  %s\n", e)
		}
	}
}

// printDetails shows what explains the headline figures.
func (r *report) printDetails(out io.Writer) {
	fmt.Fprintf(out, "\ndetails\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	row := func(figure, value string) { fmt.Fprintf(tw, "  %s\t%s\n", figure, value) }
	if o := r.overhead; o != nil && len(o.Subject) > 0 {
		row("1: p10 / p50 / p90 blue_rfc_get", p3(o.Subject))
		row("1: p10 / p50 / p90 bare no-op", p3(o.Bare))
		row("1: p10 / p50 / p90 storage (cached body)", p3(o.Storage))
		row("1: p10 / p50 / p90 storage, body cache off (BatchGetItem + GetObject)", p3(o.StorageUncached))
		perCall := func(i int, n int) string {
			if n == 0 {
				return "-"
			}
			c := o.CPU[i]
			return fmt.Sprintf("%s + %s", fmtUS(c.self/time.Duration(n)), fmtUS(c.node/time.Duration(n)))
		}
		row("1: p10 / p50 / p90 bare with blue_rfc_get's result", p3(o.Payload))
		row("1: CPU per call, this process + dynalite: blue_rfc_get", perCall(tSubject, len(o.Subject)))
		row("1: CPU per call, this process + dynalite: bare no-op", perCall(tBare, len(o.Bare)))
		row("1: CPU per call, this process + dynalite: storage", perCall(tStorage, len(o.Storage)))
		row("1: CPU per call, this process + dynalite: bare with that result", perCall(tPayload, len(o.Payload)))
		if len(o.Subject) > 0 && len(o.Bare) > 0 && len(o.Storage) > 0 {
			self := func(i, n int) time.Duration { return o.CPU[i].self / time.Duration(n) }
			extra := self(tSubject, len(o.Subject)) - self(tBare, len(o.Bare)) - self(tStorage, len(o.Storage))
			row("1: CPU per call beyond bare + storage (this process)", fmtUS(extra))
		}
		alloc := func(i, n int) string {
			if n == 0 {
				return "-"
			}
			return fmt.Sprintf("%.1f KiB", float64(o.Alloc[i])/float64(n)/1024)
		}
		row("1: heap allocated per call, this process: blue_rfc_get / bare / storage / bare with that result",
			alloc(tSubject, len(o.Subject))+" / "+alloc(tBare, len(o.Bare))+" / "+alloc(tStorage, len(o.Storage))+" / "+alloc(tPayload, len(o.Payload)))
		row("1: server's own blue_rfc_get time (audit histogram, mean)", fmtUS(o.Handler))
		row("1: result size blue_rfc_get / no-op (JSON)", fmt.Sprintf("%d / %d bytes", o.SubjectBytes, o.BareBytes))
		row("1: interleaving", fmt.Sprintf("batches of %d, order rotating every round, %d warm-up calls each", r.batch, r.warmup))
	}
	if st := r.starts; st != nil && len(st.Ready) > 0 {
		row("2: idle RSS per start (MiB)", mibList(st.Idle))
		if len(st.Idle) > 0 {
			m := medianMem(st.Idle)
			row("2: RssAnon / RssFile / VmHWM (median start)", fmt.Sprintf("%.1f / %.1f / %.1f MiB", kib(m.Anon), kib(m.File), kib(m.HWM)))
		}
		row("2: Go heap in use (of it objects) / stacks / Go sys (medians, from /metrics)", fmt.Sprintf("%.2f (%.2f) / %.2f / %.1f MiB",
			medianFloat(st.Heap)/(1<<20), medianFloat(st.Alloc)/(1<<20), medianFloat(st.Stack)/(1<<20), medianFloat(st.Sys)/(1<<20)))
		row("2: goroutines (median)", fmt.Sprintf("%.0f", medianFloat(st.Gs)))
		row("2: binary size", fmt.Sprintf("%.1f MiB", float64(st.BinSize)/(1<<20)))
		row("2: idle time before reading RSS", r.idle.String())
		row("3: start to ready, min / max", fmt.Sprintf("%.1f / %.1f ms", ms(slices.Min(st.Ready)), ms(slices.Max(st.Ready))))
	}
	if c := r.sts; c != nil {
		row("4: other STS requests in the window", fmt.Sprint(c.OtherSTS))
		row("4: AssumeRole during warm-up (first call per caller)", fmt.Sprint(c.WarmupAssume))
		row("4: Infisical config refreshes in the window", fmt.Sprintf("%d (binary runs with --infisical-refresh %s)", c.InfisicalLists, stsWindowRefresh))
		row("4: calls, sessions, errors, wall time", fmt.Sprintf("%d, %d, %d, %.1fs (%.0f calls/s)", c.Calls, r.stsSessions, c.Errors, c.Elapsed.Seconds(), float64(c.Calls)/max(c.Elapsed.Seconds(), 1e-9)))
		if c.After.RSS > 0 {
			row("4: RSS once idle after the calls (RssAnon / VmHWM)", fmt.Sprintf("%.1f MiB (%.1f / %.1f)", c.After.MiB(), kib(c.After.Anon), kib(c.After.HWM)))
		}
	}
	if l := r.load; l != nil && len(l.Real.Lat) > 0 {
		row("5: storage alone (the same store call), same concurrency: p50 / p99", fmt.Sprintf("%s / %s", fmtMS(l.Storage.Lat.median()), fmtMS(l.Storage.Lat.pct(99))))
		row("5: storage alone: throughput", fmt.Sprintf("%.0f calls/s", l.Storage.Throughput()))
		cpu := func(c loadCPU, n int) string {
			p := c.perCall(n)
			return fmt.Sprintf("%s / %s / %s", fmtUS(p.Server), fmtUS(p.Bench), fmtUS(p.Dynalite))
		}
		row("5: CPU per call, server / clients / dynalite: blue-mcp", cpu(l.RealCPU, len(l.Real.Lat)))
		row("5: CPU per call, server / clients / dynalite: bare", cpu(l.BareCPU, len(l.Bare.Lat)))
		row("5: CPU per call, - / this process / dynalite: storage alone", cpu(l.StorageCPU, len(l.Storage.Lat)))
		if len(l.Apart.Lat) > 0 {
			row("5: CPU per call, server / clients / dynalite: blue-mcp, nothing shared", cpu(l.ApartCPU, len(l.Apart.Lat)))
			row("5: errors, nothing shared", fmt.Sprint(l.Apart.Errors))
		}
		row("5: errors blue-mcp / bare / storage", fmt.Sprintf("%d / %d / %d", l.Real.Errors, l.Bare.Errors, l.Storage.Errors))
		if l.Real.FirstErr != nil {
			row("5: first blue-mcp error", l.Real.FirstErr.Error())
		}
		row("5: blue-mcp RSS under load: RSS (anonymous) / VmHWM", fmt.Sprintf("%.1f MiB (%.1f) / %.1f MiB", l.After.MiB(), kib(l.After.Anon), kib(l.After.HWM)))
		row("5: time per target", fmt.Sprintf("%s in two halves (real, bare, storage; then reversed)", r.loadFor))
	}
	_ = tw.Flush()
}

func fmtUS(d time.Duration) string { return fmt.Sprintf("%.0f µs", us(d)) }

func fmtMS(d time.Duration) string { return fmt.Sprintf("%.2f ms", ms(d)) }

func p3(d durations) string {
	return fmt.Sprintf("%s / %s / %s", fmtUS(d.pct(10)), fmtUS(d.pct(50)), fmtUS(d.pct(90)))
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func kib(v int64) float64 { return float64(v) / 1024 }

func medianMem(ms []memory) memory {
	s := slices.Clone(ms)
	slices.SortFunc(s, func(a, b memory) int { return int(a.RSS - b.RSS) })
	return s[len(s)/2]
}

func mibList(ms []memory) string {
	out := ""
	for i, m := range ms {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%.1f", m.MiB())
	}
	return out
}

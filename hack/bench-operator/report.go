package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// result is everything measured for one N.
type result struct {
	N        int            `json:"n"`
	Baseline phaseResult    `json:"baseline"`
	Operator operatorResult `json:"operator"`
	Errors   []string       `json:"errors,omitempty"`
}

// Ratio is operator time over baseline time; 0 when either is missing.
func (r result) Ratio() float64 {
	if r.Baseline.Seconds <= 0 || r.Operator.Seconds <= 0 {
		return 0
	}
	return r.Operator.Seconds / r.Baseline.Seconds
}

func (r result) ok() bool { return len(r.Errors) == 0 }

func mark(pass bool) string {
	if pass {
		return "PASS"
	}
	return "FAIL"
}

func printJSON(w io.Writer, results []result) error {
	type withRatio struct {
		result
		Ratio float64 `json:"ratio"`
	}
	out := make([]withRatio, len(results))
	for i, r := range results {
		out[i] = withRatio{r, r.Ratio()}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	return nil
}

func printReport(w io.Writer, s settings, results []result) {
	fmt.Fprintf(w, "\nblue-operator convergence benchmark: concurrency %d, client QPS %g burst %d, idle window %s\n",
		s.concurrency, s.qps, s.burst, s.idle)
	fmt.Fprintf(w, "targets (stated for N=1000, marked at every N): operator/baseline time <= %.1f, writes/tenant <= baseline + %.0f, operator RSS < %d MiB, idle writes = %d\n\n",
		targetRatio, targetWrites, targetRSSMiB, targetIdleWrit)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "N\tbaseline s\toperator s\tratio\t\toperator quiet s\twrites/tenant base\top\t\t\tRSS MiB\tanon\tpeak\t\tidle writes\t\tidle RV changes\t")
	for _, r := range results {
		if r.Baseline.Seconds == 0 || r.Operator.Seconds == 0 {
			fmt.Fprintf(tw, "%d\t%.2f\t%.2f\t-\tERR\t\t\t\t\t\t\t\t\t\t\t\t\t\n", r.N, r.Baseline.Seconds, r.Operator.Seconds)
			continue
		}
		op := r.Operator
		idleWrites, idleMark, idleChanges := "-", "", "-"
		if s.idle > 0 && r.ok() {
			idleWrites = fmt.Sprint(op.IdleWrites.Total)
			idleMark = mark(op.IdleWrites.Total <= targetIdleWrit)
			idleChanges = fmt.Sprint(sumValues(op.IdleChanges))
		}
		ratioMark := mark(r.ok() && r.Ratio() <= targetRatio)
		fmt.Fprintf(tw, "%d\t%.2f\t%.2f\t%.2f\t%s\t%.1f\t%.1f\t%.1f\t(%.2fx)\t%s\t%.1f\t%.1f\t%.1f\t%s\t%s\t%s\t%s\t\n",
			r.N, r.Baseline.Seconds, op.Seconds, r.Ratio(), ratioMark, op.BusySeconds,
			r.Baseline.WritesPerTenant, op.WritesPerTenant, safeDiv(op.WritesPerTenant, r.Baseline.WritesPerTenant),
			mark(r.ok() && op.WritesPerTenant <= r.Baseline.WritesPerTenant+targetWrites),
			op.RSSMiB, op.AnonMiB, op.PeakRSSMiB, mark(op.RSSMiB > 0 && op.RSSMiB < targetRSSMiB),
			idleWrites, idleMark, idleChanges)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "operator s: until every tenant's status was written; operator quiet s: until its API writes stopped (to 1 s).")

	for _, r := range results {
		printDetails(w, s, r)
	}
}

func printDetails(w io.Writer, s settings, r result) {
	fmt.Fprintf(w, "\n--- N=%d\n", r.N)
	for _, e := range r.Errors {
		fmt.Fprintf(w, "ERROR %s\n", e)
	}
	b, op := r.Baseline, r.Operator
	fmt.Fprintf(w, "writes per tenant by request (verb, resource, HTTP code; APPLY 201 created, 200 existed):\n")
	keys := map[string]bool{}
	for k := range b.Writes.BySeries {
		keys[k] = true
	}
	for k := range op.Writes.BySeries {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  verb\tresource\tcode\tbaseline\toperator\t")
	per := func(v, n int) string { return fmt.Sprintf("%.2f", float64(v)/float64(n)) }
	for _, k := range sorted {
		// Keys are "VERB resource code" (writeKey.String).
		fmt.Fprintf(tw, "  %s\t%s\t%s\t\n", strings.ReplaceAll(k, " ", "\t"),
			per(b.Writes.BySeries[k], r.N), per(op.Writes.BySeries[k], r.N))
	}
	fmt.Fprintf(tw, "  total\t\t\t%s\t%s\t\n", per(b.Writes.Total, r.N), per(op.Writes.Total, r.N))
	_ = tw.Flush()
	fmt.Fprintf(w, "operator writes after the last tenant converged (included above): %d; writes went on until %.1fs (converged at %.2fs)\n",
		op.SettleWrites, op.BusySeconds, op.Seconds)
	if hk := b.Writes.Housekeeping + op.Writes.Housekeeping + op.IdleWrites.Housekeeping; hk > 0 {
		fmt.Fprintf(w, "API server housekeeping (lease renewals, ClusterIP allocations) left out of all counts: %d baseline, %d operator, %d idle\n",
			b.Writes.Housekeeping, op.Writes.Housekeeping, op.IdleWrites.Housekeeping)
	}
	for _, m := range [][]string{b.Missing, op.Missing} {
		if len(m) > 0 {
			fmt.Fprintf(w, "MISSING objects: %s\n", strings.Join(m, ", "))
		}
	}
	if op.RSSMiB > 0 {
		fmt.Fprintf(w, "operator memory: RSS %.1f MiB converged, peak %.1f MiB", op.RSSMiB, op.PeakRSSMiB)
		if op.IdleRSSMiB > 0 {
			fmt.Fprintf(w, ", %.1f MiB after idling", op.IdleRSSMiB)
		}
		fmt.Fprintln(w)
	}
	if s.idle > 0 && op.IdleSeconds > 0 {
		fmt.Fprintf(w, "idle %.0fs: %d writes", op.IdleSeconds, op.IdleWrites.Total)
		for _, k := range sortedKeys(op.IdleWrites.BySeries) {
			fmt.Fprintf(w, "\n  %s: %d", k, op.IdleWrites.BySeries[k])
		}
		fmt.Fprintf(w, "\nidle resourceVersion changes: %d", sumValues(op.IdleChanges))
		for _, k := range sortedKeys(op.IdleChanges) {
			fmt.Fprintf(w, " %s=%d", k, op.IdleChanges[k])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "manager error log lines: %d\n", op.LogErrors)
	if op.FirstLogError != "" {
		fmt.Fprintf(w, "  first: %s\n", truncate(op.FirstLogError, 400))
	}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sumValues(m map[string]int) int {
	total := 0
	for _, v := range m {
		total += v
	}
	return total
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

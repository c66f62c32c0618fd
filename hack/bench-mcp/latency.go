package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/mcpserver/tools"
	"github.com/superviber/blue-operator/test/latencyproxy"
)

// Latency across accounts. Every figure above is measured with the client's
// AWS on loopback, where a round trip costs well under a millisecond;
// across accounts one costs 50–100 ms. This phase puts a latency-injecting
// proxy in front of STS, S3 and DynamoDB, seeds the tenant with documents
// of every kind, and reports per tool the latency and the number of round
// trips to the client's account made one after another (what the user
// waits for), on a cold pod (the first call after start) and a warm one.

// Targets for sequential round trips per tool call (issue: "no tool needs
// more than 3 on a warm pod, and none more than 5 on a cold one").
const (
	targetWarmDepth = 3
	targetColdDepth = 5
)

// latencyCall is one tool call the phase measures.
type latencyCall struct {
	tool string
	args map[string]any
}

var latencyCalls = []latencyCall{
	{"blue_rfc_get", map[string]any{"title": docRef}},
	{"blue_rfc_get", map[string]any{"title": docTitle}},
	{"blue_rfc_list", map[string]any{}},
	{"blue_adr_list", map[string]any{}},
	{"blue_status", map[string]any{}},
	{"blue_next", map[string]any{}},
	{"blue_search", map[string]any{"query": "listing cache"}},
	{"blue_adr_relevant", map[string]any{"context": "listing cache"}},
	{"blue_doc_revisions", map[string]any{"doc_type": docKind, "title": docRef}},
}

// latencyRow is one tool at one latency.
type latencyRow struct {
	name            string
	cold            time.Duration
	coldDepth       int
	warm            durations
	warmDepths      []int
	coldErr, warmEr string
}

type latencyResult struct {
	mode            dataMode
	latency, jitter time.Duration
	docs            int
	rows            []latencyRow
}

// dataMode is how the server reaches the client's documents.
type dataMode string

const (
	// modeDirect: S3 and DynamoDB with the client role's credentials.
	modeDirect dataMode = "direct"
	// modeAPI: the client's API Gateway (SigV4, execute-api:Invoke), whose
	// data function holds the storage; the hop is to the gateway.
	modeAPI dataMode = "API Gateway"
)

// modeSetting is the -latency-modes value of each mode.
var modeSetting = map[string]dataMode{"direct": modeDirect, "api": modeAPI}

// seedMany writes n documents spread over the kinds, straight through the
// store (not the proxies), so the tools have a tenant of realistic size.
func (e *env) seedMany(ctx context.Context, n int) error {
	st := e.newStore(-1)
	kinds := []string{"rfc", "adr", "spike", "decision", "prd", "postmortem", "runbook", "dialogue", "audit"}
	body := []byte("# Seeded\n\n| | |\n|---|---|\n| **Status** | Draft |\n\n---\n\n## Summary\n\n" + docProblem + "\n")
	now := time.Now().UTC()
	sem := make(chan struct{}, 16)
	errs := make(chan error, n)
	for i := range n {
		k, _ := blue.KindByName(kinds[i%len(kinds)])
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			title := fmt.Sprintf("Seeded %s %04d about listing", k.Name, i)
			d := &store.Document{Kind: k.Name, Title: title, Slug: blue.Slug(title), Status: seedStatus(k.Name), Body: body, CreatedAt: now, UpdatedAt: now}
			if k.Numbered || k.Counted {
				n, err := st.NextNumber(ctx, k.Name)
				if err != nil {
					errs <- err
					return
				}
				d.Number = n
			}
			d.ID = blue.TimestampID(now) + "-" + d.Slug
			if k.Numbered {
				d.ID = blue.FormatNumber(d.Number)
			}
			if err := st.Create(ctx, d); err != nil {
				errs <- fmt.Errorf("seed %s %d: %w", k.Name, i, err)
			}
		}()
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	close(errs)
	return <-errs // nil when none failed
}

func seedStatus(kind string) string {
	switch kind {
	case "adr":
		return "accepted"
	case "spike", "audit":
		return "in-progress"
	case "decision", "dialogue":
		return "recorded"
	case "postmortem":
		return "open"
	case "runbook":
		return "active"
	}
	return "draft"
}

// primeIndex makes the tenant's search index as a first search does, and
// waits until it is stored for every kind, so the cold figures are those of
// a pod on a tenant in use (the very first search of a tenant reads every
// body once).
func primeIndex(ctx context.Context, e *env, b *binary) error {
	p, err := b.start(ctx, "enterprise")
	if err != nil {
		return err
	}
	defer p.stop()
	s, err := connect(ctx, p.url, e.tenant.Token)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	if _, err := callTool(ctx, s, "blue_search", map[string]any{"query": "prime"}); err != nil {
		return err
	}
	st := e.newStore(-1)
	deadline := time.Now().Add(30 * time.Second)
	for _, k := range blue.KindNames() {
		for {
			if _, err := st.Get(ctx, tools.SearchCatalogKind, k); err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the search index of %s was not stored within 30s", k)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// measureLatency runs the calls at one latency in one data mode: a fresh
// binary per call for the cold figure, then warm calls on that binary. The
// delay sits on every hop to the client's account: STS, and S3 and DynamoDB
// (direct) or the client's API Gateway (API mode; its function's storage
// calls stay inside the client's account, undelayed).
func measureLatency(ctx context.Context, e *env, b *binary, mode dataMode, latency, jitter time.Duration, warmCalls int) (*latencyResult, error) {
	var proxies []*latencyproxy.Proxy
	defer func() {
		for _, p := range proxies {
			_ = p.Close()
		}
	}()
	proxy := func(target string) (string, error) {
		p, err := latencyproxy.Start(target, latency, jitter)
		if err != nil {
			return "", err
		}
		proxies = append(proxies, p)
		return p.URL(), nil
	}
	sts, err := proxy(e.w.STSURL)
	if err != nil {
		return nil, err
	}
	var s3u, ddb string
	switch mode {
	case modeDirect:
		if s3u, err = proxy(e.w.S3.Endpoint()); err != nil {
			return nil, err
		}
		if ddb, err = proxy(e.w.DDB.Endpoint()); err != nil {
			return nil, err
		}
	case modeAPI:
		gw, err := e.startGateway()
		if err != nil {
			return nil, err
		}
		defer gw.Close()
		api, err := proxy(gw.URL)
		if err != nil {
			return nil, err
		}
		restore := e.useAPI(api)
		defer restore()
		// The server must not reach storage itself in this mode: point it
		// nowhere.
		s3u, ddb = "http://127.0.0.1:1", "http://127.0.0.1:1"
	default:
		return nil, fmt.Errorf("unknown data mode %q", mode)
	}
	depth := func() int {
		var all []latencyproxy.Span
		for _, p := range proxies {
			all = append(all, p.Spans()...)
		}
		return latencyproxy.Depth(all)
	}
	reset := func() {
		for _, p := range proxies {
			p.Reset()
		}
	}
	res := &latencyResult{mode: mode, latency: latency, jitter: jitter}
	for _, c := range latencyCalls {
		row := latencyRow{name: c.tool + " " + argsLabel(c.args)}
		p, err := b.start(ctx, "enterprise", "--sts-endpoint", sts, "--s3-endpoint", s3u, "--dynamodb-endpoint", ddb)
		if err != nil {
			return res, err
		}
		s, err := connect(ctx, p.url, e.tenant.Token)
		if err != nil {
			p.stop()
			return res, err
		}
		reset()
		t0 := time.Now()
		if _, err := callTool(ctx, s, c.tool, c.args); err != nil {
			row.coldErr = err.Error()
		}
		row.cold, row.coldDepth = time.Since(t0), depth()
		for range warmCalls {
			reset()
			t0 := time.Now()
			if _, err := callTool(ctx, s, c.tool, c.args); err != nil {
				row.warmEr = err.Error()
				break
			}
			row.warm = append(row.warm, time.Since(t0))
			row.warmDepths = append(row.warmDepths, depth())
		}
		_ = s.Close()
		p.stop()
		res.rows = append(res.rows, row)
	}
	return res, nil
}

func argsLabel(args map[string]any) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(args)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, args[k]))
	}
	return "(" + strings.Join(parts, " ") + ")"
}

func medianInt(v []int) int {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func printLatency(out io.Writer, results []*latencyResult) {
	for _, r := range results {
		hops := "STS, S3 and DynamoDB"
		if r.mode == modeAPI {
			hops = "STS and the client's API Gateway"
		}
		fmt.Fprintf(out, "\n6: latency across accounts, %s: %v per round trip (+ up to %v jitter) to %s; %d seeded documents\n", r.mode, r.latency, r.jitter, hops, r.docs)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "tool\tcold\tcold RTs\twarm p50 / p99\twarm RTs (median)\ttarget RTs cold / warm\tresult\n")
		for _, row := range r.rows {
			warmDepth := medianInt(row.warmDepths)
			result := mark(row.coldDepth <= targetColdDepth && warmDepth <= targetWarmDepth && row.coldErr == "" && row.warmEr == "")
			if row.coldErr != "" || row.warmEr != "" {
				result = "ERROR " + row.coldErr + row.warmEr
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s / %s\t%d\t<= %d / <= %d\t%s\n", row.name, fmtMS(row.cold), row.coldDepth,
				fmtMS(row.warm.median()), fmtMS(row.warm.pct(99)), warmDepth, targetColdDepth, targetWarmDepth, result)
		}
		_ = tw.Flush()
	}
}

package server_test

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/superviber/blue-operator/test/testutil"
	"github.com/superviber/blue-operator/test/world"
)

func TestAuditLinesAndNothingSecretInLogsOrMetrics(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	tn := newTenant(t, w, "audited", 123456789012)
	var logs testutil.Buffer
	srv := w.Serve(t, tn, world.ServerOptions{Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	s := connect(t, srv.URL, tn.Token)

	const secretBody = "Our confidential pricing model is 42 per seat"
	mustCall(t, s, "blue_rfc_create", map[string]any{"title": "Pricing", "problem": secretBody})
	mustCall(t, s, "blue_rfc_get", map[string]any{"title": "Pricing"})
	call(t, s, "blue_rfc_get", map[string]any{"title": "missing"})

	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["event"] == "tool_call" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("%d audit lines, want 3:\n%s", len(lines), logs.String())
	}
	create := lines[0]
	for _, k := range []string{"tenant", "caller", "tool", "doc_type", "doc_id", "outcome", "latency_ms", "aws_request_id"} {
		if v, ok := create[k]; !ok || v == "" {
			t.Errorf("audit line lacks %s: %v", k, create)
		}
	}
	if create["tool"] != "blue_rfc_create" || create["doc_id"] != "0001" || create["outcome"] != "success" || create["tenant"] != "audited" ||
		!strings.HasPrefix(create["caller"].(string), "token-") {
		t.Errorf("create line %v", create)
	}
	if lines[2]["outcome"] != "error" {
		t.Errorf("failed call logged as %v", lines[2]["outcome"])
	}

	mrec := httptest.NewRecorder()
	srv.Server.MetricsHandler().ServeHTTP(mrec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	rec := mrec.Body.String()
	if !strings.Contains(rec, `blue_mcp_tool_calls_total{outcome="success",tool="blue_rfc_create"} 1`) ||
		!strings.Contains(rec, "blue_sts_assume_total") || !strings.Contains(rec, "blue_infisical_refresh_total") {
		t.Errorf("metrics lack tool, STS or Infisical series:\n%s", rec)
	}
	for _, secret := range []string{tn.Token, secretBody, tn.ExternalID, tn.ClientSecret, tn.HopKey.SecretAccessKey} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs contain a secret or document content: %q", secret)
		}
		if strings.Contains(rec, secret) {
			t.Errorf("metrics contain a secret or document content: %q", secret)
		}
	}
}

// TestSharedReadsAreAudited: calls that overlap share their table reads
// (one caller's store coalesces them), and each call's audit line still
// names the AWS request that answered it.
func TestSharedReadsAreAudited(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	tn := newTenant(t, w, "shared", 123456789013)
	var logs testutil.Buffer
	srv := w.Serve(t, tn, world.ServerOptions{Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	s := connect(t, srv.URL, tn.Token)
	mustCall(t, s, "blue_rfc_create", map[string]any{"title": "Shared reads", "problem": "p"})

	getItems := func() int { return w.DDB.Count(tn.Table, "GetItem", "BatchGetItem") }
	before := getItems()
	const calls = 32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range calls {
		wg.Go(func() {
			<-start
			mustCall(t, s, "blue_rfc_get", map[string]any{"title": "1"})
		})
	}
	close(start)
	wg.Wait()
	// Each blue_rfc_get "1" reads the title claim "1" and the RFC's META in
	// one request; overlapping calls share it.
	if reads := getItems() - before; reads >= calls {
		t.Errorf("%d overlapping calls made %d GetItem calls: nothing shared", calls, reads)
	}

	got := 0
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil || m["event"] != "tool_call" || m["tool"] != "blue_rfc_get" {
			continue
		}
		got++
		if id, _ := m["aws_request_id"].(string); id == "" {
			t.Errorf("audit line of a call that shared its reads names no AWS request: %v", m)
		}
	}
	if got != calls {
		t.Errorf("%d blue_rfc_get audit lines, want %d", got, calls)
	}
}

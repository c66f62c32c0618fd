package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/superviber/blue-operator/test/testutil"
	"github.com/superviber/blue-operator/test/world"
)

// Smaller leaks: what an unauthenticated probe, a flood of made-up tool
// names and a resource read can learn or cost.
func TestSmallerLeaks(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	tn := newTenant(t, w, "leaky", 565656565656)
	var logs testutil.Buffer
	srv := w.Serve(t, tn, world.ServerOptions{Refresh: 200 * time.Millisecond, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	s := connect(t, srv.URL, tn.Token)
	mustCall(t, s, "blue_rfc_create", map[string]any{"title": "Quiet", "problem": "Nothing to see."})

	// Made-up tool names all count as one metric label.
	for i := range 20 {
		_, _, _ = world.CallTool(context.Background(), s, fmt.Sprintf("blue_made_up_%d", i), nil)
	}
	rec := httptest.NewRecorder()
	srv.Server.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if m := rec.Body.String(); strings.Contains(m, "blue_made_up") || !strings.Contains(m, `tool="unknown"} 20`) {
		t.Errorf("made-up tool names reached the metrics:\n%s", grepLines(m, "blue_mcp_tool_calls_total"))
	}

	// A resource read gets an audit line, without the content.
	if _, err := s.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "blue://docs/rfcs/0001"}); err != nil {
		t.Fatal(err)
	}
	if l := logs.String(); !strings.Contains(l, `"event":"resource_read"`) || !strings.Contains(l, `"uri":"blue://docs/rfcs/0001"`) || strings.Contains(l, "Nothing to see.") {
		t.Errorf("resource read audit:\n%s", grepLines(l, "resource_read"))
	}

	// /readyz, which anyone who reaches the port may call, says only that
	// the tenant is not ready; why is in the logs.
	w.Infisical.RevokeMembership(tn.Project, tn.IdentityID)
	var body string
	testutil.Eventually(t, 10*time.Second, 50*time.Millisecond, "readyz failing", func() error {
		resp, err := http.Get(srv.Base + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if body = string(b); resp.StatusCode != http.StatusServiceUnavailable {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
	if body != "not ready\n" {
		t.Errorf("readyz told an unauthenticated caller %q", body)
	}
	if !strings.Contains(logs.String(), `"event":"not_ready"`) {
		t.Errorf("the reason did not reach the logs:\n%s", logs.String())
	}
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

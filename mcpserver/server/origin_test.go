package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHostGuard(t *testing.T) {
	g := newHostGuard("https://acme.mcp.superviber.com/mcp")
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, tc := range []struct {
		host, origin string
		want         int
	}{
		{"acme.mcp.superviber.com", "", http.StatusNoContent},
		{"ACME.mcp.superviber.com:443", "", http.StatusNoContent},
		{"127.0.0.1:8080", "", http.StatusNoContent},
		{"localhost:40123", "", http.StatusNoContent},
		{"[::1]:8080", "", http.StatusNoContent},
		{"acme.mcp.superviber.com", "https://acme.mcp.superviber.com", http.StatusNoContent},
		{"127.0.0.1:6274", "http://localhost:6274", http.StatusNoContent}, // the MCP Inspector on the engineer's machine
		// DNS rebinding: a page of another site, resolving to the endpoint.
		{"evil.example", "", http.StatusForbidden},
		{"acme.mcp.superviber.com.evil.example", "", http.StatusForbidden},
		{"globex.mcp.superviber.com", "", http.StatusForbidden}, // another tenant's name
		{"10.0.0.7:8080", "", http.StatusForbidden},             // the pod IP: only probes use it
		{"", "", http.StatusForbidden},
		{"acme.mcp.superviber.com", "https://evil.example", http.StatusForbidden},
		{"acme.mcp.superviber.com", "http://acme.mcp.superviber.com", http.StatusForbidden}, // not the https origin
		{"acme.mcp.superviber.com", "null", http.StatusForbidden},
		{"acme.mcp.superviber.com", "https://acme.mcp.superviber.com.evil.example", http.StatusForbidden},
	} {
		r := httptest.NewRequest(http.MethodPost, "http://x/mcp", nil)
		r.Host = tc.host
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		w := httptest.NewRecorder()
		g.handler(ok).ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("Host %q Origin %q: %d, want %d", tc.host, tc.origin, w.Code, tc.want)
		}
	}
}

package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/superviber/blue-operator/test/testutil"
	"github.com/superviber/blue-operator/test/world"
)

// handshake is a bare initialize, as a client that then goes away without
// DELETE sends it; it returns the HTTP status and the issued session id.
func handshake(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"gone","version":"1"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := world.BearerClient(token).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	body.Write(buf[:n])
	if strings.Contains(body.String(), `"error"`) {
		return http.StatusTooManyRequests, ""
	}
	return resp.StatusCode, resp.Header.Get("Mcp-Session-Id")
}

// Attack: clients that close without DELETE, and made-up session ids, try
// to fill a small tier's two slots and lock the client out.
func TestVanishedClientsAndMadeUpIDsNeverLockATenantOut(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	tn := newTenant(t, w, "crowded", 212121212199)
	srv := w.Serve(t, tn, world.ServerOptions{MaxSessions: 2, SessionEvictAfter: 300 * time.Millisecond})

	// Made-up ids are refused with 404 and never take a slot.
	for _, id := range []string{"made-up", "0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef"} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", id)
		resp, err := world.BearerClient(tn.Token).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("made-up id %q: %d, want 404", id, resp.StatusCode)
		}
	}
	// Ten short connections that never DELETE.
	for i := range 10 {
		var code int
		testutil.Eventually(t, 10*time.Second, 50*time.Millisecond, "a slot for client "+string(rune('a'+i)), func() error {
			if code, _ = handshake(t, srv.URL, tn.Token); code != http.StatusOK {
				return errStatus(code)
			}
			return nil
		})
	}
	// A real client still gets in, and works.
	var s *mcp.ClientSession
	testutil.Eventually(t, 10*time.Second, 50*time.Millisecond, "a slot for the real client", func() error {
		c := mcp.NewClient(&mcp.Implementation{Name: "engineer", Version: "1"}, nil)
		var err error
		s, err = c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: srv.URL, HTTPClient: world.BearerClient(tn.Token)}, nil)
		return err
	})
	defer s.Close()
	if _, err := s.ListTools(context.Background(), nil); err != nil {
		t.Fatalf("the client that got in cannot work: %v", err)
	}
}

type errStatus int

func (e errStatus) Error() string { return http.StatusText(int(e)) }

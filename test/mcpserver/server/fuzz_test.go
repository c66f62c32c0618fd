package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/superviber/blue-operator/test/world"
)

var fuzzTools = []string{
	"blue_rfc_create", "blue_rfc_get", "blue_rfc_update_status", "blue_rfc_plan", "blue_rfc_task_complete",
	"blue_spike_complete", "blue_search", "blue_rfc_list", "blue_delete", "blue_restore", "blue_adr_get",
	"blue_prd_criterion_complete", "blue_postmortem_create", "blue_runbook_lookup", "blue_dialogue_create",
}

// FuzzToolArguments sends arbitrary arguments to the tools over HTTP. The
// server must answer every one with a result or a tool error (never a 5xx or
// a crash) and keep serving. `go test` runs the seeds; `go test -fuzz
// FuzzToolArguments ./mcpserver/server` explores.
func FuzzToolArguments(f *testing.F) {
	w := world.Start(f)
	tn, err := w.AddTenant(context.Background(), "fuzz", 101010101010)
	if err != nil {
		f.Fatal(err)
	}
	srv := w.Serve(f, tn, world.ServerOptions{MaxBodyBytes: 64 << 10})
	client := world.BearerClient(tn.Token)
	for i, args := range []string{
		`{"title":"Seed RFC","problem":"p"}`, `{"title":"1"}`, `{"title":"Seed RFC","status":"implemented"}`,
		`{"title":"Seed RFC","tasks":["a","b"]}`, `{"title":"Seed RFC","task":"99"}`, `{"title":"x","outcome":"resolved"}`,
		`{"query":"adr:abc"}`, `{"limit":-5,"page_token":"eyJ4IjoxfQ"}`, `{"doc_type":"rfc","title":"../../etc"}`,
		`{"doc_type":"rfc","title":"\u0000"}`, `{"number":-1}`, `{"title":"x","criterion":"0"}`,
		`{"title":"x","severity":"p1"}`, `{"action":""}`, `{"title":"x","content":"` + string(bytes.Repeat([]byte("a"), 1000)) + `"}`,
		`null`, `[]`, `{"title":{"nested":true}}`, `{"title":"` + string(bytes.Repeat([]byte("é"), 300)) + `"}`,
	} {
		f.Add(uint8(i), args)
	}
	f.Fuzz(func(t *testing.T, which uint8, args string) {
		tool := fuzzTools[int(which)%len(fuzzTools)]
		body, _ := json.Marshal(map[string]any{
			"jsonrpc": "2.0", "id": 1, "method": "tools/call",
			"params": map[string]any{"name": tool, "arguments": json.RawMessage(args)},
		})
		if !json.Valid([]byte(args)) {
			// Not JSON at all: the whole request is malformed.
			body = []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}`)
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s(%q): %v", tool, args, err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("%s(%q): HTTP %d %s", tool, args, resp.StatusCode, b)
		}
		if resp.StatusCode == http.StatusOK && !bytes.Contains(b, []byte(`"result"`)) && !bytes.Contains(b, []byte(`"error"`)) {
			t.Fatalf("%s(%q): neither result nor error: %s", tool, args, b)
		}
		if code := get(t, srv.Base+"/healthz"); code != http.StatusOK {
			t.Fatalf("server unhealthy after %s(%q)", tool, args)
		}
	})
}

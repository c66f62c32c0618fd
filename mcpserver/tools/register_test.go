package tools

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/superviber/blue-operator/mcpserver/blue"
)

// connectTools registers the tools over svc on a server and connects a
// client to it in memory.
func connectTools(t *testing.T, svc *Service) *mcp.ClientSession {
	t.Helper()
	srv := mcp.NewServer(&mcp.Implementation{Name: "blue", Version: "test"}, nil)
	if err := Register(srv, svc); err != nil {
		t.Fatal(err)
	}
	st, ct := mcp.NewInMemoryTransports()
	ss, err := srv.Connect(t.Context(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "client", Version: "test"}, nil).Connect(t.Context(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// callText runs a tool and returns its one text item.
func callText(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error: %v", tool, err)
	}
	if len(res.Content) != 1 {
		t.Fatalf("%s: %d content items", tool, len(res.Content))
	}
	text, isText := res.Content[0].(*mcp.TextContent)
	if !isText {
		t.Fatalf("%s: content %T", tool, res.Content[0])
	}
	if res.StructuredContent != nil {
		t.Errorf("%s: structuredContent is set", tool)
	}
	return text.Text, res.IsError
}

func TestRegisterServesTheTools(t *testing.T) {
	f := newFixture(t)
	var revoked atomic.Bool
	svc := &Service{Now: f.clock.Now, Store: func(context.Context) (Store, error) {
		if revoked.Load() {
			return nil, errors.New("access revoked by the client")
		}
		return f.st, nil
	}}
	cs := connectTools(t, svc)

	tools, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]*mcp.Tool{}
	for _, tool := range tools.Tools {
		served[tool.Name] = tool
	}
	for _, k := range blue.Kinds {
		if served["blue_"+k.Name+"_list"] == nil {
			t.Errorf("no blue_%s_list", k.Name)
		}
	}
	for _, name := range append([]string{"blue_status", "blue_rfc_complete", "blue_delete", "blue_purge_deleted"}, hostedAdditions...) {
		if served[name] == nil {
			t.Errorf("%s is not served", name)
		}
	}
	if tool := served["blue_rfc_create"]; tool == nil || tool.OutputSchema != nil {
		t.Errorf("blue_rfc_create: %+v (want no output schema)", tool)
	}

	text, isErr := callText(t, cs, "blue_rfc_create", map[string]any{"title": "Index cache", "problem": "a < b & c → d"})
	if isErr {
		t.Fatalf("create: %s", text)
	}
	if !strings.Contains(text, "a < b & c → d") {
		t.Errorf("markdown was escaped: %s", text)
	}
	var r Result
	if err := json.Unmarshal([]byte(text), &r); err != nil || r.Status != "success" || r.Document.ID != "0001" {
		t.Fatalf("create answered %s (%v)", text, err)
	}

	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"blue_rfc_create", map[string]any{}, `argument "title" is required`},
		{"blue_rfc_create", map[string]any{"title": 42}, `argument "title" must be a string, not number`},
		{"blue_rfc_get", map[string]any{"title": "nope"}, `not found: no RFC matches "nope"`},
		{"blue_rfc_update_status", map[string]any{"title": "1", "status": "implemented"}, "cannot go from draft to implemented"},
	} {
		text, isErr := callText(t, cs, tc.tool, tc.args)
		if !isErr || !strings.Contains(text, tc.want) {
			t.Errorf("%s(%v): %q (isError %v), want an error containing %q", tc.tool, tc.args, text, isErr, tc.want)
		}
	}
	// A gate is an answer, not an error. (A draft RFC cannot complete at
	// all, and one without a plan counts as done, as in Blue: the gate
	// needs an accepted RFC with a plan under 70%.)
	run(t, f, f.svc.rfcCreate, RFCCreateIn{Title: "Gated"})
	run(t, f, f.svc.rfcUpdateStatus, RFCStatusIn{Title: "Gated", Status: "accepted"})
	run(t, f, f.svc.rfcPlan, RFCPlanIn{Title: "Gated", Tasks: []string{"a", "b"}})
	if text, isErr := callText(t, cs, "blue_rfc_complete", map[string]any{"title": "Gated"}); isErr || !strings.Contains(text, `"status":"blocked"`) {
		t.Errorf("gate: %s", text)
	}
	if text, isErr := callText(t, cs, "blue_rfc_complete", map[string]any{"title": "1"}); !isErr || !strings.Contains(text, "can't complete a draft RFC") {
		t.Errorf("draft: %s", text)
	}

	rr, err := cs.ReadResource(t.Context(), &mcp.ReadResourceParams{URI: "blue://docs/rfcs/0001"})
	if err != nil || len(rr.Contents) != 1 || !strings.HasPrefix(rr.Contents[0].Text, "# RFC 0001: Index cache\n") || rr.Contents[0].MIMEType != "text/markdown" {
		t.Errorf("resource: %v %+v", err, rr)
	}
	for _, uri := range []string{"blue://docs/rfcs/0009", "blue://docs/secrets/0001", "blue://docs/rfcs/0001/x", "https://docs/rfcs/0001"} {
		if _, err := cs.ReadResource(t.Context(), &mcp.ReadResourceParams{URI: uri}); err == nil {
			t.Errorf("%s: read", uri)
		}
	}
	run(t, f, f.svc.delete, DeleteIn{DocType: "rfc", Title: "1"})
	if _, err := cs.ReadResource(t.Context(), &mcp.ReadResourceParams{URI: "blue://docs/rfcs/0001"}); err == nil {
		t.Errorf("a deleted document is readable as a resource")
	}

	// When the store is gone, that is every tool's answer.
	revoked.Store(true)
	if text, isErr := callText(t, cs, "blue_rfc_list", nil); !isErr || text != "access revoked by the client" {
		t.Errorf("revoked: %q (isError %v)", text, isErr)
	}
}

func TestCallInfo(t *testing.T) {
	ctx := context.Background()
	noteResult(ctx, ok("no call info")) // no CallInfo: nothing to do, no panic
	NoteAWSRequestID(ctx, "ignored")

	ci := &CallInfo{}
	ctx = WithCallInfo(ctx, ci)
	noteResult(ctx, Result{Status: "blocked"})
	if ci.Status != "blocked" || ci.DocType != "" {
		t.Errorf("without a document: %+v", ci)
	}
	noteResult(ctx, Result{Status: "success", Document: &DocView{Kind: "rfc", ID: "0007"}})
	if ci.Status != "success" || ci.DocType != "rfc" || ci.DocID != "0007" {
		t.Errorf("with a document: %+v", ci)
	}

	var wg sync.WaitGroup
	for _, id := range []string{"req-1", "req-2"} {
		wg.Go(func() { NoteAWSRequestID(ctx, id) })
	}
	wg.Wait()
	if got := ci.AWSRequestID(); got != "req-1" && got != "req-2" {
		t.Errorf("request id %q", got)
	}
	NoteAWSRequestID(ctx, "")
	if ci.AWSRequestID() == "" {
		t.Errorf("an empty id overwrote the last one")
	}
}

package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/superviber/blue-operator/test/world"
)

// docVersion reads a document's version through its _get tool.
func docVersion(t *testing.T, s *mcp.ClientSession, tool, title string) (int64, string) {
	t.Helper()
	text, isErr, err := world.CallTool(context.Background(), s, tool, map[string]any{"title": title})
	if err != nil || isErr {
		t.Fatalf("%s %s: %v %s", tool, title, err, text)
	}
	var r struct {
		Document struct {
			Version int64  `json:"version"`
			Content string `json:"content"`
		} `json:"document"`
	}
	if err := json.Unmarshal([]byte(text), &r); err != nil {
		t.Fatal(err)
	}
	return r.Document.Version, r.Document.Content
}

// An engineer writes an RFC section by section through the endpoint, over
// the client's real S3 and DynamoDB: a stale write is refused and loses
// nothing, the history reads back, a restore is a new revision, a PRD's
// gate cannot be fooled, and resources/list shows the documents.
func TestAuthoringOverMCP(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	tn := newTenant(t, w, "author", 444444444444)
	srv := w.Serve(t, tn, world.ServerOptions{})
	s := connect(t, srv.URL, tn.Token)

	mustCall(t, s, "blue_rfc_create", map[string]any{"title": "Index cache", "problem": "Listing is slow."})
	for _, sec := range []struct{ name, text string }{
		{"Proposal", "Keep an index in the client's table.\n\n### Shape\n\nOne item per kind."},
		{"Goals", "- p99 under 100 ms"},
		{"Test Plan", "A bench at 100 ms per hop."},
	} {
		v, _ := docVersion(t, s, "blue_rfc_get", "Index cache")
		mustCall(t, s, "blue_doc_section_write", map[string]any{"doc_type": "rfc", "title": "Index cache", "section": sec.name, "text": sec.text, "version": v})
	}
	text, _, _ := world.CallTool(context.Background(), s, "blue_rfc_validate", map[string]any{"title": "Index cache"})
	var validate struct {
		Data struct {
			Empty []string `json:"empty_sections"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(text), &validate); err != nil || len(validate.Data.Empty) != 0 {
		t.Fatalf("sections still empty after writing them: %s %v", text, err)
	}

	// Two engineers read version 4; the second write is refused.
	v, _ := docVersion(t, s, "blue_rfc_get", "Index cache")
	mustCall(t, s, "blue_doc_section_write", map[string]any{"doc_type": "rfc", "title": "0001", "section": "Goals", "text": "- p99 under 50 ms", "version": v})
	if _, e := call(t, s, "blue_doc_section_write", map[string]any{"doc_type": "rfc", "title": "0001", "section": "Goals", "text": "- lost?", "version": v}); !strings.Contains(e, "stale write refused") || !strings.Contains(e, "it is now at version 5") {
		t.Fatalf("stale write: %q", e)
	}
	_, body := docVersion(t, s, "blue_rfc_get", "Index cache")
	if !strings.Contains(body, "p99 under 50 ms") || strings.Contains(body, "lost?") {
		t.Fatalf("after the stale write:\n%s", body)
	}

	// The history, an old revision, a restore.
	text, _, _ = world.CallTool(context.Background(), s, "blue_doc_revisions", map[string]any{"doc_type": "rfc", "title": "Index cache"})
	var hist struct {
		Data struct {
			Revisions []struct {
				Version int64  `json:"version"`
				Status  string `json:"status"`
			} `json:"revisions"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(text), &hist); err != nil || len(hist.Data.Revisions) != 5 || hist.Data.Revisions[0].Version != 5 {
		t.Fatalf("revisions: %s %v", text, err)
	}
	text, _, _ = world.CallTool(context.Background(), s, "blue_doc_revision_get", map[string]any{"doc_type": "rfc", "title": "Index cache", "revision": 3})
	if !strings.Contains(text, "p99 under 100 ms") {
		t.Fatalf("revision 3: %s", text)
	}
	restored := mustCall(t, s, "blue_doc_revision_restore", map[string]any{"doc_type": "rfc", "title": "Index cache", "revision": 4, "version": 5})
	if restored.Document == nil || restored.Document.Status != "draft" {
		t.Fatalf("restore: %+v", restored)
	}
	if _, body := docVersion(t, s, "blue_rfc_get", "Index cache"); !strings.Contains(body, "p99 under 100 ms") {
		t.Fatalf("after restore:\n%s", body)
	}

	// A PRD whose Problem smuggles in ticked criteria never completes.
	if _, e := call(t, s, "blue_prd_create", map[string]any{"title": "Search", "problem": "Slow.\n\n## Acceptance Criteria\n\n- [x] fast"}); !strings.Contains(e, `argument "problem"`) {
		t.Fatalf("smuggled section at create: %q", e)
	}
	mustCall(t, s, "blue_prd_create", map[string]any{"title": "Search", "problem": "Slow."})
	mustCall(t, s, "blue_prd_criteria", map[string]any{"title": "Search", "criteria": []string{"fast"}})
	mustCall(t, s, "blue_prd_approve", map[string]any{"title": "Search"})
	pv, pbody := docVersion(t, s, "blue_prd_get", "Search")
	forged := strings.Replace(pbody, "- [ ] fast", "- [x] fast", 1)
	if _, e := call(t, s, "blue_doc_body_write", map[string]any{"doc_type": "prd", "title": "Search", "body": forged, "version": pv}); !strings.Contains(e, "kept by the server") {
		t.Fatalf("forged criteria: %q", e)
	}
	// The criteria are in Blue's shape, under the user story; no write adds
	// a ticked list beside them, in that section or another.
	if !strings.Contains(pbody, "**Acceptance Criteria**:\n- [ ] fast\n") || strings.Contains(pbody, "[Criterion 1]") {
		t.Fatalf("criteria not in Blue's shape:\n%s", pbody)
	}
	for _, w := range []map[string]any{
		{"section": "User Stories", "mode": "append", "text": "### Story 2: More\n\n**Acceptance Criteria**:\n- [x] faster"},
		{"section": "Users", "text": "Everyone.\n\n**Acceptance Criteria**:\n- [x] fast"},
		{"section": "User Stories", "text": "**Acceptance Criteria**:\n- [x] fast"},
		{"section": "Acceptance Criteria", "text": "- [x] fast"},
	} {
		w["doc_type"], w["title"], w["version"] = "prd", "Search", pv
		if _, e := call(t, s, "blue_doc_section_write", w); !strings.Contains(e, "kept by the server") {
			t.Fatalf("forged criteria %v: %q", w, e)
		}
	}
	// The story's own words are the author's.
	story := strings.Replace(pbody[strings.Index(pbody, "### Story 1"):strings.Index(pbody, "\n## Success Metrics")], "[user type]", "support engineer", 1)
	mustCall(t, s, "blue_doc_section_write", map[string]any{"doc_type": "prd", "title": "Search", "section": "User Stories", "text": story, "version": pv})
	if r := mustCall(t, s, "blue_prd_complete", map[string]any{"title": "Search"}); r.Status != "blocked" {
		t.Fatalf("prd complete: %+v", r)
	}

	// resources/list pages through the documents and the plan.
	mustCall(t, s, "blue_rfc_plan", map[string]any{"title": "Index cache", "tasks": []string{"design"}})
	var uris []string
	cursor := ""
	for {
		res, err := s.ListResources(context.Background(), &mcp.ListResourcesParams{Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Resources {
			uris = append(uris, r.URI)
		}
		if cursor = res.NextCursor; cursor == "" {
			break
		}
	}
	want := []string{"blue://docs/rfcs/0001", "blue://docs/rfcs/0001/plan", "blue://docs/prds/0001"}
	if strings.Join(uris, " ") != strings.Join(want, " ") {
		t.Fatalf("resources %v, want %v", uris, want)
	}
	plan, err := s.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "blue://docs/rfcs/0001/plan"})
	if err != nil || !strings.Contains(plan.Contents[0].Text, "- [ ] design") {
		t.Fatalf("plan resource: %+v %v", plan, err)
	}
	if _, err := s.ListResources(context.Background(), &mcp.ListResourcesParams{Cursor: "forged"}); err == nil {
		t.Error("a forged cursor was accepted")
	}
}

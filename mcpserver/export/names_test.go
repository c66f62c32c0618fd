package export_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/export"
	"github.com/superviber/blue-operator/mcpserver/store"
)

func TestFileNames(t *testing.T) {
	for _, tc := range []struct {
		d    store.Document
		want string
	}{
		{store.Document{Kind: "rfc", ID: "0007", Number: 7, Slug: "my-idea", Status: "in-progress"}, "rfcs/0007-my-idea.wip.md"},
		{store.Document{Kind: "rfc", ID: "0012", Number: 12, Slug: "old", Status: "superseded"}, "rfcs/0012-old.super.md"},
		{store.Document{Kind: "adr", ID: "0000", Slug: "first", Status: "accepted"}, "adrs/0000-first.accepted.md"},
		{store.Document{Kind: "prd", ID: "0003", Number: 3, Slug: "p", Status: "implemented"}, "prds/0003-p.impl.md"},
		{store.Document{Kind: "spike", ID: "2026-11-25T0244Z-q", Slug: "q", Status: "in-progress"}, "spikes/2026-11-25T0244Z-q.wip.md"},
		{store.Document{Kind: "spike", ID: "2026-11-25T0244Z-q", Slug: "q", Status: "resolved"}, "spikes/2026-11-25T0244Z-q.resolved.md"}, // Blue's own suffix for a resolved spike
		// Renamed since: Blue names the file after the current slug.
		{store.Document{Kind: "decision", ID: "2026-11-25T0244Z-old", Slug: "new-name", Status: "recorded"}, "decisions/2026-11-25T0244Z-new-name.recorded.md"},
		{store.Document{Kind: "postmortem", ID: "2026-01-02T0304Z-outage", Number: 4, Slug: "outage", Status: "closed"}, "postmortems/2026-01-02T0304Z-outage.closed.md"},
		{store.Document{Kind: "runbook", ID: "2026-01-02T0304Z-restart", Number: 2, Slug: "restart", Status: "published"}, "runbooks/restart.pub.md"},
		{store.Document{Kind: "dialogue", ID: "2026-01-02T0304Z-talk", Number: 1, Slug: "talk", Status: "published"}, "dialogues/2026-01-02T0304Z-talk.dialogue.pub.md"},
		{store.Document{Kind: "audit", ID: "2026-01-02T0304Z-sec", Slug: "sec", Status: "complete"}, "audits/2026-01-02T0304Z-sec.done.md"},
		// No slug stored: made from the title.
		{store.Document{Kind: "rfc", ID: "0001", Number: 1, Title: "Hello, World", Status: "draft"}, "rfcs/0001-hello-world.draft.md"},
	} {
		got, err := export.FileName(&tc.d, blue.LayoutDB1DA8C)
		if err != nil || got != tc.want {
			t.Errorf("%+v: %q %v, want %q", tc.d, got, err, tc.want)
		}
		// Every name reads back as what it was made from.
		plural, name, _ := strings.Cut(tc.want, "/")
		ref, err := blue.ParseFileName(plural, name)
		if err != nil || ref.Kind.Name != tc.d.Kind || ref.Status != tc.d.Status || (tc.d.Slug != "" && ref.Slug != tc.d.Slug) {
			t.Errorf("parse %s: %+v %v", tc.want, ref, err)
		}
	}
	// Today's Blue CLI (RFC 0073) names RFCs by a status letter; the other
	// kinds are named as before.
	for _, tc := range []struct {
		status, want string
	}{
		{"draft", "rfcs/0007-D-my-idea.md"}, {"accepted", "rfcs/0007-A-my-idea.md"}, {"in-progress", "rfcs/0007-A-my-idea.md"},
		{"implemented", "rfcs/0007-I-my-idea.md"}, {"superseded", "rfcs/0007-S-my-idea.md"},
	} {
		d := store.Document{Kind: "rfc", ID: "0007", Number: 7, Slug: "my-idea", Status: tc.status}
		if got, err := export.FileName(&d, blue.LayoutRFC0073); err != nil || got != tc.want {
			t.Errorf("%s in rfc-0073: %q %v, want %q", tc.status, got, err, tc.want)
		}
		// And the name reads back as the same document.
		ref, err := blue.ParseFileName("rfcs", strings.TrimPrefix(tc.want, "rfcs/"))
		if err != nil || ref.Number != 7 || ref.Slug != "my-idea" || ref.Layout != blue.LayoutRFC0073 {
			t.Errorf("parse %s: %+v %v", tc.want, ref, err)
		}
	}
	if got, _ := export.FileName(&store.Document{Kind: "adr", ID: "0001", Number: 1, Slug: "a", Status: "accepted"}, blue.LayoutRFC0073); got != "adrs/0001-a.accepted.md" {
		t.Errorf("adr in rfc-0073: %q", got)
	}
	if p, err := export.PlanFileName(&store.Document{Kind: "rfc", ID: "0007", Number: 7, Slug: "my-idea"}); p != "rfcs/0007-my-idea.plan.md" || err != nil {
		t.Errorf("plan file %q %v", p, err)
	}
}

func TestFileNamesRefuseUnsafeInput(t *testing.T) {
	for _, d := range []store.Document{
		{Kind: "rfc", ID: "0001", Number: 1, Slug: "../../etc/passwd", Status: "draft"},
		{Kind: "rfc", ID: "0001", Number: 1, Slug: "..", Status: "draft"},
		{Kind: "decision", ID: "../x", Slug: "x", Status: "recorded"},
		{Kind: "decision", ID: "a/b", Slug: "x", Status: "recorded"},
		{Kind: "runbook", ID: "r", Slug: ".hidden", Status: "active"},
		{Kind: "runbook", ID: "r", Slug: `a\b`, Status: "active"},
		{Kind: "rfc", ID: "draft-1", Slug: "x", Status: "draft"}, // numbered kind without a number
		{Kind: "rfc", ID: "0001", Number: 1, Slug: "x", Status: "done"},
		{Kind: "secret", ID: "0001", Slug: "x", Status: "draft"},
		{Kind: "decision", ID: "2026-11-25T0244Z-x", Slug: strings.Repeat("x", 260), Status: "recorded"},
	} {
		if got, err := export.FileName(&d, blue.LayoutDB1DA8C); err == nil {
			t.Errorf("%+v became %q", d, got)
		}
	}
}

// fake is a StoreReader over fixed documents.
type fake struct{ docs []store.Document }

func (f fake) List(_ context.Context, kind string, _ store.ListOptions) ([]store.Document, string, error) {
	var out []store.Document
	for _, d := range f.docs {
		if d.Kind == kind {
			d.Body = nil
			out = append(out, d)
		}
	}
	return out, "", nil
}

func (f fake) Body(_ context.Context, d *store.Document) ([]byte, error) {
	for _, x := range f.docs {
		if x.Kind == d.Kind && x.ID == d.ID {
			return x.Body, nil
		}
	}
	return nil, store.ErrNotFound
}

// A document whose slug would leave the directory stops the export before
// anything is written, anywhere.
func TestExportNeverWritesOutsideDir(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "docs")
	f := fake{docs: []store.Document{
		{Kind: "rfc", ID: "0001", Number: 1, Slug: "fine", Title: "Fine", Status: "draft", Body: []byte("# RFC 0001: Fine\n")},
		{Kind: "decision", ID: "2026-11-25T0244Z-x", Slug: "../../escaped", Title: "Evil", Status: "recorded", Body: []byte("x")},
	}}
	if _, err := export.Export(context.Background(), f, dir); err == nil || !strings.Contains(err.Error(), "cannot be a file name") {
		t.Fatalf("export: %v", err)
	}
	var found []string
	_ = filepath.WalkDir(base, func(p string, _ os.DirEntry, _ error) error { found = append(found, p); return nil })
	if len(found) != 1 {
		t.Errorf("written despite the refusal: %v", found)
	}
	// A manifest naming paths outside the directory is never followed.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(base, "victim.md")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := `{"version":1,"files":{"../victim.md":"x","rfcs/../../victim.md":"y"}}`
	if err := os.WriteFile(filepath.Join(dir, export.ManifestName), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := export.ExportWith(context.Background(), fake{docs: f.docs[:1]}, dir, export.Options{Force: true})
	if err != nil || len(sum.Removed) != 0 {
		t.Fatalf("export: %v %+v", err, sum)
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "keep" {
		t.Errorf("file outside the directory touched: %q %v", b, err)
	}
	// The header's Status row is made to agree with the index.
	f.docs[0].Body = []byte("# RFC 0001: Fine\n\n| | |\n|---|---|\n| **Status** | Accepted |\n")
	f.docs[0].UpdatedAt = time.Now()
	if _, err := export.ExportWith(context.Background(), fake{docs: f.docs[:1]}, dir, export.Options{Force: true}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "rfcs", "0001-D-fine.md"))
	if !strings.Contains(string(b), "| **Status** | Draft |") {
		t.Errorf("status row not fixed:\n%s", b)
	}
}

// Runbooks are named by slug alone, so two can collide (titles differing
// only in punctuation, created in different minutes): the later one gets
// "-2", deterministically, and neither is lost.
func TestExportKeepsCollidingNamesApart(t *testing.T) {
	dir := t.TempDir()
	f := fake{docs: []store.Document{
		{Kind: "runbook", ID: "2026-01-01T0000Z-deploy-api", Slug: "deploy-api", Title: "Deploy API", Status: "active", Body: []byte("first")},
		{Kind: "runbook", ID: "2026-01-02T0000Z-deploy-api", Slug: "deploy-api", Title: "Deploy-API!", Status: "active", Body: []byte("second")},
	}}
	sum, err := export.Export(context.Background(), f, dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(sum.Files, ",") != "runbooks/deploy-api-2.active.md,runbooks/deploy-api.active.md" {
		t.Errorf("files %v", sum.Files)
	}
	for name, want := range map[string]string{"deploy-api.active.md": "first", "deploy-api-2.active.md": "second"} {
		if b, err := os.ReadFile(filepath.Join(dir, "runbooks", name)); err != nil || !strings.HasSuffix(string(b), want) {
			t.Errorf("%s: %q %v", name, b, err)
		}
	}
}

// Tests of `blue-mcp import` against the client's real-protocol S3 and
// DynamoDB: both of Blue's layouts, round trips through export, a second
// run that changes nothing, and conflicts that write nothing.
package importer_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/export"
	"github.com/superviber/blue-operator/mcpserver/importer"
	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/test/world"
)

// table is a Blue header table.
func table(rows ...string) string {
	var b strings.Builder
	b.WriteString("| | |\n|---|---|\n")
	for i := 0; i+1 < len(rows); i += 2 {
		b.WriteString("| **" + rows[i] + "** | " + rows[i+1] + " |\n")
	}
	return b.String()
}

const planIndexCache = "# Plan: Index Cache\n\n| | |\n|---|---|\n| **RFC** | Index Cache |\n| **Status** | in-progress |\n| **Updated** | 2026-01-26T02:38:21.586730+00:00 |\n\n## Tasks\n\n- [x] design\n- [ ] build\n"

// common are the files both layouts name the same way.
func common() map[string]string {
	return map[string]string{
		"spikes/2026-01-24T0100Z-cache-the-index.done.md":            "# Spike: Cache the Index?\n\n" + table("Status", "Complete", "Date", "2026-01-24", "Outcome", "recommends-implementation") + "\n---\n\n## Question\n\nFast enough?\n",
		"spikes/2026-01-25T0100Z-fix-the-cache.resolved.md":          "# Spike: Fix the Cache\n\n" + table("Status", "Resolved", "Date", "2026-01-25") + "\n---\n\n## Outcome\n\nFix: flushed it.\n",
		"adrs/0000-never-give-up.accepted.md":                        "# ADR 0000: Never Give Up\n\n" + table("Status", "Accepted", "Date", "2026-01-20") + "\n---\n\n## Decision\n\nKeep going.\n",
		"prds/0001-faster-lists.draft.md":                            "# PRD 0001: Faster Lists\n\n" + table("Status", "Draft", "Date", "2026-01-21") + "\n---\n\n## Acceptance Criteria\n\n- [ ] lists in 100 ms\n",
		"decisions/2026-01-26T0200Z-use-dynalite.recorded.md":        "# Decision: Use Dynalite\n\n" + table("Status", "Recorded", "Date", "2026-01-26") + "\n---\n\n## Decision\n\nYes.\n",
		"postmortems/2026-01-27T0300Z-outage.open.md":                "# Post-mortem: Outage\n\n" + table("Status", "Open", "Date", "2026-01-27", "Severity", "P2") + "\n---\n\n## Timeline\n\n- 03:00 down\n",
		"runbooks/restart-api.active.md":                             "# Runbook: Restart API\n\n" + table("Status", "Active", "Date", "2026-01-22") + "\n---\n\n## Operations\n\n- restart\n",
		"dialogues/2026-01-25T0100Z-cache-talk.dialogue.recorded.md": "# Alignment Dialogue: Cache Talk\n\n" + table("Status", "Recorded", "Date", "2026-01-25") + "\n---\n\nA: yes\n",
		"audits/2026-01-28T0400Z-security.wip.md":                    "# Audit: Security\n\n" + table("Status", "In-Progress", "Date", "2026-01-28") + "\n---\n\n## Scope\n\nAll.\n",
	}
}

// legacyTree is a .blue/docs folder as Blue's last MCP server (db1da8c)
// wrote it.
func legacyTree() map[string]string {
	t := common()
	t["rfcs/0001-index-cache.wip.md"] = "# RFC 0001: Index Cache\n\n" + table("Status", "In-Progress", "Date", "2026-01-26", "Source Spike", "Cache the Index?") + "\n---\n\n## Summary\n\nListing is slow.\n"
	t["rfcs/0001-index-cache.plan.md"] = planIndexCache
	t["rfcs/0002-old-idea.super.md"] = "# RFC 0002: Old Idea\n\n" + table("Status", "Superseded", "Date", "2026-01-10") + "\n---\n\n## Summary\n\nNo.\n"
	t["rfcs/0003-shipped.impl.md"] = "# RFC 0003: Shipped\n\n" + table("Status", "Implemented", "Date", "2026-01-11") + "\n---\n\n## Summary\n\nDone.\n"
	return t
}

// currentTree is the same folder as today's Blue CLI (RFC 0073) writes it:
// RFCs named by a status letter, their header as "**Key**: value" lines.
func currentTree() map[string]string {
	t := common()
	t["rfcs/0001-A-index-cache.md"] = "# RFC 0001: Index Cache\n\n**Status**: In-Progress\n**Created**: 2026-01-26\n\n## Summary\n\nListing is slow.\n"
	t["rfcs/0001-index-cache.plan.md"] = planIndexCache
	t["rfcs/0002-S-old-idea.md"] = "# RFC 0002: Old Idea\n\n**Status**: Superseded\n**Created**: 2026-01-10\n\n## Summary\n\nNo.\n"
	t["rfcs/0003-I-shipped.md"] = "# RFC 0003: Shipped\n\n**Status**: Implemented\n**Created**: 2026-01-11\n\n## Summary\n\nDone.\n"
	t["rfcs/0004-D-an-idea.md"] = "# RFC 0004: An Idea\n\n**Status**: Draft\n**Created**: 2026-01-12\n\n## Summary\n\nMaybe.\n"
	return t
}

// notDocuments are files a real Blue folder holds that are not documents.
var notDocuments = map[string]string{
	"TODO.md":                                "notes",
	"patterns/alignment-dialogue-pattern.md": "# Pattern",
	"dialogues/cache-talk/round-0/alice.md":  "an expert's answer",
	"rfcs/0057-dynamodb-e2e-encryption.pdf":  "%PDF",
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), ".blue", "docs")
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == export.ManifestName {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// asTheClient gives the command the environment a client's shell would
// have: static credentials of its own, no profile, no instance metadata.
func asTheClient(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDCLIENTIMPORT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "client-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "")
}

// client is one client's account: its tenant, its own store and an MCP
// session to its endpoint.
type client struct {
	w  *world.World
	tn *world.Tenant
	st *store.Store
	s  *mcp.ClientSession
}

func newClient(t *testing.T, w *world.World, name string, account int) *client {
	t.Helper()
	tn, err := w.AddTenant(context.Background(), name, account)
	if err != nil {
		t.Fatal(err)
	}
	srv := w.Serve(t, tn, world.ServerOptions{})
	return &client{w: w, tn: tn, s: world.Connect(t, srv.URL, tn.Token),
		st: store.New(s3Client(w), ddbClient(w), store.Options{Bucket: tn.Bucket, Table: tn.Table, KMSKeyID: tn.KMSKeyID, Plural: blue.Plural, BodyCacheBytes: -1})}
}

func (c *client) args(dir string, extra ...string) []string {
	return append([]string{"--bucket", c.tn.Bucket, "--table", c.tn.Table, "--kms-key-id", c.tn.KMSKeyID, "--region", world.Region,
		"--s3-endpoint", c.w.S3.Endpoint(), "--dynamodb-endpoint", c.w.DDB.Endpoint(), "--dir", dir}, extra...)
}

func (c *client) importDir(t *testing.T, dir string, extra ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := importer.Run(context.Background(), c.args(dir, extra...), &out)
	return out.String(), err
}

// docs is every live document of the client's store, with its body.
func (c *client) docs(t *testing.T) map[string]store.Document {
	t.Helper()
	out := map[string]store.Document{}
	for _, k := range blue.Kinds {
		listed, _, err := c.st.List(context.Background(), k.Name, store.ListOptions{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range listed {
			full, err := c.st.Get(context.Background(), k.Name, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			out[k.Name+"/"+d.ID] = *full
		}
	}
	return out
}

func TestImportBothLayoutsAndExportThemBack(t *testing.T) {
	asTheClient(t)
	w := world.Start(t)
	for i, tc := range []struct {
		layout blue.Layout
		tree   map[string]string
	}{
		{blue.LayoutDB1DA8C, legacyTree()},
		{blue.LayoutRFC0073, currentTree()},
	} {
		t.Run(string(tc.layout), func(t *testing.T) {
			c := newClient(t, w, "import-"+strings.ReplaceAll(string(tc.layout), "-", ""), 300000000001+i)
			all := maps.Clone(tc.tree)
			maps.Copy(all, notDocuments)
			dir := writeTree(t, all)

			// A dry run writes nothing.
			out, err := c.importDir(t, dir, "--dry-run")
			if err != nil || !strings.Contains(out, "dry run: nothing was written") || len(c.docs(t)) != 0 {
				t.Fatalf("dry run: %v\n%s", err, out)
			}
			// Each is reported, or the folder that holds it.
			for p := range notDocuments {
				parts, reported := strings.Split(p, "/"), false
				for i := range parts {
					reported = reported || strings.Contains(out, "skipped   "+strings.Join(parts[:i+1], "/")+":")
				}
				if !reported {
					t.Errorf("%s not reported as skipped:\n%s", p, out)
				}
			}
			out, err = c.importDir(t, dir)
			if err != nil {
				t.Fatalf("import: %v\n%s", err, out)
			}
			docs := c.docs(t)
			if len(docs) != len(tc.tree)-1 { // the plan file is part of its RFC
				t.Fatalf("%d documents imported, want %d:\n%s", len(docs), len(tc.tree)-1, out)
			}
			rfc := docs["rfc/0001"]
			if rfc.Status != "in-progress" || rfc.Number != 1 || rfc.Title != "Index Cache" || rfc.Slug != "index-cache" ||
				blue.RenderTasks(blue.Tasks(rfc.Attrs["plan"])) != "- [x] design\n- [ ] build\n" {
				t.Errorf("rfc 0001: %+v", rfc)
			}
			for id, want := range map[string]string{"spike/2026-01-25T0100Z-fix-the-cache": "resolved", "rfc/0002": "superseded", "adr/0000": "accepted", "audit/2026-01-28T0400Z-security": "in-progress"} {
				if docs[id].Status != want {
					t.Errorf("%s is %q, want %q", id, docs[id].Status, want)
				}
			}
			if pm := docs["postmortem/2026-01-27T0300Z-outage"]; pm.Number < 1 || pm.Attrs["severity"] != "P2" {
				t.Errorf("postmortem: %+v", pm)
			}

			// A second run changes nothing.
			before := c.docs(t)
			out, err = c.importDir(t, dir)
			if err != nil || !strings.Contains(out, "0 to create") {
				t.Fatalf("second import: %v\n%s", err, out)
			}
			for id, d := range c.docs(t) {
				if d.Version != before[id].Version {
					t.Errorf("second import changed %s", id)
				}
			}

			// export(import(tree)) is the tree.
			back := filepath.Join(t.TempDir(), "docs")
			if _, err := export.ExportWith(context.Background(), c.st, back, export.Options{Layout: tc.layout}); err != nil {
				t.Fatal(err)
			}
			got := readTree(t, back)
			for p, want := range tc.tree {
				if got[p] != want {
					t.Errorf("%s exported as\n%q\nwant\n%q", p, got[p], want)
				}
			}
			if extra := slices.DeleteFunc(slices.Collect(maps.Keys(got)), func(p string) bool { _, ok := tc.tree[p]; return ok }); len(extra) > 0 {
				t.Errorf("the export has files the tree had not: %v", extra)
			}

			// The counters moved past the imported numbers.
			var r struct {
				Document struct{ ID string } `json:"document"`
			}
			world.MustCall(t, c.s, "blue_rfc_create", map[string]any{"title": "After the import"}, &r)
			if want := map[blue.Layout]string{blue.LayoutDB1DA8C: "0004", blue.LayoutRFC0073: "0005"}[tc.layout]; r.Document.ID != want {
				t.Errorf("next RFC is %s, want %s", r.Document.ID, want)
			}
		})
	}
}

func TestImportConflictsWriteNothing(t *testing.T) {
	asTheClient(t)
	w := world.Start(t)
	c := newClient(t, w, "conflicts", 300000000011)
	dir := writeTree(t, legacyTree())
	if out, err := c.importDir(t, dir); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	before := c.docs(t)

	for _, tc := range []struct {
		name   string
		change func(map[string]string)
		want   string
	}{
		{"a body changed since", func(tr map[string]string) {
			tr["rfcs/0003-shipped.impl.md"] = strings.Replace(tr["rfcs/0003-shipped.impl.md"], "Done.", "Done, and more.", 1)
		}, "rfcs/0003-shipped.impl.md → rfc 0003 (implemented): the store's rfc 0003 (version 1) has another body"},
		{"a status changed since", func(tr map[string]string) {
			delete(tr, "rfcs/0003-shipped.impl.md")
			tr["rfcs/0003-shipped.super.md"] = strings.Replace(legacyTree()["rfcs/0003-shipped.impl.md"], "Implemented", "Superseded", 1)
		}, "has another status"},
		{"two files share a number", func(tr map[string]string) {
			tr["rfcs/0002-another-old-idea.draft.md"] = "# RFC 0002: Another Old Idea\n\n" + table("Status", "Draft") + "\n---\n"
		}, "rfc 0002 is also rfcs/0002-old-idea.super.md"},
		{"a title the store's document has", func(tr map[string]string) {
			delete(tr, "rfcs/0001-index-cache.wip.md")
			delete(tr, "rfcs/0001-index-cache.plan.md")
			tr["rfcs/0009-index-cache.draft.md"] = "# RFC 0009: Index Cache\n\n" + table("Status", "Draft") + "\n---\n"
		}, `the store's rfc 0001 already has the title "Index Cache"`},
		{"a title another file has", func(tr map[string]string) {
			tr["rfcs/0009-index-cache.draft.md"] = "# RFC 0009: Index Cache\n\n" + table("Status", "Draft") + "\n---\n"
		}, `title "Index Cache" is also rfcs/0001-index-cache.wip.md`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree := legacyTree()
			tree["decisions/2026-02-01T0000Z-new-one.recorded.md"] = "# Decision: New One\n\n" + table("Status", "Recorded") + "\n---\n"
			tc.change(tree)
			out, err := c.importDir(t, writeTree(t, tree))
			if !errors.Is(err, importer.ErrConflicts) || !strings.Contains(out, tc.want) {
				t.Fatalf("err %v, want a conflict naming %q:\n%s", err, tc.want, out)
			}
			// Nothing half-imported: not even the new decision.
			after := c.docs(t)
			if len(after) != len(before) {
				t.Errorf("%d documents after a refused import, %d before", len(after), len(before))
			}
			for id, d := range after {
				if d.Version != before[id].Version {
					t.Errorf("a refused import changed %s", id)
				}
			}
		})
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dir", dir}, "--bucket and --table are required"},
		{[]string{"--bucket", "b", "--table", "t", "--dir", dir}, "--kms-key-id is required"},
		{[]string{"--bucket", "b", "--table", "t", "--kms-key-id", "k", "--dir", filepath.Join(dir, "nope")}, "is not a folder"},
		{[]string{"--bucket", "b", "--table", "t", "--kms-key-id", "k", "--dir", dir, "extra"}, "unexpected arguments"},
	} {
		if err := importer.Run(context.Background(), tc.args, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// import(export(store)) is the store: what one client wrote through the
// tools, exported and imported into another account, reads the same.
func TestExportThenImportKeepsTheStore(t *testing.T) {
	asTheClient(t)
	w := world.Start(t)
	a := newClient(t, w, "leaver", 300000000021)
	b := newClient(t, w, "arriver", 300000000022)
	for _, call := range []struct {
		tool string
		args map[string]any
	}{
		{"blue_spike_create", map[string]any{"title": "Cache the index?", "question": "Fast enough?"}},
		{"blue_rfc_create", map[string]any{"title": "Index cache", "problem": "Listing is slow.", "source_spike": "Cache the index?"}},
		{"blue_rfc_update_status", map[string]any{"title": "Index cache", "status": "accepted"}},
		{"blue_rfc_plan", map[string]any{"title": "Index cache", "tasks": []string{"design", "build"}}},
		{"blue_rfc_task_complete", map[string]any{"title": "Index cache", "task": "design"}},
		{"blue_rfc_create", map[string]any{"title": "Just an idea"}},
		{"blue_adr_create", map[string]any{"title": "Cache listings", "decision": "In memory."}},
		{"blue_prd_create", map[string]any{"title": "Faster lists", "problem": "Slow."}},
		{"blue_decision_create", map[string]any{"title": "Use dynalite", "decision": "Yes"}},
		{"blue_postmortem_create", map[string]any{"title": "Outage", "severity": "P2"}},
		{"blue_audit_create", map[string]any{"title": "Security review", "audit_type": "security"}},
		{"blue_dialogue_create", map[string]any{"title": "Cache talk", "content": "A: yes"}},
		{"blue_runbook_create", map[string]any{"title": "Deploy API", "actions": []string{"deploy"}}},
	} {
		var ignored map[string]any
		world.MustCall(t, a.s, call.tool, call.args, &ignored)
	}
	for _, layout := range blue.Layouts {
		t.Run(string(layout), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "docs")
			if _, err := export.ExportWith(context.Background(), a.st, dir, export.Options{Layout: layout}); err != nil {
				t.Fatal(err)
			}
			if out, err := b.importDir(t, dir); err != nil {
				t.Fatalf("import: %v\n%s", err, out)
			}
			want, got := a.docs(t), b.docs(t)
			key := func(d store.Document) string {
				if d.Kind == "runbook" { // Blue names runbooks by slug alone
					return "runbook/" + d.Slug
				}
				return d.Kind + "/" + d.ID
			}
			gotBy := map[string]store.Document{}
			for _, d := range got {
				gotBy[key(d)] = d
			}
			for _, d := range want {
				g, ok := gotBy[key(d)]
				if !ok {
					t.Errorf("%s was not imported", key(d))
					continue
				}
				if g.Title != d.Title || g.Status != d.Status || g.Slug != d.Slug || !bytes.Equal(g.Body, d.Body) ||
					strings.TrimSpace(g.Attrs["plan"]) != strings.TrimSpace(d.Attrs["plan"]) || (d.Kind == "rfc" && g.Number != d.Number) {
					t.Errorf("%s:\n got %+v\nwant %+v", key(d), g, d)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d documents imported, %d exported", len(got), len(want))
			}
		})
	}
}

// s3Client and ddbClient reach the client's bucket and table with the
// client's own credentials, as `blue-mcp import` does.
func s3Client(w *world.World) *s3.Client {
	return s3.NewFromConfig(world.AWSConfig(), func(o *s3.Options) {
		o.BaseEndpoint, o.UsePathStyle = aws.String(w.S3.Endpoint()), true
	})
}

func ddbClient(w *world.World) *dynamodb.Client {
	return dynamodb.NewFromConfig(world.AWSConfig(), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(w.DDB.Endpoint())
	})
}

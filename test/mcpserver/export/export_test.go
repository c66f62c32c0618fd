package export_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/export"
	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/test/world"
)

type doc struct {
	Kind    string `json:"doc_type"`
	ID      string `json:"id"`
	Number  int    `json:"number"`
	Title   string `json:"title"`
	Slug    string `json:"slug"`
	Status  string `json:"status"`
	Content string `json:"content"`
}

type result struct {
	Status   string `json:"status"`
	Message  string `json:"message"`
	Document *doc   `json:"document"`
}

func call(t *testing.T, s *mcp.ClientSession, tool string, args map[string]any) result {
	t.Helper()
	var r result
	world.MustCall(t, s, tool, args, &r)
	return r
}

// body reads a document's markdown as the server serves it.
func body(t *testing.T, s *mcp.ClientSession, kind, id string) string {
	t.Helper()
	rr, err := s.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "blue://docs/" + blue.Plural(kind) + "/" + id})
	if err != nil {
		t.Fatalf("read %s/%s: %v", kind, id, err)
	}
	return rr.Contents[0].Text
}

// tenant is a client with documents written through the tools.
type tenant struct {
	w    *world.World
	tn   *world.Tenant
	s    *mcp.ClientSession
	docs map[string]*doc // by title
}

func setup(t *testing.T, name string, account int) *tenant {
	t.Helper()
	w := world.Start(t)
	tn, err := w.AddTenant(context.Background(), name, account)
	if err != nil {
		t.Fatal(err)
	}
	srv := w.Serve(t, tn, world.ServerOptions{})
	s := world.Connect(t, srv.URL, tn.Token)
	te := &tenant{w: w, tn: tn, s: s, docs: map[string]*doc{}}

	mk := func(tool string, args map[string]any) {
		r := call(t, s, tool, args)
		te.docs[args["title"].(string)] = r.Document
	}
	// RFCs: accepted with a plan in progress; implemented with a finished
	// plan; a draft.
	mk("blue_spike_create", map[string]any{"title": "Cache the index?", "question": "Fast enough?"})
	mk("blue_rfc_create", map[string]any{"title": "Index cache", "problem": "Listing is slow.", "source_spike": "Cache the index?"})
	call(t, s, "blue_rfc_update_status", map[string]any{"title": "Index cache", "status": "accepted"})
	call(t, s, "blue_rfc_plan", map[string]any{"title": "Index cache", "tasks": []string{"design", "build | ship", "test"}})
	call(t, s, "blue_rfc_task_complete", map[string]any{"title": "Index cache", "task": "design"})
	mk("blue_rfc_create", map[string]any{"title": "Finished work"})
	call(t, s, "blue_rfc_update_status", map[string]any{"title": "Finished work", "status": "accepted"})
	call(t, s, "blue_rfc_plan", map[string]any{"title": "Finished work", "tasks": []string{"only task"}})
	call(t, s, "blue_rfc_task_complete", map[string]any{"title": "Finished work", "task": "1"})
	call(t, s, "blue_rfc_complete", map[string]any{"title": "Finished work"})
	mk("blue_rfc_create", map[string]any{"title": "Just an idea"})
	// Timestamp kinds.
	mk("blue_spike_create", map[string]any{"title": "Done spike", "question": "Q?"})
	call(t, s, "blue_spike_complete", map[string]any{"title": "Done spike", "outcome": "no-action", "summary": "Nothing to do."})
	mk("blue_decision_create", map[string]any{"title": "Use dynalite", "decision": "Yes"})
	mk("blue_postmortem_create", map[string]any{"title": "Outage of Tuesday", "severity": "P2"})
	mk("blue_audit_create", map[string]any{"title": "Security review", "audit_type": "security"})
	call(t, s, "blue_audit_complete", map[string]any{"title": "Security review"})
	mk("blue_dialogue_create", map[string]any{"title": "Cache talk", "rfc_title": "Index cache", "content": "A: yes\nB: no"})
	// Numbered kinds besides RFC.
	mk("blue_adr_create", map[string]any{"title": "Cache listings", "decision": "In memory."})
	mk("blue_prd_create", map[string]any{"title": "Faster lists", "problem": "Slow."})
	call(t, s, "blue_prd_approve", map[string]any{"title": "Faster lists"})
	mk("blue_runbook_create", map[string]any{"title": "Deploy API", "actions": []string{"deploy"}})
	// Deleted documents are not exported.
	mk("blue_decision_create", map[string]any{"title": "Regretted", "decision": "No"})
	call(t, s, "blue_delete", map[string]any{"doc_type": "decision", "title": "Regretted", "force": true})
	return te
}

// reader is the client's own read of its bucket and table.
func (te *tenant) reader() *store.Store {
	return export.NewStore(world.AWSConfig(), te.tn.Bucket, te.tn.Table, te.w.S3.Endpoint(), te.w.DDB.Endpoint())
}

// files lists every file under dir, relative, slash-separated.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExportWritesBluesLayout(t *testing.T) {
	te := setup(t, "exporter", 212121212121)
	d := te.docs
	ts := func(title string) string { return d[title].ID } // the tools' <UTC ts>-<slug> ids
	dir := filepath.Join(t.TempDir(), ".blue", "docs")

	// The layout of the last MCP server: every kind named by a status suffix.
	legacy := export.Options{Layout: blue.LayoutDB1DA8C}
	sum, err := export.ExportWith(context.Background(), te.reader(), dir, legacy)
	if err != nil {
		t.Fatal(err)
	}
	// Blue's names and status suffixes, kind by kind.
	want := map[string]string{ // path → title
		"rfcs/0001-index-cache.accepted.md":                       "Index cache",
		"rfcs/0002-finished-work.impl.md":                         "Finished work",
		"rfcs/0003-just-an-idea.draft.md":                         "Just an idea",
		"spikes/" + ts("Cache the index?") + ".wip.md":            "Cache the index?",
		"spikes/" + ts("Done spike") + ".done.md":                 "Done spike",
		"decisions/" + ts("Use dynalite") + ".recorded.md":        "Use dynalite",
		"postmortems/" + ts("Outage of Tuesday") + ".open.md":     "Outage of Tuesday",
		"audits/" + ts("Security review") + ".done.md":            "Security review",
		"dialogues/" + ts("Cache talk") + ".dialogue.recorded.md": "Cache talk",
		"adrs/0001-cache-listings.accepted.md":                    "Cache listings",
		"prds/0001-faster-lists.approved.md":                      "Faster lists",
		"runbooks/deploy-api.active.md":                           "Deploy API",
	}
	plans := []string{"rfcs/0001-index-cache.plan.md", "rfcs/0002-finished-work.plan.md"}
	var wantFiles []string
	for p := range want {
		wantFiles = append(wantFiles, p)
	}
	wantFiles = append(wantFiles, plans...)
	sort.Strings(wantFiles)
	if got := files(t, dir); !slices.Equal(got, slices.Sorted(slices.Values(append(slices.Clone(wantFiles), export.ManifestName)))) {
		t.Errorf("files\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantFiles, "\n"))
	}
	if !slices.Equal(sum.Files, wantFiles) || !slices.Equal(sum.Written, wantFiles) || sum.Total() != len(want) || sum.Plans != 2 {
		t.Errorf("summary %+v", sum)
	}
	if sum.Documents["rfc"] != 3 || sum.Documents["decision"] != 1 || sum.Documents["runbook"] != 1 {
		t.Errorf("documents per kind %v (the deleted decision must not count)", sum.Documents)
	}
	// Every id starts with Blue's UTC timestamp, so the names above are
	// Blue's <ts>-slug.
	for _, title := range []string{"Cache the index?", "Done spike", "Use dynalite", "Outage of Tuesday", "Security review", "Cache talk"} {
		if !strings.HasSuffix(ts(title), "-"+blue.Slug(title)) || len(ts(title)) != len("2006-01-02T1504Z-")+len(blue.Slug(title)) {
			t.Errorf("%s id %q is not <UTC ts>-slug", title, ts(title))
		}
	}

	// Bodies are the server's, with the Status row matching the suffix.
	statuses := map[string]string{
		"Index cache": "Accepted", "Finished work": "Implemented", "Just an idea": "Draft", "Cache the index?": "In-Progress",
		"Done spike": "Complete", "Use dynalite": "Recorded", "Outage of Tuesday": "Open", "Security review": "Complete",
		"Cache talk": "Recorded", "Cache listings": "Accepted", "Faster lists": "Approved", "Deploy API": "Active",
	}
	for p, title := range want {
		got := read(t, filepath.Join(dir, filepath.FromSlash(p)))
		doc := d[title]
		if srv := body(t, te.s, doc.Kind, doc.ID); got != srv {
			t.Errorf("%s: body differs from the server's\n--- file\n%s\n--- server\n%s", p, got, srv)
		}
		if st := blue.HeaderValue([]byte(got), "Status"); st != statuses[title] {
			t.Errorf("%s: Status row %q, want %q", p, st, statuses[title])
		}
		if !strings.Contains(got, title) {
			t.Errorf("%s does not carry its title", p)
		}
	}
	if !strings.Contains(read(t, filepath.Join(dir, "dialogues", ts("Cache talk")+".dialogue.recorded.md")), "A: yes\nB: no") {
		t.Error("dialogue content lost")
	}

	// Plans, as Blue reads them.
	plan := read(t, filepath.Join(dir, "rfcs", "0001-index-cache.plan.md"))
	for _, line := range []string{"# Plan: Index cache\n", "| **RFC** | Index cache |\n", "| **Status** | in-progress |\n", "## Tasks\n\n- [x] design\n- [ ] build | ship\n- [ ] test\n"} {
		if !strings.Contains(plan, line) {
			t.Errorf("plan lacks %q:\n%s", line, plan)
		}
	}
	tasks := blue.Tasks(blue.SectionText([]byte(plan), "Tasks"))
	if done, total, _ := blue.Progress(tasks); done != 1 || total != 3 {
		t.Errorf("plan tasks %v", tasks)
	}
	if p := read(t, filepath.Join(dir, "rfcs", "0002-finished-work.plan.md")); !strings.Contains(p, "| **Status** | complete |") || !strings.Contains(p, "- [x] only task") {
		t.Errorf("finished plan:\n%s", p)
	}

	// A second export changes nothing.
	sum, err = export.ExportWith(context.Background(), te.reader(), dir, legacy)
	if err != nil || len(sum.Written) != 0 || len(sum.Removed) != 0 || len(sum.Unchanged) != len(wantFiles) {
		t.Errorf("second export: %v %+v", err, sum)
	}

	// A status change renames the file; a deleted document's file goes; a
	// file edited locally is left alone (and reported) unless forced.
	call(t, te.s, "blue_rfc_update_status", map[string]any{"title": "Just an idea", "status": "accepted"})
	call(t, te.s, "blue_delete", map[string]any{"doc_type": "decision", "title": "Use dynalite", "force": true})
	edited := filepath.Join(dir, "adrs", "0001-cache-listings.accepted.md")
	if err := os.WriteFile(edited, []byte("# my local notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Blue's PRD template comes with placeholder criteria: set and tick real ones.
	call(t, te.s, "blue_prd_criteria", map[string]any{"title": "Faster lists", "criteria": []string{"lists in 100 ms"}})
	call(t, te.s, "blue_prd_criterion_complete", map[string]any{"title": "Faster lists", "criterion": "1"})
	call(t, te.s, "blue_prd_complete", map[string]any{"title": "Faster lists"})
	stray := filepath.Join(dir, "prds", "0001-faster-lists.impl.md")
	if err := os.WriteFile(stray, []byte("written by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err = export.ExportWith(context.Background(), te.reader(), dir, legacy)
	if !errors.Is(err, export.ErrConflict) {
		t.Fatalf("export over local edits: %v, want ErrConflict", err)
	}
	if !slices.Equal(sum.Written, []string{"rfcs/0003-just-an-idea.accepted.md"}) ||
		!slices.Equal(sum.Removed, []string{"decisions/" + ts("Use dynalite") + ".recorded.md", "prds/0001-faster-lists.approved.md", "rfcs/0003-just-an-idea.draft.md"}) ||
		!slices.Equal(sum.Conflicts, []string{"adrs/0001-cache-listings.accepted.md", "prds/0001-faster-lists.impl.md"}) {
		t.Errorf("third export:\nwritten %v\nremoved %v\nconflicts %v", sum.Written, sum.Removed, sum.Conflicts)
	}
	if read(t, edited) != "# my local notes\n" || read(t, stray) != "written by hand\n" {
		t.Error("a locally changed file was overwritten")
	}
	sum, err = export.ExportWith(context.Background(), te.reader(), dir, export.Options{Force: true, Layout: blue.LayoutDB1DA8C})
	if err != nil || !slices.Equal(sum.Written, []string{"adrs/0001-cache-listings.accepted.md", "prds/0001-faster-lists.impl.md"}) {
		t.Errorf("forced export: %v %+v", err, sum)
	}
	if got := read(t, edited); got != body(t, te.s, "adr", "0001") {
		t.Errorf("forced export left %q", got)
	}
	if st := blue.HeaderValue([]byte(read(t, stray)), "Status"); st != "Implemented" {
		t.Errorf("PRD status row %q", st)
	}
}

// Run is the `blue-mcp export` subcommand: flags, the default credential
// chain (here: environment variables), a summary.
func TestRun(t *testing.T) {
	te := setup(t, "runner", 313131313131)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDCLIENTEXPORT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "client-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "")
	dir := filepath.Join(t.TempDir(), "docs")
	var out bytes.Buffer
	args := []string{"--bucket", te.tn.Bucket, "--table", te.tn.Table, "--region", world.Region,
		"--s3-endpoint", te.w.S3.Endpoint(), "--dynamodb-endpoint", te.w.DDB.Endpoint(), "--dir", dir}
	if err := export.Run(context.Background(), args, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "Exported 12 documents and 2 plans from s3://"+te.tn.Bucket) || !strings.Contains(out.String(), "14 files written") {
		t.Errorf("output:\n%s", out.String())
	}
	// The default is the layout today's Blue CLI reads (RFC 0073).
	if _, err := os.Stat(filepath.Join(dir, "rfcs", "0001-A-index-cache.md")); err != nil {
		t.Error(err)
	}
	// It read with the client's own credentials, never the server's role.
	used := false
	for _, c := range te.w.DDB.Calls() {
		if c.AccessKeyID == "AKIDCLIENTEXPORT" {
			used = true
			if c.Op != "dynamodb:Query" && c.Op != "dynamodb:GetItem" {
				t.Errorf("export called %s", c.Op)
			}
		}
	}
	for _, c := range te.w.S3.Calls() {
		if c.AccessKeyID == "AKIDCLIENTEXPORT" && c.IAMAction != "s3:GetObject" {
			t.Errorf("export called %s", c.Op)
		}
	}
	if !used {
		t.Error("no DynamoDB call was signed with the client's credentials")
	}
	// --kind limits; a missing table is a clear error; missing flags too.
	out.Reset()
	if err := export.Run(context.Background(), append(args[:len(args)-1], filepath.Join(t.TempDir(), "rfcs-only"), "--kind", "rfc"), &out); err != nil || !strings.Contains(out.String(), "Exported 3 documents and 2 plans") {
		t.Errorf("--kind rfc: %v\n%s", err, out.String())
	}
	bad := slices.Clone(args)
	bad[3] = "no-such-table"
	if err := export.Run(context.Background(), bad, &out); err == nil || !strings.Contains(err.Error(), "list rfc") {
		t.Errorf("missing table: %v", err)
	}
	if err := export.Run(context.Background(), []string{"--dir", dir}, &out); err == nil || !strings.Contains(err.Error(), "--bucket and --table are required") {
		t.Errorf("no flags: %v", err)
	}
}

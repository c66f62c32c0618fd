package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/superviber/blue-operator/test/s3test"
	"github.com/superviber/blue-operator/test/ststest"
	"github.com/superviber/blue-operator/test/testutil"
	"github.com/superviber/blue-operator/test/world"
)

// These tests run a tenant's server exactly as cmd/blue-mcp wires it, over
// HTTP, against the real protocols of STS, Infisical, S3 and DynamoDB, and
// talk to it with the go-sdk MCP client.

func connect(t *testing.T, url, token string) *mcp.ClientSession {
	t.Helper()
	return world.Connect(t, url, token)
}

type result struct {
	Status        string                              `json:"status"`
	Message       string                              `json:"message"`
	Hint          string                              `json:"hint"`
	Document      *doc                                `json:"document"`
	Documents     []doc                               `json:"documents"`
	NextPageToken string                              `json:"next_page_token"`
	Progress      *struct{ Done, Total, Percent int } `json:"progress"`
}

type doc struct {
	Kind    string `json:"doc_type"`
	ID      string `json:"id"`
	Number  int    `json:"number"`
	Title   string `json:"title"`
	Slug    string `json:"slug"`
	Status  string `json:"status"`
	URI     string `json:"uri"`
	Content string `json:"content"`
}

// call runs a tool and returns its result, or the tool error's text.
func call(t *testing.T, s *mcp.ClientSession, tool string, args map[string]any) (result, string) {
	t.Helper()
	text, isError, err := world.CallTool(context.Background(), s, tool, args)
	if err != nil {
		t.Fatalf("%s: protocol error: %v", tool, err)
	}
	if isError {
		return result{}, text
	}
	var r result
	if err := json.Unmarshal([]byte(text), &r); err != nil {
		t.Fatalf("%s: result %q: %v", tool, text, err)
	}
	return r, ""
}

func mustCall(t *testing.T, s *mcp.ClientSession, tool string, args map[string]any) result {
	t.Helper()
	r, errText := call(t, s, tool, args)
	if errText != "" {
		t.Fatalf("%s(%v): %s", tool, args, errText)
	}
	return r
}

func newTenant(t *testing.T, w *world.World, name string, account int) *world.Tenant {
	t.Helper()
	tn, err := w.AddTenant(context.Background(), name, account)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func TestDocumentJourney(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	acme := newTenant(t, w, "acme", 222222222222)
	srv := w.Serve(t, acme, world.ServerOptions{})
	s := connect(t, srv.URL, acme.Token)

	spike := mustCall(t, s, "blue_spike_create", map[string]any{"title": "Cache the index?", "question": "Is DynamoDB fast enough?", "time_box": "2 days"})
	if spike.Document == nil || spike.Document.Status != "in-progress" {
		t.Fatalf("spike %+v", spike)
	}
	// A spike recommending implementation needs an RFC that names it.
	r := mustCall(t, s, "blue_spike_complete", map[string]any{"title": "Cache the index?", "outcome": "recommends-implementation"})
	if r.Status != "rfc_required" {
		t.Fatalf("spike complete without RFC: %+v", r)
	}
	rfc := mustCall(t, s, "blue_rfc_create", map[string]any{"title": "Index cache", "problem": "Listing is slow.", "source_spike": "Cache the index?"})
	if rfc.Document.ID != "0001" || rfc.Document.Status != "draft" || !strings.Contains(rfc.Document.Content, "| **Status** | Draft |") {
		t.Fatalf("rfc %+v", rfc.Document)
	}
	mustCall(t, s, "blue_spike_complete", map[string]any{"title": "Cache the index?", "outcome": "recommends-implementation", "summary": "Yes, with a cache."})

	// Illegal transition: draft → implemented.
	if _, e := call(t, s, "blue_rfc_update_status", map[string]any{"title": "Index cache", "status": "implemented"}); !strings.Contains(e, "cannot go from draft to implemented") {
		t.Fatalf("illegal transition: %q", e)
	}
	mustCall(t, s, "blue_rfc_update_status", map[string]any{"title": "0001", "status": "accepted"})
	mustCall(t, s, "blue_rfc_plan", map[string]any{"title": "index-cache", "tasks": []string{"design", "build", "test", "ship"}})
	mustCall(t, s, "blue_rfc_task_complete", map[string]any{"title": "Index cache", "task": "1"})
	// The 70 % gate.
	if r := mustCall(t, s, "blue_rfc_complete", map[string]any{"title": "Index cache"}); r.Status != "blocked" || r.Progress.Percent != 25 {
		t.Fatalf("gate: %+v", r)
	}
	mustCall(t, s, "blue_rfc_task_complete", map[string]any{"title": "Index cache", "task": "build"})
	mustCall(t, s, "blue_rfc_task_complete", map[string]any{"title": "Index cache", "task": "test"})
	done := mustCall(t, s, "blue_rfc_complete", map[string]any{"title": "Index cache"})
	if done.Status != "success" || done.Document.Status != "implemented" {
		t.Fatalf("complete: %+v", done)
	}
	got := mustCall(t, s, "blue_rfc_get", map[string]any{"title": "1"})
	if !strings.Contains(got.Document.Content, "| **Status** | Implemented |") || got.Progress.Done != 3 {
		t.Fatalf("get after complete: %+v", got)
	}

	mustCall(t, s, "blue_adr_create", map[string]any{"title": "Cache listings", "rfc": "Index cache", "decision": "Cache in memory.", "consequences": []string{"faster"}})
	mustCall(t, s, "blue_decision_create", map[string]any{"title": "Use dynalite in tests", "decision": "Yes"})
	list := mustCall(t, s, "blue_rfc_list", map[string]any{"status": "implemented"})
	if len(list.Documents) != 1 || list.Documents[0].Title != "Index cache" {
		t.Fatalf("list: %+v", list)
	}
	found := mustCall(t, s, "blue_search", map[string]any{"query": "cache"})
	if len(found.Documents) < 3 {
		t.Fatalf("search found %d", len(found.Documents))
	}
	// Documents are resources too.
	rr, err := s.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "blue://docs/rfcs/0001"})
	if err != nil || !strings.Contains(rr.Contents[0].Text, "# RFC 0001: Index cache") {
		t.Fatalf("resource: %v %+v", err, rr)
	}

	// The client's bucket holds the bodies, each written with SSE-KMS and
	// the client's key, by the client's role.
	writes := w.S3.Writes()
	if len(writes) == 0 {
		t.Fatal("nothing written to S3")
	}
	for _, wr := range writes {
		if wr.Bucket != acme.Bucket || wr.SSE != "aws:kms" || wr.KMSKeyID != acme.KMSKeyID {
			t.Errorf("write %+v: want bucket %s with SSE-KMS key %s", wr, acme.Bucket, acme.KMSKeyID)
		}
		id, ok := w.STS.Lookup(wr.AccessKeyID)
		if !ok || id.RoleARN != acme.ClientRole {
			t.Errorf("write signed by %q (%+v), want the client role's credentials", wr.AccessKeyID, id)
		}
	}
	objs, err := w.S3.Objects(acme.Bucket, "rfcs/")
	if err != nil || !slices.ContainsFunc(objs, func(o s3test.Object) bool { return o.Key == "rfcs/0001-index-cache.md" }) {
		t.Errorf("export object rfcs/0001-index-cache.md missing: %v %v", err, keys(objs))
	}
}

func TestToolsMatchBluesTable(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	tn := newTenant(t, w, "tools", 333333333333)
	srv := w.Serve(t, tn, world.ServerOptions{})
	s := connect(t, srv.URL, tn.Token)
	res, err := s.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	served := map[string][]string{}
	for _, tool := range res.Tools {
		b, _ := json.Marshal(tool.InputSchema)
		var sch struct {
			Required []string `json:"required"`
		}
		_ = json.Unmarshal(b, &sch)
		sort.Strings(sch.Required)
		served[tool.Name] = sch.Required
	}
	table := bluesTable(t)
	outOfScope := regexp.MustCompile(`^blue_(sync|dialogue_save)$`)
	for name, required := range table {
		if outOfScope.MatchString(name) {
			continue
		}
		got, ok := served[name]
		if !ok {
			t.Errorf("Blue's %s is not served", name)
			continue
		}
		if strings.Join(got, ",") != strings.Join(required, ",") {
			t.Errorf("%s: required %v, Blue has %v", name, got, required)
		}
	}
	for _, kind := range []string{"rfc", "spike", "adr", "decision", "prd", "postmortem", "runbook", "dialogue", "audit"} {
		if _, ok := served["blue_"+kind+"_list"]; !ok {
			t.Errorf("no blue_%s_list", kind)
		}
	}
}

// bluesDoc is docs/blue-tools.md: the team's copy of shared/BLUE-TOOLS.md
// (where the shared folder sits beside the repo, its text must be the
// copy's beginning, unchanged), then the hosted server's own sections.
func bluesDoc(t *testing.T) string {
	t.Helper()
	path := filepath.Join("..", "..", "..", "docs", "blue-tools.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if shared, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "shared", "BLUE-TOOLS.md")); err == nil && !bytes.HasPrefix(b, shared) {
		t.Fatalf("docs/blue-tools.md does not begin with shared/BLUE-TOOLS.md: copy the shared file again, then the hosted sections after it")
	}
	return string(b)
}

// docSection is the text of a "## " or "### " section of doc, up to the
// next heading of its level or above.
func docSection(t *testing.T, doc, heading string) string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("docs/blue-tools.md has no %q", heading)
	}
	rest := doc[i+len(heading)+2:]
	level := heading[:strings.Index(heading, " ")+1]
	for _, l := range []string{"\n## ", "\n" + level} {
		if j := strings.Index(rest, l); j >= 0 {
			rest = rest[:j]
		}
	}
	return rest
}

// bluesTable reads tool names and required parameters from the table of
// Blue's tools in docs/blue-tools.md.
func bluesTable(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	row := regexp.MustCompile(`^\| (blue_[a-z_ /]+) \| [^|]* \| ([^|]*) \|$`)
	param := regexp.MustCompile(`([a-z_]+)\*`)
	for _, line := range strings.Split(docSection(t, bluesDoc(t), "## Tools by group (97 at db1da8c)"), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var req []string
		for _, p := range param.FindAllStringSubmatch(m[2], -1) {
			req = append(req, p[1])
		}
		sort.Strings(req)
		names := strings.Split(m[1], " / ")
		for _, n := range names {
			n = strings.TrimSpace(n)
			if !strings.HasPrefix(n, "blue_") {
				n = "blue_" + n
			}
			r := req
			// "blue_audit_list / blue_audit_get / blue_audit_complete | ... | get, complete: title*"
			if len(names) > 1 && strings.HasSuffix(n, "_list") {
				r = nil
			}
			out[n] = r
		}
	}
	if len(out) < 30 {
		t.Fatalf("read only %d tools from docs/blue-tools.md", len(out))
	}
	return out
}

func TestOtherTenantsTokenIsRefused(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	a := newTenant(t, w, "alpha", 444444444444)
	b := newTenant(t, w, "beta", 555555555555)
	srvA := w.Serve(t, a, world.ServerOptions{})
	srvB := w.Serve(t, b, world.ServerOptions{})
	sa := connect(t, srvA.URL, a.Token)
	mustCall(t, sa, "blue_rfc_create", map[string]any{"title": "Alpha secret plan"})

	for _, tc := range []struct{ name, url, token string }{
		{"B's token on A", srvA.URL, b.Token},
		{"A's token on B", srvB.URL, a.Token},
		{"no token", srvA.URL, ""},
		{"garbage", srvA.URL, "blue_nope"},
	} {
		req, _ := http.NewRequest(http.MethodPost, tc.url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: %d %q, want 401 with a Bearer challenge", tc.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	// B's own server sees none of A's documents.
	sb := connect(t, srvB.URL, b.Token)
	if r := mustCall(t, sb, "blue_rfc_list", nil); len(r.Documents) != 0 {
		t.Errorf("B lists %d RFCs, want none", len(r.Documents))
	}
	for _, wr := range w.S3.Writes() {
		id, _ := w.STS.Lookup(wr.AccessKeyID)
		if wr.Bucket == b.Bucket || id.RoleARN != a.ClientRole {
			t.Errorf("A's write %+v reached %s as %s", wr, wr.Bucket, id.RoleARN)
		}
	}
}

func TestRevocationRotationAndWrongExternalID(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	tn := newTenant(t, w, "revoke", 666666666666)
	srv := w.Serve(t, tn, world.ServerOptions{Refresh: 200 * time.Millisecond})
	s := connect(t, srv.URL, tn.Token)
	mustCall(t, s, "blue_rfc_create", map[string]any{"title": "Before revocation"})

	// Revoke: denied within a refresh interval, /readyz fails.
	w.Infisical.RevokeMembership(tn.Project, tn.IdentityID)
	waitFor(t, "access revoked", func() error {
		_, e := call(t, s, "blue_rfc_list", nil)
		if !strings.Contains(e, "access revoked by the client") {
			return fmt.Errorf("tool answered %q", e)
		}
		return nil
	})
	if code := get(t, srv.Base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("readyz %d while revoked", code)
	}
	w.Infisical.RestoreMembership(tn.Project, tn.IdentityID)
	waitFor(t, "access restored", func() error {
		if _, e := call(t, s, "blue_rfc_list", nil); e != "" {
			return fmt.Errorf("%s", e)
		}
		return nil
	})

	// The ExternalId is the one the operator issued: an EXTERNAL_ID the
	// client's workspace names is not read, and every AssumeRole presents
	// the issued one.
	w.Infisical.SetSecret(tn.Project, tn.Environment, tn.SecretPath, "EXTERNAL_ID", "chosen-by-the-client")
	// A role whose trust policy names another ExternalId (the client
	// copied it wrong): a clear error, no crash.
	other := strings.Replace(tn.ClientRole, ":role/", ":role/Copy", 1)
	if err := w.STS.PutRole(ststest.Role{ARN: other, TrustedPrincipals: []string{tn.HopRole}, ExternalID: "copied-wrong", SourceIdentityTrusted: true}); err != nil {
		t.Fatal(err)
	}
	w.Infisical.SetSecret(tn.Project, tn.Environment, tn.SecretPath, "AWS_ROLE_ARN", other)
	waitFor(t, "wrong ExternalId reported", func() error {
		_, e := call(t, s, "blue_rfc_list", nil)
		if !strings.Contains(e, "ExternalId") {
			return fmt.Errorf("tool answered %q", e)
		}
		return nil
	})
	for _, r := range w.STS.Records() {
		if (r.RoleARN == tn.ClientRole || r.RoleARN == other) && r.ExternalID != tn.ExternalID {
			t.Errorf("AssumeRole of %s presented ExternalId %q, want the issued %q", r.RoleARN, r.ExternalID, tn.ExternalID)
		}
	}
	// Back to the right role: calls work again.
	w.Infisical.SetSecret(tn.Project, tn.Environment, tn.SecretPath, "AWS_ROLE_ARN", tn.ClientRole)
	waitFor(t, "right role again", func() error {
		if _, e := call(t, s, "blue_rfc_create", map[string]any{"title": "After the fix"}); e != "" {
			return fmt.Errorf("%s", e)
		}
		return nil
	})
	if code := get(t, srv.Base+"/healthz"); code != http.StatusOK {
		t.Errorf("healthz %d", code)
	}
}

func TestConcurrentCreatesGetConsecutiveNumbers(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	tn := newTenant(t, w, "busy", 777777777777)
	srv := w.Serve(t, tn, world.ServerOptions{MaxSessions: 0})
	s := connect(t, srv.URL, tn.Token)
	const n = 50
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, e := call(t, s, "blue_rfc_create", map[string]any{"title": fmt.Sprintf("Parallel RFC %02d", i)})
			if e != "" {
				t.Errorf("create %d: %s", i, e)
				return
			}
			ids <- r.Document.ID
		}()
	}
	wg.Wait()
	close(ids)
	var got []string
	for id := range ids {
		got = append(got, id)
	}
	sort.Strings(got)
	if len(got) != n {
		t.Fatalf("%d created, want %d", len(got), n)
	}
	for i, id := range got {
		if want := fmt.Sprintf("%04d", i+1); id != want {
			t.Fatalf("ids %v: position %d is %s, want %s", got, i, id, want)
		}
	}
	total := 0
	token := ""
	for {
		r := mustCall(t, s, "blue_rfc_list", map[string]any{"limit": 20, "page_token": token})
		total += len(r.Documents)
		if token = r.NextPageToken; token == "" {
			break
		}
	}
	if total != n {
		t.Errorf("listed %d, want %d", total, n)
	}
}

func TestBadInputGetsClearErrorsAndServerStaysUp(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	tn := newTenant(t, w, "robust", 888888888888)
	srv := w.Serve(t, tn, world.ServerOptions{MaxBodyBytes: 64 << 10})
	s := connect(t, srv.URL, tn.Token)

	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"blue_rfc_create", map[string]any{}, "title"},
		{"blue_rfc_create", map[string]any{"title": 42}, "title"},
		{"blue_rfc_create", map[string]any{"title": "../../"}, "no letters or digits"},
		{"blue_rfc_get", map[string]any{"title": "no such rfc"}, "no RFC matches"},
		{"blue_spike_complete", map[string]any{"title": "x", "outcome": "maybe"}, "outcome"},
		{"blue_postmortem_create", map[string]any{"title": "Outage", "severity": "P9"}, "severity"},
		{"blue_rfc_list", map[string]any{"status": "done"}, "not an RFC status"},
		{"blue_rfc_list", map[string]any{"limit": 1000}, "limit"},
		{"blue_rfc_list", map[string]any{"page_token": "forged"}, "page"},
		{"blue_delete", map[string]any{"doc_type": "secrets", "title": "x"}, "doc_type"},
		{"blue_dialogue_create", map[string]any{"title": "x", "alignment": true}, "expert_pool is required with alignment: true"},
	} {
		if _, e := call(t, s, tc.tool, tc.args); !strings.Contains(strings.ToLower(e), strings.ToLower(tc.want)) {
			t.Errorf("%s(%v): error %q, want it to mention %q", tc.tool, tc.args, e, tc.want)
		}
	}
	// A path-traversal title becomes a harmless slug.
	r := mustCall(t, s, "blue_rfc_create", map[string]any{"title": "../../etc/passwd"})
	if r.Document.Slug != "etc-passwd" {
		t.Errorf("slug %q", r.Document.Slug)
	}
	if _, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: "blue_no_such_tool"}); err == nil {
		t.Errorf("unknown tool accepted")
	}
	// Raw HTTP: malformed JSON-RPC and an oversize body.
	for _, tc := range []struct {
		name string
		body []byte
		want int
	}{
		{"malformed", []byte(`{"jsonrpc":"2.0","id":1,"method":`), http.StatusBadRequest},
		{"oversize", append([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":"`), append(bytes.Repeat([]byte("a"), 70<<10), []byte(`"}}`)...)...), http.StatusRequestEntityTooLarge},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := world.BearerClient(tn.Token).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want && !(tc.name == "malformed" && bytes.Contains(b, []byte("-32700"))) {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, b)
		}
	}
	// Still serving.
	mustCall(t, s, "blue_status", nil)
}

func TestTierSessionLimit(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	tn := newTenant(t, w, "small", 999999999999)
	srv := w.Serve(t, tn, world.ServerOptions{MaxSessions: 2})
	open := func(version string) (*mcp.ClientSession, error) {
		c := mcp.NewClient(&mcp.Implementation{Name: "client", Version: "1"}, nil)
		return c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: srv.URL, HTTPClient: world.BearerClient(tn.Token)},
			&mcp.ClientSessionOptions{ProtocolVersion: version})
	}
	// Handshakes the transport refuses (here: no Accept header) take no slot.
	for range 3 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := world.BearerClient(tn.Token).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("handshake without Accept: %d", resp.StatusCode)
		}
	}
	// Claude Code speaks a session protocol (initialize, Mcp-Session-Id);
	// newer clients the sessionless one (server/discover). Both take a slot.
	first, err := open("2025-06-18")
	if err != nil {
		t.Fatal(err)
	}
	second, err := open("")
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	for _, v := range []string{"2025-06-18", ""} {
		if _, err := open(v); err == nil || !strings.Contains(err.Error(), "allows 2 concurrent MCP sessions") {
			t.Fatalf("third session (%q): %v", v, err)
		}
	}
	// Closing a session frees its slot.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	third, err := open("2025-06-18")
	if err != nil {
		t.Fatalf("after a close: %v", err)
	}
	_ = third.Close()
}

func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	testutil.Eventually(t, 20*time.Second, 50*time.Millisecond, what, cond)
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func keys(objs []s3test.Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

package tools

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// The handlers are called directly, over memStore (memstore_test.go). What
// they answer over MCP (JSON encoding, argument decoding, tool errors) is in
// register_test.go and args_test.go; the end-to-end tests in
// test/mcpserver/server run them over S3 and DynamoDB.

// fakeClock is the clock the service and the store share.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// start is the fixtures' "now": ids of unnumbered kinds are 2026-03-02T1000Z-<slug>.
var start = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

type fixture struct {
	ctx   context.Context
	clock *fakeClock
	st    *memStore
	svc   *Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clock := &fakeClock{t: start}
	st := newMemStore(clock.Now)
	return &fixture{
		ctx:   t.Context(),
		clock: clock,
		st:    st,
		svc:   &Service{Store: func(context.Context) (Store, error) { return st, nil }, Now: clock.Now},
	}
}

// handler is every tool's handler type.
type handler[In any] func(context.Context, Store, In) (Result, error)

// run calls a handler that must not fail.
func run[In any](t *testing.T, f *fixture, h handler[In], in In) Result {
	t.Helper()
	r, err := h(f.ctx, f.st, in)
	if err != nil {
		t.Fatalf("%T%+v: %v", in, in, err)
	}
	return r
}

// runErr calls a handler that must fail and returns its error's text.
func runErr[In any](t *testing.T, f *fixture, h handler[In], in In) string {
	t.Helper()
	r, err := h(f.ctx, f.st, in)
	if err == nil {
		t.Fatalf("%T%+v: want an error, got %+v", in, in, r)
	}
	return err.Error()
}

// wantErr checks that a handler fails with a message containing want.
func wantErr[In any](t *testing.T, f *fixture, h handler[In], in In, want string) {
	t.Helper()
	if got := runErr(t, f, h, in); !strings.Contains(got, want) {
		t.Errorf("%T%+v: error %q, want it to contain %q", in, in, got, want)
	}
}

func wantStatus(t *testing.T, r Result, want string) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %q (%s), want %q", r.Status, r.Message, want)
	}
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s %q: want it to contain %q", what, got, w)
		}
	}
}

// newRFC creates an RFC and returns its id.
func (f *fixture) newRFC(t *testing.T, title string) string {
	t.Helper()
	return run(t, f, f.svc.rfcCreate, RFCCreateIn{Title: title}).Document.ID
}

// rfcAt creates an RFC and moves it through the statuses given.
func (f *fixture) rfcAt(t *testing.T, title string, path ...string) string {
	t.Helper()
	id := f.newRFC(t, title)
	for _, to := range path {
		run(t, f, f.svc.rfcUpdateStatus, RFCStatusIn{Title: id, Status: to})
	}
	return id
}

func ids(docs []DocView) []string {
	out := make([]string, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.ID)
	}
	return out
}

func titles(docs []DocView) []string {
	out := make([]string, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.Title)
	}
	sort.Strings(out)
	return out
}

// TestCreateGetListEveryKind creates two documents of each kind, reads one
// back with the kind's get tool and lists them with its _list tool.
func TestCreateGetListEveryKind(t *testing.T) {
	ts := blue.TimestampID(start)
	for _, tc := range []struct {
		kind    string
		create  func(f *fixture, title string) (Result, error)
		get     func(f *fixture, d *DocView) (Result, error) // nil: the kind has no get tool
		list    func(f *fixture, in ListIn) (Result, error)
		ids     [2]string // the two documents' ids
		numbers [2]int
		status  string
		content []string // in the first document's markdown
	}{
		{
			kind: "rfc",
			create: func(f *fixture, title string) (Result, error) {
				return f.svc.rfcCreate(f.ctx, f.st, RFCCreateIn{Title: title, Problem: "Listing is slow."})
			},
			get: func(f *fixture, d *DocView) (Result, error) {
				return f.svc.rfcGet(f.ctx, f.st, TitleIn{Title: d.Title})
			},
			ids:     [2]string{"0001", "0002"},
			numbers: [2]int{1, 2},
			status:  "draft",
			content: []string{"# RFC 0001: First one\n", "| **Status** | Draft |", "| **Date** | 2026-03-02 |", "## Summary\n\nListing is slow.\n", "## Test Plan"},
		},
		{
			kind: "spike",
			create: func(f *fixture, title string) (Result, error) {
				return f.svc.spikeCreate(f.ctx, f.st, SpikeCreateIn{Title: title, Question: "Is it fast enough?", TimeBox: "2 days"})
			},
			ids:     [2]string{ts + "-first-one", ts + "-second-one"},
			status:  "in-progress",
			content: []string{"# Spike: First one\n", "| **Status** | In-Progress |", "| **Time Box** | 2 days |", "## Question\n\nIs it fast enough?\n"},
		},
		{
			kind: "adr",
			create: func(f *fixture, title string) (Result, error) {
				return f.svc.adrCreate(f.ctx, f.st, ADRCreateIn{Title: title, Context: "Reads dominate.", Decision: "Cache.", Consequences: []string{"faster", "staler"}})
			},
			get: func(f *fixture, d *DocView) (Result, error) {
				return f.svc.adrGet(f.ctx, f.st, ADRGetIn{Number: d.Number})
			},
			ids:     [2]string{"0001", "0002"},
			numbers: [2]int{1, 2},
			status:  "accepted",
			content: []string{"# ADR 0001: First one\n", "| **Status** | Accepted |", "## Decision\n\nCache.\n", "- faster\n- staler\n"},
		},
		{
			kind: "decision",
			create: func(f *fixture, title string) (Result, error) {
				return f.svc.decisionCreate(f.ctx, f.st, DecisionCreateIn{Title: title, Decision: "Yes.", Rationale: "Cheap.", Alternatives: []string{"No"}})
			},
			ids:     [2]string{ts + "-first-one", ts + "-second-one"},
			status:  "recorded",
			content: []string{"# Decision: First one\n", "| **Status** | Recorded |", "## Rationale\n\nCheap.\n", "## Alternatives\n\n- No\n"},
		},
		{
			kind: "prd",
			create: func(f *fixture, title string) (Result, error) {
				return f.svc.prdCreate(f.ctx, f.st, PRDCreateIn{Title: title, Problem: "Slow.", Users: "Everyone", Goals: []string{"fast"}})
			},
			get:     func(f *fixture, d *DocView) (Result, error) { return f.svc.prdGet(f.ctx, f.st, TitleIn{Title: d.ID}) },
			ids:     [2]string{"0001", "0002"},
			numbers: [2]int{1, 2},
			status:  "draft",
			// Blue's template: placeholder criteria under its first story.
			content: []string{"# PRD 0001: First one\n", "| **Author** | [Author] |", "## Users\n\nEveryone\n", "## Goals\n\n- fast\n", "## User Stories\n\n### Story 1: [Title]\n", "**Acceptance Criteria**:\n- [ ] [Criterion 1]\n- [ ] [Criterion 2]\n"},
		},
		{
			kind: "postmortem",
			create: func(f *fixture, title string) (Result, error) {
				return f.svc.postmortemCreate(f.ctx, f.st, PostmortemCreateIn{Title: title, Severity: "p2", Summary: "DNS.", Impact: []string{"logins"}})
			},
			ids:     [2]string{ts + "-first-one", ts + "-second-one"},
			numbers: [2]int{1, 2},
			status:  "open",
			content: []string{"# Post-mortem: First one\n", "| **Severity** | P2 |", "## Impact\n\n- logins\n", "## Action Items"},
		},
		{
			kind: "runbook",
			create: func(f *fixture, title string) (Result, error) {
				return f.svc.runbookCreate(f.ctx, f.st, RunbookCreateIn{Title: title, ServiceName: "api", Owner: "ops", Actions: []string{"restart"}})
			},
			ids:     [2]string{ts + "-first-one", ts + "-second-one"},
			numbers: [2]int{1, 2},
			status:  "active",
			content: []string{"# Runbook: First one\n", "| **Service** | api |", "| **Owner** | ops |", "## Actions\n\n- restart\n"},
		},
		{
			kind: "audit",
			create: func(f *fixture, title string) (Result, error) {
				return f.svc.auditCreate(f.ctx, f.st, AuditCreateIn{Title: title, AuditType: "security", Scope: "the API"})
			},
			get: func(f *fixture, d *DocView) (Result, error) {
				return f.svc.getKind("audit")(f.ctx, f.st, TitleIn{Title: d.Title})
			},
			ids:     [2]string{ts + "-first-one", ts + "-second-one"},
			status:  "in-progress",
			content: []string{"# Audit: First one\n", "| **Type** | security |", "## Scope\n\nthe API\n"},
		},
		{
			kind: "dialogue",
			create: func(f *fixture, title string) (Result, error) {
				return f.svc.dialogueCreate(f.ctx, f.st, DialogueCreateIn{Title: title, Summary: "We talked.", Content: "A: hi\nB: hello"})
			},
			get: func(f *fixture, d *DocView) (Result, error) {
				return f.svc.getKind("dialogue")(f.ctx, f.st, TitleIn{Title: d.Slug})
			},
			list: func(f *fixture, in ListIn) (Result, error) {
				return f.svc.dialogueList(f.ctx, f.st, DialogueListIn{ListIn: in})
			},
			ids:     [2]string{ts + "-first-one", ts + "-second-one"},
			numbers: [2]int{1, 2},
			status:  "recorded",
			content: []string{"# Dialogue: First one\n", "## Dialogue\n\nA: hi\nB: hello\n"},
		},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			f := newFixture(t)
			k := kind(tc.kind)
			var made []DocView
			for i, title := range []string{"First one", "Second one"} {
				r, err := tc.create(f, title)
				if err != nil {
					t.Fatalf("create %q: %v", title, err)
				}
				wantStatus(t, r, "success")
				d := r.Document
				if d == nil {
					t.Fatalf("create %q: no document in %+v", title, r)
				}
				if d.Kind != tc.kind || d.ID != tc.ids[i] || d.Number != tc.numbers[i] || d.Title != title || d.Status != tc.status || d.Version != 1 {
					t.Errorf("create %q: got %s/%s #%d %q %s v%d, want %s/%s #%d %s v1", title, d.Kind, d.ID, d.Number, d.Title, d.Status, d.Version, tc.kind, tc.ids[i], tc.numbers[i], tc.status)
				}
				if want := "blue://docs/" + k.Plural + "/" + tc.ids[i]; d.URI != want {
					t.Errorf("uri %q, want %q", d.URI, want)
				}
				if d.CreatedAt != "2026-03-02T10:00:00Z" || d.UpdatedAt != d.CreatedAt {
					t.Errorf("times %s %s", d.CreatedAt, d.UpdatedAt)
				}
				if stored := f.st.doc(tc.kind, d.ID); stored == nil || string(stored.Body) != d.Content {
					t.Errorf("stored body differs from the answered content")
				}
				made = append(made, *d)
			}
			wantContains(t, "content", made[0].Content, tc.content...)

			if tc.get != nil {
				r, err := tc.get(f, &made[0])
				if err != nil {
					t.Fatalf("get: %v", err)
				}
				if r.Document == nil || r.Document.ID != made[0].ID || r.Document.Content != made[0].Content {
					t.Errorf("get answered %+v, want %s with its content", r.Document, made[0].ID)
				}
			}

			list := tc.list
			if list == nil {
				list = func(f *fixture, in ListIn) (Result, error) { return f.svc.list(tc.kind)(f.ctx, f.st, in) }
			}
			r, err := list(f, ListIn{})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(r.Documents); !slices.Equal(got, tc.ids[:]) || r.NextPageToken != "" {
				t.Errorf("list: %v (next %q), want %v", got, r.NextPageToken, tc.ids)
			}
			if r.Message != fmt.Sprintf("2 %s documents", k.Title) {
				t.Errorf("list message %q", r.Message)
			}
			for _, d := range r.Documents {
				if d.Content != "" {
					t.Errorf("list shows %s's content", d.ID)
				}
			}
			if r, _ := list(f, ListIn{Status: tc.status}); len(r.Documents) != 2 {
				t.Errorf("list status=%s: %d documents, want 2", tc.status, len(r.Documents))
			}
			if other := k.Statuses[len(k.Statuses)-1]; other != tc.status {
				if r, _ := list(f, ListIn{Status: other}); len(r.Documents) != 0 {
					t.Errorf("list status=%s: %v, want none", other, ids(r.Documents))
				}
			}
		})
	}
}

// TestFind covers how a document is looked up by title, slug or number.
func TestFind(t *testing.T) {
	f := newFixture(t)
	for _, title := range []string{"Index cache eviction", "Index cache", "Rate limits", "Zed"} {
		f.newRFC(t, title)
	}
	for _, tc := range []struct {
		ref    string
		wantID string // "" means not found
	}{
		{"Index cache", "0002"},
		{"index CACHE", "0002"},          // titles compare case-insensitively
		{"  Rate limits  ", "0003"},      // trimmed
		{"index-cache-eviction", "0001"}, // slug
		{"rate limits", "0003"},
		{"3", "0003"}, // number
		{"0003", "0003"},
		{"RFC 0003", "0003"},
		{"#4", "0004"},
		{"eviction", "0001"}, // substring
		{"cache", "0002"},    // substring: the shortest title wins
		{"limit", "0003"},
		{"7", ""},
		{"nothing like it", ""},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			r, err := f.svc.rfcGet(f.ctx, f.st, TitleIn{Title: tc.ref})
			if tc.wantID == "" {
				if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("no RFC matches %q; list them with blue_rfc_list", strings.TrimSpace(tc.ref))) {
					t.Errorf("got %+v, %v; want not found", r.Document, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Document.ID != tc.wantID {
				t.Errorf("found %s %q, want %s", r.Document.ID, r.Document.Title, tc.wantID)
			}
		})
	}

	t.Run("number goes straight to the item", func(t *testing.T) {
		f.st.resetCalls()
		run(t, f, f.svc.rfcGet, TitleIn{Title: "2"})
		if n := f.st.callCount("List"); n != 0 {
			t.Errorf("a lookup by number listed %d times", n)
		}
		// The exact title comes from the store's title index.
		run(t, f, f.svc.rfcGet, TitleIn{Title: "Zed"})
		if n := f.st.callCount("List"); n != 0 || f.st.callCount("GetByTitle") != 2 {
			t.Errorf("a lookup by exact title listed %d times", n)
		}
		run(t, f, f.svc.rfcGet, TitleIn{Title: "ze"})
		if f.st.callCount("List") == 0 {
			t.Errorf("a lookup by part of a title did not list")
		}
	})
	t.Run("empty", func(t *testing.T) {
		wantErr(t, f, f.svc.rfcGet, TitleIn{Title: "  "}, "title is required: give the RFC's title, slug or number")
	})
	t.Run("counted kinds by number", func(t *testing.T) {
		run(t, f, f.svc.runbookCreate, RunbookCreateIn{Title: "Deploys"})
		run(t, f, f.svc.runbookCreate, RunbookCreateIn{Title: "Backups"})
		r := run(t, f, f.svc.runbookUpdate, RunbookUpdateIn{Title: "2", AddOperation: "restore weekly"})
		if r.Document.Title != "Backups" {
			t.Errorf("runbook 2 is %q", r.Document.Title)
		}
	})
	t.Run("kinds are apart", func(t *testing.T) {
		wantErr(t, f, f.svc.prdGet, TitleIn{Title: "Index cache"}, "no PRD matches")
	})
	t.Run("deleted documents are not found", func(t *testing.T) {
		run(t, f, f.svc.delete, DeleteIn{DocType: "rfc", Title: "Zed"})
		wantErr(t, f, f.svc.rfcGet, TitleIn{Title: "Zed"}, "no RFC matches")
		wantErr(t, f, f.svc.rfcGet, TitleIn{Title: "4"}, "no RFC matches")
	})
}

// noTitleIndex is a Store without the title index (the client's API):
// every title lookup lists.
type noTitleIndex struct{ Store }

// TestFindExactTitleFirst: Blue's order is exact title, the title as a
// slug, number, then part of a title. A title that ends in a number is a
// title ("Phase 1" is not RFC 0001), and an exact title wins over a number
// even when the title is one.
func TestFindExactTitleFirst(t *testing.T) {
	f := newFixture(t)
	for _, title := range []string{"Alpha", "Phase 1", "Phase 2 rollout", "Beta", "3"} {
		f.newRFC(t, title)
	}
	for name, st := range map[string]Store{"title index": f.st, "listing": noTitleIndex{f.st}} {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct{ ref, wantID string }{
				{"Phase 1", "0002"},
				{"phase 1", "0002"},
				{"phase-1", "0002"},
				{"Phase 2", "0003"}, // part of a title, not RFC 0002
				{"3", "0005"},       // the RFC titled "3", not RFC 0003
				{"0003", "0003"},
				{"RFC 3", "0003"},
				{"rfc-0004", "0004"},
				{"#1", "0001"},
				{"ADR 2", ""}, // another kind's number is no RFC's
				{"Alpha 1", ""},
			} {
				r, err := f.svc.rfcGet(f.ctx, st, TitleIn{Title: tc.ref})
				switch {
				case tc.wantID == "" && err == nil:
					t.Errorf("%q: found %s %q, want none", tc.ref, r.Document.ID, r.Document.Title)
				case tc.wantID != "" && err != nil:
					t.Errorf("%q: %v", tc.ref, err)
				case tc.wantID != "" && r.Document.ID != tc.wantID:
					t.Errorf("%q: found %s %q, want %s", tc.ref, r.Document.ID, r.Document.Title, tc.wantID)
				}
			}
		})
	}
	// A store that fails is an error, not a miss.
	f.st.fail("GetByTitle", fmt.Errorf("throttled: %w", store.ErrConflict))
	defer f.st.fail("GetByTitle", nil)
	wantErr(t, f, f.svc.rfcGet, TitleIn{Title: "Beta"}, "get rfc: the document changed")
}

// TestNewDocTitles covers the title checks every create shares.
func TestNewDocTitles(t *testing.T) {
	f := newFixture(t)
	f.newRFC(t, "Index cache")
	for _, tc := range []struct {
		title, want string
	}{
		{"", "title is required"},
		{"   ", "title is required"},
		{"../../", `title "../../" has no letters or digits`},
		{strings.Repeat("x", 201), "title is 201 characters; keep it under 200"},
		{"Index cache", "create rfc: a document with that title already exists"},
		{"INDEX   cache", "create rfc: a document with that title already exists"},
	} {
		wantErr(t, f, f.svc.rfcCreate, RFCCreateIn{Title: tc.title}, tc.want)
	}
	// A path-traversal title becomes a harmless slug.
	if r := run(t, f, f.svc.rfcCreate, RFCCreateIn{Title: "../../etc/passwd"}); r.Document.Slug != "etc-passwd" {
		t.Errorf("slug %q", r.Document.Slug)
	}
	// Titles are unique per kind, not across kinds.
	run(t, f, f.svc.prdCreate, PRDCreateIn{Title: "Index cache"})
	// A soft-deleted title is free again.
	run(t, f, f.svc.delete, DeleteIn{DocType: "rfc", Title: "Index cache"})
	if r := run(t, f, f.svc.rfcCreate, RFCCreateIn{Title: "Index cache"}); r.Document.Status != "draft" {
		t.Errorf("re-created %+v", r.Document)
	}
}

// TestConcurrentCreatesGetDistinctNumbers: numbers come from the counter, so
// concurrent creates never share one.
func TestConcurrentCreatesGetDistinctNumbers(t *testing.T) {
	f := newFixture(t)
	const n = 20
	got := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := f.svc.rfcCreate(f.ctx, f.st, RFCCreateIn{Title: fmt.Sprintf("Parallel RFC %02d", i)})
			if err == nil {
				got[i] = r.Document.ID
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	sort.Strings(got)
	for i, id := range got {
		if want := blue.FormatNumber(i + 1); id != want {
			t.Fatalf("ids %v: position %d is %s, want %s", got, i, id, want)
		}
	}
	r := run(t, f, f.svc.list("rfc"), ListIn{Limit: 100})
	if len(r.Documents) != n {
		t.Errorf("listed %d, want %d", len(r.Documents), n)
	}
}

// TestConcurrentTicksLoseNothing: concurrent read-modify-writes of one RFC
// either land or answer the conflict message; none is silently lost.
func TestConcurrentTicksLoseNothing(t *testing.T) {
	f := newFixture(t)
	id := f.newRFC(t, "Busy")
	const n = 10
	tasks := make([]string, n)
	for i := range tasks {
		tasks[i] = fmt.Sprintf("task %02d", i+1)
	}
	run(t, f, f.svc.rfcPlan, RFCPlanIn{Title: id, Tasks: tasks})
	landed := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = f.svc.rfcTaskComplete(f.ctx, f.st, RFCTaskIn{Title: id, Task: fmt.Sprint(i + 1)})
			landed[i] = errs[i] == nil
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !strings.Contains(err.Error(), "the document changed while this call ran; read it again and retry") {
			t.Errorf("tick %d: %v", i+1, err)
		}
	}
	p := run(t, f, f.svc.rfcGet, TitleIn{Title: id}).Progress
	for i, task := range p.Tasks {
		if task.Done != landed[i] {
			t.Errorf("task %d: done=%v, but its tick answered %v", i+1, task.Done, errs[i])
		}
	}
}

// TestStoreErrors: storage failures become messages that name the step, and
// a concurrent change becomes the retry message.
func TestStoreErrors(t *testing.T) {
	t.Run("conflict", func(t *testing.T) {
		f := newFixture(t)
		id := f.newRFC(t, "Contended")
		// Someone else plans the RFC between this call's read and its write.
		f.st.onNext("Update", func() {
			if _, err := f.svc.rfcPlan(f.ctx, f.st, RFCPlanIn{Title: id, Tasks: []string{"theirs"}}); err != nil {
				t.Errorf("the other writer: %v", err)
			}
		})
		wantErr(t, f, f.svc.rfcPlan, RFCPlanIn{Title: id, Tasks: []string{"mine"}}, "update rfc: the document changed while this call ran; read it again and retry")
		if p := run(t, f, f.svc.rfcGet, TitleIn{Title: id}).Progress; len(p.Tasks) != 1 || p.Tasks[0].Text != "theirs" {
			t.Errorf("plan %+v, want the other writer's", p.Tasks)
		}
	})
	t.Run("failure", func(t *testing.T) {
		f := newFixture(t)
		f.st.fail("List", fmt.Errorf("AccessDenied: not authorized"))
		wantErr(t, f, f.svc.list("spike"), ListIn{}, "list spike: AccessDenied: not authorized")
		wantErr(t, f, f.svc.status, Common{}, "list rfc: AccessDenied")
		f.st.fail("List", nil)
		f.st.fail("NextNumber", fmt.Errorf("throttled"))
		wantErr(t, f, f.svc.rfcCreate, RFCCreateIn{Title: "x"}, "allocate rfc number: throttled")
		if f.st.count("rfc") != 0 {
			t.Errorf("an RFC was created without a number")
		}
	})
	t.Run("vanished", func(t *testing.T) {
		f := newFixture(t)
		id := f.newRFC(t, "Short-lived")
		// Purged by someone else between the lookup and the write.
		f.st.onNext("Update", func() { _ = f.st.Purge(f.ctx, "rfc", id) })
		err := runErr(t, f, f.svc.rfcUpdateStatus, RFCStatusIn{Title: id, Status: "accepted"})
		wantContains(t, "error", err, "update rfc: not found")
	})
}

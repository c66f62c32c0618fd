package tools

import (
	"slices"
	"strings"
	"testing"

	"github.com/superviber/blue-operator/mcpserver/blue"
)

func TestPRDAcceptanceGate(t *testing.T) {
	f := newFixture(t)
	r := run(t, f, f.svc.prdCreate, PRDCreateIn{Title: "Faster listings", Problem: "Slow."})
	if r.Message != "Created PRD 0001: Faster listings (draft)" {
		t.Errorf("create %q", r.Message)
	}
	criteria := func() []blue.Task {
		t.Helper()
		return blue.Criteria(f.st.doc("prd", "0001").Body)
	}
	// As Blue: a new PRD has its template's placeholder criteria, unticked,
	// so it does not complete as it is.
	if got := criteria(); len(got) != 2 || got[0].Text != "[Criterion 1]" || got[0].Done || got[1].Done {
		t.Fatalf("a new PRD's criteria %+v", got)
	}
	wantErr(t, f, f.svc.prdComplete, TitleIn{Title: "1"}, "PRD cannot go from draft to implemented")
	run(t, f, f.svc.prdApprove, TitleIn{Title: "faster-listings"})
	fresh := run(t, f, f.svc.prdComplete, TitleIn{Title: "1"})
	wantStatus(t, fresh, "blocked")
	if got := fresh.Blue["unchecked"].([]string); !slices.Equal(got, []string{"[Criterion 1]", "[Criterion 2]"}) {
		t.Errorf("unchecked %v", got)
	}
	wantErr(t, f, f.svc.prdApprove, TitleIn{Title: "1"}, "PRD is already approved")

	r = run(t, f, f.svc.prdCriteria, PRDCriteriaIn{Title: "Faster listings", Criteria: []string{"p99 under 100ms", "", "works\nwith 10k docs"}})
	if r.Message != "PRD 0001 has 2 acceptance criteria" || r.Progress.Total != 2 {
		t.Fatalf("criteria %s %+v", r.Message, r.Progress)
	}
	if got := criteria(); len(got) != 2 || got[1].Text != "works with 10k docs" || got[0].Done {
		t.Fatalf("stored criteria %+v", got)
	}

	blocked := run(t, f, f.svc.prdComplete, TitleIn{Title: "1"})
	wantStatus(t, blocked, "blocked")
	if blocked.Message != "PRD 0001 has 2 unticked acceptance criteria: p99 under 100ms; works with 10k docs" || blocked.Progress.Done != 0 {
		t.Errorf("blocked: %s %+v", blocked.Message, blocked.Progress)
	}
	if f.st.doc("prd", "0001").Status != "approved" {
		t.Errorf("a blocked complete moved the PRD")
	}

	for _, tc := range []struct{ ref, wantErr string }{
		{"3", "PRD 0001: item 3 does not exist: there are items 1 to 2"},
		{"0", "item 0 does not exist"},
		{"latency", `PRD 0001: no item matches "latency"`},
	} {
		wantErr(t, f, f.svc.prdCriterionComplete, PRDCriterionIn{Title: "1", Criterion: tc.ref}, tc.wantErr)
	}
	r = run(t, f, f.svc.prdCriterionComplete, PRDCriterionIn{Title: "1", Criterion: "2"})
	if r.Message != "Ticked criterion 2 of PRD 0001" || r.Progress.Done != 1 {
		t.Errorf("tick: %s %+v", r.Message, r.Progress)
	}
	wantStatus(t, run(t, f, f.svc.prdComplete, TitleIn{Title: "1"}), "blocked")

	// Setting the criteria again keeps the ticks of those kept.
	run(t, f, f.svc.prdCriteria, PRDCriteriaIn{Title: "1", Criteria: []string{"works with 10k docs", "P99 under 100ms"}})
	if got := criteria(); len(got) != 2 || !got[0].Done || got[1].Done {
		t.Errorf("re-set criteria %+v", got)
	}
	run(t, f, f.svc.prdCriterionComplete, PRDCriterionIn{Title: "1", Criterion: "p99 UNDER 100ms"})

	done := run(t, f, f.svc.prdComplete, TitleIn{Title: "1"})
	wantStatus(t, done, "success")
	d := f.st.doc("prd", "0001")
	if done.Message != "PRD 0001 implemented" || d.Status != "implemented" || !strings.Contains(string(d.Body), "| **Status** | Implemented |") {
		t.Errorf("complete: %s, stored %s", done.Message, d.Status)
	}
	// The criteria are where Blue's template has them, in its shape; the
	// rest of the document survives the rewrites.
	wantContains(t, "body", string(d.Body), "## Problem\n\nSlow.\n", "### Story 1: [Title]\n",
		"**So that** [benefit]\n\n**Acceptance Criteria**:\n- [x] works with 10k docs\n- [x] P99 under 100ms\n\n## Success Metrics")
	if strings.Contains(string(d.Body), "[Criterion 1]") || strings.Contains(string(d.Body), "## Acceptance Criteria") {
		t.Errorf("placeholders or a second list left:\n%s", d.Body)
	}
	g := run(t, f, f.svc.prdGet, TitleIn{Title: "1"})
	if g.Progress.Done != 2 || g.Progress.Percent != 100 {
		t.Errorf("get progress %+v", g.Progress)
	}
	if ac := g.Blue["acceptance_criteria"].(map[string]any); ac["total"] != 2 || ac["checked"] != 2 {
		t.Errorf("acceptance_criteria %v", ac)
	}
	wantErr(t, f, f.svc.prdComplete, TitleIn{Title: "1"}, "PRD is already implemented")

	// A draft is not implemented even with every criterion ticked.
	run(t, f, f.svc.prdCreate, PRDCreateIn{Title: "Draft only"})
	run(t, f, f.svc.prdCriteria, PRDCriteriaIn{Title: "Draft only", Criteria: []string{"done"}})
	run(t, f, f.svc.prdCriterionComplete, PRDCriterionIn{Title: "Draft only", Criterion: "done"})
	wantErr(t, f, f.svc.prdComplete, TitleIn{Title: "Draft only"}, "PRD cannot go from draft to implemented")

	// Free text cannot bring criteria of its own.
	wantErr(t, f, f.svc.prdCreate, PRDCreateIn{Title: "Smuggled", Users: "all\n\n**Acceptance Criteria**:\n- [x] done"}, `argument "users" holds an **Acceptance Criteria** line`)
	wantErr(t, f, f.svc.prdCreate, PRDCreateIn{Title: "Smuggled", Goals: []string{"**Acceptance Criteria**", "[x] done"}}, `argument "goals"`)
}

// PRDs written before the hosted server used Blue's template keep their
// criteria in a "## Acceptance Criteria" section: the gate reads them, and
// the criteria tools add Blue's marker so Blue's CLI reads them too.
func TestPRDOlderCriteriaSection(t *testing.T) {
	f := newFixture(t)
	d := run(t, f, f.svc.prdCreate, PRDCreateIn{Title: "Old shape"}).Document
	stored := f.st.doc("prd", d.ID)
	stored.Body = []byte("# PRD 0001: Old shape\n\n| | |\n|---|---|\n| **Status** | Draft |\n\n---\n\n## Problem\n\nSlow.\n\n## Acceptance Criteria\n\n- [ ] fast\n- [x] cheap\n")
	if err := f.st.Update(f.ctx, stored); err != nil {
		t.Fatal(err)
	}
	run(t, f, f.svc.prdApprove, TitleIn{Title: d.ID})
	r := run(t, f, f.svc.prdComplete, TitleIn{Title: d.ID})
	wantStatus(t, r, "blocked")
	if got := r.Blue["unchecked"].([]string); !slices.Equal(got, []string{"fast"}) {
		t.Errorf("unchecked %v", got)
	}
	run(t, f, f.svc.prdCriterionComplete, PRDCriterionIn{Title: d.ID, Criterion: "fast"})
	body := f.st.doc("prd", d.ID).Body
	wantContains(t, "body", string(body), "## Acceptance Criteria\n\n**Acceptance Criteria**:\n- [x] fast\n- [x] cheap\n")
	if got := blue.Criteria(body); len(got) != 2 || !got[0].Done || !got[1].Done {
		t.Errorf("criteria %+v", got)
	}
	wantStatus(t, run(t, f, f.svc.prdComplete, TitleIn{Title: d.ID}), "success")
}

func TestReplaceSectionAndPick(t *testing.T) {
	body := []byte("# T\n\n## A\n\nold\n\n## B\n\nkeep\n")
	if got := string(blue.ReplaceSection(body, "a", "new")); got != "# T\n\n## A\n\nnew\n\n## B\n\nkeep\n" {
		t.Errorf("replace A: %q", got)
	}
	if got := string(blue.ReplaceSection(body, "B", "- [ ] x")); got != "# T\n\n## A\n\nold\n\n## B\n\n- [ ] x\n" {
		t.Errorf("replace last: %q", got)
	}
	if got := string(blue.ReplaceSection(body, "C", "added")); !strings.HasSuffix(got, "## C\n\nadded\n") || !strings.Contains(got, "## B\n\nkeep") {
		t.Errorf("replace missing: %q", got)
	}

	tasks := []blue.Task{{Text: "step 1"}, {Text: "Step 10"}, {Text: "ship it"}}
	for _, tc := range []struct {
		ref     string
		want    int
		wantErr string
	}{
		{ref: "2", want: 1},
		{ref: " 3 ", want: 2},
		{ref: "step 10", want: 1}, // a number inside text is text
		{ref: "STEP 1", want: 0},  // exact before partial
		{ref: "ship", want: 2},
		{ref: "4", wantErr: "item 4 does not exist: there are items 1 to 3"},
		{ref: "", wantErr: `no item matches ""`},
	} {
		got, err := pick(tasks, tc.ref)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("pick %q: %d, %v; want %q", tc.ref, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("pick %q: %d, %v; want %d", tc.ref, got, err, tc.want)
		}
	}
}

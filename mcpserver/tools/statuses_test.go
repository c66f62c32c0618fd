package tools

import (
	"strings"
	"testing"

	"github.com/superviber/blue-operator/mcpserver/blue"
)

// Every status of every kind is reached by a tool, through legal moves
// only: the table below must cover blue.Kinds completely.
func TestEveryStatusIsReachable(t *testing.T) {
	f := newFixture(t)
	reached := map[string]map[string]bool{}
	note := func(d *DocView) {
		if reached[d.Kind] == nil {
			reached[d.Kind] = map[string]bool{}
		}
		reached[d.Kind][d.Status] = true
	}
	get := func(kind, id string) *DocView {
		d, err := f.st.Get(f.ctx, kind, id)
		if err != nil {
			t.Fatal(err)
		}
		return view(d, nil)
	}

	// RFCs: every status through blue_rfc_update_status and blue_rfc_complete.
	for _, path := range [][]string{
		{"accepted", "in-progress", "implemented"},
		{"accepted"},
		{"accepted", "in-progress"},
		{"superseded"},
		{"accepted", "draft"},
	} {
		id := f.rfcAt(t, "RFC via "+strings.Join(path, " "), path...)
		note(get("rfc", id))
	}
	note(get("rfc", f.newRFC(t, "Fresh")))

	sp := run(t, f, f.svc.spikeCreate, SpikeCreateIn{Title: "S1", Question: "q?"}).Document
	note(sp)
	note(run(t, f, f.svc.spikeComplete, SpikeCompleteIn{Title: sp.ID, Outcome: "no-action"}).Document)
	sp2 := run(t, f, f.svc.spikeCreate, SpikeCreateIn{Title: "S2", Question: "q?"}).Document
	note(run(t, f, f.svc.spikeComplete, SpikeCompleteIn{Title: sp2.ID, Outcome: "resolved", FixSummary: "patched"}).Document)

	a1 := run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Old way"}).Document
	a2 := run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "New way"}).Document
	note(a2)
	note(run(t, f, f.svc.adrSupersede, ADRSupersedeIn{Title: a1.ID, SupersededBy: "New way"}).Document)

	note(run(t, f, f.svc.decisionCreate, DecisionCreateIn{Title: "D", Decision: "d"}).Document)

	prd := run(t, f, f.svc.prdCreate, PRDCreateIn{Title: "P"}).Document
	note(prd)
	note(run(t, f, f.svc.prdApprove, TitleIn{Title: prd.ID}).Document)
	run(t, f, f.svc.prdCriteria, PRDCriteriaIn{Title: prd.ID, Criteria: []string{"it works"}})
	run(t, f, f.svc.prdCriterionComplete, PRDCriterionIn{Title: prd.ID, Criterion: "1"})
	note(run(t, f, f.svc.prdComplete, TitleIn{Title: prd.ID}).Document)

	pm := run(t, f, f.svc.postmortemCreate, PostmortemCreateIn{Title: "Outage", Severity: "P2"}).Document
	note(pm)
	note(run(t, f, f.svc.moveKind("postmortem", "closed"), TitleIn{Title: "Outage"}).Document)

	rb := run(t, f, f.svc.runbookCreate, RunbookCreateIn{Title: "Restart"}).Document
	note(rb)
	note(run(t, f, f.svc.moveKind("runbook", "published"), TitleIn{Title: "Restart"}).Document)
	note(run(t, f, f.svc.moveKind("runbook", "archived"), TitleIn{Title: "Restart"}).Document)

	note(run(t, f, f.svc.auditCreate, AuditCreateIn{Title: "Sec"}).Document)
	note(run(t, f, f.svc.moveKind("audit", "complete"), TitleIn{Title: "Sec"}).Document)

	note(run(t, f, f.svc.dialogueCreate, DialogueCreateIn{Title: "Talk"}).Document)
	note(run(t, f, f.svc.moveKind("dialogue", "published"), TitleIn{Title: "Talk"}).Document)

	for _, k := range blue.Kinds {
		for _, st := range k.Statuses {
			if !reached[k.Name][st] {
				t.Errorf("no tool reached %s %s", k.Name, st)
			}
		}
	}
	// Illegal moves stay refused.
	wantErr(t, f, f.svc.moveKind("postmortem", "closed"), TitleIn{Title: "Outage"}, "already closed")
	wantErr(t, f, f.svc.moveKind("runbook", "published"), TitleIn{Title: "Restart"}, "archived, which is final")
	wantErr(t, f, f.svc.moveKind("dialogue", "published"), TitleIn{Title: "Talk"}, "already published")
}

func TestADRSupersede(t *testing.T) {
	f := newFixture(t)
	a1 := run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Old way"}).Document
	a2 := run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "New way"}).Document
	a3 := run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Newest way"}).Document

	for _, tc := range []struct {
		in   ADRSupersedeIn
		want string
	}{
		{ADRSupersedeIn{Title: a1.ID}, `argument "superseded_by" is required`},
		{ADRSupersedeIn{Title: a1.ID, SupersededBy: a1.ID}, "cannot supersede itself"},
		{ADRSupersedeIn{Title: a1.ID, SupersededBy: "9"}, "superseded_by: not found"},
		{ADRSupersedeIn{Title: "Nope", SupersededBy: a2.ID}, "not found"},
	} {
		wantErr(t, f, f.svc.adrSupersede, tc.in, tc.want)
	}
	r := run(t, f, f.svc.adrSupersede, ADRSupersedeIn{Title: a1.ID, SupersededBy: a2.ID})
	if r.Document.Status != "superseded" || r.Document.Attrs[attrSupersededBy] != a2.ID {
		t.Fatalf("superseded: %+v", r.Document)
	}
	oldBody := run(t, f, f.svc.getKind("adr"), TitleIn{Title: a1.ID}).Document.Content
	newBody := run(t, f, f.svc.getKind("adr"), TitleIn{Title: a2.ID}).Document.Content
	if blue.HeaderValue([]byte(oldBody), "Superseded By") != "ADR "+a2.ID || blue.HeaderValue([]byte(oldBody), "Status") != "Superseded" {
		t.Errorf("old ADR:\n%s", oldBody)
	}
	if blue.HeaderValue([]byte(newBody), "Supersedes") != "ADR "+a1.ID {
		t.Errorf("new ADR:\n%s", newBody)
	}
	wantErr(t, f, f.svc.adrSupersede, ADRSupersedeIn{Title: a1.ID, SupersededBy: a3.ID}, "already superseded")
	// A superseded ADR cannot supersede another.
	wantErr(t, f, f.svc.adrSupersede, ADRSupersedeIn{Title: a3.ID, SupersededBy: a1.ID}, "superseded")
	// A second ADR superseded by the same one: both are listed.
	a4 := run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Other old way"}).Document
	run(t, f, f.svc.adrSupersede, ADRSupersedeIn{Title: a4.ID, SupersededBy: a2.ID})
	newBody = run(t, f, f.svc.getKind("adr"), TitleIn{Title: a2.ID}).Document.Content
	if got := blue.HeaderValue([]byte(newBody), "Supersedes"); got != "ADR "+a1.ID+", ADR "+a4.ID {
		t.Errorf("Supersedes %q", got)
	}
}

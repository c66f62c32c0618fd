package tools

import "testing"

func TestDecisionCreate(t *testing.T) {
	f := newFixture(t)
	wantErr(t, f, f.svc.decisionCreate, DecisionCreateIn{Title: "Use dynalite"}, "decision is required: what was decided?")
	wantErr(t, f, f.svc.decisionCreate, DecisionCreateIn{Title: " ", Decision: "Yes"}, "title is required")
	r := run(t, f, f.svc.decisionCreate, DecisionCreateIn{Title: "Use dynalite", Decision: "Yes", Alternatives: []string{"localstack", " ", "moto"}})
	if r.Message != `Recorded decision "Use dynalite"` || r.Document.Status != "recorded" {
		t.Errorf("decision %s %+v", r.Message, r.Document)
	}
	wantContains(t, "content", r.Document.Content, "## Decision\n\nYes\n", "## Alternatives\n\n- localstack\n- moto\n")
	wantErr(t, f, f.svc.decisionCreate, DecisionCreateIn{Title: "use DYNALITE", Decision: "Again"}, "already exists")
}

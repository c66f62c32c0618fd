package tools

import (
	"slices"
	"strings"
	"testing"
)

func TestRunbooks(t *testing.T) {
	f := newFixture(t)
	r := run(t, f, f.svc.runbookCreate, RunbookCreateIn{Title: "API operations", ServiceName: "api", Actions: []string{"restart the api", " ", "rotate\nkeys"}})
	if r.Message != `Created runbook "API operations" with 2 actions` || r.Document.Attrs[attrActions] != "restart the api\nrotate keys" {
		t.Fatalf("create %s %+v", r.Message, r.Document.Attrs)
	}
	run(t, f, f.svc.runbookCreate, RunbookCreateIn{Title: "Database failover", Actions: []string{"promote the replica"}})
	run(t, f, f.svc.runbookCreate, RunbookCreateIn{Title: "Restart checklist"}) // no actions: matched by title only

	for _, tc := range []struct {
		action, want string // want: the runbook's title, "" for none
		wantErr      string
	}{
		{action: "How do I restart the API?", want: "API operations"}, // actions weigh more than titles
		{action: "promote replica", want: "Database failover"},
		{action: "checklist", want: "Restart checklist"},
		{action: "rotate", want: "API operations"},
		{action: "tune kafka", want: ""},
		{action: "to do it", wantErr: "action has no words to match"},
	} {
		r, err := f.svc.runbookLookup(f.ctx, f.st, ActionIn{Action: tc.action})
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: %+v, %v", tc.action, r, err)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.action, err)
		case tc.want == "":
			if r.Document != nil || r.Message != `No runbook matches "tune kafka"` || r.Status != "success" {
				t.Errorf("%q: %+v", tc.action, r)
			}
		case r.Document == nil || r.Document.Title != tc.want || r.Document.Content == "":
			t.Errorf("%q: matched %+v, want %q with its content", tc.action, r.Document, tc.want)
		}
	}

	wantErr(t, f, f.svc.runbookUpdate, RunbookUpdateIn{Title: "API operations", AddOperation: " "}, "give add_operation or add_troubleshooting")
	r = run(t, f, f.svc.runbookUpdate, RunbookUpdateIn{Title: "api operations", AddOperation: "Scale to 3", AddTroubleshooting: "503s: check the LB"})
	wantContains(t, "runbook", string(f.st.doc("runbook", r.Document.ID).Body), "## Operations\n\n- Scale to 3\n", "## Troubleshooting\n\n- 503s: check the LB\n")
	if r.Document.Version != 2 {
		t.Errorf("version %d after one update", r.Document.Version)
	}

	r = run(t, f, f.svc.runbookActions, Common{})
	actions := r.Data["actions"].(map[string][]string)
	if r.Message != "3 actions in 2 runbooks" || !slices.Equal(actions["API operations"], []string{"restart the api", "rotate keys"}) || len(actions["Restart checklist"]) != 0 {
		t.Errorf("actions %s %v", r.Message, actions)
	}

	// An action phrase weighs three times a title word: "Ops" wins over
	// "API restart", listed first (ties go to the first).
	f = newFixture(t)
	run(t, f, f.svc.runbookCreate, RunbookCreateIn{Title: "API restart"})
	run(t, f, f.svc.runbookCreate, RunbookCreateIn{Title: "Ops", Actions: []string{"restart the api"}})
	if r := run(t, f, f.svc.runbookLookup, ActionIn{Action: "restart the api"}); r.Document.Title != "Ops" {
		t.Errorf("matched %q, want Ops", r.Document.Title)
	}
}

package tools

import (
	"strings"
	"testing"
)

func TestPostmortemCreate(t *testing.T) {
	f := newFixture(t)
	for _, sev := range []string{"P9", "", "urgent"} {
		wantErr(t, f, f.svc.postmortemCreate, PostmortemCreateIn{Title: "Outage", Severity: sev}, "is not one of P1, P2, P3, P4")
	}
	r := run(t, f, f.svc.postmortemCreate, PostmortemCreateIn{Title: "DNS outage", Severity: " p1 ", Duration: "2h"})
	if r.Message != `Opened P1 post-mortem "DNS outage"` || r.Document.Attrs[attrSeverity] != "P1" || r.Document.Status != "open" {
		t.Errorf("create %s %+v", r.Message, r.Document)
	}
	wantContains(t, "content", r.Document.Content, "| **Severity** | P1 |", "| **Duration** | 2h |",
		"## Action Items\n\n| Item | Owner | Due | Status | RFC |\n|------|-------|-----|--------|-----|\n| [Action 1] | [Name] | [Date] | Open | |\n")
	// Blue's words for the levels.
	for sev, want := range map[string]string{"critical": "P1", "HIGH": "P2", "Medium": "P3", "low": "P4"} {
		r := run(t, f, f.svc.postmortemCreate, PostmortemCreateIn{Title: "Outage " + sev, Severity: sev})
		if r.Document.Attrs[attrSeverity] != want || r.Blue["severity"] != want {
			t.Errorf("severity %q: %v", sev, r.Document.Attrs)
		}
	}
}

// As Blue: the action is an existing item of the Action Items table, by
// its 1-based index or its text; the RFC goes into the item's RFC column.
func TestPostmortemActionToRFC(t *testing.T) {
	f := newFixture(t)
	pm := run(t, f, f.svc.postmortemCreate, PostmortemCreateIn{Title: "DNS outage", Severity: "P2"}).Document
	f.newRFC(t, "Existing RFC")
	long := "Move every resolver behind one anycast address and document the failover in the runbook"
	table := "| Item | Owner | Due | Status | RFC |\n|------|-------|-----|--------|-----|\n" +
		"| Add a second resolver | ops | 2026-04-01 | Open | |\n| Alert on SERVFAIL | sre | | Open | |\n| " + long + " | ops | | Open | |"
	run(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: "postmortem", Title: pm.ID}, Section: "Action Items", Text: table, Version: pm.Version})

	wantErr(t, f, f.svc.postmortemActionToRFC, ActionToRFCIn{PostmortemTitle: "DNS outage", Action: " "}, "action is required")
	wantErr(t, f, f.svc.postmortemActionToRFC, ActionToRFCIn{PostmortemTitle: "Flood", Action: "x"}, `postmortem_title: not found: no Post-mortem matches "Flood"`)
	wantErr(t, f, f.svc.postmortemActionToRFC, ActionToRFCIn{PostmortemTitle: "DNS outage", Action: "9"}, "action item #9 not found: the post-mortem has 3 action items")
	wantErr(t, f, f.svc.postmortemActionToRFC, ActionToRFCIn{PostmortemTitle: "DNS outage", Action: "0"}, "action item #0 not found")
	wantErr(t, f, f.svc.postmortemActionToRFC, ActionToRFCIn{PostmortemTitle: "DNS outage", Action: "Add a third resolver"}, `no action item matches "Add a third resolver"`)

	r := run(t, f, f.svc.postmortemActionToRFC, ActionToRFCIn{PostmortemTitle: "dns-outage", Action: "2"})
	rfc := r.Document
	if r.Message != `Created RFC 0002 from post-mortem "DNS outage"` || rfc.ID != "0002" || rfc.Title != "Alert on SERVFAIL" || rfc.Status != "draft" {
		t.Fatalf("action: %s %+v", r.Message, rfc)
	}
	if rfc.Attrs[attrSourcePostmortem] != pm.ID {
		t.Errorf("source_postmortem %q, want %q", rfc.Attrs[attrSourcePostmortem], pm.ID)
	}
	wantContains(t, "rfc", rfc.Content, "# RFC 0002: Alert on SERVFAIL\n", "| **Source Post-Mortem** | DNS outage |", "## Summary\n\nFrom post-mortem: DNS outage\n\nAction item: Alert on SERVFAIL\n")
	for k, want := range map[string]any{"rfc_title": "Alert on SERVFAIL", "rfc_number": 2, "rfc_file": "rfcs/0002-alert-on-servfail.draft.md", "source_postmortem": "DNS outage", "action_item": "Alert on SERVFAIL", "action_index": 2} {
		if r.Blue[k] != want {
			t.Errorf("%s = %v, want %v", k, r.Blue[k], want)
		}
	}

	// By text (a part of it), with a title of its own.
	r = run(t, f, f.svc.postmortemActionToRFC, ActionToRFCIn{PostmortemTitle: "DNS outage", Action: "SECOND resolver", RFCTitle: "DNS redundancy"})
	if r.Document.Title != "DNS redundancy" || r.Document.ID != "0003" || r.Blue["action_index"] != 1 {
		t.Errorf("by text: %+v %v", r.Document, r.Blue)
	}
	// A long item makes a title of its first 50 characters.
	r = run(t, f, f.svc.postmortemActionToRFC, ActionToRFCIn{PostmortemTitle: "DNS outage", Action: long})
	if want := strings.TrimSpace(long[:50]); r.Document.Title != want {
		t.Errorf("long title %q, want %q", r.Document.Title, want)
	}
	body := string(f.st.doc("postmortem", pm.ID).Body)
	wantContains(t, "post-mortem", body,
		"| Add a second resolver | ops | 2026-04-01 | Open | RFC 0003: DNS redundancy |\n",
		"| Alert on SERVFAIL | sre |  | Open | RFC 0002: Alert on SERVFAIL |\n",
		"| Open | RFC 0004: "+strings.TrimSpace(long[:50])+" |")
	if got := len(actionItems(strings.Split(body, "\n"))); got != 3 {
		t.Errorf("%d action items after linking, want 3", got)
	}

	// The RFC's title must be free; a refused action links nothing.
	wantErr(t, f, f.svc.postmortemActionToRFC, ActionToRFCIn{PostmortemTitle: "DNS outage", Action: "1", RFCTitle: "existing rfc"}, "create rfc: a document with that title already exists")
	if strings.Count(string(f.st.doc("postmortem", pm.ID).Body), "RFC 000") != 3 {
		t.Errorf("a refused action was recorded")
	}

	// A new post-mortem has Blue's placeholder item.
	fresh := run(t, f, f.svc.postmortemCreate, PostmortemCreateIn{Title: "Flood", Severity: "P4"}).Document
	r = run(t, f, f.svc.postmortemActionToRFC, ActionToRFCIn{PostmortemTitle: fresh.ID, Action: "1", RFCTitle: "Sandbags"})
	if r.Blue["action_item"] != "[Action 1]" {
		t.Errorf("placeholder item: %v", r.Blue)
	}
}

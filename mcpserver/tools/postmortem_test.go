package tools

import (
	"strings"
	"testing"
)

func TestPostmortemCreate(t *testing.T) {
	f := newFixture(t)
	for _, sev := range []string{"P9", "", "high"} {
		wantErr(t, f, f.svc.postmortemCreate, PostmortemCreateIn{Title: "Outage", Severity: sev}, "is not one of P1, P2, P3, P4")
	}
	r := run(t, f, f.svc.postmortemCreate, PostmortemCreateIn{Title: "DNS outage", Severity: " p1 ", Duration: "2h"})
	if r.Message != `Opened P1 post-mortem "DNS outage"` || r.Document.Attrs[attrSeverity] != "P1" || r.Document.Status != "open" {
		t.Errorf("create %s %+v", r.Message, r.Document)
	}
	wantContains(t, "content", r.Document.Content, "| **Severity** | P1 |", "| **Duration** | 2h |")
}

func TestPostmortemActionToRFC(t *testing.T) {
	f := newFixture(t)
	pm := run(t, f, f.svc.postmortemCreate, PostmortemCreateIn{Title: "DNS outage", Severity: "P2"}).Document
	f.newRFC(t, "Existing RFC")

	wantErr(t, f, f.svc.postmortemActionToRFC, ActionToRFCIn{PostmortemTitle: "DNS outage", Action: " "}, "action is required")
	wantErr(t, f, f.svc.postmortemActionToRFC, ActionToRFCIn{PostmortemTitle: "Flood", Action: "x"}, `postmortem_title: not found: no Post-mortem matches "Flood"`)

	r := run(t, f, f.svc.postmortemActionToRFC, ActionToRFCIn{PostmortemTitle: "dns-outage", Action: " Add a second resolver "})
	rfc := r.Document
	if r.Message != `Created RFC 0002 from post-mortem "DNS outage"` || rfc.ID != "0002" || rfc.Title != "Add a second resolver" || rfc.Status != "draft" {
		t.Fatalf("action: %s %+v", r.Message, rfc)
	}
	if rfc.Attrs[attrSourcePostmortem] != pm.ID {
		t.Errorf("source_postmortem %q, want %q", rfc.Attrs[attrSourcePostmortem], pm.ID)
	}
	wantContains(t, "rfc", rfc.Content, "# RFC 0002: Add a second resolver\n", "| **Source Post-Mortem** | DNS outage |", "## Summary\n\nAdd a second resolver\n")

	r = run(t, f, f.svc.postmortemActionToRFC, ActionToRFCIn{PostmortemTitle: "DNS outage", Action: "Alert on SERVFAIL", RFCTitle: "DNS alerting"})
	if r.Document.Title != "DNS alerting" || r.Document.ID != "0003" {
		t.Errorf("rfc_title: %+v", r.Document)
	}
	body := string(f.st.doc("postmortem", pm.ID).Body)
	wantContains(t, "post-mortem", body, "## Action Items\n\n- Add a second resolver → RFC 0002\n- Alert on SERVFAIL → RFC 0003\n")

	// The RFC's title must be free.
	wantErr(t, f, f.svc.postmortemActionToRFC, ActionToRFCIn{PostmortemTitle: "DNS outage", Action: "x", RFCTitle: "existing rfc"}, "create rfc: a document with that title already exists")
	if strings.Count(string(f.st.doc("postmortem", pm.ID).Body), "→ RFC") != 2 {
		t.Errorf("a refused action was recorded")
	}
}

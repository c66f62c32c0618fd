package tools

import "testing"

func TestAudits(t *testing.T) {
	f := newFixture(t)
	wantErr(t, f, f.svc.auditCreate, AuditCreateIn{Title: "Q1", AuditType: "vibes"}, `audit_type "vibes" is not one of: repository, security, rfc-verification, adr-adherence, custom`)
	r := run(t, f, f.svc.auditCreate, AuditCreateIn{Title: "Q1 review"})
	if r.Message != `Started custom audit "Q1 review"` || r.Document.Attrs[attrAuditType] != "custom" || r.Document.Status != "in-progress" {
		t.Errorf("create %s %+v", r.Message, r.Document)
	}
	get := f.svc.getKind("audit")
	if r := run(t, f, get, TitleIn{Title: "q1"}); r.Message != `Audit "Q1 review" (in-progress)` {
		t.Errorf("get %q", r.Message)
	}
	wantErr(t, f, get, TitleIn{Title: "Q2"}, `no Audit matches "Q2"; list them with blue_audit_list`)

	complete := f.svc.moveKind("audit", "complete")
	r = run(t, f, complete, TitleIn{Title: "Q1 review"})
	if r.Message != `Audit "Q1 review" is complete` || r.Document.Status != "complete" {
		t.Errorf("complete %s %+v", r.Message, r.Document)
	}
	wantErr(t, f, complete, TitleIn{Title: "Q1 review"}, "Audit is already complete")
	if d := f.st.doc("audit", r.Document.ID); d.Status != "complete" || d.Version != 2 {
		t.Errorf("stored %s v%d", d.Status, d.Version)
	}
}

package tools

import (
	"slices"
	"strings"
	"testing"
)

func TestADRCreate(t *testing.T) {
	f := newFixture(t)
	f.rfcAt(t, "Index cache", "accepted")
	wantErr(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Cache listings", RFC: "Index cache"}, "RFC 0001 is accepted: an ADR records an implemented RFC")
	wantErr(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Cache listings", RFC: "nope"}, `rfc: not found: no RFC matches "nope"`)
	if f.st.count("adr") != 0 {
		t.Fatalf("a refused ADR was stored")
	}
	run(t, f, f.svc.rfcUpdateStatus, RFCStatusIn{Title: "1", Status: "in-progress"})
	run(t, f, f.svc.rfcUpdateStatus, RFCStatusIn{Title: "1", Status: "implemented"})
	r := run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Cache listings", RFC: "Index cache", Decision: "Cache in memory."})
	if r.Message != "Recorded ADR 0001: Cache listings" || r.Document.Attrs[attrRFC] != "0001" {
		t.Errorf("adr %s %+v", r.Message, r.Document)
	}
	wantContains(t, "content", r.Document.Content, "| **RFC** | RFC 0001: Index cache |", "## Decision\n\nCache in memory.\n")
}

func TestADRGetCitations(t *testing.T) {
	f := newFixture(t)
	run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Cache listings", Decision: "Cache."})
	run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Use DynamoDB", Decision: "Per ADR 0001 we cache."})
	run(t, f, f.svc.decisionCreate, DecisionCreateIn{Title: "Cache TTL", Decision: "One minute, see adr:1."})
	run(t, f, f.svc.rfcCreate, RFCCreateIn{Title: "Eviction", Problem: "ADR-0001 said cache; now evict."})
	run(t, f, f.svc.rfcCreate, RFCCreateIn{Title: "Unrelated", Problem: "Mentions ADR 0002 only."})

	r := run(t, f, f.svc.adrGet, ADRGetIn{Number: 1})
	if r.Document.ID != "0001" || r.Document.Content == "" {
		t.Fatalf("adr %+v", r.Document)
	}
	if got, want := titles(r.Documents), []string{"Cache TTL", "Eviction", "Use DynamoDB"}; !slices.Equal(got, want) {
		t.Errorf("ADR 1 cited by %v, want %v", got, want)
	}
	if r.Message != "ADR 0001: Cache listings, cited by 3 documents" {
		t.Errorf("message %q", r.Message)
	}
	if r := run(t, f, f.svc.adrGet, ADRGetIn{Number: 2}); !slices.Equal(titles(r.Documents), []string{"Unrelated"}) {
		t.Errorf("ADR 2 cited by %v", titles(r.Documents))
	}
	wantErr(t, f, f.svc.adrGet, ADRGetIn{Number: 9}, `no ADR matches "0009"`)
	wantErr(t, f, f.svc.adrGet, ADRGetIn{Number: -1}, "number must be 0 or more")
	run(t, f, f.svc.delete, DeleteIn{DocType: "adr", Title: "2", Force: true}) // accepted: not a draft
	wantErr(t, f, f.svc.adrGet, ADRGetIn{Number: 2}, `no ADR matches "0002"`)
}

func TestADRRelevantAndAudit(t *testing.T) {
	f := newFixture(t)
	run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Cache listings", Context: "Listing is slow.", Decision: "Cache in memory."})
	run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Postgres for billing", Context: "Money needs transactions.", Decision: "Use Postgres."})
	run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Old idea", Decision: "Cache on disk."})
	run(t, f, f.svc.moveKind("adr", "superseded"), TitleIn{Title: "Old idea"})

	for _, tc := range []struct {
		context string
		want    []string // titles, best first
		wantErr string
	}{
		{context: "speed up the listing with a memory cache", want: []string{"Cache listings", "Old idea"}},
		{context: "billing transactions", want: []string{"Postgres for billing"}},
		{context: "kubernetes networking", want: []string{}},
		{context: "the and for", wantErr: "context has no words to match"},
		{context: "", wantErr: "context has no words to match"},
	} {
		r, err := f.svc.adrRelevant(f.ctx, f.st, ContextIn{Context: tc.context})
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: %+v, %v", tc.context, r, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range r.Documents {
			got = append(got, d.Title)
		}
		if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("%q: %v, want %v", tc.context, got, tc.want)
		}
	}

	r := run(t, f, f.svc.adrAudit, Common{})
	if r.Message != "2 accepted ADRs to check" || len(r.Documents) != 2 {
		t.Fatalf("audit %s %v", r.Message, titles(r.Documents))
	}
	for _, d := range r.Documents {
		if want := map[string]string{"0001": "Cache in memory.", "0002": "Use Postgres."}[d.ID]; d.Content != want {
			t.Errorf("ADR %s: decision %q, want %q", d.ID, d.Content, want)
		}
	}
	wantContains(t, "hint", r.Hint, "no checkout of your code")
}

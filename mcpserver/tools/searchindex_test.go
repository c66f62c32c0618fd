package tools

import (
	"fmt"
	"slices"
	"testing"
)

// The search index answers as reading every body would, reads only the
// bodies it lacks, and is kept in the client's store.
func TestSearchIndex(t *testing.T) {
	f := newFixture(t)
	for i := range 30 {
		f.newRFC(t, fmt.Sprintf("Design %02d", i))
	}
	run(t, f, f.svc.rfcCreate, RFCCreateIn{Title: "Index cache", Problem: "Listing is slow; cite ADR 0001."})
	run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Listing", Decision: "Query the index per kind."})
	queries := []SearchIn{{Query: "listing slow"}, {Query: "listing"}, {Query: "Listing is slow"}, {Query: "index"}, {Query: "adr:1"}, {Query: "design", Limit: 100}}
	titlesOf := func(in SearchIn) []string { return titles(run(t, f, f.svc.search, in).Documents) }

	// The first search builds the index: every body read once.
	first := map[int][]string{}
	f.st.resetCalls()
	for i, q := range queries {
		first[i] = titlesOf(q)
		f.svc.Wait()
		if i == 0 && f.st.callCount("Body") < 32 {
			t.Fatalf("the first search read %d bodies, want all 32 (no index yet)", f.st.callCount("Body"))
		}
	}
	if f.st.count(kindSearchIndex) == 0 {
		t.Fatal("no search index stored")
	}
	// With the index, a search reads no document body (only the index's,
	// and a body whose text alone can settle a phrase).
	f.st.resetCalls()
	if got := titlesOf(SearchIn{Query: "listing"}); !slices.Equal(got, first[1]) {
		t.Errorf("indexed search %v, want %v", got, first[1])
	}
	if n := f.st.callCount("Body"); n > 9 {
		t.Errorf("indexed search read %d bodies, want at most the 9 indexes", n)
	}
	// Same answers as reading every body, for every query.
	for i, q := range queries {
		if got := titlesOf(q); !slices.Equal(got, first[i]) {
			t.Errorf("%q: %v with the index, %v without", q.Query, got, first[i])
		}
	}
	// adr:1 finds the RFC that cites it; the phrase ranks its document first.
	if !slices.Equal(first[4], []string{"Index cache"}) || len(first[2]) == 0 || first[2][0] != "Index cache" {
		t.Errorf("adr:1 %v, phrase %v", first[4], first[2])
	}

	// A changed document is re-read and found by its new words.
	d := f.st.doc("rfc", "0003")
	run(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: d.ID}, Section: "Proposal", Text: "Use a bloom filter.", Version: d.Version})
	f.svc.Wait()
	f.st.resetCalls()
	if got := titlesOf(SearchIn{Query: "bloom"}); !slices.Equal(got, []string{"Design 02"}) {
		t.Errorf("after the write: %v", got)
	}
	if n := f.st.callCount("Body"); n > 10 {
		t.Errorf("repairing one entry read %d bodies", n)
	}
	f.svc.Wait()
	// A corrupt index costs speed, not answers.
	for _, id := range []string{"rfc"} {
		idx := f.st.doc(kindSearchIndex, id)
		idx.Body = []byte("not json")
		if err := f.st.Update(f.ctx, idx); err != nil {
			t.Fatal(err)
		}
	}
	if got := titlesOf(SearchIn{Query: "bloom"}); !slices.Equal(got, []string{"Design 02"}) {
		t.Errorf("with a corrupt index: %v", got)
	}
	f.svc.Wait()
}

func TestIndexRevisionsAreBounded(t *testing.T) {
	f := newFixture(t)
	f.newRFC(t, "One")
	for i := range indexRevisions + 5 {
		run(t, f, f.svc.search, SearchIn{Query: "one"})
		f.svc.Wait()
		d := f.st.doc("rfc", "0001")
		run(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: "0001"}, Section: "Goals", Text: fmt.Sprintf("- %d", i), Version: d.Version})
	}
	run(t, f, f.svc.search, SearchIn{Query: "one"})
	f.svc.Wait()
	if idx := f.st.doc(kindSearchIndex, "rfc"); idx == nil || idx.Version > indexRevisions {
		t.Fatalf("index %+v: want at most %d revisions", idx, indexRevisions)
	}
}

// Blue's ADR relevance reads the ADRs' facts from the index.
func TestADRRelevanceFromTheIndex(t *testing.T) {
	f := newFixture(t)
	for i := range 20 {
		run(t, f, f.svc.adrCreate, ADRCreateIn{Title: fmt.Sprintf("Decision %02d", i), Decision: "Keep it."})
	}
	a := run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Test everything", Decision: "Evidence over claims."})
	run(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: "adr", Title: "Test everything"}, Section: "Applies When", Text: "- writing a test", Version: a.Document.Version})
	in := ContextIn{Context: "test evidence"}
	want := run(t, f, f.svc.adrRelevant, in).Blue["relevant"]
	f.svc.Wait()
	f.st.resetCalls()
	got := run(t, f, f.svc.adrRelevant, in).Blue["relevant"]
	if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(got) == "[]" {
		t.Errorf("relevant %v from the index, %v from the bodies", got, want)
	}
	if n := f.st.callCount("Body"); n > 2 {
		t.Errorf("read %d bodies with the index (want only the ADR index's)", n)
	}
}

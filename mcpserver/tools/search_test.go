package tools

import (
	"slices"
	"testing"

	"github.com/superviber/blue-operator/mcpserver/store"
)

func TestSearch(t *testing.T) {
	f := newFixture(t)
	run(t, f, f.svc.rfcCreate, RFCCreateIn{Title: "Index cache", Problem: "Listing is slow."})
	run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Cache listings", Decision: "Cache in memory."})
	run(t, f, f.svc.decisionCreate, DecisionCreateIn{Title: "Use dynalite", Decision: "Per ADR 0001, tests use dynalite; the cache is not tested."})
	run(t, f, f.svc.spikeCreate, SpikeCreateIn{Title: "Rate limits", Question: "How many calls per second?"})
	run(t, f, f.svc.decisionCreate, DecisionCreateIn{Title: "Alpha report", Decision: "n/a"})
	run(t, f, f.svc.decisionCreate, DecisionCreateIn{Title: "Slow queries", Decision: "n/a"})
	run(t, f, f.svc.decisionCreate, DecisionCreateIn{Title: "Greek letters", Decision: "gamma, beta and alpha"})

	for _, tc := range []struct {
		name string
		in   SearchIn
		want []string // titles, best first
	}{
		{name: "title words weigh more", in: SearchIn{Query: "cache listing"}, want: []string{"Cache listings", "Index cache", "Use dynalite"}},
		{name: "body only", in: SearchIn{Query: "second"}, want: []string{"Rate limits"}},
		// 3 per title word: one in the title beats three in the body.
		{name: "a title word outweighs body words", in: SearchIn{Query: "alpha beta gamma"}, want: []string{"Alpha report", "Greek letters"}},
		// 5 for the whole query as a phrase.
		{name: "the phrase outweighs a title word", in: SearchIn{Query: "is slow"}, want: []string{"Index cache", "Slow queries"}},
		{name: "one kind", in: SearchIn{Query: "cache", DocType: "adr"}, want: []string{"Cache listings"}},
		{name: "limit", in: SearchIn{Query: "cache listing", Limit: 1}, want: []string{"Cache listings"}},
		{name: "nothing", in: SearchIn{Query: "kubernetes"}, want: []string{}},
		{name: "citations", in: SearchIn{Query: "ADR:1"}, want: []string{"Use dynalite"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, f, f.svc.search, tc.in)
			got := []string{}
			for _, d := range r.Documents {
				got = append(got, d.Title)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%+v: %v, want %v", tc.in, got, tc.want)
			}
		})
	}
	wantErr(t, f, f.svc.search, SearchIn{Query: "  "}, "query is required")
	wantErr(t, f, f.svc.search, SearchIn{Query: "x", DocType: "secret"}, `doc_type "secret" is not one of: rfc, spike, adr, decision, prd, postmortem, runbook, dialogue, audit`)
	wantErr(t, f, f.svc.search, SearchIn{Query: "adr:one"}, `adr:N needs a number, got "adr:one"`)
}

func TestKeywordsAndOverlap(t *testing.T) {
	if got := keywords("How do I restart the API, the API!? x1 go 3rd"); !slices.Equal(got, []string{"restart", "api", "3rd"}) {
		t.Errorf("keywords %q", got)
	}
	if n := overlap([]string{"restart", "api", "kafka"}, "Restart the API server"); n != 2 {
		t.Errorf("overlap %d", n)
	}
	for _, tc := range []struct {
		body string
		n    int
		want int
	}{
		{"see ADR 0003.", 3, 1},
		{"see adr-0003", 3, 1},
		{"adr:3", 3, 1},
		{"per ADR 3 we", 3, 1},
		{"see ADR 0004", 3, 0},
		{"nothing", 3, 0},
	} {
		// Documents are scored for citations from their search index entry.
		if got := entryOf(&store.Document{}, []byte(tc.body)).cites(tc.n); got != (tc.want == 1) {
			t.Errorf("%q cites ADR %d: %v, want %v", tc.body, tc.n, got, tc.want == 1)
		}
	}
}

package tools

import (
	"strings"
	"testing"
	"time"
)

func TestSpikeCreate(t *testing.T) {
	f := newFixture(t)
	wantErr(t, f, f.svc.spikeCreate, SpikeCreateIn{Title: "Cache?", Question: "  "}, "question is required: what should the spike find out?")
	wantErr(t, f, f.svc.spikeCreate, SpikeCreateIn{Question: "Why?"}, "title is required")
	r := run(t, f, f.svc.spikeCreate, SpikeCreateIn{Title: "Cache?", Question: "Why?"})
	if r.Message != `Started spike "Cache?"` || r.Document.Number != 0 {
		t.Errorf("create: %s %+v", r.Message, r.Document)
	}
	// Same minute, same slug: the ids would collide.
	wantErr(t, f, f.svc.spikeCreate, SpikeCreateIn{Title: "Cache!", Question: "Why?"}, "create spike: a document with that title already exists")
	f.clock.Advance(time.Minute)
	run(t, f, f.svc.spikeCreate, SpikeCreateIn{Title: "Cache!", Question: "Why?"})
}

func TestSpikeComplete(t *testing.T) {
	for _, tc := range []struct {
		name       string
		in         SpikeCompleteIn
		withRFC    bool   // an RFC names the spike as its source
		wantErr    string // the call fails with this
		wantStatus string // else the result's status
		wantSpike  string // and the spike's status after
		wantBody   []string
	}{
		{name: "unknown outcome", in: SpikeCompleteIn{Outcome: "maybe"}, wantErr: `outcome "maybe" is not one of: no-action, decision-made, recommends-implementation, resolved`},
		{name: "resolved needs a fix", in: SpikeCompleteIn{Outcome: "resolved", FixSummary: " "}, wantErr: "fix_summary is required when the outcome is resolved"},
		{name: "no such spike", in: SpikeCompleteIn{Title: "Other", Outcome: "no-action"}, wantErr: `no Spike matches "Other"`},
		{name: "no action", in: SpikeCompleteIn{Outcome: "no-action", Summary: "Fast enough."}, wantStatus: "success", wantSpike: "complete",
			wantBody: []string{"| **Status** | Complete |", "| **Outcome** | no-action |", "## Findings\n\nFast enough.\n"}},
		{name: "decision made", in: SpikeCompleteIn{Outcome: "decision-made"}, wantStatus: "success", wantSpike: "complete"},
		{name: "resolved", in: SpikeCompleteIn{Outcome: "resolved", FixSummary: "Added an index."}, wantStatus: "success", wantSpike: "resolved",
			wantBody: []string{"| **Status** | Resolved |", "## Outcome\n\nFix: Added an index.\n"}},
		{name: "recommends implementation without an RFC", in: SpikeCompleteIn{Outcome: "recommends-implementation"}, wantStatus: "rfc_required", wantSpike: "in-progress"},
		// As Blue: the spike stays open until its RFC is implemented.
		{name: "recommends implementation with an RFC", in: SpikeCompleteIn{Outcome: "recommends-implementation"}, withRFC: true, wantStatus: "rfc_required", wantSpike: "in-progress"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			id := run(t, f, f.svc.spikeCreate, SpikeCreateIn{Title: "Cache the index?", Question: "Is DynamoDB fast enough?"}).Document.ID
			if tc.withRFC {
				run(t, f, f.svc.rfcCreate, RFCCreateIn{Title: "Index cache", SourceSpike: "Cache the index?"})
			}
			// An RFC that names another spike does not count.
			run(t, f, f.svc.rfcCreate, RFCCreateIn{Title: "Unrelated"})
			in := tc.in
			if in.Title == "" {
				in.Title = "cache the index?"
			}
			before := f.st.doc("spike", id)
			r, err := f.svc.spikeComplete(f.ctx, f.st, in)
			after := f.st.doc("spike", id)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %+v, %v; want %q", r, err, tc.wantErr)
				}
				if after.Version != before.Version {
					t.Errorf("a refused complete changed the spike")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, r, tc.wantStatus)
			if after.Status != tc.wantSpike {
				t.Errorf("spike is %s, want %s", after.Status, tc.wantSpike)
			}
			wantContains(t, "body", string(after.Body), tc.wantBody...)
			switch tc.wantStatus {
			case "rfc_required":
				if tc.withRFC {
					wantContains(t, "message", r.Message, "RFC 0001 names it as its source, and the spike closes when that RFC is implemented")
				} else if r.SuggestedTool != "blue_rfc_create" || r.SuggestedArgs["source_spike"] != "Cache the index?" {
					t.Errorf("suggested %s %v", r.SuggestedTool, r.SuggestedArgs)
				}
				if after.Version != before.Version {
					t.Errorf("rfc_required changed the spike")
				}
			case "success":
				if after.Attrs[attrOutcome] != tc.in.Outcome || r.Document.Status != tc.wantSpike {
					t.Errorf("outcome %q, answered %s", after.Attrs[attrOutcome], r.Document.Status)
				}
				// A closed spike stays closed.
				err := runErr(t, f, f.svc.spikeComplete, SpikeCompleteIn{Title: id, Outcome: "no-action"})
				if err != "Spike is already complete" && err != "Spike is resolved, which is final: it cannot become complete" {
					t.Errorf("completing again: %q", err)
				}
			}
		})
	}
}

package tools

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

func TestListPagesAndFilters(t *testing.T) {
	f := newFixture(t)
	for i := range 5 {
		f.newRFC(t, fmt.Sprintf("RFC number %d", i+1))
	}
	run(t, f, f.svc.rfcUpdateStatus, RFCStatusIn{Title: "2", Status: "accepted"})
	run(t, f, f.svc.rfcUpdateStatus, RFCStatusIn{Title: "4", Status: "accepted"})
	list := f.svc.list("rfc")

	var got []string
	token := ""
	for page := 0; ; page++ {
		r := run(t, f, list, ListIn{Limit: 2, PageToken: token})
		if len(r.Documents) > 2 || page > 3 {
			t.Fatalf("page %d: %v", page, ids(r.Documents))
		}
		got = append(got, ids(r.Documents)...)
		if (r.NextPageToken != "") != (r.Hint != "") {
			t.Errorf("page %d: next %q but hint %q", page, r.NextPageToken, r.Hint)
		}
		if token = r.NextPageToken; token == "" {
			break
		}
	}
	if !slices.Equal(got, []string{"0001", "0002", "0003", "0004", "0005"}) {
		t.Errorf("pages: %v", got)
	}
	if r := run(t, f, list, ListIn{Status: "accepted"}); !slices.Equal(ids(r.Documents), []string{"0002", "0004"}) {
		t.Errorf("accepted: %v", ids(r.Documents))
	}
	if r := run(t, f, list, ListIn{Status: "implemented"}); r.Documents == nil || len(r.Documents) != 0 || r.Message != "0 RFC documents" {
		t.Errorf("implemented: %+v", r) // an empty list is [], not null
	}
	first := run(t, f, list, ListIn{Limit: 1, Status: "accepted"})

	for _, tc := range []struct {
		in   ListIn
		want string
	}{
		{ListIn{Status: "done"}, `status "done" is not an RFC status; use one of: draft, accepted, in-progress, implemented, superseded`},
		{ListIn{Limit: 101}, "limit must be between 1 and 100, got 101"},
		{ListIn{Limit: -1}, "limit must be between 1 and 100, got -1"},
		{ListIn{PageToken: "forged"}, "list rfc: invalid argument: malformed page token"},
		{ListIn{PageToken: first.NextPageToken}, "page token belongs to another listing"}, // issued for status=accepted
	} {
		wantErr(t, f, list, tc.in, tc.want)
	}
	// A token from one kind's listing is refused by another's.
	wantErr(t, f, f.svc.list("prd"), ListIn{PageToken: run(t, f, list, ListIn{Limit: 1}).NextPageToken}, "page token belongs to another listing")
}

func TestStatusAndNext(t *testing.T) {
	f := newFixture(t)
	r := run(t, f, f.svc.next, Common{})
	if steps := r.Data["next"].([]string); len(steps) != 1 || !strings.HasPrefix(steps[0], "Nothing in flight") {
		t.Errorf("empty next: %v", steps)
	}

	run(t, f, f.svc.spikeCreate, SpikeCreateIn{Title: "Old question", Question: "?"})
	f.rfcAt(t, "Long running", "accepted", "in-progress")
	f.clock.Advance(15 * 24 * time.Hour) // both untouched for two weeks
	f.rfcAt(t, "Fresh work", "accepted", "in-progress")
	f.rfcAt(t, "Ready to go", "accepted")
	f.newRFC(t, "Draft one")
	f.newRFC(t, "Draft two")
	run(t, f, f.svc.auditCreate, AuditCreateIn{Title: "Security pass"})
	run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Accepted, but an ADR"}) // not work that is ready

	r = run(t, f, f.svc.status, Common{})
	if r.Message != "2 active, 1 ready, 2 stalled" {
		t.Errorf("status %q", r.Message)
	}
	counts := r.Data["counts"].(map[string]map[string]int)
	if c := counts["rfc"]; c["draft"] != 2 || c["in-progress"] != 2 || c["accepted"] != 1 || counts["spike"]["in-progress"] != 1 || counts["audit"]["in-progress"] != 1 || counts["adr"]["accepted"] != 1 {
		t.Errorf("counts %v", counts)
	}
	for key, want := range map[string][]string{
		"active":  {"Fresh work", "Security pass"},
		"ready":   {"Ready to go"},
		"stalled": {"Long running", "Old question"},
	} {
		if got := titles(r.Data[key].([]DocView)); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", key, got, want)
		}
	}

	steps := run(t, f, f.svc.next, Common{}).Data["next"].([]string)
	want := []string{
		`rfc "Long running" has not moved for two weeks`,
		`spike "Old question" has not moved for two weeks`,
		`RFC 0002 "Fresh work" is in progress: tick plan tasks, then blue_rfc_complete`,
		`audit "Security pass" is in progress: complete it when done`,
		`RFC 0003 "Ready to go" is accepted: start it with blue_rfc_update_status in-progress`,
		"2 draft RFCs wait for review",
	}
	if len(steps) != len(want) {
		t.Fatalf("next: %q", steps)
	}
	for _, w := range want {
		if !slices.ContainsFunc(steps, func(s string) bool { return strings.HasPrefix(s, w) }) {
			t.Errorf("next %q lacks %q", steps, w)
		}
	}
}

func TestDeleteRestorePurge(t *testing.T) {
	t.Run("soft delete and restore", func(t *testing.T) {
		f := newFixture(t)
		id := f.newRFC(t, "Index cache")
		f.newRFC(t, "Other")
		r := run(t, f, f.svc.delete, DeleteIn{DocType: "rfc", Title: "index cache"})
		if r.Message != `Deleted RFC "Index cache"; blue_restore brings it back within 7 days` {
			t.Errorf("delete %q", r.Message)
		}
		if d := f.st.doc("rfc", id); d == nil || d.DeletedAt == nil || len(d.Body) == 0 {
			t.Fatalf("stored %+v: want soft-deleted with its body", d)
		}
		if l := run(t, f, f.svc.list("rfc"), ListIn{}); !slices.Equal(ids(l.Documents), []string{"0002"}) {
			t.Errorf("list after delete: %v", ids(l.Documents))
		}
		del := run(t, f, f.svc.deletedList, DeletedListIn{})
		if len(del.Documents) != 1 || del.Documents[0].ID != id || del.Documents[0].DeletedAt != "2026-03-02T10:00:00Z" || del.Message != "1 deleted documents" {
			t.Errorf("deleted list %+v", del)
		}
		if d := run(t, f, f.svc.deletedList, DeletedListIn{DocType: "spike"}); len(d.Documents) != 0 {
			t.Errorf("deleted spikes: %v", ids(d.Documents))
		}
		wantErr(t, f, f.svc.delete, DeleteIn{DocType: "rfc", Title: "Index cache"}, "no RFC matches")
		wantErr(t, f, f.svc.restore, DocRefIn{DocType: "rfc", Title: "Other"}, `no RFC matches "Other"`) // not deleted

		f.clock.Advance(6 * 24 * time.Hour)
		r = run(t, f, f.svc.restore, DocRefIn{DocType: "rfc", Title: "1"})
		if r.Message != `Restored RFC "Index cache"` {
			t.Errorf("restore %q", r.Message)
		}
		if g := run(t, f, f.svc.rfcGet, TitleIn{Title: "Index cache"}); g.Document.DeletedAt != "" || g.Document.Version != 3 {
			t.Errorf("after restore %+v", g.Document)
		}
		if d := run(t, f, f.svc.deletedList, DeletedListIn{}); len(d.Documents) != 0 {
			t.Errorf("still deleted: %v", ids(d.Documents))
		}
	})
	t.Run("restore window", func(t *testing.T) {
		f := newFixture(t)
		f.newRFC(t, "Index cache")
		run(t, f, f.svc.delete, DeleteIn{DocType: "rfc", Title: "Index cache"})
		f.clock.Advance(7*24*time.Hour + time.Minute)
		wantErr(t, f, f.svc.restore, DocRefIn{DocType: "rfc", Title: "Index cache"}, `RFC "Index cache" was deleted on 2026-03-02, more than 7 days ago: it can no longer be restored`)
	})
	t.Run("restore when the title is taken", func(t *testing.T) {
		f := newFixture(t)
		f.newRFC(t, "Index cache")
		run(t, f, f.svc.delete, DeleteIn{DocType: "rfc", Title: "Index cache"})
		f.newRFC(t, "INDEX CACHE")
		wantErr(t, f, f.svc.restore, DocRefIn{DocType: "rfc", Title: "0001"}, "restore rfc: a document with that title already exists")
	})
	// As Blue's blue_delete: ADR dependents block whatever force says; a
	// document of any kind that is not a draft needs force.
	t.Run("blockers", func(t *testing.T) {
		f := newFixture(t)
		f.rfcAt(t, "Accepted one", "accepted")
		impl := f.rfcAt(t, "Shipped", "accepted", "in-progress", "implemented")
		run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Record it", RFC: impl})
		run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Free standing"})
		run(t, f, f.svc.spikeCreate, SpikeCreateIn{Title: "Done spike", Question: "?"})
		run(t, f, f.svc.spikeComplete, SpikeCompleteIn{Title: "Done spike", Outcome: "no-action"})
		run(t, f, f.svc.spikeCreate, SpikeCreateIn{Title: "Open spike", Question: "?"})
		run(t, f, f.svc.decisionCreate, DecisionCreateIn{Title: "A decision", Decision: "d"})
		run(t, f, f.svc.postmortemCreate, PostmortemCreateIn{Title: "An outage", Severity: "P3"})
		run(t, f, f.svc.runbookCreate, RunbookCreateIn{Title: "A runbook"})
		run(t, f, f.svc.prdCreate, PRDCreateIn{Title: "A draft PRD"})
		for _, tc := range []struct {
			in         DeleteIn
			wantStatus string
			want       string
		}{
			{DeleteIn{DocType: "rfc", Title: "Accepted one"}, "requires_force", `Will not soft-delete (restorable for 7 days) RFC "Accepted one": it is accepted, not draft`},
			{DeleteIn{DocType: "spike", Title: "Done spike"}, "requires_force", "it is complete, not draft"},
			{DeleteIn{DocType: "spike", Title: "Open spike"}, "requires_force", "it is in-progress, not draft"},
			{DeleteIn{DocType: "adr", Title: "Free standing"}, "requires_force", "it is accepted, not draft"},
			{DeleteIn{DocType: "decision", Title: "A decision"}, "requires_force", "it is recorded, not draft"},
			{DeleteIn{DocType: "postmortem", Title: "An outage"}, "requires_force", "it is open, not draft"},
			{DeleteIn{DocType: "runbook", Title: "A runbook"}, "requires_force", "it is active, not draft"},
			// ADR dependents: force does not help.
			{DeleteIn{DocType: "rfc", Title: "Shipped", Permanent: true}, "blocked", "it has ADR dependents (ADR 0001 Record it)"},
			{DeleteIn{DocType: "rfc", Title: "Shipped", Force: true}, "blocked", "it has ADR dependents (ADR 0001 Record it)"},
			// Blue's own query blocks the ADR that records an RFC.
			{DeleteIn{DocType: "adr", Title: "Record it", Force: true}, "blocked", "it has ADR dependents (RFC 0002 Shipped)"},
		} {
			r := run(t, f, f.svc.delete, tc.in)
			wantStatus(t, r, tc.wantStatus)
			wantContains(t, "message", r.Message, tc.want)
			if tc.wantStatus == "requires_force" {
				wantContains(t, "hint", r.Hint, "force=true")
				if r.Blue["current_status"] == nil {
					t.Errorf("%+v: no current_status", tc.in)
				}
			} else if len(r.Blue["adr_dependents"].([]string)) != 1 {
				t.Errorf("%+v: adr_dependents %v", tc.in, r.Blue["adr_dependents"])
			}
		}
		if f.st.doc("rfc", impl).DeletedAt != nil || f.st.doc("adr", "0001").DeletedAt != nil {
			t.Errorf("a blocked delete deleted")
		}
		// A dry run reports what would block or need force, and changes nothing.
		dry := run(t, f, f.svc.delete, DeleteIn{DocType: "rfc", Title: "Shipped", DryRun: true})
		wantStatus(t, dry, "success")
		if dry.Blue["can_proceed"] != false || len(dry.Blue["blockers"].([]string)) != 1 || len(dry.Blue["warnings"].([]string)) != 1 || dry.Document.Type != "rfc" {
			t.Errorf("dry run: %+v", dry.Blue)
		}
		dry = run(t, f, f.svc.delete, DeleteIn{DocType: "spike", Title: "Done spike", DryRun: true})
		if dry.Blue["can_proceed"] != true || !strings.Contains(dry.Message, "with force=true") {
			t.Errorf("dry run of a spike: %s %+v", dry.Message, dry.Blue)
		}
		// A draft needs no force; force overrides the status.
		wantStatus(t, run(t, f, f.svc.delete, DeleteIn{DocType: "prd", Title: "A draft PRD"}), "success")
		for _, in := range []DeleteIn{{DocType: "rfc", Title: "Accepted one"}, {DocType: "spike", Title: "Open spike"}, {DocType: "decision", Title: "A decision"}, {DocType: "adr", Title: "Free standing"}} {
			in.Force = true
			wantStatus(t, run(t, f, f.svc.delete, in), "success")
		}
		if f.st.doc("rfc", "0001").DeletedAt == nil {
			t.Errorf("forced delete did not delete")
		}
	})
	t.Run("dry run and permanent", func(t *testing.T) {
		f := newFixture(t)
		id := f.newRFC(t, "Index cache")
		r := run(t, f, f.svc.delete, DeleteIn{DocType: "rfc", Title: "Index cache", DryRun: true, Permanent: true})
		if r.Message != `Would delete permanently RFC "Index cache"` || r.Document == nil || f.st.doc("rfc", id).Version != 1 {
			t.Errorf("dry run: %+v", r)
		}
		r = run(t, f, f.svc.delete, DeleteIn{DocType: "rfc", Title: "Index cache", Permanent: true})
		if r.Message != `Deleted RFC "Index cache" permanently` || f.st.doc("rfc", id) != nil {
			t.Errorf("permanent: %q, stored %+v", r.Message, f.st.doc("rfc", id))
		}
		wantErr(t, f, f.svc.restore, DocRefIn{DocType: "rfc", Title: "Index cache"}, "no RFC matches")
	})
	t.Run("bad doc_type", func(t *testing.T) {
		f := newFixture(t)
		for _, dt := range []string{"secrets", "audit", "dialogue", ""} {
			wantErr(t, f, f.svc.delete, DeleteIn{DocType: dt, Title: "x"}, fmt.Sprintf("doc_type %q is not one of: rfc, spike, adr, decision, prd, postmortem, runbook", dt))
			wantErr(t, f, f.svc.restore, DocRefIn{DocType: dt, Title: "x"}, "is not one of")
		}
		wantErr(t, f, f.svc.deletedList, DeletedListIn{DocType: "audit"}, `doc_type "audit" is not one of`)
	})
	t.Run("purge", func(t *testing.T) {
		f := newFixture(t)
		f.newRFC(t, "Old")
		run(t, f, f.svc.decisionCreate, DecisionCreateIn{Title: "Old decision", Decision: "x"})
		f.newRFC(t, "Recent")
		f.newRFC(t, "Live")
		run(t, f, f.svc.delete, DeleteIn{DocType: "rfc", Title: "Old"})
		run(t, f, f.svc.delete, DeleteIn{DocType: "decision", Title: "Old decision", Force: true}) // recorded: not a draft
		f.clock.Advance(5 * 24 * time.Hour)
		run(t, f, f.svc.delete, DeleteIn{DocType: "rfc", Title: "Recent"})
		f.clock.Advance(2 * 24 * time.Hour) // Old: 7 days ago; Recent: 2

		wantErr(t, f, f.svc.purgeDeleted, PurgeIn{Days: -1}, `argument "days" must be between 0 and 3650`)
		r := run(t, f, f.svc.purgeDeleted, PurgeIn{})
		if got := r.Data["purged"].([]string); !slices.Equal(got, []string{"rfc Old", "decision Old decision"}) || r.Message != "Purged 2 documents deleted 7 or more days ago" {
			t.Errorf("purge: %s %v", r.Message, got)
		}
		if f.st.doc("rfc", "0001") != nil || f.st.doc("rfc", "0002") == nil || f.st.doc("rfc", "0003").DeletedAt != nil {
			t.Errorf("purged the wrong documents")
		}
		r = run(t, f, f.svc.purgeDeleted, PurgeIn{Days: 2})
		if got := r.Data["purged"].([]string); !slices.Equal(got, []string{"rfc Recent"}) {
			t.Errorf("purge days=2: %v", got)
		}
		if f.st.count("rfc") != 1 {
			t.Errorf("%d RFCs left, want the live one", f.st.count("rfc"))
		}
	})
	t.Run("delete races a change", func(t *testing.T) {
		f := newFixture(t)
		id := f.newRFC(t, "Index cache")
		f.st.onNext("Delete", func() {
			d, _ := f.st.Get(f.ctx, "rfc", id)
			d.Attrs = map[string]string{"touched": "yes"}
			if err := f.st.Update(f.ctx, d); err != nil {
				t.Errorf("concurrent update: %v", err)
			}
		})
		wantErr(t, f, f.svc.delete, DeleteIn{DocType: "rfc", Title: id}, "delete rfc: the document changed while this call ran")
		if f.st.doc("rfc", id).DeletedAt != nil {
			t.Errorf("deleted a version it did not see")
		}
	})
}

// TestNumberedLookupOfDeleted: restore finds a deleted document by number
// through the listing of deleted ones.
func TestNumberedLookupOfDeleted(t *testing.T) {
	f := newFixture(t)
	f.newRFC(t, "A")
	f.newRFC(t, "B")
	run(t, f, f.svc.delete, DeleteIn{DocType: "rfc", Title: "2"})
	d, err := f.svc.find(f.ctx, f.st, kind("rfc"), "2", store.ListOptions{OnlyDeleted: true})
	if err != nil || d.ID != "0002" || d.DeletedAt == nil {
		t.Fatalf("find deleted 2: %+v, %v", d, err)
	}
	if _, err := f.svc.find(f.ctx, f.st, kind("rfc"), "1", store.ListOptions{OnlyDeleted: true}); err == nil {
		t.Errorf("found live RFC 1 among the deleted")
	}
	d, err = f.svc.find(f.ctx, f.st, kind("rfc"), blue.FormatNumber(2), store.ListOptions{IncludeDeleted: true})
	if err != nil || d.ID != "0002" {
		t.Errorf("find 0002 including deleted: %+v, %v", d, err)
	}
}

// Absurd days are refused: 10^12 days would overflow the cutoff into the
// future and purge what was deleted a minute ago.
func TestPurgeDeletedRefusesAbsurdDays(t *testing.T) {
	f := newFixture(t)
	id := f.newRFC(t, "Keep me restorable")
	run(t, f, f.svc.delete, DeleteIn{DocType: "rfc", Title: id})
	for _, days := range []int{-1, maxPurgeDays + 1, 1 << 40} {
		wantErr(t, f, f.svc.purgeDeleted, PurgeIn{Days: days}, `argument "days" must be between 0 and 3650`)
	}
	if d := f.st.doc("rfc", id); d == nil {
		t.Fatal("a refused purge removed the document")
	}
	run(t, f, f.svc.purgeDeleted, PurgeIn{Days: maxPurgeDays})
	if d := f.st.doc("rfc", id); d == nil {
		t.Fatal("purged a document deleted just now")
	}
}

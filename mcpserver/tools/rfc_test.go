package tools

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/superviber/blue-operator/mcpserver/blue"
)

func TestRFCStatusTransitions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		path    []string // statuses it reaches first
		to      string
		wantErr string // "" means allowed
	}{
		{name: "draft to accepted", to: "accepted"},
		{name: "draft to superseded", to: "superseded"},
		{name: "draft to implemented", to: "implemented", wantErr: "RFC cannot go from draft to implemented; from draft it may go to: accepted, superseded"},
		{name: "draft to in-progress", to: "in-progress", wantErr: "cannot go from draft to in-progress"},
		{name: "draft to draft", to: "draft", wantErr: "RFC is already draft"},
		{name: "unknown status", to: "done", wantErr: `"done" is not an RFC status; use one of: draft, accepted, in-progress, implemented, superseded`},
		{name: "status is case-sensitive", to: "Accepted", wantErr: "is not an RFC status"},
		{name: "accepted back to draft", path: []string{"accepted"}, to: "draft"},
		{name: "accepted to in-progress", path: []string{"accepted"}, to: "in-progress"},
		{name: "accepted to implemented", path: []string{"accepted"}, to: "implemented", wantErr: "cannot go from accepted to implemented"},
		{name: "in-progress to implemented", path: []string{"accepted", "in-progress"}, to: "implemented"},
		{name: "in-progress to superseded", path: []string{"accepted", "in-progress"}, to: "superseded"},
		{name: "in-progress to accepted", path: []string{"accepted", "in-progress"}, to: "accepted", wantErr: "from in-progress it may go to: implemented, superseded"},
		{name: "implemented is final", path: []string{"accepted", "in-progress", "implemented"}, to: "superseded", wantErr: "RFC is implemented, which is final: it cannot become superseded"},
		{name: "superseded is final", path: []string{"superseded"}, to: "draft", wantErr: "which is final"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			id := f.rfcAt(t, "Index cache", tc.path...)
			before := f.st.doc("rfc", id)
			from := before.Status
			r, err := f.svc.rfcUpdateStatus(f.ctx, f.st, RFCStatusIn{Title: "Index cache", Status: "  " + tc.to + " "})
			after := f.st.doc("rfc", id)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %+v, %v; want an error containing %q", r, err, tc.wantErr)
				}
				if after.Version != before.Version || after.Status != from || string(after.Body) != string(before.Body) {
					t.Errorf("a refused move changed the RFC: v%d %s → v%d %s", before.Version, from, after.Version, after.Status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, r, "success")
			if want := fmt.Sprintf("RFC %s: %s → %s", id, from, tc.to); r.Message != want {
				t.Errorf("message %q, want %q", r.Message, want)
			}
			if r.Document.Status != tc.to || after.Status != tc.to || after.Version != before.Version+1 {
				t.Errorf("answered %s, stored %s v%d; want %s v%d", r.Document.Status, after.Status, after.Version, tc.to, before.Version+1)
			}
			if row := "| **Status** | " + blue.TitleCase(tc.to) + " |"; !strings.Contains(string(after.Body), row) {
				t.Errorf("body lacks %q:\n%s", row, after.Body)
			}
			if tc.to == "in-progress" && !strings.Contains(r.Hint, "no worktrees") {
				t.Errorf("hint %q", r.Hint)
			}
		})
	}
}

func TestRFCPlanAndTasks(t *testing.T) {
	f := newFixture(t)
	id := f.rfcAt(t, "Index cache", "accepted")

	wantErr(t, f, f.svc.rfcTaskComplete, RFCTaskIn{Title: id, Task: "1"}, "RFC 0001 has no plan; write one with blue_rfc_plan")
	wantErr(t, f, f.svc.rfcPlan, RFCPlanIn{Title: id}, "tasks is empty: give at least one task")
	wantErr(t, f, f.svc.rfcPlan, RFCPlanIn{Title: id, Tasks: []string{" ", "\n"}}, "tasks has only empty entries")
	wantErr(t, f, f.svc.rfcPlan, RFCPlanIn{Title: "no such", Tasks: []string{"x"}}, "no RFC matches")

	r := run(t, f, f.svc.rfcPlan, RFCPlanIn{Title: "index-cache", Tasks: []string{"design", " build\nit ", "", "test", "ship"}})
	if r.Message != "Planned 4 tasks for RFC 0001" || r.Progress.Total != 4 || r.Progress.Tasks[1].Text != "build it" {
		t.Fatalf("plan: %s %+v", r.Message, r.Progress)
	}
	// The plan is kept in the index; listings do not show it.
	if d := f.st.doc("rfc", id); d.Attrs[attrPlan] != "- [ ] design\n- [ ] build it\n- [ ] test\n- [ ] ship\n" {
		t.Errorf("stored plan %q", d.Attrs[attrPlan])
	}
	if l := run(t, f, f.svc.list("rfc"), ListIn{}); l.Documents[0].Attrs[attrPlan] != "" {
		t.Errorf("list shows the plan")
	}

	for _, tc := range []struct {
		task    string
		wantIdx int    // 1-based; 0 means an error
		wantErr string // for wantIdx 0
	}{
		{task: "1", wantIdx: 1},
		{task: " 3 ", wantIdx: 3},
		{task: "BUILD IT", wantIdx: 2}, // text, case-insensitively
		{task: "hip", wantIdx: 4},      // part of the text
		{task: "0", wantErr: "task 0 does not exist: the plan has tasks 1 to 4"},
		{task: "5", wantErr: "task 5 does not exist"},
		{task: "-1", wantErr: "task -1 does not exist"},
		{task: "deploy", wantErr: `no task of RFC 0001 matches "deploy"`},
		{task: "", wantErr: `no task of RFC 0001 matches ""`},
	} {
		r, err := f.svc.rfcTaskComplete(f.ctx, f.st, RFCTaskIn{Title: id, Task: tc.task})
		if tc.wantIdx == 0 {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("task %q: %+v, %v; want %q", tc.task, r, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("task %q: %v", tc.task, err)
		}
		if !r.Progress.Tasks[tc.wantIdx-1].Done || !strings.HasPrefix(r.Message, fmt.Sprintf("Ticked task %d of RFC 0001", tc.wantIdx)) {
			t.Errorf("task %q: %s %+v", tc.task, r.Message, r.Progress.Tasks)
		}
	}
	if p := run(t, f, f.svc.rfcGet, TitleIn{Title: id}).Progress; p.Done != 4 || p.Percent != 100 {
		t.Errorf("progress %+v", p)
	}

	// Planning again keeps the ticks of tasks planned again.
	r = run(t, f, f.svc.rfcPlan, RFCPlanIn{Title: id, Tasks: []string{"design", "document"}})
	if got := r.Progress.Tasks; len(got) != 2 || !got[0].Done || got[1].Done {
		t.Errorf("replanned: %+v", got)
	}

	// An implemented RFC's plan is closed.
	f.rfcAt(t, "Done already", "accepted", "in-progress", "implemented")
	wantErr(t, f, f.svc.rfcPlan, RFCPlanIn{Title: "Done already", Tasks: []string{"more"}}, "RFC 0002 is implemented: its plan is closed")
}

func TestRFCCompleteGate(t *testing.T) {
	for _, tc := range []struct {
		name        string
		tasks, done int
		path        []string // the RFC's statuses before completing
		wantStatus  string   // "" means an error
		wantMsg     string   // in the message, or the error
		wantPercent int
	}{
		// As Blue: no plan counts as done.
		{name: "no plan", tasks: 0, path: []string{"accepted"}, wantStatus: "success", wantMsg: "RFC 0001 implemented (accepted → in-progress, → implemented)", wantPercent: 100},
		{name: "none done", tasks: 4, done: 0, path: []string{"accepted"}, wantStatus: "blocked", wantMsg: "0 of 4 plan tasks done (0%)"},
		{name: "a quarter", tasks: 4, done: 1, path: []string{"accepted"}, wantStatus: "blocked", wantMsg: "1 of 4 plan tasks done (25%)", wantPercent: 25},
		{name: "two thirds", tasks: 3, done: 2, path: []string{"accepted"}, wantStatus: "blocked", wantMsg: "2 of 3 plan tasks done (66%)", wantPercent: 66},
		{name: "exactly 70", tasks: 10, done: 7, path: []string{"accepted"}, wantStatus: "success", wantMsg: "RFC 0001 implemented (accepted → in-progress, → implemented)", wantPercent: 70},
		{name: "from in-progress", tasks: 4, done: 3, path: []string{"accepted", "in-progress"}, wantStatus: "success", wantMsg: "RFC 0001 implemented (→ implemented)", wantPercent: 75},
		{name: "all done", tasks: 2, done: 2, path: []string{"accepted"}, wantStatus: "success", wantPercent: 100},
		{name: "a draft cannot complete", tasks: 1, done: 1, wantMsg: "RFC 0001 is draft: can't complete a draft RFC"},
		{name: "a draft without a plan cannot complete", wantMsg: "can't complete a draft RFC"},
		{name: "a superseded one cannot complete", path: []string{"superseded"}, wantMsg: "can't complete a superseded RFC"},
		{name: "already implemented", tasks: 1, done: 1, path: []string{"accepted", "in-progress", "implemented"}, wantStatus: "already", wantMsg: "RFC 0001 is already implemented"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			id := f.newRFC(t, "Index cache")
			if tc.tasks > 0 {
				var tasks []string
				for i := range tc.tasks {
					tasks = append(tasks, fmt.Sprintf("step %d", i+1))
				}
				run(t, f, f.svc.rfcPlan, RFCPlanIn{Title: id, Tasks: tasks})
				for i := range tc.done {
					run(t, f, f.svc.rfcTaskComplete, RFCTaskIn{Title: id, Task: fmt.Sprint(i + 1)})
				}
			}
			for _, to := range tc.path {
				run(t, f, f.svc.rfcUpdateStatus, RFCStatusIn{Title: id, Status: to})
			}
			before := f.st.doc("rfc", id)
			r, err := f.svc.rfcComplete(f.ctx, f.st, TitleIn{Title: "Index cache"})
			after := f.st.doc("rfc", id)
			if tc.wantStatus == "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Fatalf("got %+v, %v; want an error containing %q", r, err, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantStatus == "already" {
				// As Blue: a success that says so, and changes nothing.
				wantStatus(t, r, "success")
				wantContains(t, "message", r.Message, tc.wantMsg)
				if r.Blue["already_implemented"] != true || after.Version != before.Version {
					t.Errorf("already implemented: %+v, version %d → %d", r.Blue, before.Version, after.Version)
				}
				return
			}
			wantStatus(t, r, tc.wantStatus)
			wantContains(t, "message", r.Message, tc.wantMsg)
			if r.Progress == nil || r.Progress.Percent != tc.wantPercent || r.Progress.Total != tc.tasks {
				t.Errorf("progress %+v, want %d%% of %d", r.Progress, tc.wantPercent, tc.tasks)
			}
			if tc.wantStatus == "blocked" {
				if after.Version != before.Version || after.Status != before.Status {
					t.Errorf("a blocked complete changed the RFC to %s v%d", after.Status, after.Version)
				}
				wantContains(t, "hint", r.Hint, "blue_rfc_task_complete")
				return
			}
			if after.Status != blue.RFCImpl || r.Document.Status != blue.RFCImpl || !strings.Contains(string(after.Body), "| **Status** | Implemented |") {
				t.Errorf("stored %s, answered %s; body:\n%s", after.Status, r.Document.Status, after.Body)
			}
		})
	}
}

func TestRFCValidate(t *testing.T) {
	f := newFixture(t)
	run(t, f, f.svc.rfcCreate, RFCCreateIn{Title: "Index cache", Problem: "Listing is slow."})
	r := run(t, f, f.svc.rfcValidate, TitleIn{Title: "Index cache"})
	if got := r.Data["empty_sections"].([]string); !slices.Equal(got, []string{"Proposal", "Test Plan"}) {
		t.Errorf("empty sections %v", got)
	}
	if r.Data["ready_to_complete"] != false || r.Hint != "Fill in: Proposal, Test Plan" || r.Message != "RFC 0001 is draft; plan 0% done" {
		t.Errorf("validate: %+v", r)
	}
	run(t, f, f.svc.rfcPlan, RFCPlanIn{Title: "1", Tasks: []string{"a", "b", "c"}})
	run(t, f, f.svc.rfcTaskComplete, RFCTaskIn{Title: "1", Task: "a"})
	run(t, f, f.svc.rfcTaskComplete, RFCTaskIn{Title: "1", Task: "b"})
	if r := run(t, f, f.svc.rfcValidate, TitleIn{Title: "1"}); r.Data["ready_to_complete"] != false {
		t.Errorf("66%% is ready: %+v", r.Data)
	}
	run(t, f, f.svc.rfcTaskComplete, RFCTaskIn{Title: "1", Task: "c"})
	if r := run(t, f, f.svc.rfcValidate, TitleIn{Title: "1"}); r.Data["ready_to_complete"] != true || r.Progress.Percent != 100 {
		t.Errorf("100%% is not ready: %+v", r.Data)
	}
}

func TestRFCFromSpike(t *testing.T) {
	f := newFixture(t)
	run(t, f, f.svc.spikeCreate, SpikeCreateIn{Title: "Cache the index?", Question: "Is DynamoDB fast enough?"})
	wantErr(t, f, f.svc.rfcCreate, RFCCreateIn{Title: "Index cache", SourceSpike: "no such spike"}, `source_spike: not found: no Spike matches "no such spike"`)
	r := run(t, f, f.svc.rfcCreate, RFCCreateIn{Title: "Index cache", SourceSpike: "cache-the-index"})
	spikeID := blue.TimestampID(start) + "-cache-the-index"
	if r.Document.Attrs[attrSourceSpike] != spikeID || !strings.Contains(r.Document.Content, "| **Source Spike** | Cache the index? |") {
		t.Fatalf("rfc %+v", r.Document)
	}

	// Implementing the RFC completes the spike it came from.
	run(t, f, f.svc.rfcUpdateStatus, RFCStatusIn{Title: "1", Status: "accepted"})
	run(t, f, f.svc.rfcUpdateStatus, RFCStatusIn{Title: "1", Status: "in-progress"})
	r = run(t, f, f.svc.rfcUpdateStatus, RFCStatusIn{Title: "1", Status: "implemented"})
	wantContains(t, "message", r.Message, `RFC 0001: in-progress → implemented; closed source spike "Cache the index?"`)
	spike := f.st.doc("spike", spikeID)
	if spike.Status != "complete" || spike.Attrs[attrOutcome] != "recommends-implementation" || !strings.Contains(string(spike.Body), "| **Status** | Complete |") ||
		!strings.Contains(string(spike.Body), "| **Outcome** | recommends-implementation |") || !strings.Contains(string(spike.Body), "| **Produces RFCs** | RFC 0001 |") {
		t.Errorf("spike %s %v\n%s", spike.Status, spike.Attrs, spike.Body)
	}

	// rfc_complete does the same; a spike already closed is left alone.
	run(t, f, f.svc.spikeCreate, SpikeCreateIn{Title: "Second spike", Question: "?"})
	run(t, f, f.svc.spikeCreate, SpikeCreateIn{Title: "Closed spike", Question: "?"})
	for _, tc := range []struct{ spike, wantMsg string }{
		{"Second spike", `; closed source spike "Second spike"`},
		{"Closed spike", ""},
	} {
		run(t, f, f.svc.rfcCreate, RFCCreateIn{Title: "From " + tc.spike, SourceSpike: tc.spike})
		if tc.wantMsg == "" {
			run(t, f, f.svc.spikeComplete, SpikeCompleteIn{Title: tc.spike, Outcome: "decision-made"})
		}
		run(t, f, f.svc.rfcPlan, RFCPlanIn{Title: "From " + tc.spike, Tasks: []string{"all"}})
		run(t, f, f.svc.rfcTaskComplete, RFCTaskIn{Title: "From " + tc.spike, Task: "1"})
		run(t, f, f.svc.rfcUpdateStatus, RFCStatusIn{Title: "From " + tc.spike, Status: "accepted"})
		r := run(t, f, f.svc.rfcComplete, TitleIn{Title: "From " + tc.spike})
		if got := strings.Contains(r.Message, "closed source spike"); got != (tc.wantMsg != "") || !strings.Contains(r.Message, tc.wantMsg) {
			t.Errorf("%s: message %q", tc.spike, r.Message)
		}
	}
}

package tools

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// rfcGateDone is the share of plan tasks blue_rfc_complete needs, as in Blue.
const rfcGateDone = 70

// RFCCreateIn are blue_rfc_create's parameters.
type RFCCreateIn struct {
	Common
	Title       string `json:"title" jsonschema:"the RFC's title"`
	Problem     string `json:"problem,omitempty" jsonschema:"the problem it solves (becomes the Summary)"`
	SourceSpike string `json:"source_spike,omitempty" jsonschema:"title of the spike that recommended this RFC"`
}

// RFCStatusIn are blue_rfc_update_status's parameters.
type RFCStatusIn struct {
	Common
	Title  string `json:"title" jsonschema:"the RFC's title or number"`
	Status string `json:"status" jsonschema:"accepted, in-progress, implemented or superseded (or draft from accepted)"`
}

// RFCPlanIn are blue_rfc_plan's parameters.
type RFCPlanIn struct {
	Common
	Title string   `json:"title" jsonschema:"the RFC's title or number"`
	Tasks []string `json:"tasks" jsonschema:"the plan's tasks, in order"`
}

// RFCTaskIn are blue_rfc_task_complete's parameters.
type RFCTaskIn struct {
	Common
	Title string `json:"title" jsonschema:"the RFC's title or number"`
	Task  string `json:"task" jsonschema:"the task's 1-based index or (part of) its text"`
}

func (s *Service) rfcCreate(ctx context.Context, st Store, in RFCCreateIn) (Result, error) {
	k := kind("rfc")
	attrs := map[string]string{}
	spikeTitle := ""
	if in.SourceSpike != "" {
		spike, err := s.find(ctx, st, kind("spike"), in.SourceSpike, store.ListOptions{})
		if err != nil {
			return Result{}, fmt.Errorf("source_spike: %w", err)
		}
		attrs[attrSourceSpike] = spike.ID
		spikeTitle = spike.Title
	}
	d, err := s.newDoc(ctx, st, k, in.Title, attrs, func(_ string, n int) []byte {
		return blue.Doc{
			Heading: heading(k, n, strings.TrimSpace(in.Title)),
			Header:  []blue.Row{{Key: "Status", Value: "Draft"}, {Key: "Date", Value: s.now().Format("2006-01-02")}, {Key: "Source Spike", Value: spikeTitle}},
			Sections: []blue.Section{
				{Name: "Summary", Text: in.Problem}, {Name: "Proposal"}, {Name: "Goals"}, {Name: "Non-Goals"}, {Name: "Test Plan"},
			},
		}.Render()
	})
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("Created RFC %s: %s (draft)", d.ID, d.Title))
	r.Document = view(d, d.Body)
	r.Hint = "Write the proposal, add a plan with blue_rfc_plan, then blue_rfc_update_status to accepted."
	return r, nil
}

func planTasks(d *store.Document) []blue.Task { return blue.Tasks(d.Attrs[attrPlan]) }

func (s *Service) rfcGet(ctx context.Context, st Store, in TitleIn) (Result, error) {
	d, body, err := s.findWithBody(ctx, st, kind("rfc"), in.Title)
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("RFC %s: %s (%s)", d.ID, d.Title, d.Status))
	r.Document = view(d, body)
	r.Progress = progressView(planTasks(d))
	return r, nil
}

func (s *Service) rfcUpdateStatus(ctx context.Context, st Store, in RFCStatusIn) (Result, error) {
	d, err := s.find(ctx, st, kind("rfc"), in.Title, store.ListOptions{})
	if err != nil {
		return Result{}, err
	}
	from := d.Status
	if err := s.setStatus(ctx, st, d, strings.TrimSpace(in.Status)); err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("RFC %s: %s → %s", d.ID, from, d.Status))
	r.Document = view(d, nil)
	switch d.Status {
	case blue.RFCInProgress:
		r.Hint = "Work happens in your own checkout (the hosted server has no worktrees). Record lasting choices with blue_adr_create."
	case blue.RFCImpl:
		if msg := s.closeSourceSpike(ctx, st, d); msg != "" {
			r.Message += "; " + msg
		}
	}
	return r, nil
}

// closeSourceSpike completes the spike an implemented RFC came from, as
// Blue did.
func (s *Service) closeSourceSpike(ctx context.Context, st Store, rfc *store.Document) string {
	id := rfc.Attrs[attrSourceSpike]
	if id == "" {
		return ""
	}
	spike, err := st.Get(ctx, "spike", id)
	if err != nil || spike.Status != "in-progress" {
		return ""
	}
	if spike.Attrs == nil {
		spike.Attrs = map[string]string{}
	}
	spike.Attrs[attrOutcome] = "recommends-implementation"
	body, err := withBody(ctx, st, spike)
	if err != nil {
		return "source spike left open: " + err.Error()
	}
	spike.Body = blue.SetHeader(body, "Outcome", "recommends-implementation")
	spike.Body = blue.SetHeader(spike.Body, "Produces RFCs", "RFC "+rfc.ID)
	if err := s.setStatus(ctx, st, spike, "complete"); err != nil {
		return "source spike left open: " + err.Error()
	}
	return fmt.Sprintf("closed source spike %q", spike.Title)
}

func (s *Service) rfcPlan(ctx context.Context, st Store, in RFCPlanIn) (Result, error) {
	if len(in.Tasks) == 0 {
		return Result{}, fmt.Errorf("tasks is empty: give at least one task")
	}
	d, err := s.find(ctx, st, kind("rfc"), in.Title, store.ListOptions{})
	if err != nil {
		return Result{}, err
	}
	if d.Status == blue.RFCImpl || d.Status == blue.RFCSuperseded {
		return Result{}, fmt.Errorf("RFC %s is %s: its plan is closed", d.ID, d.Status)
	}
	// Keep what was ticked when the same task is planned again.
	done := map[string]bool{}
	for _, t := range planTasks(d) {
		done[t.Text] = t.Done
	}
	var tasks []blue.Task
	for _, t := range in.Tasks {
		t = strings.TrimSpace(strings.ReplaceAll(t, "\n", " "))
		if t != "" {
			tasks = append(tasks, blue.Task{Text: t, Done: done[t]})
		}
	}
	if len(tasks) == 0 {
		return Result{}, fmt.Errorf("tasks has only empty entries")
	}
	if d.Attrs == nil {
		d.Attrs = map[string]string{}
	}
	d.Attrs[attrPlan] = blue.RenderTasks(tasks)
	d.UpdatedAt = s.now()
	if d.Body, err = withBody(ctx, st, d); err != nil {
		return Result{}, err
	}
	if err := st.Update(ctx, d); err != nil {
		return Result{}, storeErr("update rfc", err)
	}
	r := ok(fmt.Sprintf("Planned %d tasks for RFC %s", len(tasks), d.ID))
	r.Progress = progressView(tasks)
	return r, nil
}

func (s *Service) rfcTaskComplete(ctx context.Context, st Store, in RFCTaskIn) (Result, error) {
	d, err := s.find(ctx, st, kind("rfc"), in.Title, store.ListOptions{})
	if err != nil {
		return Result{}, err
	}
	tasks := planTasks(d)
	if len(tasks) == 0 {
		return Result{}, fmt.Errorf("RFC %s has no plan; write one with blue_rfc_plan", d.ID)
	}
	idx := -1
	if n, err := strconv.Atoi(strings.TrimSpace(in.Task)); err == nil {
		if n < 1 || n > len(tasks) {
			return Result{}, fmt.Errorf("task %d does not exist: the plan has tasks 1 to %d", n, len(tasks))
		}
		idx = n - 1
	} else {
		want := strings.ToLower(strings.TrimSpace(in.Task))
		for i, t := range tasks {
			if strings.EqualFold(t.Text, want) {
				idx = i
				break
			}
			if idx < 0 && want != "" && strings.Contains(strings.ToLower(t.Text), want) {
				idx = i
			}
		}
		if idx < 0 {
			return Result{}, fmt.Errorf("no task of RFC %s matches %q", d.ID, in.Task)
		}
	}
	tasks[idx].Done = true
	d.Attrs[attrPlan] = blue.RenderTasks(tasks)
	d.UpdatedAt = s.now()
	if d.Body, err = withBody(ctx, st, d); err != nil {
		return Result{}, err
	}
	if err := st.Update(ctx, d); err != nil {
		return Result{}, storeErr("update rfc", err)
	}
	r := ok(fmt.Sprintf("Ticked task %d of RFC %s: %s", idx+1, d.ID, tasks[idx].Text))
	r.Progress = progressView(tasks)
	return r, nil
}

func (s *Service) rfcValidate(ctx context.Context, st Store, in TitleIn) (Result, error) {
	d, body, err := s.findWithBody(ctx, st, kind("rfc"), in.Title)
	if err != nil {
		return Result{}, err
	}
	var missing []string
	for _, sec := range []string{"Summary", "Proposal", "Test Plan"} {
		if blue.SectionText(body, sec) == "" {
			missing = append(missing, sec)
		}
	}
	tasks := planTasks(d)
	_, _, pct := blue.Progress(tasks)
	r := ok(fmt.Sprintf("RFC %s is %s; plan %d%% done", d.ID, d.Status, pct))
	r.Progress = progressView(tasks)
	r.Data = map[string]any{"empty_sections": missing, "ready_to_complete": len(tasks) > 0 && pct >= rfcGateDone}
	if len(missing) > 0 {
		r.Hint = "Fill in: " + strings.Join(missing, ", ")
	}
	return r, nil
}

func (s *Service) rfcComplete(ctx context.Context, st Store, in TitleIn) (Result, error) {
	d, err := s.find(ctx, st, kind("rfc"), in.Title, store.ListOptions{})
	if err != nil {
		return Result{}, err
	}
	tasks := planTasks(d)
	done, total, pct := blue.Progress(tasks)
	if total == 0 || pct < rfcGateDone {
		r := Result{Status: "blocked", Message: fmt.Sprintf("RFC %s has %d of %d plan tasks done (%d%%); completing needs at least %d%%", d.ID, done, total, pct, rfcGateDone)}
		r.Hint = "Tick tasks with blue_rfc_task_complete, or plan with blue_rfc_plan."
		r.Progress = progressView(tasks)
		return r, nil
	}
	steps := []string{}
	if d.Status == blue.RFCAccepted {
		if err := s.setStatus(ctx, st, d, blue.RFCInProgress); err != nil {
			return Result{}, err
		}
		steps = append(steps, "accepted → in-progress")
	}
	if err := s.setStatus(ctx, st, d, blue.RFCImpl); err != nil {
		return Result{}, err
	}
	steps = append(steps, "→ implemented")
	r := ok(fmt.Sprintf("RFC %s implemented (%s)", d.ID, strings.Join(steps, ", ")))
	if msg := s.closeSourceSpike(ctx, st, d); msg != "" {
		r.Message += "; " + msg
	}
	r.Document = view(d, nil)
	r.Progress = progressView(tasks)
	return r, nil
}

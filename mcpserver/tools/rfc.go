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
	return r.with(createdFields(d)), nil
}

// createdFields are what Blue's create tools answered about the new
// document: id, title, file and markdown (and number when it has one).
func createdFields(d *store.Document) map[string]any {
	f := map[string]any{"id": d.ID, "title": d.Title, "file": filePath(d), "markdown": string(d.Body)}
	if d.Number > 0 {
		f["number"] = d.Number
	}
	return f
}

func planTasks(d *store.Document) []blue.Task { return blue.Tasks(d.Attrs[attrPlan]) }

func (s *Service) rfcGet(ctx context.Context, st Store, in TitleIn) (Result, error) {
	d, body, err := s.findWithBody(ctx, st, kind("rfc"), in.Title)
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("RFC %s: %s (%s)", d.ID, d.Title, d.Status))
	r.Document = view(d, body)
	tasks := planTasks(d)
	r.Progress = progressView(tasks)
	fields := map[string]any{
		"id": d.ID, "number": d.Number, "title": d.Title, "file_path": filePath(d),
		"created_at": stamp(d.CreatedAt), "updated_at": stamp(d.UpdatedAt), "tasks": blueTasks(tasks),
	}
	if len(tasks) > 0 {
		// What Blue answered when the RFC had a plan file.
		fields["plan_file"] = planFilePath(d)
		fields["_plan_uri"] = planURI(d.ID)
		fields["cache_rebuilt"] = false
		var todo []map[string]any
		for i, t := range tasks {
			if t.Done {
				continue
			}
			todo = append(todo, map[string]any{
				"subject":     "💙 " + t.Text,
				"description": fmt.Sprintf("RFC: %s\nTask %d of %d", d.Title, i+1, len(tasks)),
				"activeForm":  "Working on: " + t.Text,
				"metadata":    map[string]any{"blue_rfc": d.Title, "blue_rfc_number": d.Number, "blue_task_index": i + 1},
			})
		}
		if len(todo) > 0 {
			fields["claude_code_tasks"] = todo
		}
	}
	return r.with(fields), nil
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
	fields := map[string]any{"title": d.Title, "new_status": d.Status, "file_updated": true}
	switch d.Status {
	case blue.RFCAccepted:
		r.Hint = "Plan the work with blue_rfc_plan, then move it to in-progress."
		// Blue pointed at blue_worktree_create; the hosted server has no
		// worktrees, so the next step is the plan.
		fields["next_action"] = map[string]any{"tool": "blue_rfc_plan", "args": map[string]any{"title": d.Title}, "hint": "Plan the tasks before implementation starts"}
	case blue.RFCInProgress:
		r.Hint = "Work happens in your own checkout (the hosted server has no worktrees). Record lasting choices with blue_adr_create."
		fields["warning"] = "The hosted server has no worktrees: work in your own checkout, and tick plan tasks with blue_rfc_task_complete as you go."
		// Blue answered the ADRs that bear on the RFC (RFC 0038).
		sugg, err := s.adrSuggestions(ctx, st, d.Title)
		if err != nil {
			return Result{}, err
		}
		if sugg != nil {
			fields["adr_suggestions"] = sugg
			r.Hint = sugg["hint"].(string)
		}
	case blue.RFCImpl:
		if closed := s.closeSourceSpike(ctx, st, d); closed != nil {
			r.Message += "; " + closed["message"].(string)
			fields["spike_closed"] = closed
		}
	case blue.RFCSuperseded:
		r.Hint = "RFC superseded. The newer RFC takes precedence."
	}
	return r.with(fields), nil
}

// closeSourceSpike completes the spike an implemented RFC came from, as
// Blue did, and answers as Blue's spike_closed did (nil when there was no
// open spike to close).
func (s *Service) closeSourceSpike(ctx context.Context, st Store, rfc *store.Document) map[string]any {
	id := rfc.Attrs[attrSourceSpike]
	if id == "" {
		return nil
	}
	spike, err := st.Get(ctx, "spike", id)
	if err != nil || spike.Status != "in-progress" {
		return nil
	}
	left := func(err error) map[string]any {
		return map[string]any{"status": "partial", "spike": spike.Title, "message": "source spike left open: " + err.Error()}
	}
	if spike.Attrs == nil {
		spike.Attrs = map[string]string{}
	}
	spike.Attrs[attrOutcome] = "recommends-implementation"
	body, err := withBody(ctx, st, spike)
	if err != nil {
		return left(err)
	}
	spike.Body = blue.SetHeader(body, "Outcome", "recommends-implementation")
	spike.Body = blue.SetHeader(spike.Body, "Produces RFCs", "RFC "+rfc.ID)
	if err := s.setStatus(ctx, st, spike, "complete"); err != nil {
		return left(err)
	}
	return map[string]any{"status": "closed", "spike": spike.Title, "message": fmt.Sprintf("closed source spike %q", spike.Title)}
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
	r.Hint = "Mark them complete as you go with blue_rfc_task_complete."
	return r.with(map[string]any{"title": d.Title, "task_count": len(tasks), "plan_file": planFilePath(d)}), nil
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
	return r.with(map[string]any{"title": d.Title, "task_index": idx + 1, "plan_updated": true}), nil
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
	return r.with(map[string]any{"title": d.Title}), nil
}

// rfcComplete is Blue's blue_rfc_complete (crates/blue-mcp/src/handlers/
// rfc.rs at db1da8c): a draft or superseded RFC cannot complete, an
// implemented one already has; otherwise at least 70% of the plan must be
// done, and an RFC with no plan counts as done (Blue's "No tasks = assume
// complete"). An accepted RFC moves through in-progress on the way.
func (s *Service) rfcComplete(ctx context.Context, st Store, in TitleIn) (Result, error) {
	d, err := s.find(ctx, st, kind("rfc"), in.Title, store.ListOptions{})
	if err != nil {
		return Result{}, err
	}
	switch d.Status {
	case blue.RFCDraft:
		return Result{}, fmt.Errorf("RFC %s is draft: can't complete a draft RFC; accept it first with blue_rfc_update_status", d.ID)
	case blue.RFCSuperseded:
		return Result{}, fmt.Errorf("RFC %s is superseded: can't complete a superseded RFC, it was replaced by another", d.ID)
	case blue.RFCImpl:
		r := ok(fmt.Sprintf("RFC %s is already implemented", d.ID))
		r.Document = view(d, nil)
		return r.with(map[string]any{"title": d.Title, "already_implemented": true}), nil
	}
	tasks := planTasks(d)
	done, total, pct := blue.Progress(tasks)
	if total == 0 {
		pct = 100
	}
	if pct < rfcGateDone {
		r := Result{Status: "blocked", Message: fmt.Sprintf("RFC %s has %d of %d plan tasks done (%d%%); completing needs at least %d%%", d.ID, done, total, pct, rfcGateDone)}
		r.Hint = "Tick tasks with blue_rfc_task_complete, or plan with blue_rfc_plan."
		r.Progress = progressView(tasks)
		return r, nil
	}
	steps := []string{}
	advanced := d.Status == blue.RFCAccepted
	if advanced {
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
	fields := map[string]any{"title": d.Title, "new_status": blue.RFCImpl, "status_auto_advanced": advanced}
	if closed := s.closeSourceSpike(ctx, st, d); closed != nil {
		r.Message += "; " + closed["message"].(string)
		fields["spike_closed"] = closed
	}
	r.Document = view(d, nil)
	r.Progress = progressView(tasks)
	r.Progress.Percent, r.Progress.Percentage = pct, pct
	remaining := []string{}
	for _, t := range tasks {
		if !t.Done {
			remaining = append(remaining, t.Text)
		}
	}
	if pct < 100 {
		r.Hint = fmt.Sprintf("Core work done (%d%%). %d tasks remain for follow-up.", pct, len(remaining))
	} else {
		r.Hint = "All tasks complete."
	}
	candidate, err := s.adrCandidate(ctx, st, d.Title)
	if err != nil {
		return Result{}, err
	}
	var adrHint any
	if candidate {
		adrHint = fmt.Sprintf("This RFC may warrant an ADR. Use blue_adr_create with rfc='%s' to graduate.", d.Title)
	}
	fields["followup_needed"] = pct < 100
	fields["remaining_tasks"] = remaining
	fields["adr_candidate"] = candidate
	fields["adr_hint"] = adrHint
	// Blue's next steps were its PR and worktree tools, which the hosted
	// server does not have.
	fields["next_steps"] = []string{"Open the pull request from your checkout", "Record lasting decisions: blue_adr_create with rfc='" + d.Title + "'"}
	return r.with(fields), nil
}

// adrCandidate is Blue's check_adr_potential: the title names something
// architectural, and no ADR's title contains it yet.
func (s *Service) adrCandidate(ctx context.Context, st Store, title string) (bool, error) {
	lower := strings.ToLower(title)
	named := false
	for _, w := range []string{"architecture", "pattern", "framework", "infrastructure", "system", "design", "structure"} {
		named = named || strings.Contains(lower, w)
	}
	if !named {
		return false, nil
	}
	adrs, err := listAll(ctx, st, "adr", store.ListOptions{})
	if err != nil {
		return false, err
	}
	for _, a := range adrs {
		if strings.Contains(a.Title, title) {
			return false, nil
		}
	}
	return true, nil
}

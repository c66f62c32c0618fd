package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// PRDCreateIn are blue_prd_create's parameters.
type PRDCreateIn struct {
	Common
	Title        string   `json:"title" jsonschema:"the PRD's title"`
	Problem      string   `json:"problem,omitempty" jsonschema:"the problem"`
	Users        string   `json:"users,omitempty" jsonschema:"who has it"`
	Goals        []string `json:"goals,omitempty"`
	NonGoals     []string `json:"non_goals,omitempty"`
	Stakeholders []string `json:"stakeholders,omitempty"`
}

// PRDCriteriaIn sets a PRD's acceptance criteria (hosted addition: Blue's
// users edited the file).
type PRDCriteriaIn struct {
	Common
	Title    string   `json:"title" jsonschema:"the PRD's title or number"`
	Criteria []string `json:"criteria" jsonschema:"the acceptance criteria"`
}

// PRDCriterionIn ticks one acceptance criterion.
type PRDCriterionIn struct {
	Common
	Title     string `json:"title" jsonschema:"the PRD's title or number"`
	Criterion string `json:"criterion" jsonschema:"the criterion's 1-based index or (part of) its text"`
}

// prdPlaceholders are the criteria of Blue's PRD template: a new PRD has
// them, unticked, so it does not complete until its own criteria are set
// (and ticked), in the hosted server as in Blue's CLI.
var prdPlaceholders = []blue.Task{{Text: "[Criterion 1]"}, {Text: "[Criterion 2]"}}

// prdStories is the User Stories section of Blue's PRD template.
const prdStories = `### Story 1: [Title]

**As a** [user type]
**I want to** [action]
**So that** [benefit]

` + blue.CriteriaMarker + `
- [ ] [Criterion 1]
- [ ] [Criterion 2]`

// prdCreate writes Blue's PRD template (generate_prd_markdown in
// crates/blue-mcp/src/handlers/prd.rs at db1da8c): the header's Author,
// Created and Stakeholders, the sections Problem, Users, Goals, Non-Goals,
// User Stories (with placeholder acceptance criteria), Success Metrics and
// Open Questions, and placeholders for what was not given.
func (s *Service) prdCreate(ctx context.Context, st Store, in PRDCreateIn) (Result, error) {
	texts := []struct {
		name string
		text []string
	}{{"problem", []string{in.Problem}}, {"users", []string{in.Users}}, {"goals", in.Goals}, {"non_goals", in.NonGoals}, {"stakeholders", in.Stakeholders}}
	for _, a := range texts {
		for _, t := range a.text {
			if strings.Contains(t, "**Acceptance Criteria**") {
				return Result{}, fmt.Errorf("argument %q holds an **Acceptance Criteria** line: a PRD's criteria are set with blue_prd_criteria once it exists", a.name)
			}
		}
	}
	k := kind("prd")
	or := func(v, placeholder string) string {
		if strings.TrimSpace(v) == "" {
			return placeholder
		}
		return v
	}
	stakeholders := "[Stakeholders]"
	if len(in.Stakeholders) > 0 {
		stakeholders = strings.Join(in.Stakeholders, ", ")
	}
	d, err := s.newDoc(ctx, st, k, in.Title, nil, func(_ string, n int) []byte {
		return blue.Doc{
			Heading: heading(k, n, strings.TrimSpace(in.Title)),
			Header: []blue.Row{
				{Key: "Status", Value: "Draft"}, {Key: "Author", Value: "[Author]"},
				{Key: "Created", Value: s.now().Format("2006-01-02")}, {Key: "Stakeholders", Value: stakeholders},
			},
			Sections: []blue.Section{
				{Name: "Problem", Text: or(in.Problem, "[What problem are users experiencing?]")},
				{Name: "Users", Text: or(in.Users, "[Who are the target users?]")},
				{Name: "Goals", Text: or(blue.Bullets(in.Goals), "- [Business goal 1]\n- [Business goal 2]")},
				{Name: "Non-Goals", Text: or(blue.Bullets(in.NonGoals), "- [What this feature won't do]")},
				{Name: "User Stories", Text: prdStories},
				{Name: "Success Metrics", Text: "| Metric | Current | Target |\n|--------|---------|--------|\n| [Metric 1] | [Value] | [Value] |"},
				{Name: "Open Questions", Text: "- [Question 1]\n\n---\n\n*\"Right then. What are we building, and why?\"*\n\n— Blue"},
			},
		}.Render()
	})
	if err != nil {
		return Result{}, err
	}
	if got := blue.CriteriaKey(d.Body); got != blue.RenderTasks(prdPlaceholders) {
		// The checks above keep free text out of the criteria; this is the
		// gate's own guarantee.
		return Result{}, fmt.Errorf("PRD %s was written with acceptance criteria %q, not the template's: report this", d.ID, got)
	}
	r := ok(fmt.Sprintf("Created PRD %s: %s (draft)", d.ID, d.Title))
	r.Document = view(d, d.Body)
	r.Hint = "Set the acceptance criteria with blue_prd_criteria (the template's placeholders block blue_prd_complete until then), then blue_prd_approve."
	r.Progress = progressView(blue.Criteria(d.Body))
	return r.with(map[string]any{"prd": map[string]any{"title": d.Title, "number": d.Number, "path": filePath(d), "status": d.Status}}), nil
}

func (s *Service) prdGet(ctx context.Context, st Store, in TitleIn) (Result, error) {
	d, body, err := s.findWithBody(ctx, st, kind("prd"), in.Title)
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("PRD %s: %s (%s)", d.ID, d.Title, d.Status))
	r.Document = view(d, body)
	criteria := blue.Criteria(body)
	r.Progress = progressView(criteria)
	items := []map[string]any{}
	for _, c := range criteria {
		items = append(items, map[string]any{"text": c.Text, "checked": c.Done})
	}
	return r.with(map[string]any{
		"prd":                 map[string]any{"title": d.Title, "number": d.Number, "status": d.Status, "path": filePath(d), "content": string(body)},
		"acceptance_criteria": map[string]any{"total": len(criteria), "checked": r.Progress.Done, "items": items},
	}), nil
}

func (s *Service) prdApprove(ctx context.Context, st Store, in TitleIn) (Result, error) {
	d, err := s.find(ctx, st, kind("prd"), in.Title, store.ListOptions{})
	if err != nil {
		return Result{}, err
	}
	if err := s.setStatus(ctx, st, d, "approved"); err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("PRD %s approved", d.ID))
	r.Document = view(d, nil)
	r.Hint = "Create RFC(s) to implement it with blue_rfc_create."
	return r.with(map[string]any{"prd": map[string]any{"title": d.Title, "status": d.Status}}), nil
}

// prdComplete is Blue's gate: blocked while any acceptance criterion, as
// Blue's parser reads them (blue.Criteria), is unticked.
func (s *Service) prdComplete(ctx context.Context, st Store, in TitleIn) (Result, error) {
	d, body, err := s.findWithBody(ctx, st, kind("prd"), in.Title)
	if err != nil {
		return Result{}, err
	}
	// As Blue: the status first (only an approved PRD completes), then the
	// criteria.
	if err := kind("prd").CanMove(d.Status, "implemented"); err != nil {
		return Result{}, err
	}
	criteria := blue.Criteria(body)
	open := []string{}
	for _, c := range criteria {
		if !c.Done {
			open = append(open, c.Text)
		}
	}
	if len(open) > 0 {
		return Result{
			Status:   "blocked",
			Message:  fmt.Sprintf("PRD %s has %d unticked acceptance criteria: %s", d.ID, len(open), strings.Join(open, "; ")),
			Hint:     "Tick them with blue_prd_criterion_complete once they hold.",
			Progress: progressView(criteria),
		}.with(map[string]any{"unchecked": open}), nil
	}
	if err := s.setStatus(ctx, st, d, "implemented"); err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("PRD %s implemented", d.ID))
	r.Document = view(d, nil)
	return r.with(map[string]any{"prd": map[string]any{"title": d.Title, "status": d.Status}}), nil
}

func (s *Service) prdCriteria(ctx context.Context, st Store, in PRDCriteriaIn) (Result, error) {
	d, body, err := s.findWithBody(ctx, st, kind("prd"), in.Title)
	if err != nil {
		return Result{}, err
	}
	done := map[string]bool{}
	for _, t := range blue.Criteria(body) {
		done[t.Text] = t.Done
	}
	var tasks []blue.Task
	for _, c := range in.Criteria {
		if c = strings.TrimSpace(strings.ReplaceAll(c, "\n", " ")); c != "" {
			tasks = append(tasks, blue.Task{Text: c, Done: done[c]})
		}
	}
	return s.writeCriteria(ctx, st, d, body, tasks, fmt.Sprintf("PRD %s has %d acceptance criteria", d.ID, len(tasks)))
}

func (s *Service) prdCriterionComplete(ctx context.Context, st Store, in PRDCriterionIn) (Result, error) {
	d, body, err := s.findWithBody(ctx, st, kind("prd"), in.Title)
	if err != nil {
		return Result{}, err
	}
	tasks := blue.Criteria(body)
	idx, err := pick(tasks, in.Criterion)
	if err != nil {
		return Result{}, fmt.Errorf("PRD %s: %w", d.ID, err)
	}
	tasks[idx].Done = true
	return s.writeCriteria(ctx, st, d, body, tasks, fmt.Sprintf("Ticked criterion %d of PRD %s", idx+1, d.ID))
}

// writeCriteria rewrites the PRD's criteria in place (blue.SetCriteria),
// in Blue's shape.
func (s *Service) writeCriteria(ctx context.Context, st Store, d *store.Document, body []byte, tasks []blue.Task, msg string) (Result, error) {
	d.Body = blue.SetCriteria(body, tasks)
	d.UpdatedAt = s.now()
	if err := st.Update(ctx, d); err != nil {
		return Result{}, storeErr("update prd", err)
	}
	r := ok(msg)
	r.Progress = progressView(blue.Criteria(d.Body))
	return r, nil
}

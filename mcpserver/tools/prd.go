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

func (s *Service) prdCreate(ctx context.Context, st Store, in PRDCreateIn) (Result, error) {
	k := kind("prd")
	d, err := s.newDoc(ctx, st, k, in.Title, nil, func(_ string, n int) []byte {
		return blue.Doc{
			Heading: heading(k, n, strings.TrimSpace(in.Title)),
			Header:  []blue.Row{{Key: "Status", Value: "Draft"}, {Key: "Date", Value: s.now().Format("2006-01-02")}},
			Sections: []blue.Section{
				{Name: "Problem", Text: in.Problem}, {Name: "Users", Text: in.Users}, {Name: "Goals", Text: blue.Bullets(in.Goals)},
				{Name: "Non-Goals", Text: blue.Bullets(in.NonGoals)}, {Name: "Stakeholders", Text: blue.Bullets(in.Stakeholders)},
				{Name: "Acceptance Criteria"},
			},
		}.Render()
	})
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("Created PRD %s: %s (draft)", d.ID, d.Title))
	r.Document = view(d, d.Body)
	r.Hint = "Add acceptance criteria with blue_prd_criteria; blue_prd_complete waits until every one is ticked."
	return r, nil
}

func (s *Service) prdGet(ctx context.Context, st Store, in TitleIn) (Result, error) {
	d, body, err := s.findWithBody(ctx, st, kind("prd"), in.Title)
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("PRD %s: %s (%s)", d.ID, d.Title, d.Status))
	r.Document = view(d, body)
	r.Progress = progressView(blue.Tasks(blue.SectionText(body, "Acceptance Criteria")))
	return r, nil
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
	return r, nil
}

func (s *Service) prdComplete(ctx context.Context, st Store, in TitleIn) (Result, error) {
	d, body, err := s.findWithBody(ctx, st, kind("prd"), in.Title)
	if err != nil {
		return Result{}, err
	}
	criteria := blue.Tasks(blue.SectionText(body, "Acceptance Criteria"))
	var open []string
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
		}, nil
	}
	if err := s.setStatus(ctx, st, d, "implemented"); err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("PRD %s implemented", d.ID))
	r.Document = view(d, nil)
	return r, nil
}

func (s *Service) prdCriteria(ctx context.Context, st Store, in PRDCriteriaIn) (Result, error) {
	d, body, err := s.findWithBody(ctx, st, kind("prd"), in.Title)
	if err != nil {
		return Result{}, err
	}
	done := map[string]bool{}
	for _, t := range blue.Tasks(blue.SectionText(body, "Acceptance Criteria")) {
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
	tasks := blue.Tasks(blue.SectionText(body, "Acceptance Criteria"))
	idx, err := pick(tasks, in.Criterion)
	if err != nil {
		return Result{}, fmt.Errorf("PRD %s: %w", d.ID, err)
	}
	tasks[idx].Done = true
	return s.writeCriteria(ctx, st, d, body, tasks, fmt.Sprintf("Ticked criterion %d of PRD %s", idx+1, d.ID))
}

func (s *Service) writeCriteria(ctx context.Context, st Store, d *store.Document, body []byte, tasks []blue.Task, msg string) (Result, error) {
	d.Body = blue.ReplaceSection(body, "Acceptance Criteria", blue.RenderTasks(tasks))
	d.UpdatedAt = s.now()
	if err := st.Update(ctx, d); err != nil {
		return Result{}, storeErr("update prd", err)
	}
	r := ok(msg)
	r.Progress = progressView(tasks)
	return r, nil
}

package tools

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// SpikeCreateIn are blue_spike_create's parameters.
type SpikeCreateIn struct {
	Common
	Title    string `json:"title" jsonschema:"the spike's title"`
	Question string `json:"question" jsonschema:"the question the spike answers"`
	TimeBox  string `json:"time_box,omitempty" jsonschema:"how long it may take, e.g. 2 days"`
}

// SpikeCompleteIn are blue_spike_complete's parameters.
type SpikeCompleteIn struct {
	Common
	Title      string `json:"title" jsonschema:"the spike's title"`
	Outcome    string `json:"outcome" jsonschema:"no-action, decision-made, recommends-implementation or resolved"`
	Summary    string `json:"summary,omitempty" jsonschema:"what was found"`
	FixSummary string `json:"fix_summary,omitempty" jsonschema:"the fix, required when outcome is resolved"`
}

var spikeOutcomes = []string{"no-action", "decision-made", "recommends-implementation", "resolved"}

func (s *Service) spikeCreate(ctx context.Context, st Store, in SpikeCreateIn) (Result, error) {
	if strings.TrimSpace(in.Question) == "" {
		return Result{}, fmt.Errorf("question is required: what should the spike find out?")
	}
	k := kind("spike")
	d, err := s.newDoc(ctx, st, k, in.Title, nil, func(string, int) []byte {
		return blue.Doc{
			Heading:  heading(k, 0, strings.TrimSpace(in.Title)),
			Header:   []blue.Row{{Key: "Status", Value: "In-Progress"}, {Key: "Date", Value: s.now().Format("2006-01-02")}, {Key: "Time Box", Value: in.TimeBox}},
			Sections: []blue.Section{{Name: "Question", Text: in.Question}, {Name: "Findings"}, {Name: "Outcome"}},
		}.Render()
	})
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("Started spike %q", d.Title))
	r.Document = view(d, d.Body)
	return r, nil
}

func (s *Service) spikeComplete(ctx context.Context, st Store, in SpikeCompleteIn) (Result, error) {
	if !slices.Contains(spikeOutcomes, in.Outcome) {
		return Result{}, fmt.Errorf("outcome %q is not one of: %s", in.Outcome, strings.Join(spikeOutcomes, ", "))
	}
	if in.Outcome == "resolved" && strings.TrimSpace(in.FixSummary) == "" {
		return Result{}, fmt.Errorf("fix_summary is required when the outcome is resolved")
	}
	d, err := s.find(ctx, st, kind("spike"), in.Title, store.ListOptions{})
	if err != nil {
		return Result{}, err
	}
	if in.Outcome == "recommends-implementation" {
		rfcs, err := listAll(ctx, st, "rfc", store.ListOptions{})
		if err != nil {
			return Result{}, err
		}
		named := slices.ContainsFunc(rfcs, func(r store.Document) bool { return r.Attrs[attrSourceSpike] == d.ID })
		if !named {
			return Result{
				Status:  "rfc_required",
				Message: fmt.Sprintf("Spike %q recommends implementation, but no RFC names it as its source spike", d.Title),
				Hint:    fmt.Sprintf("Create one with blue_rfc_create and source_spike=%q, then complete the spike again.", d.Title),
			}, nil
		}
	}
	to := "complete"
	if in.Outcome == "resolved" {
		to = "resolved"
	}
	if err := kind("spike").CanMove(d.Status, to); err != nil {
		return Result{}, err
	}
	body, err := withBody(ctx, st, d)
	if err != nil {
		return Result{}, err
	}
	body = blue.SetHeader(body, "Outcome", in.Outcome)
	if t := strings.TrimSpace(in.Summary); t != "" {
		body = blue.AppendToSection(body, "Findings", t)
	}
	if t := strings.TrimSpace(in.FixSummary); t != "" {
		body = blue.AppendToSection(body, "Outcome", "Fix: "+t)
	}
	d.Body = body
	if d.Attrs == nil {
		d.Attrs = map[string]string{}
	}
	d.Attrs[attrOutcome] = in.Outcome
	if err := s.setStatus(ctx, st, d, to); err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("Spike %q is %s (%s)", d.Title, to, in.Outcome))
	r.Document = view(d, nil)
	return r, nil
}

// ADRCreateIn are blue_adr_create's parameters.
type ADRCreateIn struct {
	Common
	Title        string   `json:"title" jsonschema:"the decision's title"`
	RFC          string   `json:"rfc,omitempty" jsonschema:"the implemented RFC this ADR records"`
	Context      string   `json:"context,omitempty" jsonschema:"the forces at play"`
	Decision     string   `json:"decision,omitempty" jsonschema:"what was decided"`
	Consequences []string `json:"consequences,omitempty" jsonschema:"what follows from it"`
}

// ADRGetIn are blue_adr_get's parameters.
type ADRGetIn struct {
	Common
	Number int `json:"number" jsonschema:"the ADR's number"`
}

// ContextIn is blue_adr_relevant's parameter.
type ContextIn struct {
	Common
	Context string `json:"context" jsonschema:"what you are working on"`
}

func (s *Service) adrCreate(ctx context.Context, st Store, in ADRCreateIn) (Result, error) {
	k := kind("adr")
	attrs := map[string]string{}
	rfcRow := ""
	if in.RFC != "" {
		rfc, err := s.find(ctx, st, kind("rfc"), in.RFC, store.ListOptions{})
		if err != nil {
			return Result{}, fmt.Errorf("rfc: %w", err)
		}
		if rfc.Status != blue.RFCImpl {
			return Result{}, fmt.Errorf("RFC %s is %s: an ADR records an implemented RFC", rfc.ID, rfc.Status)
		}
		attrs[attrRFC] = rfc.ID
		rfcRow = "RFC " + rfc.ID + ": " + rfc.Title
	}
	d, err := s.newDoc(ctx, st, k, in.Title, attrs, func(_ string, n int) []byte {
		return blue.Doc{
			Heading: heading(k, n, strings.TrimSpace(in.Title)),
			Header:  []blue.Row{{Key: "Status", Value: "Accepted"}, {Key: "Date", Value: s.now().Format("2006-01-02")}, {Key: "RFC", Value: rfcRow}},
			Sections: []blue.Section{
				{Name: "Context", Text: in.Context}, {Name: "Decision", Text: in.Decision}, {Name: "Consequences", Text: blue.Bullets(in.Consequences)},
			},
		}.Render()
	})
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("Recorded ADR %s: %s", d.ID, d.Title))
	r.Document = view(d, d.Body)
	return r, nil
}

func (s *Service) adrGet(ctx context.Context, st Store, in ADRGetIn) (Result, error) {
	if in.Number < 0 {
		return Result{}, fmt.Errorf("number must be 0 or more")
	}
	d, err := st.Get(ctx, "adr", blue.FormatNumber(in.Number))
	if err != nil || d.DeletedAt != nil {
		return Result{}, notFound(kind("adr"), blue.FormatNumber(in.Number))
	}
	body, err := withBody(ctx, st, d)
	if err != nil {
		return Result{}, err
	}
	refs, err := s.citing(ctx, st, in.Number)
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("ADR %s: %s, cited by %d documents", d.ID, d.Title, len(refs)))
	r.Document = view(d, body)
	r.Documents = refs
	return r, nil
}

// citing finds the documents that mention ADR n ("ADR 0003", "ADR-3",
// "adr:3"), or that it records.
func (s *Service) citing(ctx context.Context, st Store, n int) ([]DocView, error) {
	hits, err := s.scan(ctx, st, blue.KindNames(), func(d *store.Document, body string) int {
		if d.Kind == "adr" && d.Number == n {
			return 0
		}
		return citesADR(body, n)
	})
	if err != nil {
		return nil, err
	}
	return hits, nil
}

func citesADR(body string, n int) int {
	lower := strings.ToLower(body)
	for _, form := range []string{
		fmt.Sprintf("adr %04d", n), fmt.Sprintf("adr-%04d", n), fmt.Sprintf("adr:%d", n), fmt.Sprintf("adr %d ", n), fmt.Sprintf("adr:%04d", n),
	} {
		if strings.Contains(lower, form) {
			return 1
		}
	}
	return 0
}

func (s *Service) adrRelevant(ctx context.Context, st Store, in ContextIn) (Result, error) {
	words := keywords(in.Context)
	if len(words) == 0 {
		return Result{}, fmt.Errorf("context has no words to match: describe what you are working on")
	}
	hits, err := s.scan(ctx, st, []string{"adr"}, func(d *store.Document, body string) int {
		return overlap(words, d.Title+" "+body)
	})
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("%d ADRs relate to that context", len(hits)))
	r.Documents = hits
	return r, nil
}

func (s *Service) adrAudit(ctx context.Context, st Store, _ Common) (Result, error) {
	adrs, err := listAll(ctx, st, "adr", store.ListOptions{Status: "accepted"})
	if err != nil {
		return Result{}, err
	}
	var out []DocView
	for i := range adrs {
		body, err := withBody(ctx, st, &adrs[i])
		if err != nil {
			return Result{}, err
		}
		v := view(&adrs[i], nil)
		v.Content = blue.SectionText(body, "Decision")
		out = append(out, *v)
	}
	r := ok(fmt.Sprintf("%d accepted ADRs to check", len(out)))
	r.Hint = "The hosted server has no checkout of your code: check each decision against your repository locally."
	r.Documents = out
	return r, nil
}

// DecisionCreateIn are blue_decision_create's parameters.
type DecisionCreateIn struct {
	Common
	Title        string   `json:"title" jsonschema:"the decision's title"`
	Decision     string   `json:"decision" jsonschema:"what was decided"`
	Rationale    string   `json:"rationale,omitempty" jsonschema:"why"`
	Alternatives []string `json:"alternatives,omitempty" jsonschema:"what else was considered"`
}

func (s *Service) decisionCreate(ctx context.Context, st Store, in DecisionCreateIn) (Result, error) {
	if strings.TrimSpace(in.Decision) == "" {
		return Result{}, fmt.Errorf("decision is required: what was decided?")
	}
	k := kind("decision")
	d, err := s.newDoc(ctx, st, k, in.Title, nil, func(string, int) []byte {
		return blue.Doc{
			Heading:  heading(k, 0, strings.TrimSpace(in.Title)),
			Header:   []blue.Row{{Key: "Status", Value: "Recorded"}, {Key: "Date", Value: s.now().Format("2006-01-02")}},
			Sections: []blue.Section{{Name: "Decision", Text: in.Decision}, {Name: "Rationale", Text: in.Rationale}, {Name: "Alternatives", Text: blue.Bullets(in.Alternatives)}},
		}.Render()
	})
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("Recorded decision %q", d.Title))
	r.Document = view(d, d.Body)
	return r, nil
}

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
	d.Body = replaceSection(body, "Acceptance Criteria", blue.RenderTasks(tasks))
	d.UpdatedAt = s.now()
	if err := st.Update(ctx, d); err != nil {
		return Result{}, storeErr("update prd", err)
	}
	r := ok(msg)
	r.Progress = progressView(tasks)
	return r, nil
}

// replaceSection swaps a section's text.
func replaceSection(body []byte, name, text string) []byte {
	lines := strings.Split(string(body), "\n")
	start, end := -1, len(lines)
	for i, l := range lines {
		if strings.HasPrefix(l, "## ") {
			if start >= 0 {
				end = i
				break
			}
			if strings.EqualFold(strings.TrimSpace(l[3:]), name) {
				start = i
			}
		}
	}
	if start < 0 {
		return blue.AppendToSection(body, name, text)
	}
	out := append([]string{}, lines[:start+1]...)
	out = append(out, "", strings.TrimSpace(text), "")
	out = append(out, lines[end:]...)
	return []byte(strings.Join(out, "\n"))
}

// pick finds a checklist item by 1-based index or text.
func pick(tasks []blue.Task, ref string) (int, error) {
	if len(tasks) == 0 {
		return 0, fmt.Errorf("there are no items to tick")
	}
	ref = strings.TrimSpace(ref)
	if n, isNum := blue.ParseNumber(ref); isNum && !strings.ContainsAny(ref, " #-") {
		if n < 1 || n > len(tasks) {
			return 0, fmt.Errorf("item %d does not exist: there are items 1 to %d", n, len(tasks))
		}
		return n - 1, nil
	}
	lower := strings.ToLower(ref)
	for i, t := range tasks {
		if strings.EqualFold(t.Text, ref) {
			return i, nil
		}
	}
	for i, t := range tasks {
		if lower != "" && strings.Contains(strings.ToLower(t.Text), lower) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no item matches %q", ref)
}

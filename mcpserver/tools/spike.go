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
	fields := createdFields(d)
	fields["date"] = blue.TimestampID(d.CreatedAt)
	return r.with(fields), nil
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
		// As Blue: the spike stays open and closes when an RFC naming it as
		// its source is implemented (see closeSourceSpike).
		return s.spikeNeedsRFC(ctx, st, d, in.Summary)
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
	return r.with(map[string]any{"title": d.Title, "outcome": in.Outcome, "fix_summary": orNil(in.FixSummary)}), nil
}

// spikeNeedsRFC is Blue's rfc_required answer to a spike that recommends
// implementation, with the call that creates the RFC.
func (s *Service) spikeNeedsRFC(ctx context.Context, st Store, d *store.Document, summary string) (Result, error) {
	if d.Status != "in-progress" {
		return Result{}, fmt.Errorf("spike %q is %s already", d.Title, d.Status)
	}
	rfcs, err := listAll(ctx, st, "rfc", store.ListOptions{})
	if err != nil {
		return Result{}, err
	}
	problem := strings.TrimSpace(summary)
	if problem == "" {
		problem = "(from spike investigation)"
	}
	r := Result{
		Status:        "rfc_required",
		Message:       fmt.Sprintf("Spike %q recommends building something: create an RFC with source_spike=%q first", d.Title, d.Title),
		SuggestedTool: "blue_rfc_create",
		SuggestedArgs: map[string]any{"source_spike": d.Title, "problem": problem},
		Data:          map[string]any{"title": d.Title, "outcome": "recommends-implementation"},
	}.with(map[string]any{"title": d.Title, "outcome": "recommends-implementation"})
	for _, rfc := range rfcs {
		if rfc.Attrs[attrSourceSpike] == d.ID {
			r.Message = fmt.Sprintf("Spike %q recommends implementation; RFC %s names it as its source, and the spike closes when that RFC is implemented", d.Title, rfc.ID)
			r.SuggestedTool, r.SuggestedArgs = "", nil
			r.Documents = append(r.Documents, *view(&rfc, nil))
		}
	}
	return r, nil
}

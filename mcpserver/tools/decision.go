package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/superviber/blue-operator/mcpserver/blue"
)

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
	return r.with(createdFields(d)), nil
}

package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// RunbookCreateIn are blue_runbook_create's parameters.
type RunbookCreateIn struct {
	Common
	Title       string   `json:"title" jsonschema:"the runbook's title"`
	SourceRFC   string   `json:"source_rfc,omitempty"`
	ServiceName string   `json:"service_name,omitempty"`
	Owner       string   `json:"owner,omitempty"`
	Operations  []string `json:"operations,omitempty"`
	Actions     []string `json:"actions,omitempty" jsonschema:"phrases blue_runbook_lookup matches, e.g. restart the api"`
}

// RunbookUpdateIn are blue_runbook_update's parameters.
type RunbookUpdateIn struct {
	Common
	Title              string `json:"title" jsonschema:"the runbook's title"`
	AddOperation       string `json:"add_operation,omitempty"`
	AddTroubleshooting string `json:"add_troubleshooting,omitempty"`
}

// ActionIn is blue_runbook_lookup's parameter.
type ActionIn struct {
	Common
	Action string `json:"action" jsonschema:"what you need to do"`
}

func (s *Service) runbookCreate(ctx context.Context, st Store, in RunbookCreateIn) (Result, error) {
	k := kind("runbook")
	var actions []string
	for _, a := range in.Actions {
		if a = strings.TrimSpace(strings.ReplaceAll(a, "\n", " ")); a != "" {
			actions = append(actions, a)
		}
	}
	attrs := map[string]string{}
	if len(actions) > 0 {
		// Every action is kept (Blue kept only the last one).
		attrs[attrActions] = strings.Join(actions, "\n")
	}
	d, err := s.newDoc(ctx, st, k, in.Title, attrs, func(string, int) []byte {
		return blue.Doc{
			Heading: heading(k, 0, strings.TrimSpace(in.Title)),
			Header: []blue.Row{{Key: "Status", Value: "Active"}, {Key: "Date", Value: s.now().Format("2006-01-02")},
				{Key: "Service", Value: in.ServiceName}, {Key: "Owner", Value: in.Owner}, {Key: "Source RFC", Value: in.SourceRFC}},
			Sections: []blue.Section{{Name: "Actions", Text: blue.Bullets(actions)}, {Name: "Operations", Text: blue.Bullets(in.Operations)}, {Name: "Troubleshooting"}},
		}.Render()
	})
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("Created runbook %q with %d actions", d.Title, len(actions)))
	r.Document = view(d, d.Body)
	return r, nil
}

func (s *Service) runbookUpdate(ctx context.Context, st Store, in RunbookUpdateIn) (Result, error) {
	op, tr := strings.TrimSpace(in.AddOperation), strings.TrimSpace(in.AddTroubleshooting)
	if op == "" && tr == "" {
		return Result{}, fmt.Errorf("give add_operation or add_troubleshooting")
	}
	d, body, err := s.findWithBody(ctx, st, kind("runbook"), in.Title)
	if err != nil {
		return Result{}, err
	}
	if op != "" {
		body = blue.AppendToSection(body, "Operations", "- "+op)
	}
	if tr != "" {
		body = blue.AppendToSection(body, "Troubleshooting", "- "+tr)
	}
	d.Body, d.UpdatedAt = body, s.now()
	if err := st.Update(ctx, d); err != nil {
		return Result{}, storeErr("update runbook", err)
	}
	r := ok(fmt.Sprintf("Updated runbook %q", d.Title))
	r.Document = view(d, body)
	return r, nil
}

func (s *Service) runbookLookup(ctx context.Context, st Store, in ActionIn) (Result, error) {
	words := keywords(in.Action)
	if len(words) == 0 {
		return Result{}, fmt.Errorf("action has no words to match")
	}
	docs, err := listAll(ctx, st, "runbook", store.ListOptions{})
	if err != nil {
		return Result{}, err
	}
	var best *store.Document
	bestScore := 0
	for i := range docs {
		d := &docs[i]
		score := 3*overlap(words, d.Attrs[attrActions]) + overlap(words, d.Title)
		if score > bestScore {
			best, bestScore = d, score
		}
	}
	if best == nil {
		return Result{Status: "success", Message: fmt.Sprintf("No runbook matches %q", in.Action), Hint: "Create one with blue_runbook_create."}, nil
	}
	body, err := withBody(ctx, st, best)
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("Runbook %q matches %q", best.Title, in.Action))
	r.Document = view(best, body)
	return r, nil
}

func (s *Service) runbookActions(ctx context.Context, st Store, _ Common) (Result, error) {
	docs, err := listAll(ctx, st, "runbook", store.ListOptions{})
	if err != nil {
		return Result{}, err
	}
	actions := map[string][]string{}
	for _, d := range docs {
		for _, a := range strings.Split(d.Attrs[attrActions], "\n") {
			if a != "" {
				actions[d.Title] = append(actions[d.Title], a)
			}
		}
	}
	n := 0
	for _, a := range actions {
		n += len(a)
	}
	r := ok(fmt.Sprintf("%d actions in %d runbooks", n, len(actions)))
	r.Data = map[string]any{"actions": actions}
	return r, nil
}

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
	return r.with(map[string]any{"title": d.Title, "file": filePath(d), "source_rfc": orNil(in.SourceRFC), "content": string(d.Body)}), nil
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
	changes := []string{}
	if op != "" {
		body = blue.AppendToSection(body, "Operations", "- "+op)
		changes = append(changes, "Added operation: "+op)
	}
	if tr != "" {
		body = blue.AppendToSection(body, "Troubleshooting", "- "+tr)
		changes = append(changes, "Added troubleshooting: "+tr)
	}
	d.Body, d.UpdatedAt = body, s.now()
	if err := st.Update(ctx, d); err != nil {
		return Result{}, storeErr("update runbook", err)
	}
	r := ok(fmt.Sprintf("Updated runbook %q", d.Title))
	r.Document = view(d, body)
	return r.with(map[string]any{"title": d.Title, "file": filePath(d), "changes": changes}), nil
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
		return Result{Status: "success", Message: fmt.Sprintf("No runbook matches %q", in.Action), Hint: "Create one with blue_runbook_create."}.with(map[string]any{"found": false}), nil
	}
	body, err := withBody(ctx, st, best)
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("Runbook %q matches %q", best.Title, in.Action))
	r.Document = view(best, body)
	r.Hint = "Follow the steps above. Use verification to confirm success."
	return r.with(map[string]any{"found": true, "runbook": map[string]any{
		"title": best.Title, "file": filePath(best), "actions": nonNil(runbookActions(best)), "operations": runbookOperations(body),
	}}), nil
}

// runbookActions are a runbook's registered action phrases.
func runbookActions(d *store.Document) []string {
	var out []string
	for _, a := range strings.Split(d.Attrs[attrActions], "\n") {
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

// runbookOperations are a runbook's operations as Blue's lookup parsed
// them: each "### Operation: name" block with its "**When to use**:",
// numbered "**Steps**:", "**Verification**:" and "**Rollback**:"; and each
// "- item" of the hosted "## Operations" section, by name.
func runbookOperations(body []byte) []map[string]any {
	ops := []map[string]any{}
	var (
		cur            map[string]any
		part           string
		steps          []string
		verify, rollbk []string
	)
	flush := func() {
		if cur != nil {
			cur["steps"], cur["verification"], cur["rollback"] = nonNil(steps), strings.Join(verify, "\n"), strings.Join(rollbk, "\n")
			ops = append(ops, cur)
		}
		cur, part, steps, verify, rollbk = nil, "", nil, nil, nil
	}
	for _, line := range strings.Split(string(body), "\n") {
		if name, found := strings.CutPrefix(line, "### Operation:"); found {
			flush()
			cur = map[string]any{"name": strings.TrimSpace(name), "when_to_use": ""}
			continue
		}
		if cur == nil {
			continue
		}
		switch {
		case strings.HasPrefix(line, "**When to use**:"):
			cur["when_to_use"] = strings.TrimSpace(strings.TrimPrefix(line, "**When to use**:"))
		case strings.HasPrefix(line, "**Steps**:"):
			part = "steps"
		case strings.HasPrefix(line, "**Verification**:"):
			part = "verification"
		case strings.HasPrefix(line, "**Rollback**:"):
			part = "rollback"
		case strings.HasPrefix(line, "## "):
			flush()
		default:
			t := strings.TrimSpace(line)
			switch {
			case part == "steps" && len(line) > 1 && line[0] >= '1' && line[0] <= '9' && strings.Contains(line[:min(len(line), 4)], "."):
				if step := strings.TrimSpace(strings.TrimLeft(line, "0123456789.")); step != "" {
					steps = append(steps, step)
				}
			case part == "verification" && t != "" && !strings.HasPrefix(t, "```"):
				verify = append(verify, t)
			case part == "rollback" && t != "" && !strings.HasPrefix(t, "```"):
				rollbk = append(rollbk, t)
			}
		}
	}
	flush()
	for _, line := range strings.Split(blue.SectionText(body, "Operations"), "\n") {
		if name, found := strings.CutPrefix(strings.TrimSpace(line), "- "); found && strings.TrimSpace(name) != "" {
			ops = append(ops, map[string]any{"name": strings.TrimSpace(name), "when_to_use": "", "steps": []string{}, "verification": "", "rollback": ""})
		}
	}
	return ops
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
	all := []map[string]any{}
	for _, d := range docs {
		for _, a := range runbookActions(&d) {
			all = append(all, map[string]any{"action": a, "runbook": d.Title})
		}
	}
	r := ok(fmt.Sprintf("%d actions in %d runbooks", n, len(actions)))
	r.Data = map[string]any{"actions": actions}
	return r.with(map[string]any{"actions": all, "count": len(all)}), nil
}

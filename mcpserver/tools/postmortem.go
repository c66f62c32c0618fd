package tools

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// PostmortemCreateIn are blue_postmortem_create's parameters.
type PostmortemCreateIn struct {
	Common
	Title     string   `json:"title" jsonschema:"the incident's title"`
	Severity  string   `json:"severity" jsonschema:"P1, P2, P3 or P4 (Blue also read critical, high, medium and low)"`
	Summary   string   `json:"summary,omitempty"`
	RootCause string   `json:"root_cause,omitempty"`
	Duration  string   `json:"duration,omitempty"`
	Impact    []string `json:"impact,omitempty"`
}

// ActionToRFCIn are blue_postmortem_action_to_rfc's parameters.
type ActionToRFCIn struct {
	Common
	PostmortemTitle string `json:"postmortem_title" jsonschema:"the post-mortem's title"`
	Action          string `json:"action" jsonschema:"the action item: its 1-based index in the Action Items table, or its text (or part of it)"`
	RFCTitle        string `json:"rfc_title,omitempty" jsonschema:"the RFC's title (default: the action item's first 50 characters)"`
}

// postmortemCreate writes Blue's post-mortem template (handlers/
// postmortem.rs at db1da8c): Summary, Timeline, Root Cause, Impact, What
// Went Well, What Went Wrong, Action Items (a table, one row per item) and
// Lessons Learned.
func (s *Service) postmortemCreate(ctx context.Context, st Store, in PostmortemCreateIn) (Result, error) {
	sev, valid := parseSeverity(in.Severity)
	if !valid {
		return Result{}, fmt.Errorf("severity %q is not one of P1, P2, P3, P4 (or critical, high, medium, low)", in.Severity)
	}
	k := kind("postmortem")
	or := func(v, placeholder string) string {
		if strings.TrimSpace(v) == "" {
			return placeholder
		}
		return v
	}
	d, err := s.newDoc(ctx, st, k, in.Title, map[string]string{attrSeverity: sev}, func(string, int) []byte {
		return blue.Doc{
			Heading: heading(k, 0, strings.TrimSpace(in.Title)),
			Header: []blue.Row{{Key: "Status", Value: "Open"}, {Key: "Date", Value: s.now().Format("2006-01-02")}, {Key: "Severity", Value: sev},
				{Key: "Duration", Value: in.Duration}, {Key: "Author", Value: "[Name]"}},
			Sections: []blue.Section{
				{Name: "Summary", Text: or(in.Summary, "[One paragraph summary of the incident]")},
				{Name: "Timeline", Text: "| Time | Event |\n|------|-------|\n| HH:MM | [Event] |"},
				{Name: "Root Cause", Text: or(in.RootCause, "[What actually caused the incident]")},
				{Name: "Impact", Text: or(blue.Bullets(in.Impact), "- [Impact 1]")},
				{Name: "What Went Well", Text: "- [Item 1]"},
				{Name: "What Went Wrong", Text: "- [Item 1]"},
				{Name: "Action Items", Text: actionTableHead + "\n| [Action 1] | [Name] | [Date] | Open | |"},
				{Name: "Lessons Learned", Text: "[Key takeaways from this incident]"},
			},
		}.Render()
	})
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("Opened %s post-mortem %q", sev, d.Title))
	r.Document = view(d, d.Body)
	r.Hint = "Fill in the timeline and lessons learned; list the action items as rows of the Action Items table."
	return r.with(map[string]any{"title": d.Title, "severity": sev, "file": filePath(d), "content": string(d.Body)}), nil
}

// parseSeverity is Blue's Severity::parse: P1 to P4, or critical, high,
// medium, low, in any case.
func parseSeverity(s string) (string, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "P1", "CRITICAL":
		return "P1", true
	case "P2", "HIGH":
		return "P2", true
	case "P3", "MEDIUM":
		return "P3", true
	case "P4", "LOW":
		return "P4", true
	}
	return "", false
}

// actionTableHead is the head of Blue's Action Items table.
const actionTableHead = "| Item | Owner | Due | Status | RFC |\n|------|-------|-----|--------|-----|"

// actionRow is one action item: a row of the Action Items table.
type actionRow struct {
	line  int      // its line in the body
	cells []string // trimmed, without the outer pipes
}

// actionItems reads a post-mortem's action items as Blue did: after a
// heading that names "action item", until the next heading, each table row
// that is not the head or its rule; the item is its first cell.
func actionItems(lines []string) []actionRow {
	var out []actionRow
	in := false
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "#") {
			if in {
				break
			}
			in = strings.Contains(strings.ToLower(t), "action item")
			continue
		}
		if !in || !strings.HasPrefix(t, "|") || strings.Contains(t, "---") {
			continue
		}
		cells := strings.Split(strings.Trim(t, "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		if cells[0] != "" && cells[0] != "Item" {
			out = append(out, actionRow{line: i, cells: cells})
		}
	}
	return out
}

// pickAction finds an action item by its 1-based index or its text (the
// whole text, else the first item containing it, case-insensitively).
func pickAction(rows []actionRow, ref string) (int, error) {
	ref = strings.TrimSpace(ref)
	if n, err := strconv.Atoi(ref); err == nil {
		if n < 1 || n > len(rows) {
			return 0, fmt.Errorf("action item #%d not found: the post-mortem has %d action items", n, len(rows))
		}
		return n - 1, nil
	}
	for i, r := range rows {
		if strings.EqualFold(r.cells[0], ref) {
			return i, nil
		}
	}
	lower := strings.ToLower(ref)
	for i, r := range rows {
		if strings.Contains(strings.ToLower(r.cells[0]), lower) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no action item matches %q: the post-mortem's Action Items table has %d items", ref, len(rows))
}

// postmortemActionToRFC is Blue's blue_postmortem_action_to_rfc: it takes
// an action item of the post-mortem (by index or text), creates a draft
// RFC from it (titled by the item's first 50 characters unless rfc_title
// is given) and writes the RFC into the item's RFC column.
func (s *Service) postmortemActionToRFC(ctx context.Context, st Store, in ActionToRFCIn) (Result, error) {
	if strings.TrimSpace(in.Action) == "" {
		return Result{}, fmt.Errorf("action is required: an action item's 1-based index or its text")
	}
	pm, err := s.find(ctx, st, kind("postmortem"), in.PostmortemTitle, store.ListOptions{})
	if err != nil {
		return Result{}, fmt.Errorf("postmortem_title: %w", err)
	}
	body, err := withBody(ctx, st, pm)
	if err != nil {
		return Result{}, err
	}
	lines := strings.Split(string(body), "\n")
	rows := actionItems(lines)
	idx, err := pickAction(rows, in.Action)
	if err != nil {
		return Result{}, fmt.Errorf("post-mortem %q: %w", pm.Title, err)
	}
	action := rows[idx].cells[0]
	title := strings.TrimSpace(in.RFCTitle)
	if title == "" {
		title = strings.TrimSpace(string([]rune(action)[:min(len([]rune(action)), 50)]))
	}
	k := kind("rfc")
	rfc, err := s.newDoc(ctx, st, k, title, map[string]string{attrSourcePostmortem: pm.ID}, func(_ string, n int) []byte {
		return blue.Doc{
			Heading: heading(k, n, title),
			Header:  []blue.Row{{Key: "Status", Value: "Draft"}, {Key: "Date", Value: s.now().Format("2006-01-02")}, {Key: "Source Post-Mortem", Value: pm.Title}},
			Sections: []blue.Section{
				{Name: "Summary", Text: fmt.Sprintf("From post-mortem: %s\n\nAction item: %s", pm.Title, action)},
				{Name: "Proposal"}, {Name: "Goals"}, {Name: "Non-Goals"}, {Name: "Test Plan"},
			},
		}.Render()
	})
	if err != nil {
		return Result{}, err
	}
	cells := append([]string{}, rows[idx].cells...)
	for len(cells) < 5 {
		cells = append(cells, "")
	}
	cells[4] = strings.ReplaceAll(fmt.Sprintf("RFC %s: %s", rfc.ID, rfc.Title), "|", `\|`)
	lines[rows[idx].line] = "| " + strings.Join(cells, " | ") + " |"
	pm.Body = []byte(strings.Join(lines, "\n"))
	pm.UpdatedAt = s.now()
	if err := st.Update(ctx, pm); err != nil {
		return Result{}, storeErr("update postmortem", err)
	}
	r := ok(fmt.Sprintf("Created RFC %s from post-mortem %q", rfc.ID, pm.Title))
	r.Document = view(rfc, rfc.Body)
	r.Hint = "Review and expand the design of the new RFC."
	return r.with(map[string]any{
		"rfc_title": rfc.Title, "rfc_number": rfc.Number, "rfc_file": filePath(rfc), "source_postmortem": pm.Title,
		"action_item": action, "action_index": idx + 1,
	}), nil
}

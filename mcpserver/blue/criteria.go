package blue

import (
	"strings"
)

// A PRD's acceptance criteria, as Blue's blue_prd_complete read them (its
// parse_acceptance_criteria, crates/blue-mcp/src/handlers/prd.rs at
// db1da8c): a line that contains "**Acceptance Criteria**" opens a list;
// a line starting "##" (any heading of level 2 or deeper) or "### Story"
// closes it; inside, every line that starts exactly "- [ ] ", "- [x] " or
// "- [X] " is a criterion. Blue's PRD template puts one such list under
// each user story:
//
//	### Story 1: [Title]
//	...
//	**Acceptance Criteria**:
//	- [ ] [Criterion 1]
//	- [ ] [Criterion 2]
//
// The hosted server reads the same lines, so a PRD completes here exactly
// when it would in Blue's CLI. PRDs the hosted server wrote before it used
// Blue's template keep their criteria in a "## Acceptance Criteria"
// section, which this reader also opens a list at (Blue's would not); the
// criteria tools write a "**Acceptance Criteria**:" line into it, after
// which Blue reads them too.

// CriteriaMarker is the line that opens a list of criteria in Blue's
// template.
const CriteriaMarker = "**Acceptance Criteria**:"

// critBlock is one list of criteria: the line that opened it and whether
// that line (or one right after a heading) is Blue's marker.
type critBlock struct {
	open    int
	heading bool // a "## Acceptance Criteria" heading
	marker  bool // Blue reads this list
}

// critItem is one criterion line.
type critItem struct {
	line, block int
	task        Task
}

func isCriteriaHeading(line string) bool {
	rest, found := strings.CutPrefix(line, "## ")
	return found && strings.EqualFold(strings.TrimSpace(rest), "acceptance criteria")
}

// criterionLine reads a line as Blue's parser does: exactly "- [ ] ",
// "- [x] " or "- [X] " at its start.
func criterionLine(line string) (Task, bool) {
	for prefix, done := range map[string]bool{"- [ ] ": false, "- [x] ": true, "- [X] ": true} {
		if text, found := strings.CutPrefix(line, prefix); found {
			return Task{Text: strings.TrimSpace(text), Done: done}, true
		}
	}
	return Task{}, false
}

func scanCriteria(lines []string) ([]critBlock, []critItem) {
	var (
		blocks []critBlock
		items  []critItem
		in     bool
	)
	for i, raw := range lines {
		line := strings.TrimSuffix(raw, "\r")
		switch {
		case strings.Contains(line, "**Acceptance Criteria**"):
			// A marker right under an empty "## Acceptance Criteria" is
			// that list's own.
			if n := len(blocks); in && n > 0 && blocks[n-1].heading && !blocks[n-1].marker && (len(items) == 0 || items[len(items)-1].block != n-1) {
				blocks[n-1].marker = true
				continue
			}
			blocks = append(blocks, critBlock{open: i, marker: true})
			in = true
			continue
		case isCriteriaHeading(line):
			blocks = append(blocks, critBlock{open: i, heading: true})
			in = true
			continue
		}
		if in && (strings.HasPrefix(line, "##") || strings.HasPrefix(line, "### Story")) {
			in = false
		}
		if !in {
			continue
		}
		if t, ok := criterionLine(line); ok {
			items = append(items, critItem{line: i, block: len(blocks) - 1, task: t})
		}
	}
	return blocks, items
}

// Criteria are a PRD's acceptance criteria in document order.
func Criteria(body []byte) []Task {
	_, items := scanCriteria(strings.Split(string(body), "\n"))
	out := make([]Task, 0, len(items))
	for _, it := range items {
		out = append(out, it.task)
	}
	return out
}

// CriteriaKey is everything a gate reads of the criteria, as one string:
// two bodies with the same key complete, or not, alike.
func CriteriaKey(body []byte) string { return RenderTasks(Criteria(body)) }

// SetCriteria rewrites body so that its criteria are tasks, in order, and
// nothing else changes: a criterion already in the document (same text)
// stays in its story's list, a new one joins the list of the one before it,
// and one no longer given is dropped. A body without a list gets one at
// the end of its "User Stories" section (or a new "Acceptance Criteria"
// section), in Blue's shape.
func SetCriteria(body []byte, tasks []Task) []byte {
	lines := strings.Split(string(body), "\n")
	blocks, items := scanCriteria(lines)
	if len(blocks) == 0 {
		if len(tasks) == 0 {
			return body
		}
		list := CriteriaMarker + "\n" + RenderTasks(tasks)
		for _, s := range Sections(body) {
			if strings.EqualFold(s.Name, "User Stories") {
				return AppendToSection(body, s.Name, list)
			}
		}
		return AppendToSection(body, "Acceptance Criteria", list)
	}
	// Which list each criterion goes to: never an earlier list than the
	// criterion before it, so the document order is the order given.
	used := make([]bool, len(items))
	perBlock := make([][]Task, len(blocks))
	b := 0
	for _, t := range tasks {
		for j, it := range items {
			if !used[j] && it.task.Text == t.Text {
				used[j] = true
				b = max(b, it.block)
				break
			}
		}
		perBlock[b] = append(perBlock[b], t)
	}
	drop := map[int]bool{}
	first := map[int]int{} // block → its first criterion's line
	for _, it := range items {
		drop[it.line] = true
		if _, seen := first[it.block]; !seen {
			first[it.block] = it.line
		}
	}
	insert := map[int][]string{} // line index → lines to put before it
	for bi, bl := range blocks {
		if len(perBlock[bi]) == 0 {
			continue
		}
		var add []string
		at, had := first[bi]
		if !had {
			at = bl.open + 1
			if bl.heading {
				add = append(add, "")
			}
		}
		if !bl.marker {
			add = append(add, CriteriaMarker)
		}
		for _, t := range perBlock[bi] {
			add = append(add, strings.TrimSuffix(RenderTasks([]Task{t}), "\n"))
		}
		insert[at] = append(insert[at], add...)
	}
	out := make([]string, 0, len(lines)+len(tasks)+2)
	for i, l := range lines {
		out = append(out, insert[i]...)
		if !drop[i] {
			out = append(out, l)
		}
	}
	out = append(out, insert[len(lines)]...)
	return []byte(strings.Join(out, "\n"))
}

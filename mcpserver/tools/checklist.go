package tools

import (
	"fmt"
	"strings"

	"github.com/superviber/blue-operator/mcpserver/blue"
)

// Checklists: what an RFC's plan and a PRD's acceptance criteria share.

// progressView is a checklist's completion as the tools answer it.
func progressView(tasks []blue.Task) *ProgressView {
	done, total, pct := blue.Progress(tasks)
	p := &ProgressView{Done: done, Completed: done, Total: total, Percent: pct, Percentage: pct}
	for i, t := range tasks {
		p.Tasks = append(p.Tasks, TaskView{Index: i + 1, Text: t.Text, Done: t.Done})
	}
	return p
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

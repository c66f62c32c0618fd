// Package blue holds Blue's document model as the hosted server keeps it:
// the kinds of documents, their ids, statuses and legal transitions, and the
// markdown they are written as. It is pure: no I/O. The rules are Blue's own
// (see shared/BLUE-TOOLS.md) so that clients' habits carry over.
package blue

import (
	"fmt"
	"slices"
	"strings"
)

// Kind is one kind of Blue document.
type Kind struct {
	// Name is Blue's doc_type, e.g. "rfc".
	Name string
	// Plural is the folder name in Blue's layout, e.g. "rfcs".
	Plural string
	// Title is how people call it, e.g. "RFC".
	Title string
	// Numbered kinds get 0001, 0002, ... from a counter; the others a UTC
	// timestamp id (and, for postmortem, runbook and dialogue, a number too,
	// as Blue kept one in its database).
	Numbered bool
	// Counted kinds are not numbered in their id but still get a number.
	Counted bool
	// Statuses in lifecycle order; the first is the initial one.
	Statuses []string
	// Transitions lists the statuses each status may move to.
	Transitions map[string][]string
	// Suffix is the file-name suffix per status in Blue's on-disk layout.
	Suffix map[string]string
}

// Article is the kind's title with "a" or "an" as it is spoken: "an RFC",
// "an ADR", "a PRD", "an Audit", "a Spike".
func (k Kind) Article() string {
	if k.Title == "" {
		return "a " + k.Name
	}
	first := k.Title[0]
	acronym := strings.ToUpper(k.Title) == k.Title
	// Letters whose names start with a vowel sound when spelt out.
	if strings.IndexByte("AEIOU", first&^0x20) >= 0 || acronym && strings.IndexByte("FHLMNRSX", first) >= 0 {
		return "an " + k.Title
	}
	return "a " + k.Title
}

// Initial is the status a new document starts in.
func (k Kind) Initial() string { return k.Statuses[0] }

// HasStatus reports whether s is one of the kind's statuses.
func (k Kind) HasStatus(s string) bool { return slices.Contains(k.Statuses, s) }

// CanMove reports whether a document may go from one status to another, and
// if not, why, in words a user can act on.
func (k Kind) CanMove(from, to string) error {
	if !k.HasStatus(to) {
		return fmt.Errorf("%q is not %s status; use one of: %s", to, k.Article(), strings.Join(k.Statuses, ", "))
	}
	if from == to {
		return fmt.Errorf("%s is already %s", k.Title, to)
	}
	next := k.Transitions[from]
	if !slices.Contains(next, to) {
		if len(next) == 0 {
			return fmt.Errorf("%s is %s, which is final: it cannot become %s", k.Title, from, to)
		}
		return fmt.Errorf("%s cannot go from %s to %s; from %s it may go to: %s", k.Title, from, to, from, strings.Join(next, ", "))
	}
	return nil
}

// The RFC statuses, used by the gates in the tools.
const (
	RFCDraft      = "draft"
	RFCAccepted   = "accepted"
	RFCInProgress = "in-progress"
	RFCImpl       = "implemented"
	RFCSuperseded = "superseded"
)

// Kinds is the registry every tool, resource and export is generated from.
var Kinds = []Kind{
	{
		Name: "rfc", Plural: "rfcs", Title: "RFC", Numbered: true,
		Statuses: []string{RFCDraft, RFCAccepted, RFCInProgress, RFCImpl, RFCSuperseded},
		Transitions: map[string][]string{
			RFCDraft:      {RFCAccepted, RFCSuperseded},
			RFCAccepted:   {RFCInProgress, RFCDraft, RFCSuperseded},
			RFCInProgress: {RFCImpl, RFCSuperseded},
		},
		Suffix: map[string]string{RFCDraft: "draft", RFCAccepted: "accepted", RFCInProgress: "wip", RFCImpl: "impl", RFCSuperseded: "super"},
	},
	{
		Name: "spike", Plural: "spikes", Title: "Spike",
		Statuses:    []string{"in-progress", "complete", "resolved"},
		Transitions: map[string][]string{"in-progress": {"complete", "resolved"}},
		Suffix:      map[string]string{"in-progress": "wip", "complete": "done", "resolved": "resolved"},
	},
	{
		Name: "adr", Plural: "adrs", Title: "ADR", Numbered: true,
		Statuses:    []string{"accepted", "superseded"},
		Transitions: map[string][]string{"accepted": {"superseded"}},
		Suffix:      map[string]string{"accepted": "accepted", "superseded": "super"},
	},
	{
		Name: "decision", Plural: "decisions", Title: "Decision",
		Statuses: []string{"recorded"},
		Suffix:   map[string]string{"recorded": "recorded"},
	},
	{
		Name: "prd", Plural: "prds", Title: "PRD", Numbered: true,
		Statuses:    []string{"draft", "approved", "implemented"},
		Transitions: map[string][]string{"draft": {"approved"}, "approved": {"implemented"}},
		Suffix:      map[string]string{"draft": "draft", "approved": "approved", "implemented": "impl"},
	},
	{
		Name: "postmortem", Plural: "postmortems", Title: "Post-mortem", Counted: true,
		Statuses:    []string{"open", "closed"},
		Transitions: map[string][]string{"open": {"closed"}},
		Suffix:      map[string]string{"open": "open", "closed": "closed"},
	},
	{
		Name: "runbook", Plural: "runbooks", Title: "Runbook", Counted: true,
		Statuses:    []string{"active", "published", "archived"},
		Transitions: map[string][]string{"active": {"published", "archived"}, "published": {"archived"}},
		Suffix:      map[string]string{"active": "active", "published": "pub", "archived": "archived"},
	},
	{
		Name: "dialogue", Plural: "dialogues", Title: "Dialogue", Counted: true,
		Statuses:    []string{"recorded", "published"},
		Transitions: map[string][]string{"recorded": {"published"}},
		Suffix:      map[string]string{"recorded": "dialogue.recorded", "published": "dialogue.pub"},
	},
	{
		Name: "audit", Plural: "audits", Title: "Audit",
		Statuses:    []string{"in-progress", "complete"},
		Transitions: map[string][]string{"in-progress": {"complete"}},
		Suffix:      map[string]string{"in-progress": "wip", "complete": "done"},
	},
}

// KindByName finds a kind by doc_type.
func KindByName(name string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// KindByPlural finds a kind by its folder name.
func KindByPlural(plural string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Plural == plural {
			return k, true
		}
	}
	return Kind{}, false
}

// KindNames lists the doc_type values.
func KindNames() []string {
	out := make([]string, len(Kinds))
	for i, k := range Kinds {
		out[i] = k.Name
	}
	return out
}

// Plural maps a kind name to its folder; the store uses it for S3 keys.
func Plural(kind string) string {
	if k, ok := KindByName(kind); ok {
		return k.Plural
	}
	return kind + "s"
}

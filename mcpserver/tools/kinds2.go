package tools

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// PostmortemCreateIn are blue_postmortem_create's parameters.
type PostmortemCreateIn struct {
	Common
	Title     string   `json:"title" jsonschema:"the incident's title"`
	Severity  string   `json:"severity" jsonschema:"P1, P2, P3 or P4"`
	Summary   string   `json:"summary,omitempty"`
	RootCause string   `json:"root_cause,omitempty"`
	Duration  string   `json:"duration,omitempty"`
	Impact    []string `json:"impact,omitempty"`
}

// ActionToRFCIn are blue_postmortem_action_to_rfc's parameters.
type ActionToRFCIn struct {
	Common
	PostmortemTitle string `json:"postmortem_title" jsonschema:"the post-mortem's title"`
	Action          string `json:"action" jsonschema:"the action item to turn into an RFC"`
	RFCTitle        string `json:"rfc_title,omitempty" jsonschema:"the RFC's title (default: the action)"`
}

var severities = []string{"P1", "P2", "P3", "P4"}

func (s *Service) postmortemCreate(ctx context.Context, st Store, in PostmortemCreateIn) (Result, error) {
	sev := strings.ToUpper(strings.TrimSpace(in.Severity))
	if !slices.Contains(severities, sev) {
		return Result{}, fmt.Errorf("severity %q is not one of P1, P2, P3, P4", in.Severity)
	}
	k := kind("postmortem")
	d, err := s.newDoc(ctx, st, k, in.Title, map[string]string{attrSeverity: sev}, func(string, int) []byte {
		return blue.Doc{
			Heading: heading(k, 0, strings.TrimSpace(in.Title)),
			Header:  []blue.Row{{Key: "Status", Value: "Open"}, {Key: "Date", Value: s.now().Format("2006-01-02")}, {Key: "Severity", Value: sev}, {Key: "Duration", Value: in.Duration}},
			Sections: []blue.Section{
				{Name: "Summary", Text: in.Summary}, {Name: "Impact", Text: blue.Bullets(in.Impact)}, {Name: "Root Cause", Text: in.RootCause},
				{Name: "Timeline"}, {Name: "Action Items"},
			},
		}.Render()
	})
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("Opened %s post-mortem %q", sev, d.Title))
	r.Document = view(d, d.Body)
	return r, nil
}

func (s *Service) postmortemActionToRFC(ctx context.Context, st Store, in ActionToRFCIn) (Result, error) {
	if strings.TrimSpace(in.Action) == "" {
		return Result{}, fmt.Errorf("action is required")
	}
	pm, err := s.find(ctx, st, kind("postmortem"), in.PostmortemTitle, store.ListOptions{})
	if err != nil {
		return Result{}, fmt.Errorf("postmortem_title: %w", err)
	}
	title := strings.TrimSpace(in.RFCTitle)
	if title == "" {
		title = strings.TrimSpace(in.Action)
	}
	k := kind("rfc")
	rfc, err := s.newDoc(ctx, st, k, title, map[string]string{attrSourcePostmortem: pm.ID}, func(_ string, n int) []byte {
		return blue.Doc{
			Heading: heading(k, n, title),
			Header:  []blue.Row{{Key: "Status", Value: "Draft"}, {Key: "Date", Value: s.now().Format("2006-01-02")}, {Key: "Source Post-Mortem", Value: pm.Title}},
			Sections: []blue.Section{
				{Name: "Summary", Text: in.Action}, {Name: "Proposal"}, {Name: "Goals"}, {Name: "Non-Goals"}, {Name: "Test Plan"},
			},
		}.Render()
	})
	if err != nil {
		return Result{}, err
	}
	body, err := withBody(ctx, st, pm)
	if err != nil {
		return Result{}, err
	}
	pm.Body = blue.AppendToSection(body, "Action Items", fmt.Sprintf("- %s → RFC %s", strings.TrimSpace(in.Action), rfc.ID))
	pm.UpdatedAt = s.now()
	if err := st.Update(ctx, pm); err != nil {
		return Result{}, storeErr("update postmortem", err)
	}
	r := ok(fmt.Sprintf("Created RFC %s from post-mortem %q", rfc.ID, pm.Title))
	r.Document = view(rfc, rfc.Body)
	return r, nil
}

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

// AuditCreateIn are blue_audit_create's parameters.
type AuditCreateIn struct {
	Common
	Title     string `json:"title" jsonschema:"the audit's title"`
	AuditType string `json:"audit_type,omitempty" jsonschema:"repository, security, rfc-verification, adr-adherence or custom"`
	Scope     string `json:"scope,omitempty"`
}

var auditTypes = []string{"repository", "security", "rfc-verification", "adr-adherence", "custom"}

func (s *Service) auditCreate(ctx context.Context, st Store, in AuditCreateIn) (Result, error) {
	typ := in.AuditType
	if typ == "" {
		typ = "custom"
	}
	if !slices.Contains(auditTypes, typ) {
		return Result{}, fmt.Errorf("audit_type %q is not one of: %s", in.AuditType, strings.Join(auditTypes, ", "))
	}
	k := kind("audit")
	d, err := s.newDoc(ctx, st, k, in.Title, map[string]string{attrAuditType: typ}, func(string, int) []byte {
		return blue.Doc{
			Heading:  heading(k, 0, strings.TrimSpace(in.Title)),
			Header:   []blue.Row{{Key: "Status", Value: "In-Progress"}, {Key: "Date", Value: s.now().Format("2006-01-02")}, {Key: "Type", Value: typ}},
			Sections: []blue.Section{{Name: "Scope", Text: in.Scope}, {Name: "Findings"}, {Name: "Recommendations"}},
		}.Render()
	})
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("Started %s audit %q", typ, d.Title))
	r.Document = view(d, d.Body)
	return r, nil
}

// DialogueCreateIn are blue_dialogue_create's parameters; alignment
// dialogues need a local checkout and are not served.
type DialogueCreateIn struct {
	Common
	Title     string `json:"title" jsonschema:"the dialogue's title"`
	RFCTitle  string `json:"rfc_title,omitempty" jsonschema:"the RFC it discusses"`
	Summary   string `json:"summary,omitempty"`
	Content   string `json:"content,omitempty" jsonschema:"the dialogue itself (markdown)"`
	Alignment bool   `json:"alignment,omitempty" jsonschema:"alignment dialogues are not available on the hosted server"`
}

func (s *Service) dialogueCreate(ctx context.Context, st Store, in DialogueCreateIn) (Result, error) {
	if in.Alignment {
		return Result{}, fmt.Errorf("alignment dialogues run on a local checkout and are not available on the hosted server; create a plain dialogue instead")
	}
	if len(in.Content) > 256*1024 {
		return Result{}, fmt.Errorf("content is %d KiB; the limit is 256 KiB", len(in.Content)/1024)
	}
	attrs := map[string]string{}
	rfcRow := ""
	if in.RFCTitle != "" {
		rfc, err := s.find(ctx, st, kind("rfc"), in.RFCTitle, store.ListOptions{})
		if err != nil {
			return Result{}, fmt.Errorf("rfc_title: %w", err)
		}
		attrs[attrRFC] = rfc.ID
		rfcRow = "RFC " + rfc.ID + ": " + rfc.Title
	}
	k := kind("dialogue")
	d, err := s.newDoc(ctx, st, k, in.Title, attrs, func(string, int) []byte {
		return blue.Doc{
			Heading:  heading(k, 0, strings.TrimSpace(in.Title)),
			Header:   []blue.Row{{Key: "Status", Value: "Recorded"}, {Key: "Date", Value: s.now().Format("2006-01-02")}, {Key: "RFC", Value: rfcRow}},
			Sections: []blue.Section{{Name: "Summary", Text: in.Summary}, {Name: "Dialogue", Text: in.Content}},
		}.Render()
	})
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("Recorded dialogue %q", d.Title))
	r.Document = view(d, d.Body)
	return r, nil
}

// getKind reads any document by title (blue_audit_get, blue_dialogue_get).
func (s *Service) getKind(name string) func(context.Context, Store, TitleIn) (Result, error) {
	return func(ctx context.Context, st Store, in TitleIn) (Result, error) {
		k := kind(name)
		d, body, err := s.findWithBody(ctx, st, k, in.Title)
		if err != nil {
			return Result{}, err
		}
		r := ok(fmt.Sprintf("%s %q (%s)", k.Title, d.Title, d.Status))
		r.Document = view(d, body)
		return r, nil
	}
}

// moveKind is a status-change tool (blue_audit_complete).
func (s *Service) moveKind(name, to string) func(context.Context, Store, TitleIn) (Result, error) {
	return func(ctx context.Context, st Store, in TitleIn) (Result, error) {
		k := kind(name)
		d, err := s.find(ctx, st, k, in.Title, store.ListOptions{})
		if err != nil {
			return Result{}, err
		}
		if err := s.setStatus(ctx, st, d, to); err != nil {
			return Result{}, err
		}
		r := ok(fmt.Sprintf("%s %q is %s", k.Title, d.Title, to))
		r.Document = view(d, nil)
		return r, nil
	}
}

// keywords are the distinct lower-case words of at least three letters.
func keywords(s string) []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		if len(w) >= 3 && !seen[w] && !stopWords[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

var stopWords = map[string]bool{"the": true, "and": true, "for": true, "with": true, "that": true, "this": true, "from": true, "are": true, "was": true, "how": true}

// overlap counts the keywords that occur in text.
func overlap(words []string, text string) int {
	lower := strings.ToLower(text)
	n := 0
	for _, w := range words {
		if strings.Contains(lower, w) {
			n++
		}
	}
	return n
}

// scan scores every live document of the kinds and returns those that score,
// best first.
func (s *Service) scan(ctx context.Context, st Store, kinds []string, score func(d *store.Document, body string) int) ([]DocView, error) {
	type hit struct {
		d     store.Document
		score int
	}
	var hits []hit
	for _, k := range kinds {
		docs, err := listAll(ctx, st, k, store.ListOptions{})
		if err != nil {
			return nil, err
		}
		for i := range docs {
			body, err := withBody(ctx, st, &docs[i])
			if err != nil {
				return nil, err
			}
			if sc := score(&docs[i], string(body)); sc > 0 {
				hits = append(hits, hit{docs[i], sc})
			}
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].score > hits[j].score })
	out := make([]DocView, 0, len(hits))
	for i := range hits {
		out = append(out, *view(&hits[i].d, nil))
	}
	return out, nil
}

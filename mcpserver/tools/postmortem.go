package tools

import (
	"context"
	"fmt"
	"slices"
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

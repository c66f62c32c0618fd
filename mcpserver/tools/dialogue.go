package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// DialogueCreateIn are blue_dialogue_create's parameters, all of Blue's.
// With alignment, expert_pool is required and the answer carries the
// Judge's protocol (alignment.go); without it the alignment-mode ones are
// ignored, as Blue ignored them.
type DialogueCreateIn struct {
	Common
	Title      string      `json:"title" jsonschema:"the dialogue's title"`
	RFCTitle   string      `json:"rfc_title,omitempty" jsonschema:"the RFC it discusses"`
	Summary    string      `json:"summary,omitempty"`
	Content    string      `json:"content,omitempty" jsonschema:"the dialogue itself (markdown)"`
	Alignment  bool        `json:"alignment,omitempty" jsonschema:"a multi-agent alignment dialogue (ADR 0014, RFC 0048): needs expert_pool; the answer's judge protocol says how to run it"`
	ExpertPool *ExpertPool `json:"expert_pool,omitempty" jsonschema:"alignment mode: the Judge's expert pool (required with alignment)"`
	PanelSize  int         `json:"panel_size,omitempty" jsonschema:"alignment mode: experts per round (default: the pool's size, at most 12)"`
	Rotation   string      `json:"rotation,omitempty" jsonschema:"alignment mode: panel rotation (default graduated)"`
	Model      string      `json:"model,omitempty" jsonschema:"alignment mode: the model your agents run (sonnet, opus or haiku; default sonnet)"`
	Sources    []string    `json:"sources,omitempty" jsonschema:"alignment mode: files on your machine the agents read for grounding"`
}

// ExpertPool is Blue's alignment expert pool (RFC 0048).
type ExpertPool struct {
	Domain   string   `json:"domain" jsonschema:"the domain, e.g. Investment Analysis"`
	Question string   `json:"question,omitempty" jsonschema:"the question deliberated"`
	Experts  []Expert `json:"experts" jsonschema:"the experts, with role, tier and relevance"`
}

// Expert is one expert of an ExpertPool.
type Expert struct {
	Role      string  `json:"role" jsonschema:"the expert's role, e.g. Risk Manager"`
	Tier      string  `json:"tier" jsonschema:"core, adjacent or wildcard"`
	Relevance float64 `json:"relevance" jsonschema:"relevance, 0.0 to 1.0"`
}

func (s *Service) dialogueCreate(ctx context.Context, st Store, in DialogueCreateIn) (Result, error) {
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
	if in.Alignment {
		return s.createAlignment(ctx, st, in, attrs, rfcRow)
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
	return r.with(map[string]any{
		"dialogue": map[string]any{"id": d.ID, "number": numberOrNil(d), "title": d.Title, "file": filePath(d), "linked_rfc": orNil(in.RFCTitle)},
		"content":  string(d.Body),
	}), nil
}

// DialogueListIn adds Blue's rfc_title filter.
type DialogueListIn struct {
	ListIn
	RFCTitle string `json:"rfc_title,omitempty" jsonschema:"only dialogues about this RFC"`
}

func (s *Service) dialogueList(ctx context.Context, st Store, in DialogueListIn) (Result, error) {
	if in.RFCTitle == "" {
		r, err := s.listFiltered(ctx, st, "dialogue", in.ListIn, nil)
		return r.with(map[string]any{"rfc_filter": nil}), err
	}
	rfc, err := s.find(ctx, st, kind("rfc"), in.RFCTitle, store.ListOptions{})
	if err != nil {
		return Result{}, fmt.Errorf("rfc_title: %w", err)
	}
	r, err := s.listFiltered(ctx, st, "dialogue", in.ListIn, func(d *store.Document) bool { return d.Attrs[attrRFC] == rfc.ID })
	return r.with(map[string]any{"rfc_filter": in.RFCTitle}), err
}

package tools

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// ADRCreateIn are blue_adr_create's parameters.
type ADRCreateIn struct {
	Common
	Title        string   `json:"title" jsonschema:"the decision's title"`
	RFC          string   `json:"rfc,omitempty" jsonschema:"the implemented RFC this ADR records"`
	Context      string   `json:"context,omitempty" jsonschema:"the forces at play"`
	Decision     string   `json:"decision,omitempty" jsonschema:"what was decided"`
	Consequences []string `json:"consequences,omitempty" jsonschema:"what follows from it"`
}

// ADRGetIn are blue_adr_get's parameters.
type ADRGetIn struct {
	Common
	Number int `json:"number" jsonschema:"the ADR's number"`
}

// ContextIn is blue_adr_relevant's parameter.
type ContextIn struct {
	Common
	Context string `json:"context" jsonschema:"what you are working on"`
}

func (s *Service) adrCreate(ctx context.Context, st Store, in ADRCreateIn) (Result, error) {
	k := kind("adr")
	attrs := map[string]string{}
	rfcRow := ""
	if in.RFC != "" {
		rfc, err := s.find(ctx, st, kind("rfc"), in.RFC, store.ListOptions{})
		if err != nil {
			return Result{}, fmt.Errorf("rfc: %w", err)
		}
		if rfc.Status != blue.RFCImpl {
			return Result{}, fmt.Errorf("RFC %s is %s: an ADR records an implemented RFC", rfc.ID, rfc.Status)
		}
		attrs[attrRFC] = rfc.ID
		rfcRow = "RFC " + rfc.ID + ": " + rfc.Title
	}
	d, err := s.newDoc(ctx, st, k, in.Title, attrs, func(_ string, n int) []byte {
		return blue.Doc{
			Heading: heading(k, n, strings.TrimSpace(in.Title)),
			Header:  []blue.Row{{Key: "Status", Value: "Accepted"}, {Key: "Date", Value: s.now().Format("2006-01-02")}, {Key: "RFC", Value: rfcRow}},
			Sections: []blue.Section{
				{Name: "Context", Text: in.Context}, {Name: "Decision", Text: in.Decision}, {Name: "Consequences", Text: blue.Bullets(in.Consequences)},
			},
		}.Render()
	})
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("Recorded ADR %s: %s", d.ID, d.Title))
	r.Document = view(d, d.Body)
	fields := createdFields(d)
	fields["linked_rfc"] = orNil(in.RFC)
	return r.with(fields), nil
}

func (s *Service) adrGet(ctx context.Context, st Store, in ADRGetIn) (Result, error) {
	if in.Number < 0 {
		return Result{}, fmt.Errorf("number must be 0 or more")
	}
	d, err := st.Get(ctx, "adr", blue.FormatNumber(in.Number))
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && d.DeletedAt != nil:
		return Result{}, notFound(kind("adr"), blue.FormatNumber(in.Number))
	case err != nil:
		// A storage failure is not an answer about the ADR.
		return Result{}, storeErr("get adr", err)
	}
	body, err := withBody(ctx, st, d)
	if err != nil {
		return Result{}, err
	}
	refs, err := s.citing(ctx, st, in.Number)
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("ADR %s: %s, cited by %d documents", d.ID, d.Title, len(refs)))
	r.Document = view(d, body)
	r.Documents = refs
	appliesWhen, antiPatterns := adrBullets(strings.Split(string(body), "\n"))
	referencedBy := []map[string]any{}
	for _, ref := range refs {
		referencedBy = append(referencedBy, map[string]any{"type": ref.Kind, "title": ref.Title, "date": ref.CreatedAt})
	}
	return r.with(map[string]any{
		"number": d.Number, "title": d.Title, "content": string(body), "file": filePath(d),
		"applies_when": nonNil(appliesWhen), "anti_patterns": nonNil(antiPatterns), "referenced_by": referencedBy,
	}), nil
}

// nonNil is a list as JSON writes an empty one: [].
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// citing finds the documents that mention ADR n ("ADR 0003", "ADR-3",
// "adr:3"), or that it records.
func (s *Service) citing(ctx context.Context, st Store, n int) ([]DocView, error) {
	hits, err := s.scan(ctx, st, blue.KindNames(), citing(n))
	if err != nil {
		return nil, err
	}
	return hits, nil
}

func (s *Service) adrRelevant(ctx context.Context, st Store, in ContextIn) (Result, error) {
	words := keywords(in.Context)
	if len(words) == 0 {
		return Result{}, fmt.Errorf("context has no words to match: describe what you are working on")
	}
	// Both read the ADRs; at once, they cost the round trips of one.
	var (
		hits, relevant  = []DocView(nil), []map[string]any(nil)
		scanErr, relErr error
		wg              sync.WaitGroup
	)
	wg.Go(func() {
		hits, scanErr = s.scan(ctx, st, []string{"adr"}, scorer{
			fromIndex: func(d *store.Document, e indexEntry) (int, bool) { return e.textOverlap(words, d.Title), false },
		})
	})
	wg.Go(func() { relevant, relErr = s.relevantADRs(ctx, st, in.Context) })
	wg.Wait()
	if err := errors.Join(scanErr, relErr); err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("%d ADRs relate to that context, %d strongly", len(hits), len(relevant)))
	r.Documents = hits
	// documents: every ADR sharing a word with the context; relevant:
	// Blue's confident matches (above 0.7), scored as Blue scored them.
	return r.with(map[string]any{"method": "keyword", "cached": false, "relevant": relevant}), nil
}

func (s *Service) adrAudit(ctx context.Context, st Store, _ Common) (Result, error) {
	adrs, err := listAll(ctx, st, "adr", store.ListOptions{Status: "accepted"})
	if err != nil {
		return Result{}, err
	}
	bodies, err := readBodies(ctx, st, adrs)
	if err != nil {
		return Result{}, err
	}
	var out []DocView
	for i := range adrs {
		v := view(&adrs[i], nil)
		v.Content = blue.SectionText(bodies[i], "Decision")
		out = append(out, *v)
	}
	r := ok(fmt.Sprintf("%d accepted ADRs to check", len(out)))
	r.Hint = "The hosted server has no checkout of your code: check each decision against your repository locally."
	r.Documents = out
	// Blue ran its checks on the local checkout; here every one is skipped.
	passed := []map[string]any{}
	for _, d := range out {
		passed = append(passed, map[string]any{"adr": d.Number, "title": d.Title, "message": "Check skipped: the hosted server has no checkout of your code"})
	}
	return r.with(map[string]any{"findings": []map[string]any{}, "passed": passed}), nil
}

// ADRSupersedeIn are blue_adr_supersede's parameters.
type ADRSupersedeIn struct {
	Common
	Title        string `json:"title" jsonschema:"the ADR that is superseded: its number, title or slug"`
	SupersededBy string `json:"superseded_by" jsonschema:"the accepted ADR that replaces it: its number, title or slug"`
}

// Link attributes of superseded and superseding ADRs.
const (
	attrSupersededBy = "superseded_by"
	attrSupersedes   = "supersedes"
)

// adrSupersede moves an ADR to superseded, naming the ADR that replaces it,
// and links the two both ways: "Superseded By" on the old one, "Supersedes"
// on the new one. The new one is written first, so a retry after a failure
// between the two writes finishes the job.
func (s *Service) adrSupersede(ctx context.Context, st Store, in ADRSupersedeIn) (Result, error) {
	k := kind("adr")
	old, err := s.find(ctx, st, k, in.Title, store.ListOptions{})
	if err != nil {
		return Result{}, err
	}
	if strings.TrimSpace(in.SupersededBy) == "" {
		return Result{}, errors.New("argument \"superseded_by\" is required: the ADR that replaces this one")
	}
	repl, err := s.find(ctx, st, k, in.SupersededBy, store.ListOptions{})
	if err != nil {
		return Result{}, fmt.Errorf("superseded_by: %w", err)
	}
	switch {
	case repl.ID == old.ID:
		return Result{}, fmt.Errorf("ADR %s cannot supersede itself", old.ID)
	case repl.Status != "accepted":
		return Result{}, fmt.Errorf("ADR %s is %s: only an accepted ADR can supersede another", repl.ID, repl.Status)
	case repl.Attrs[attrSupersededBy] != "":
		return Result{}, fmt.Errorf("ADR %s is itself superseded by ADR %s", repl.ID, repl.Attrs[attrSupersededBy])
	}
	if err := k.CanMove(old.Status, "superseded"); err != nil {
		return Result{}, err
	}
	if !strings.Contains(","+repl.Attrs[attrSupersedes]+",", ","+old.ID+",") {
		body, err := withBody(ctx, st, repl)
		if err != nil {
			return Result{}, err
		}
		list := strings.Trim(repl.Attrs[attrSupersedes]+","+old.ID, ",")
		repl.Attrs = withAttr(repl.Attrs, attrSupersedes, list)
		repl.Body = blue.SetHeader(body, "Supersedes", adrRefs(list))
		if err := st.Update(ctx, repl); err != nil {
			return Result{}, storeErr("link ADR "+repl.ID, err)
		}
	}
	body, err := withBody(ctx, st, old)
	if err != nil {
		return Result{}, err
	}
	old.Attrs = withAttr(old.Attrs, attrSupersededBy, repl.ID)
	old.Body = blue.SetHeader(blue.SetHeader(body, "Status", blue.TitleCase("superseded")), "Superseded By", "ADR "+repl.ID)
	old.Status = "superseded"
	if err := st.Update(ctx, old); err != nil {
		return Result{}, storeErr("supersede ADR "+old.ID, err)
	}
	r := ok(fmt.Sprintf("ADR %s is superseded by ADR %s", old.ID, repl.ID))
	r.Document = view(old, nil)
	r.Documents = []DocView{*view(repl, nil)}
	return r, nil
}

// adrRefs renders "0001,0003" as "ADR 0001, ADR 0003".
func adrRefs(ids string) string {
	var out []string
	for id := range strings.SplitSeq(ids, ",") {
		out = append(out, "ADR "+id)
	}
	return strings.Join(out, ", ")
}

// withAttr is a copy of attrs with key set.
func withAttr(attrs map[string]string, key, value string) map[string]string {
	out := make(map[string]string, len(attrs)+1)
	maps.Copy(out, attrs)
	out[key] = value
	return out
}

package tools

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// SearchIn are blue_search's parameters.
type SearchIn struct {
	Common
	Query   string `json:"query" jsonschema:"words to find; adr:N finds documents citing ADR N"`
	DocType string `json:"doc_type,omitempty" jsonschema:"only this kind (rfc, spike, adr, decision, ...)"`
	Limit   int    `json:"limit,omitempty" jsonschema:"at most this many results (default 10)"`
}

func (s *Service) search(ctx context.Context, st Store, in SearchIn) (Result, error) {
	q := strings.TrimSpace(in.Query)
	if q == "" {
		return Result{}, fmt.Errorf("query is required")
	}
	kinds := blue.KindNames()
	if in.DocType != "" {
		if _, found := blue.KindByName(in.DocType); !found {
			return Result{}, fmt.Errorf("doc_type %q is not one of: %s", in.DocType, strings.Join(kinds, ", "))
		}
		kinds = []string{in.DocType}
	}
	limit := in.Limit
	if limit <= 0 {
		limit = 10
	}
	if limit > 100 {
		limit = 100
	}
	var score func(d *store.Document, body string) int
	fields := map[string]any{"query": q}
	if rest, isADR := strings.CutPrefix(strings.ToLower(q), "adr:"); isADR {
		n, valid := blue.ParseNumber(rest)
		if !valid {
			return Result{}, fmt.Errorf("adr:N needs a number, got %q", q)
		}
		fields["query"] = fmt.Sprintf("adr:%d", n)
		switch adr, err := st.Get(ctx, "adr", blue.FormatNumber(n)); {
		case err == nil && adr.DeletedAt == nil:
			fields["adr_title"] = adr.Title
		case err == nil || errors.Is(err, store.ErrNotFound):
			fields["message"] = fmt.Sprintf("ADR %d not found", n)
		default:
			return Result{}, storeErr("get adr", err)
		}
		score = func(d *store.Document, body string) int {
			if d.Kind == "adr" && d.Number == n {
				return 0
			}
			return citesADR(body, n)
		}
	} else {
		words := keywords(q)
		phrase := strings.ToLower(q)
		score = func(d *store.Document, body string) int {
			sc := 3*overlap(words, d.Title) + overlap(words, body)
			if strings.Contains(strings.ToLower(d.Title+" "+body), phrase) {
				sc += 5
			}
			return sc
		}
	}
	hits, scores, err := s.scanScored(ctx, st, kinds, score)
	if err != nil {
		return Result{}, err
	}
	if len(hits) > limit {
		hits, scores = hits[:limit], scores[:limit]
	}
	r := ok(fmt.Sprintf("%d documents match %q", len(hits), q))
	r.Documents = hits
	results := make([]map[string]any, 0, len(hits))
	for i, d := range hits {
		results = append(results, map[string]any{"title": d.Title, "type": d.Kind, "status": d.Status, "score": float64(scores[i])})
	}
	fields["count"] = len(results)
	fields["results"] = results
	if m, found := fields["message"]; found {
		delete(fields, "message")
		r.Message = m.(string) + "; " + r.Message
	}
	return r.with(fields), nil
}

// adrCitation is a mention of an ADR by number: "ADR 0003", "ADR-3",
// "adr:3", "ADR #3", "ADR 3." (the number is read whole: "adr:12" does not
// cite ADR 1).
var adrCitation = regexp.MustCompile(`(?i)\badr[ \t]*[-:#]?[ \t]*(\d+)`)

// citesADR is 1 when body mentions ADR n, else 0.
func citesADR(body string, n int) int {
	for _, m := range adrCitation.FindAllStringSubmatch(body, -1) {
		if got, err := strconv.Atoi(m[1]); err == nil && got == n {
			return 1
		}
	}
	return 0
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
	hits, _, err := s.scanScored(ctx, st, kinds, score)
	return hits, err
}

// scanScored is scan with each hit's score.
func (s *Service) scanScored(ctx context.Context, st Store, kinds []string, score func(d *store.Document, body string) int) ([]DocView, []int, error) {
	type hit struct {
		d     store.Document
		score int
	}
	var hits []hit
	for _, k := range kinds {
		docs, err := listAll(ctx, st, k, store.ListOptions{})
		if err != nil {
			return nil, nil, err
		}
		for i := range docs {
			body, err := withBody(ctx, st, &docs[i])
			if err != nil {
				return nil, nil, err
			}
			if sc := score(&docs[i], string(body)); sc > 0 {
				hits = append(hits, hit{docs[i], sc})
			}
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].score > hits[j].score })
	out := make([]DocView, 0, len(hits))
	scores := make([]int, 0, len(hits))
	for i := range hits {
		out = append(out, *view(&hits[i].d, nil))
		scores = append(scores, hits[i].score)
	}
	return out, scores, nil
}

package tools

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
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
	var score scorer
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
		score = citing(n)
	} else {
		words := keywords(q)
		phrase := strings.ToLower(q)
		full := func(d *store.Document, body string) int {
			sc := 3*overlap(words, d.Title) + overlap(words, body)
			if strings.Contains(strings.ToLower(d.Title+" "+body), phrase) {
				sc += 5
			}
			return sc
		}
		// A phrase that is one keyword is in the text exactly when that
		// keyword is; any other phrase needs every keyword present, and
		// then the body settles it.
		oneWord := len(words) == 1 && words[0] == phrase
		score = scorer{fromBody: full, fromIndex: func(d *store.Document, e indexEntry) (int, bool) {
			sc := 3*overlap(words, d.Title) + e.overlap(words)
			switch {
			case strings.Contains(strings.ToLower(d.Title), phrase):
				return sc + 5, false
			case oneWord:
				if e.contains(phrase) {
					sc += 5
				}
				return sc, false
			case len(words) > 0 && e.textOverlap(words, d.Title) == len(words):
				return 0, true
			}
			return sc, false
		}}
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

// citing scores the documents that cite ADR n (not the ADR itself).
func citing(n int) scorer {
	return scorer{
		fromIndex: func(d *store.Document, e indexEntry) (int, bool) {
			if (d.Kind == "adr" && d.Number == n) || !e.cites(n) {
				return 0, false
			}
			return 1, false
		},
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

// scorer scores a document for a scan. From the search index alone when it
// can: fromIndex answers the score, or needBody when only the body can
// settle it, and then fromBody is the score (needed only by a fromIndex
// that may ask for the body).
type scorer struct {
	fromIndex func(d *store.Document, e indexEntry) (score int, needBody bool)
	fromBody  func(d *store.Document, body string) int
}

// scan scores every live document of the kinds and returns those that score,
// best first.
func (s *Service) scan(ctx context.Context, st Store, kinds []string, sc scorer) ([]DocView, error) {
	hits, _, err := s.scanScored(ctx, st, kinds, sc)
	return hits, err
}

// scanScored is scan with each hit's score. The kinds and their indexes are
// read at once (indexed), and only the bodies the index cannot score are
// read; the order of the hits does not depend on which read finished first.
func (s *Service) scanScored(ctx context.Context, st Store, kinds []string, sc scorer) ([]DocView, []int, error) {
	docs, err := s.indexed(ctx, st, kinds)
	if err != nil {
		return nil, nil, err
	}
	scores := make([]int, len(docs))
	var need []store.Document
	var needAt []int
	for i := range docs {
		var body bool
		if scores[i], body = sc.fromIndex(&docs[i].doc, docs[i].entry); body {
			need, needAt = append(need, docs[i].doc), append(needAt, i)
		}
	}
	if len(need) > 0 {
		bodies, err := readBodies(ctx, st, need)
		if err != nil {
			return nil, nil, err
		}
		for j, i := range needAt {
			scores[i] = sc.fromBody(&need[j], string(bodies[j]))
		}
	}
	var order []int
	for i := range docs {
		if scores[i] > 0 {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	out := make([]DocView, 0, len(order))
	hitScores := make([]int, 0, len(order))
	for _, i := range order {
		out = append(out, *view(&docs[i].doc, nil))
		hitScores = append(hitScores, scores[i])
	}
	return out, hitScores, nil
}

package tools

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/superviber/blue-operator/mcpserver/store"
)

// The search index. blue_search, blue_adr_relevant and an ADR's
// referenced_by used to read every body of a kind; across accounts each
// read is a 50–100 ms round trip, so a cold search of a thousand documents
// took seconds. The index keeps, per kind, what those scores need from a
// body: its distinct words and the ADR numbers it cites. It is a document
// of its own (kind search-catalog, one per kind) in the client's bucket and
// table, like everything else, never on our side.
//
// It is kept by reading, not by the write tools: a search lists the kind
// and reads its index at once, re-reads only the bodies whose version the
// index does not have (new, changed or moved documents), and writes the
// index back when it repaired anything. A write that loses a race with
// another is skipped: the next search repairs again. So the index can be
// stale, never wrong: an entry is used only for the version it was made
// from.
const kindSearchIndex = SearchCatalogKind

// SearchCatalogKind is the store kind of the search index documents (one
// per Blue kind, its id the kind's name).
const SearchCatalogKind = "search-catalog"

// indexEntry is what the index knows of one document at one version.
type indexEntry struct {
	Version int64 `json:"v"`
	// Words are the distinct maximal runs of [a-z0-9] in the lower-cased
	// body. A keyword (itself such a run) occurs in the body exactly when
	// it occurs in one of them.
	Words []string `json:"w"`
	// ADRs are the ADR numbers the body cites (adrCitation).
	ADRs []int `json:"a,omitempty"`
	// ADR is what Blue's relevance scoring reads of an ADR's body.
	ADR *indexedADR `json:"adr,omitempty"`
}

// indexedADR is adrFacts without what the listing has (number, title).
type indexedADR struct {
	Summary      string   `json:"s,omitempty"`
	Keywords     []string `json:"k,omitempty"`
	AppliesWhen  []string `json:"aw,omitempty"`
	AntiPatterns []string `json:"ap,omitempty"`
}

// facts are the entry's ADR facts for d; ok is false when the entry has
// none (not an ADR).
func (e indexEntry) facts(d *store.Document) (adrFacts, bool) {
	if e.ADR == nil {
		return adrFacts{}, false
	}
	return adrFacts{number: d.Number, title: d.Title, summary: e.ADR.Summary, keywords: e.ADR.Keywords, appliesWhen: e.ADR.AppliesWhen, antiPatterns: e.ADR.AntiPatterns}, true
}

type searchIndex struct {
	Entries map[string]indexEntry `json:"entries"`
}

func entryOf(d *store.Document, body []byte) indexEntry {
	e := indexEntry{Version: d.Version}
	seen := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(string(body)), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		if !seen[w] {
			seen[w] = true
			e.Words = append(e.Words, w)
		}
	}
	slices.Sort(e.Words)
	for _, m := range adrCitation.FindAllStringSubmatch(string(body), -1) {
		if n, err := strconv.Atoi(m[1]); err == nil && !slices.Contains(e.ADRs, n) {
			e.ADRs = append(e.ADRs, n)
		}
	}
	if d.Kind == "adr" {
		f := adrFactsOf(d, body)
		e.ADR = &indexedADR{Summary: f.summary, Keywords: f.keywords, AppliesWhen: f.appliesWhen, AntiPatterns: f.antiPatterns}
	}
	return e
}

// contains reports whether keyword w occurs in the body.
func (e indexEntry) contains(w string) bool {
	for _, x := range e.Words {
		if strings.Contains(x, w) {
			return true
		}
	}
	return false
}

// overlap is overlap(words, body) from the entry.
func (e indexEntry) overlap(words []string) int {
	n := 0
	for _, w := range words {
		if e.contains(w) {
			n++
		}
	}
	return n
}

// textOverlap is overlap(words, title+" "+body): a keyword has no space, so
// it is in one or the other.
func (e indexEntry) textOverlap(words []string, title string) int {
	lower := strings.ToLower(title)
	n := 0
	for _, w := range words {
		if strings.Contains(lower, w) || e.contains(w) {
			n++
		}
	}
	return n
}

func (e indexEntry) cites(n int) bool { return slices.Contains(e.ADRs, n) }

// indexedDoc is a listed document with its index entry.
type indexedDoc struct {
	doc   store.Document
	entry indexEntry
}

// indexWriteTimeout bounds writing a repaired index back: it is not part
// of the answer.
const indexWriteTimeout = 5 * time.Second

// indexed lists the kinds (at once) with each document's index entry,
// repairing what the index lacks. The documents are in listing order.
func (s *Service) indexed(ctx context.Context, st Store, kinds []string) ([]indexedDoc, error) {
	out := make([][]indexedDoc, len(kinds))
	errs := make([]error, len(kinds))
	var wg sync.WaitGroup
	for i, k := range kinds {
		wg.Go(func() { out[i], errs[i] = s.indexedKind(ctx, st, k) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var all []indexedDoc
	for _, o := range out {
		all = append(all, o...)
	}
	return all, nil
}

func (s *Service) indexedKind(ctx context.Context, st Store, kind string) ([]indexedDoc, error) {
	var (
		docs            []store.Document
		idxDoc          *store.Document
		idx             searchIndex
		listErr, idxErr error
		wg              sync.WaitGroup
	)
	wg.Go(func() { docs, listErr = listAll(ctx, st, kind, store.ListOptions{}) })
	wg.Go(func() { idxDoc, idx, idxErr = readIndex(ctx, st, kind) })
	wg.Wait()
	if listErr != nil {
		return nil, listErr
	}
	if idxErr != nil {
		// An unreadable index costs speed, not answers.
		idxDoc, idx = nil, searchIndex{}
	}
	out := make([]indexedDoc, len(docs))
	var stale []store.Document
	var staleAt []int
	for i := range docs {
		out[i].doc = docs[i]
		// An ADR's entry is whole only with its facts.
		if e, ok := idx.Entries[docs[i].ID]; ok && e.Version == docs[i].Version && (kind != "adr" || e.ADR != nil) {
			out[i].entry = e
			continue
		}
		stale, staleAt = append(stale, docs[i]), append(staleAt, i)
	}
	if len(stale) > 0 {
		bodies, err := readBodies(ctx, st, stale)
		if err != nil {
			return nil, err
		}
		for j, i := range staleAt {
			out[i].entry = entryOf(&stale[j], bodies[j])
		}
	}
	if len(stale) > 0 || len(idx.Entries) != len(docs) {
		next := searchIndex{Entries: make(map[string]indexEntry, len(out))}
		for _, d := range out {
			next.Entries[d.doc.ID] = d.entry
		}
		// Written after the answer, not before it: the caller has what it
		// needs.
		s.indexWrites.Go(func() {
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), indexWriteTimeout)
			defer cancel()
			s.writeIndex(wctx, st, kind, idxDoc, next)
		})
	}
	return out, nil
}

func readIndex(ctx context.Context, st Store, kind string) (*store.Document, searchIndex, error) {
	var idx searchIndex
	d, err := st.Get(ctx, kindSearchIndex, kind)
	if errors.Is(err, store.ErrNotFound) {
		return nil, idx, nil
	}
	if err != nil {
		return nil, idx, err
	}
	body, err := withBody(ctx, st, d)
	if err != nil {
		return nil, idx, err
	}
	if err := json.Unmarshal(body, &idx); err != nil {
		return nil, searchIndex{}, err
	}
	return d, idx, nil
}

// writeIndex stores the repaired index, best effort: losing a race with
// another writer, or any error, leaves the repair to the next search.
func (s *Service) writeIndex(ctx context.Context, st Store, kind string, old *store.Document, idx searchIndex) {
	body, err := json.Marshal(idx)
	if err != nil {
		return
	}
	now := s.now()
	if old != nil && old.Version < indexRevisions {
		d := *old
		d.Body, d.UpdatedAt = body, now
		_ = st.Update(ctx, &d)
		return
	}
	// The store keeps every revision as history, which an index has no
	// use for: after indexRevisions writes it starts again.
	if old != nil {
		if err := st.Purge(ctx, kindSearchIndex, kind); err != nil {
			return
		}
	}
	_ = st.Create(ctx, &store.Document{Kind: kindSearchIndex, ID: kind, Title: kind + " search index", Slug: kind + "-search-index", Status: "current", Body: body, CreatedAt: now, UpdatedAt: now})
}

// indexRevisions is how many revisions of a kind's index are kept at most.
const indexRevisions = 20

package tools

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/superviber/blue-operator/mcpserver/store"
)

// Blue's ADR relevance (blue_adr_relevant, and the ADR suggestions of an
// RFC moving to in-progress): keyword matching of a context against each
// ADR's title, keywords, "Applies When" and "Anti-Patterns" bullets, as
// crates/blue-mcp/src/handlers/adr.rs at db1da8c scored it. An ADR is
// relevant when it scores above 0.7; the best five are answered.

// relevantAbove is Blue's confidence threshold.
const relevantAbove = 0.7

// adrTerms are the words Blue looked for in an ADR's text as its keywords.
var adrTerms = []string{
	"test", "testing", "evidence", "proof", "verify", "single", "source", "truth", "duplicate",
	"integrity", "whole", "complete", "honor", "commit", "promise", "courage", "delete", "remove",
	"refactor", "dead", "code", "unused", "freedom", "constraint", "limit", "faith", "believe",
	"trust", "overflow", "full", "abundance", "presence", "present", "aware", "purpose", "meaning",
	"why", "home", "belong", "welcome", "relationship", "connect", "link",
}

// adrFacts is what the scoring reads of one ADR.
type adrFacts struct {
	number       int
	title        string
	summary      string
	keywords     []string
	appliesWhen  []string
	antiPatterns []string
}

func adrFactsOf(d *store.Document, body []byte) adrFacts {
	text := string(body)
	lines := strings.Split(text, "\n")
	f := adrFacts{number: d.Number, title: d.Title}
	seen := map[string]bool{}
	addKeyword := func(k string) {
		if !seen[k] {
			seen[k] = true
			f.keywords = append(f.keywords, k)
		}
	}
	// Keywords: the heading's words of more than three characters, and
	// the terms the text contains.
	for _, l := range lines {
		if strings.HasPrefix(l, "# ") {
			for _, w := range strings.Fields(strings.ToLower(l)) {
				if w = strings.TrimFunc(w, func(r rune) bool { return !isAlnum(r) }); len(w) > 3 {
					addKeyword(w)
				}
			}
			break
		}
	}
	lower := strings.ToLower(text)
	for _, term := range adrTerms {
		if strings.Contains(lower, term) {
			addKeyword(term)
		}
	}
	sort.Strings(f.keywords)
	// Summary: up to three lines after the header's "---".
	var summary []string
	in := false
	for _, l := range lines {
		if l == "---" {
			in = true
			continue
		}
		if !in {
			continue
		}
		if strings.HasPrefix(l, "#") && len(summary) > 0 {
			break
		}
		if t := strings.TrimSpace(l); t != "" {
			if summary = append(summary, t); len(summary) >= 3 {
				break
			}
		}
	}
	f.summary = strings.Join(summary, " ")
	f.appliesWhen, f.antiPatterns = adrBullets(lines)
	return f
}

// adrBullets are the "- " or "* " items of an ADR's "## Applies When" and
// "## Anti-Patterns" sections.
func adrBullets(lines []string) (appliesWhen, antiPatterns []string) {
	var cur *[]string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "## Applies When"):
			cur = &appliesWhen
			continue
		case strings.HasPrefix(l, "## Anti-Patterns"), strings.HasPrefix(l, "## Anti Patterns"):
			cur = &antiPatterns
			continue
		case strings.HasPrefix(l, "## "):
			cur = nil
			continue
		}
		t := strings.TrimSpace(l)
		if cur != nil && (strings.HasPrefix(t, "- ") || strings.HasPrefix(t, "* ")) {
			*cur = append(*cur, strings.TrimPrefix(strings.TrimPrefix(t, "- "), "* "))
		}
	}
	return appliesWhen, antiPatterns
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r > 127
}

// stem4 is a word's first four bytes (all of it when shorter).
func stem4(w string) string { return w[:min(len(w), 4)] }

// relevance scores an ADR against the context's words: 0.3 per word in
// the title, 0.3 times the share of words that match a keyword, 0.25 per
// Applies When or Anti-Patterns item a word matches; at most 1.
func relevance(words []string, a adrFacts) (float64, string) {
	score := 0.0
	var why []string
	title := strings.ToLower(a.title)
	for _, w := range words {
		if strings.Contains(title, w) {
			score += 0.3
			why = append(why, fmt.Sprintf("Title matches '%s'", w))
		}
	}
	matched := 0
	for _, w := range words {
		stem := stem4(w)
		for _, k := range a.keywords {
			if strings.Contains(k, w) || strings.Contains(w, k) || len(w) >= 4 && strings.HasPrefix(k, stem) || len(k) >= 4 && strings.HasPrefix(w, stem4(k)) {
				matched++
				break
			}
		}
	}
	if matched > 0 {
		score += 0.3 * float64(matched) / float64(max(len(words), 1))
		why = append(why, fmt.Sprintf("%d keyword(s) match", matched))
	}
	itemMatches := func(item string) bool {
		lower := strings.ToLower(item)
		for _, w := range words {
			if strings.Contains(lower, w) {
				return true
			}
			stem := stem4(w)
			for _, iw := range strings.Fields(lower) {
				if strings.Contains(iw, w) || strings.Contains(w, iw) || len(iw) >= 4 && strings.HasPrefix(iw, stem) {
					return true
				}
			}
		}
		return false
	}
	for _, item := range a.appliesWhen {
		if itemMatches(item) {
			score += 0.25
			why = append(why, "Applies when: "+item)
		}
	}
	for _, item := range a.antiPatterns {
		if itemMatches(item) {
			score += 0.25
			why = append(why, "Anti-pattern match: "+item)
		}
	}
	score = min(score, 1.0)
	if len(why) == 0 {
		return score, "Partial content match"
	}
	return score, strings.Join(why, "; ")
}

// relevantADRs are the ADRs Blue would call relevant to context, best
// first, at most five, as Blue listed them: number, title, confidence, why.
func (s *Service) relevantADRs(ctx context.Context, st Store, context string) ([]map[string]any, error) {
	words := strings.Fields(strings.ToLower(context))
	adrs, err := s.indexed(ctx, st, []string{"adr"})
	if err != nil {
		return nil, err
	}
	type hit struct {
		facts adrFacts
		score float64
		why   string
	}
	var hits []hit
	for i := range adrs {
		f, _ := adrs[i].entry.facts(&adrs[i].doc) // indexed makes every ADR's entry with its facts
		if sc, why := relevance(words, f); sc > relevantAbove {
			hits = append(hits, hit{f, sc, why})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].score > hits[j].score })
	out := []map[string]any{}
	for _, h := range hits[:min(len(hits), 5)] {
		out = append(out, map[string]any{"number": h.facts.number, "title": h.facts.title, "confidence": h.score, "why": h.why})
	}
	return out, nil
}

// adrSuggestions is what Blue answered when an RFC moved to in-progress
// (its get_adr_suggestions): the ADRs relevant to the RFC's title, whether
// the title suggests a new ADR, and a hint; nil when no ADR is relevant.
func (s *Service) adrSuggestions(ctx context.Context, st Store, rfcTitle string) (map[string]any, error) {
	relevant, err := s.relevantADRs(ctx, st, rfcTitle)
	if err != nil || len(relevant) == 0 {
		return nil, err
	}
	lower := strings.ToLower(rfcTitle)
	newADR := false
	for _, w := range []string{"breaking", "redesign", "architectural", "migration", "refactor"} {
		newADR = newADR || strings.Contains(lower, w)
	}
	hint := "Review these ADRs while implementing."
	if newADR {
		hint = "This RFC may warrant a new ADR after implementation. Consider using blue_adr_create."
	}
	return map[string]any{"relevant_adrs": relevant, "suggests_new_adr": newADR, "hint": hint}, nil
}

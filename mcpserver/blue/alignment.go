package blue

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Alignment dialogues (Blue's ADR 0014 and RFCs 0048, 0050, 0051 and 0057,
// as crates/blue-mcp/src/handlers/dialogue.rs and
// crates/blue-core/src/alignment_db.rs have them at db1da8c): a Judge runs
// a panel of expert agents over rounds; each round's perspectives,
// tensions, recommendations, evidence and claims are registered under
// display ids such as P0101 (type, two-digit round, two-digit sequence);
// a final verdict needs the last round to have converged. This file holds
// Blue's rules as pure functions; the tools keep the record.

// Expert tiers, as Blue wrote them in panels and the record.
const (
	TierCore     = "Core"
	TierAdjacent = "Adjacent"
	TierWildcard = "Wildcard"
)

// ParseTier reads a tier in either case ("core" or "Core"); ok is false for
// anything else.
func ParseTier(s string) (string, bool) {
	for _, t := range []string{TierCore, TierAdjacent, TierWildcard} {
		if strings.EqualFold(s, t) {
			return t, true
		}
	}
	return "", false
}

// PoolExpert is one expert of a Judge's pool.
type PoolExpert struct {
	Role      string  `json:"role"`
	Tier      string  `json:"tier"`
	Relevance float64 `json:"relevance"`
}

// Agent is an expert on a panel, with its pastry name.
type Agent struct {
	Name      string  `json:"name"`
	Role      string  `json:"role"`
	Emoji     string  `json:"emoji"`
	Tier      string  `json:"tier"`
	Relevance float64 `json:"relevance"`
	Focus     string  `json:"focus,omitempty"`
}

// Slug is the agent's expert slug in the record: its name, lower-cased.
func (a Agent) Slug() string { return strings.ToLower(a.Name) }

// PastryNames are Blue's agent names, in the order panels are named.
var PastryNames = []string{
	"Muffin", "Cupcake", "Scone", "Eclair", "Donut", "Brioche", "Croissant", "Macaron", "Cannoli", "Strudel",
	"Beignet", "Churro", "Profiterole", "Tartlet", "Galette", "Palmier", "Kouign", "Sfogliatella", "Financier", "Religieuse",
}

// AgentEmoji is every expert's emoji; the Judge's is JudgeEmoji.
const (
	AgentEmoji = "🧁"
	JudgeEmoji = "💙"
)

// TierSplit is how many core, adjacent and wildcard experts a panel of
// count has: all core up to 2; one wildcard and about a third core up to
// 5; beyond that about a third core, a quarter wildcard, the rest adjacent.
func TierSplit(count int) (core, adjacent, wildcard int) {
	switch {
	case count <= 2:
		return count, 0, 0
	case count <= 5:
		core = max(1, count/3)
		return core, count - core - 1, 1
	default:
		wildcard, core = count/4, count/3
		return core, count - core - wildcard, wildcard
	}
}

// weightedSample draws n experts without replacement, each with a chance
// in proportion to its relevance (uniform when every weight is zero).
func weightedSample(experts []PoolExpert, n int, rnd *rand.Rand) []PoolExpert {
	if n >= len(experts) {
		return slices.Clone(experts)
	}
	rest := slices.Clone(experts)
	out := make([]PoolExpert, 0, n)
	for range n {
		total := 0.0
		for _, e := range rest {
			total += max(e.Relevance, 0)
		}
		i := 0
		if total <= 0 {
			i = rnd.IntN(len(rest))
		} else {
			x := rnd.Float64() * total
			for j, e := range rest {
				if x -= max(e.Relevance, 0); x <= 0 {
					i = j
					break
				}
			}
		}
		out = append(out, rest[i])
		rest = slices.Delete(rest, i, i+1)
	}
	return out
}

// SamplePanel draws a panel of size from the pool, tier by tier as
// TierSplit says, then fills any shortfall from the experts not yet drawn.
func SamplePanel(pool []PoolExpert, size int, rnd *rand.Rand) []PoolExpert {
	core, adjacent, wildcard := TierSplit(size)
	byTier := func(t string) []PoolExpert {
		var out []PoolExpert
		for _, e := range pool {
			if e.Tier == t {
				out = append(out, e)
			}
		}
		return out
	}
	panel := weightedSample(byTier(TierCore), core, rnd)
	panel = append(panel, weightedSample(byTier(TierAdjacent), adjacent, rnd)...)
	panel = append(panel, weightedSample(byTier(TierWildcard), wildcard, rnd)...)
	for len(panel) < size && len(panel) < len(pool) {
		var rest []PoolExpert
		for _, e := range pool {
			if !slices.ContainsFunc(panel, func(p PoolExpert) bool { return p.Role == e.Role }) {
				rest = append(rest, e)
			}
		}
		if len(rest) == 0 {
			break
		}
		panel = append(panel, weightedSample(rest, 1, rnd)...)
	}
	return panel
}

// NamePanel gives the drawn experts their pastry names in order
// ("Pastry21" and on past the twentieth).
func NamePanel(experts []PoolExpert) []Agent {
	out := make([]Agent, len(experts))
	for i, e := range experts {
		name := fmt.Sprintf("Pastry%d", i+1)
		if i < len(PastryNames) {
			name = PastryNames[i]
		}
		out[i] = Agent{Name: name, Role: e.Role, Emoji: AgentEmoji, Tier: e.Tier, Relevance: e.Relevance}
	}
	return out
}

// Entity types of the record, by display-id prefix.
const (
	Perspective    = 'P'
	Recommendation = 'R'
	Tension        = 'T'
	Evidence       = 'E'
	Claim          = 'C'
)

// DisplayID is an entity's id: its type, then round and sequence as two
// digits each (P0101 is round 1's first perspective).
func DisplayID(typ byte, round, seq int) string { return fmt.Sprintf("%c%02d%02d", typ, round, seq) }

// ParseDisplayID reads a display id; ok is false unless it is a type letter
// and four digits.
func ParseDisplayID(id string) (typ byte, round, seq int, ok bool) {
	if len(id) != 5 || !strings.ContainsRune("PRTEC", rune(id[0])) {
		return 0, 0, 0, false
	}
	for i := 1; i < 5; i++ {
		if id[i] < '0' || id[i] > '9' {
			return 0, 0, 0, false
		}
	}
	return id[0], int(id[1]-'0')*10 + int(id[2]-'0'), int(id[3]-'0')*10 + int(id[4]-'0'), true
}

// MaxRound is the last round a display id can name.
const MaxRound = 99

// RefTypes are the kinds of cross-reference between entities.
var RefTypes = []string{"support", "oppose", "refine", "address", "resolve", "reopen", "question", "depend"}

// TensionStatuses are a tension's states; open and reopened ones block
// convergence.
var TensionStatuses = []string{"open", "addressed", "resolved", "reopened"}

// VerdictTypes and Confidences are a verdict's kinds and confidence levels.
var (
	VerdictTypes = []string{"interim", "final", "minority", "dissent"}
	Confidences  = []string{"unanimous", "strong", "split", "contested"}
)

// ExpertSources say how an expert joined a panel.
var ExpertSources = []string{"retained", "pool", "created"}

// ValidationError is one problem with a round's registration, in Blue's
// shape: a code, a message, the field (perspectives[0].label) and a hint.
type ValidationError struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	Field      string `json:"field,omitempty"`
	Suggestion string `json:"suggestion,omitempty"`
}

func (e ValidationError) String() string {
	s := e.Field + ": " + e.Message
	if e.Suggestion != "" {
		s += " (" + e.Suggestion + ")"
	}
	return s
}

// RefCheck validates one reference from an entity of type source: the ref
// type is one of RefTypes, the target a display id; resolve, reopen and
// address target a tension, and refine an entity of the source's own type.
func RefCheck(field string, source byte, refType, target string) []ValidationError {
	var out []ValidationError
	if !slices.Contains(RefTypes, refType) {
		out = append(out, ValidationError{Code: "invalid_ref_type", Field: field + ".type",
			Message:    fmt.Sprintf("invalid reference type %q", refType),
			Suggestion: "use one of " + strings.Join(RefTypes, ", ")})
	}
	typ, _, _, ok := ParseDisplayID(target)
	if !ok {
		return append(out, ValidationError{Code: "invalid_display_id", Field: field + ".target",
			Message:    fmt.Sprintf("invalid display id %q", target),
			Suggestion: "use a type letter (P, R, T, E, C), a two-digit round and a two-digit sequence, e.g. P0101"})
	}
	switch refType {
	case "resolve", "reopen", "address":
		if typ != Tension {
			out = append(out, ValidationError{Code: "invalid_ref_target", Field: field,
				Message: fmt.Sprintf("a %s reference must target a tension (T…), not %s", refType, target)})
		}
	case "refine":
		if typ != source {
			out = append(out, ValidationError{Code: "invalid_ref_target", Field: field,
				Message: fmt.Sprintf("a refine reference needs the same entity type: %c cannot refine %s", source, target)})
		}
	}
	return out
}

// Convergence is a round's convergence metrics (RFC 0057): velocity is
// open tensions plus new perspectives, and a dialogue converges when the
// last round has velocity 0 and every expert of its panel signalled
// [MOVE:CONVERGE].
type Convergence struct {
	OpenTensions    int `json:"open_tensions"`
	NewPerspectives int `json:"new_perspectives"`
	ConvergeSignals int `json:"converge_signals"`
	PanelSize       int `json:"panel_size"`
}

// Velocity is open tensions plus new perspectives.
func (c Convergence) Velocity() int { return c.OpenTensions + c.NewPerspectives }

// Percent is the share of the panel that signalled convergence.
func (c Convergence) Percent() float64 {
	if c.PanelSize <= 0 {
		return 0
	}
	return float64(c.ConvergeSignals) * 100 / float64(c.PanelSize)
}

// CanConverge is Blue's can_dialogue_converge over the last round's
// metrics (nil when no round is registered): the verdict and the reasons
// it may not converge yet.
func CanConverge(last *Convergence) (bool, []string) {
	if last == nil {
		return false, []string{"no rounds registered"}
	}
	var blockers []string
	if v := last.Velocity(); v > 0 {
		blockers = append(blockers, fmt.Sprintf("velocity=%d (open_tensions=%d, new_perspectives=%d)", v, last.OpenTensions, last.NewPerspectives))
	}
	if p := last.Percent(); p < 100 {
		blockers = append(blockers, fmt.Sprintf("converge_percent=%.0f%% (%d/%d)", p, last.ConvergeSignals, last.PanelSize))
	}
	return len(blockers) == 0, blockers
}

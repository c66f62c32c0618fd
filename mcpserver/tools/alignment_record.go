package tools

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// An alignment dialogue's record lives in the client's bucket and table as
// documents of two kinds the Blue tools do not list:
//
//   - one dialogue-record per dialogue, with the dialogue document's id and
//     Blue's dialogue_id as its title: the expert pool, the experts, each
//     round's panel and the verdicts (JSON);
//   - one dialogue-round per registered round, id "<record id>.r<NN>",
//     written once (create-only) by blue_dialogue_round_register, so a round
//     is registered whole or not at all: its summary, scores, convergence
//     metrics and the perspectives, tensions, recommendations, evidence and
//     claims it surfaced, as markdown a person can read with the JSON
//     record at its end.
//
// Everything derived (entity statuses, the scoreboard, expert totals, the
// dialogue's markdown tables) is computed from these on read, so nothing
// has to be kept in step by a second write that could fail.
const (
	kindAlignRecord = "dialogue-record"
	kindAlignRound  = "dialogue-round"
)

// alignRecord is a dialogue-record's body.
type alignRecord struct {
	DialogueID  string            `json:"dialogue_id"`
	Title       string            `json:"title"`
	Question    string            `json:"question,omitempty"`
	Domain      string            `json:"domain"`
	Status      string            `json:"status"` // open, converged
	CreatedAt   time.Time         `json:"created_at"`
	ConvergedAt *time.Time        `json:"converged_at,omitempty"`
	OutputDir   string            `json:"output_dir"`
	Model       string            `json:"model"`
	Sources     []string          `json:"sources,omitempty"`
	Rotation    string            `json:"rotation"`
	Pool        []blue.PoolExpert `json:"pool"`
	Experts     []alignExpert     `json:"experts"`
	Panels      []alignPanel      `json:"panels"`
	Verdicts    []alignVerdict    `json:"verdicts,omitempty"`
	// Rounds is how many rounds were registered when the record was last
	// written: where reading the rounds starts looking (see rounds).
	Rounds int `json:"rounds"`
}

type alignExpert struct {
	Slug           string    `json:"expert_slug"`
	Name           string    `json:"name"`
	Role           string    `json:"role"`
	Tier           string    `json:"tier"`
	Source         string    `json:"source"`
	Focus          string    `json:"focus,omitempty"`
	Relevance      *float64  `json:"relevance,omitempty"`
	CreationReason string    `json:"creation_reason,omitempty"`
	FirstRound     int       `json:"first_round"`
	CreatedAt      time.Time `json:"created_at"`
}

type alignPanel struct {
	Round   int           `json:"round"`
	Agents  []blue.Agent  `json:"agents"`
	History *panelHistory `json:"history,omitempty"`
}

// panelHistory is how a Judge-evolved panel was composed (RFC 0050).
type panelHistory struct {
	Round         int           `json:"round"`
	PanelSize     int           `json:"panel_size"`
	RetainedCount int           `json:"retained_count"`
	FromPoolCount int           `json:"from_pool_count"`
	CreatedCount  int           `json:"created_count"`
	Experts       []PanelExpert `json:"experts"`
}

type alignVerdict struct {
	VerdictID              string    `json:"verdict_id"`
	VerdictType            string    `json:"verdict_type"`
	Round                  int       `json:"round"`
	AuthorExpert           *string   `json:"author_expert"`
	Recommendation         string    `json:"recommendation"`
	Description            string    `json:"description"`
	Conditions             []string  `json:"conditions"`
	Vote                   *string   `json:"vote"`
	Confidence             *string   `json:"confidence"`
	TensionsResolved       []string  `json:"tensions_resolved"`
	TensionsAccepted       []string  `json:"tensions_accepted"`
	RecommendationsAdopted []string  `json:"recommendations_adopted"`
	SupportingExperts      []string  `json:"supporting_experts"`
	Forced                 bool      `json:"forced,omitempty"`
	CreatedAt              time.Time `json:"created_at"`
}

// alignRound is one registered round.
type alignRound struct {
	Round           int              `json:"round"`
	Score           int              `json:"score"`
	Summary         string           `json:"summary,omitempty"`
	Components      ScoreComponents  `json:"score_components"`
	Convergence     blue.Convergence `json:"convergence"`
	Perspectives    []alignEntity    `json:"perspectives"`
	Tensions        []alignEntity    `json:"tensions"`
	Recommendations []alignEntity    `json:"recommendations"`
	Evidence        []alignEntity    `json:"evidence"`
	Claims          []alignEntity    `json:"claims"`
	TensionUpdates  []TensionUpdate  `json:"tension_updates,omitempty"`
	ExpertScores    map[string]int   `json:"expert_scores,omitempty"`
	CreatedAt       time.Time        `json:"created_at"`
}

// alignEntity is a perspective, tension, recommendation, evidence or claim.
type alignEntity struct {
	ID           string         `json:"id"`
	LocalID      string         `json:"local_id,omitempty"`
	Round        int            `json:"round"`
	Seq          int            `json:"seq"`
	Label        string         `json:"label"`
	Content      string         `json:"content,omitempty"`
	Description  string         `json:"description,omitempty"`
	Contributors []string       `json:"contributors"`
	Parameters   map[string]any `json:"parameters,omitempty"`
	References   []Reference    `json:"references,omitempty"`
	CreatedAt    time.Time      `json:"created_at"`
}

func roundID(recordID string, round int) string { return fmt.Sprintf("%s.r%02d", recordID, round) }

// roundJSONFence opens the JSON record at the end of a round's markdown.
const roundJSONFence = "\n```json\n"

// renderRound is a round document's body: markdown a person reads in the
// client's bucket, then the record as JSON. Every text an expert wrote is
// kept on one table row or list line, so none of it can start a section.
func renderRound(title string, r alignRound) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s: Round %d\n\n", title, r.Round)
	fmt.Fprintf(&b, "| | |\n|---|---|\n| **Score** | %d |\n| **Velocity** | %d |\n| **Converge** | %.0f%% |\n\n", r.Score, r.Convergence.Velocity(), r.Convergence.Percent())
	if r.Summary != "" {
		fmt.Fprintf(&b, "%s\n\n", oneLine(r.Summary))
	}
	for _, g := range []struct {
		name string
		es   []alignEntity
	}{{"Perspectives", r.Perspectives}, {"Tensions", r.Tensions}, {"Recommendations", r.Recommendations}, {"Evidence", r.Evidence}, {"Claims", r.Claims}} {
		if len(g.es) == 0 {
			continue
		}
		fmt.Fprintf(&b, "**%s**\n\n", g.name)
		for _, e := range g.es {
			fmt.Fprintf(&b, "- %s %s: %s (%s)\n", e.ID, oneLine(e.Label), oneLine(e.Content+e.Description), strings.Join(e.Contributors, ", "))
		}
		b.WriteString("\n")
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode round %d: %w", r.Round, err)
	}
	b.WriteString(strings.TrimPrefix(roundJSONFence, "\n"))
	b.Write(js)
	b.WriteString("\n```\n")
	return b.Bytes(), nil
}

func parseRound(body []byte) (alignRound, error) {
	var r alignRound
	i := bytes.LastIndex(body, []byte(roundJSONFence))
	if i < 0 {
		return r, errors.New("round document has no JSON record")
	}
	js := bytes.TrimSuffix(bytes.TrimSpace(body[i+len(roundJSONFence):]), []byte("```"))
	if err := json.Unmarshal(js, &r); err != nil {
		return r, fmt.Errorf("round document: %w", err)
	}
	return r, nil
}

// oneLine keeps free text on one markdown line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// alignDoc is a loaded record with the document that holds it.
type alignDoc struct {
	doc *store.Document
	rec alignRecord
}

// findAlignment finds a dialogue's record by what Blue's tools named it
// with: the dialogue_id, the output_dir blue_dialogue_create answered, or
// the dialogue's own title or number.
func (s *Service) findAlignment(ctx context.Context, st Store, arg, ref string) (*alignDoc, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, fmt.Errorf("%s is required: give the dialogue_id or output_dir blue_dialogue_create answered", arg)
	}
	load := func(d *store.Document) (*alignDoc, error) {
		body, err := withBody(ctx, st, d)
		if err != nil {
			return nil, err
		}
		a := &alignDoc{doc: d}
		if err := json.Unmarshal(body, &a.rec); err != nil {
			return nil, fmt.Errorf("read the alignment record of %q: %w", ref, err)
		}
		return a, nil
	}
	get := func(id string) (*alignDoc, error) {
		d, err := st.Get(ctx, kindAlignRecord, id)
		if err != nil || d.DeletedAt != nil {
			return nil, err
		}
		return load(d)
	}
	// An output_dir ends in the record's id.
	if a, err := get(path.Base(strings.TrimRight(ref, "/"))); a != nil || err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalid) {
		return a, err
	}
	// A dialogue_id is the record's title.
	ti, indexed := st.(titleIndex)
	if indexed {
		d, err := ti.GetByTitle(ctx, kindAlignRecord, ref)
		switch {
		case err == nil:
			return load(d)
		case errors.Is(err, errors.ErrUnsupported):
			indexed = false // a client API without lookup: list
		case !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalid):
			return nil, storeErr("find the dialogue", err)
		}
	}
	if !indexed {
		docs, err := listAll(ctx, st, kindAlignRecord, store.ListOptions{})
		if err != nil {
			return nil, err
		}
		for i := range docs {
			if strings.EqualFold(docs[i].Title, ref) {
				return load(&docs[i])
			}
		}
	}
	// The dialogue document's title, slug or number.
	d, err := s.find(ctx, st, kind("dialogue"), ref, store.ListOptions{})
	if err != nil {
		if errors.Is(err, errNotFound) {
			return nil, fmt.Errorf("%s: %w: no alignment dialogue matches %q; create one with blue_dialogue_create and alignment: true", arg, errNotFound, ref)
		}
		return nil, fmt.Errorf("%s: %w", arg, err)
	}
	a, err := get(d.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, storeErr("read the alignment record", err)
	}
	if a == nil {
		return nil, fmt.Errorf("%s: dialogue %q was recorded without alignment mode, so it has no rounds; create an alignment dialogue with blue_dialogue_create and alignment: true", arg, d.Title)
	}
	return a, nil
}

// findAlignmentRounds is findAlignment with the rounds registered so far.
func (s *Service) findAlignmentRounds(ctx context.Context, st Store, arg, ref string) (*alignDoc, []alignRound, error) {
	a, err := s.findAlignment(ctx, st, arg, ref)
	if err != nil {
		return nil, nil, err
	}
	rounds, err := s.rounds(ctx, st, a)
	if err != nil {
		return nil, nil, err
	}
	return a, rounds, nil
}

// saveAlignment writes the record as a new revision of its document,
// re-reading and re-applying change when another call wrote it meanwhile
// (expert creation, a panel and a verdict can race).
func (s *Service) saveAlignment(ctx context.Context, st Store, a *alignDoc, change func(*alignRecord) error) error {
	for attempt := 0; ; attempt++ {
		if err := change(&a.rec); err != nil {
			return err
		}
		body, err := json.Marshal(a.rec)
		if err != nil {
			return fmt.Errorf("encode the alignment record: %w", err)
		}
		d := *a.doc
		d.Body, d.UpdatedAt = body, s.now()
		err = st.Update(ctx, &d)
		if err == nil {
			a.doc = &d
			return nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt == 4 {
			return storeErr("update the alignment record", err)
		}
		fresh, ferr := st.Get(ctx, kindAlignRecord, a.doc.ID)
		if ferr != nil {
			return storeErr("update the alignment record", ferr)
		}
		body, ferr = st.Body(ctx, fresh)
		if ferr != nil {
			return storeErr("update the alignment record", ferr)
		}
		a.doc, a.rec = fresh, alignRecord{}
		if ferr := json.Unmarshal(body, &a.rec); ferr != nil {
			return fmt.Errorf("read the alignment record: %w", ferr)
		}
	}
}

// rounds reads every registered round in order. The record's count says
// how many there were when it was last written; those are read at once,
// then the next ones one by one until one is missing, so a round whose
// registration committed but whose count update did not is still read.
func (s *Service) rounds(ctx context.Context, st Store, a *alignDoc) ([]alignRound, error) {
	read := func(n int) (*alignRound, error) {
		d, err := st.Get(ctx, kindAlignRound, roundID(a.doc.ID, n))
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, storeErr(fmt.Sprintf("read round %d", n), err)
		}
		body, err := withBody(ctx, st, d)
		if err != nil {
			return nil, err
		}
		r, err := parseRound(body)
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", n, err)
		}
		return &r, nil
	}
	known := min(a.rec.Rounds, blue.MaxRound+1)
	got := make([]*alignRound, known)
	errs := make([]error, known)
	var wg sync.WaitGroup
	for i := range known {
		wg.Go(func() { got[i], errs[i] = read(i) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := make([]alignRound, 0, known+1)
	for _, r := range got {
		if r == nil {
			break
		}
		out = append(out, *r)
	}
	for n := len(out); len(out) == n && n >= known && n <= blue.MaxRound; n++ {
		r, err := read(n)
		if err != nil {
			return nil, err
		}
		if r == nil {
			break
		}
		out = append(out, *r)
	}
	return out, nil
}

// alignState is what the record and its rounds add up to: every entity
// with its current status, the scoreboard, and the experts' totals.
type alignState struct {
	entities   map[byte][]*stateEntity // by type letter, in registration order
	byID       map[string]*stateEntity
	scoreboard []map[string]any
	totals     map[string]int            // expert slug → total score
	scores     map[string]map[string]int // expert slug → round → score
	last       *blue.Convergence
	alignment  int
}

type stateEntity struct {
	alignEntity
	typ       byte
	status    string
	adoptedIn string
}

var entityInitial = map[byte]string{blue.Perspective: "open", blue.Tension: "open", blue.Recommendation: "proposed", blue.Evidence: "cited", blue.Claim: "asserted"}

func foldAlignment(rec alignRecord, rounds []alignRound) *alignState {
	st := &alignState{entities: map[byte][]*stateEntity{}, byID: map[string]*stateEntity{}, totals: map[string]int{}, scores: map[string]map[string]int{}}
	var cum, cw, cc, ct, cr int
	for _, r := range rounds {
		for _, g := range r.groups() {
			for _, e := range g.es {
				se := &stateEntity{alignEntity: e, typ: g.typ, status: entityInitial[g.typ]}
				st.entities[g.typ] = append(st.entities[g.typ], se)
				st.byID[e.ID] = se
			}
		}
		for _, u := range r.TensionUpdates {
			if e := st.byID[u.ID]; e != nil && e.typ == blue.Tension {
				e.status = cmp.Or(u.Status, "open")
			}
		}
		for slug, v := range r.ExpertScores {
			if st.scores[slug] == nil {
				st.scores[slug] = map[string]int{}
			}
			st.scores[slug][strconv.Itoa(r.Round)] = v
			st.totals[slug] += v
		}
		c := r.Components
		cum, cw, cc, ct, cr = cum+r.Score, cw+c.Wisdom, cc+c.Consistency, ct+c.Truth, cr+c.Relationships
		cv := r.Convergence
		st.last = &cv
		st.alignment = cum
		st.scoreboard = append(st.scoreboard, map[string]any{
			"round":    r.Round,
			"score":    map[string]any{"W": c.Wisdom, "C": c.Consistency, "T": c.Truth, "R": c.Relationships, "total": r.Score},
			"velocity": cv.Velocity(), "open_tensions": cv.OpenTensions, "new_perspectives": cv.NewPerspectives,
			"converge_signals": cv.ConvergeSignals, "panel_size": cv.PanelSize, "converge_percent": cv.Percent(),
			"cumulative_score": cum,
			"cumulative":       map[string]any{"score": cum, "W": cw, "C": cc, "T": ct, "R": cr},
		})
	}
	for _, v := range rec.Verdicts {
		for _, id := range v.TensionsResolved {
			if e := st.byID[id]; e != nil && e.typ == blue.Tension {
				e.status = "resolved"
			}
		}
		for _, id := range v.RecommendationsAdopted {
			if e := st.byID[id]; e != nil && e.typ == blue.Recommendation {
				e.status, e.adoptedIn = "adopted", v.VerdictID
			}
		}
	}
	return st
}

func (st *alignState) openTensions() []*stateEntity {
	var out []*stateEntity
	for _, e := range st.entities[blue.Tension] {
		if e.status == "open" || e.status == "reopened" {
			out = append(out, e)
		}
	}
	return out
}

type entityGroup struct {
	name string
	typ  byte
	es   []alignEntity
}

func (r alignRound) groups() []entityGroup {
	return []entityGroup{
		{"perspectives", blue.Perspective, r.Perspectives},
		{"tensions", blue.Tension, r.Tensions},
		{"recommendations", blue.Recommendation, r.Recommendations},
		{"evidence", blue.Evidence, r.Evidence},
		{"claims", blue.Claim, r.Claims},
	}
}

// entityViews are entities as Blue's round_context and export answered
// them; withRefs adds the export's seq, refs and created_at.
func (st *alignState) entityViews(typ byte, withRefs bool) []map[string]any {
	out := []map[string]any{}
	for _, e := range st.entities[typ] {
		m := map[string]any{"id": e.ID, "round": e.Round, "label": e.Label, "contributors": nonNil(e.Contributors), "status": e.status}
		if typ == blue.Tension {
			m["description"] = e.Description
		} else {
			m["content"] = e.Content
		}
		if typ == blue.Recommendation {
			m["parameters"] = e.Parameters
		}
		if withRefs {
			m["seq"], m["created_at"] = e.Seq, stamp(e.CreatedAt)
			m["refs"] = e.References
			if typ == blue.Recommendation {
				m["adopted_in_verdict"] = orNil(e.adoptedIn)
			}
		}
		out = append(out, m)
	}
	return out
}

func (a *alignDoc) expert(slug string) *alignExpert {
	for i := range a.rec.Experts {
		if strings.EqualFold(a.rec.Experts[i].Slug, slug) {
			return &a.rec.Experts[i]
		}
	}
	return nil
}

// panel is the panel of a round: the one set for it, else the latest set
// before it.
func (a *alignDoc) panel(round int) []blue.Agent {
	var best *alignPanel
	for i := range a.rec.Panels {
		p := &a.rec.Panels[i]
		if p.Round <= round && (best == nil || p.Round >= best.Round) {
			best = p
		}
	}
	if best == nil {
		return nil
	}
	return best.Agents
}

func (a *alignDoc) setPanel(p alignPanel) {
	a.rec.Panels = slices.DeleteFunc(a.rec.Panels, func(q alignPanel) bool { return q.Round == p.Round })
	a.rec.Panels = append(a.rec.Panels, p)
	slices.SortFunc(a.rec.Panels, func(x, y alignPanel) int { return x.Round - y.Round })
}

// addExpert registers an expert unless one of that slug is there.
func (a *alignDoc) addExpert(e alignExpert) bool {
	if a.expert(e.Slug) != nil {
		return false
	}
	a.rec.Experts = append(a.rec.Experts, e)
	return true
}

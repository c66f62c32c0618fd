package tools

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// Alignment dialogues, hosted. In local Blue the Judge (Claude Code) ran
// the expert agents and the server wrote their files and a SQLite record
// on the developer's machine. Hosted, the client's Claude Code still runs
// every agent (the server never calls a model, so it needs no model key);
// the server answers the prompts and keeps the record in the client's
// bucket and table (alignment_record.go). The agents' own scratch files,
// if the Judge has them written, stay on the engineer's machine.

// Limits on what one call may add to a dialogue's record.
const (
	maxPoolExperts  = 100
	maxPanelSize    = 40
	maxEntities     = 99 // two digits of sequence in a display id
	maxRoundBytes   = 512 * 1024
	maxAlignText    = 16 * 1024
	maxVerdictCount = 50
)

// createAlignment is blue_dialogue_create with alignment: the dialogue
// document with Blue's alignment scaffold, and its record with the pool and
// the first panel.
func (s *Service) createAlignment(ctx context.Context, st Store, in DialogueCreateIn, attrs map[string]string, rfcRow string) (Result, error) {
	pool, err := poolOf(in.ExpertPool)
	if err != nil {
		return Result{}, err
	}
	size := min(len(pool), 12)
	if in.PanelSize != 0 {
		size = in.PanelSize
	}
	if size < 1 || size > maxPanelSize {
		return Result{}, fmt.Errorf("panel_size is %d; give 1 to %d", size, maxPanelSize)
	}
	rotation := cmp.Or(in.Rotation, "graduated")
	model := cmp.Or(in.Model, "sonnet")
	agents := blue.NamePanel(blue.SamplePanel(pool, size, rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))))
	title := strings.TrimSpace(in.Title)
	now := s.now()

	k := kind("dialogue")
	d, err := s.newDoc(ctx, st, k, title, attrs, func(id string, _ int) []byte {
		return alignmentScaffold(k, title, rfcRow, now.Format("2006-01-02"), in.ExpertPool, agents)
	})
	if err != nil {
		return Result{}, err
	}
	rec := alignRecord{
		Title: title, Question: in.ExpertPool.Question, Domain: in.ExpertPool.Domain, Status: "open", CreatedAt: now,
		OutputDir: ".blue/dialogues/" + d.ID, Model: model, Sources: in.Sources, Rotation: rotation, Pool: pool,
		Panels: []alignPanel{{Round: 0, Agents: agents}},
	}
	for _, a := range agents {
		rel := a.Relevance
		rec.Experts = append(rec.Experts, alignExpert{Slug: a.Slug(), Name: a.Name, Role: a.Role, Tier: a.Tier, Source: "pool", Relevance: &rel, CreatedAt: now})
	}
	// Blue's dialogue_id is the title's slug, numbered from -2 when taken.
	var recDoc *store.Document
	for i := 1; recDoc == nil; i++ {
		rec.DialogueID = blue.Slug(title)
		if i > 1 {
			rec.DialogueID = fmt.Sprintf("%s-%d", rec.DialogueID, i)
		}
		body, err := json.Marshal(rec)
		if err != nil {
			return Result{}, fmt.Errorf("encode the alignment record: %w", err)
		}
		rd := &store.Document{Kind: kindAlignRecord, ID: d.ID, Title: rec.DialogueID, Slug: blue.Slug(rec.DialogueID), Status: "open", Body: body, CreatedAt: now, UpdatedAt: now}
		err = st.Create(ctx, rd)
		switch {
		case err == nil:
			recDoc = rd
		case errors.Is(err, store.ErrExists) && i < 99:
			// that dialogue_id is another dialogue's; try the next
		default:
			// Without its record the dialogue could never hold a round:
			// take the document back rather than leave half of it.
			if perr := st.Purge(ctx, d.Kind, d.ID); perr != nil {
				err = errors.Join(err, fmt.Errorf("and removing the dialogue again: %w", perr))
			}
			return Result{}, storeErr("create the alignment record", err)
		}
	}

	protocol := judgeProtocol(rec, agents, filePath(d))
	r := ok(fmt.Sprintf("Alignment dialogue created: %s\nFile: %s\nDialogue id: %s\n\n## JUDGE PROTOCOL — FOLLOW THESE INSTRUCTIONS\n\n%s", title, filePath(d), rec.DialogueID, protocol["instructions"]))
	r.Document = view(d, d.Body)
	return r.with(map[string]any{
		"dialogue":       map[string]any{"id": d.ID, "number": numberOrNil(d), "title": d.Title, "file": filePath(d), "linked_rfc": orNil(in.RFCTitle)},
		"content":        string(d.Body),
		"judge_protocol": protocol,
		"dialogue_id":    rec.DialogueID,
	}), nil
}

func poolOf(p *ExpertPool) ([]blue.PoolExpert, error) {
	if p == nil {
		return nil, errors.New("expert_pool is required with alignment: true (Blue's RFC 0048): give a domain and experts with role, tier and relevance")
	}
	if strings.TrimSpace(p.Domain) == "" {
		return nil, errors.New("expert_pool.domain is required")
	}
	if len(p.Experts) == 0 || len(p.Experts) > maxPoolExperts {
		return nil, fmt.Errorf("expert_pool.experts has %d experts; give 1 to %d", len(p.Experts), maxPoolExperts)
	}
	out := make([]blue.PoolExpert, len(p.Experts))
	seen := map[string]bool{}
	for i, e := range p.Experts {
		tier, ok := blue.ParseTier(e.Tier)
		switch {
		case strings.TrimSpace(e.Role) == "":
			return nil, fmt.Errorf("expert_pool.experts[%d].role is required", i)
		case !ok:
			return nil, fmt.Errorf("expert_pool.experts[%d].tier %q: want core, adjacent or wildcard", i, e.Tier)
		case e.Relevance < 0 || e.Relevance > 1:
			return nil, fmt.Errorf("expert_pool.experts[%d].relevance is %v; give 0.0 to 1.0", i, e.Relevance)
		case seen[strings.ToLower(e.Role)]:
			return nil, fmt.Errorf("expert_pool.experts[%d].role %q is in the pool twice", i, e.Role)
		}
		seen[strings.ToLower(e.Role)] = true
		out[i] = blue.PoolExpert{Role: strings.TrimSpace(e.Role), Tier: tier, Relevance: e.Relevance}
	}
	return out, nil
}

// alignmentScaffold is the dialogue document of an alignment dialogue:
// Blue's sections (expert pool, panel, scoreboard, inventories, round 0),
// under the hosted header the server keeps.
func alignmentScaffold(k blue.Kind, title, rfcRow, date string, pool *ExpertPool, agents []blue.Agent) []byte {
	var participants []string
	for _, a := range agents {
		participants = append(participants, a.Emoji+" "+a.Name)
	}
	var tiers strings.Builder
	tiers.WriteString("| Tier | Experts |\n|------|--------|\n")
	for _, t := range []string{blue.TierCore, blue.TierAdjacent, blue.TierWildcard} {
		var roles []string
		for _, e := range pool.Experts {
			if tt, _ := blue.ParseTier(e.Tier); tt == t {
				roles = append(roles, cellText(e.Role))
			}
		}
		if len(roles) > 0 {
			fmt.Fprintf(&tiers, "| %s | %s |\n", t, strings.Join(roles, ", "))
		}
	}
	poolText := "**Domain**: " + oneLine(pool.Domain) + "\n"
	if q := oneLine(pool.Question); q != "" {
		poolText += "**Question**: " + q + "\n"
	}
	var opening strings.Builder
	for _, a := range agents {
		fmt.Fprintf(&opening, "### %s %s\n\n[Awaiting response]\n\n", a.Name, a.Emoji)
	}
	return blue.Doc{
		Heading: heading(k, 0, title),
		Header: []blue.Row{{Key: "Status", Value: "Recorded"}, {Key: "Date", Value: date}, {Key: "RFC", Value: rfcRow},
			{Key: "Participants", Value: blue.JudgeEmoji + " Judge, " + strings.Join(participants, ", ")}},
		Sections: []blue.Section{
			{Name: "Expert Pool", Text: poolText + "\n" + tiers.String()},
			{Name: "Expert Panel", Text: panelTable(agents)},
			{Name: "Alignment Scoreboard", Text: scoreboardTable(nil)},
			{Name: "Perspectives Inventory", Text: "| ID | Agent | Perspective | Round |\n|----|-------|-------------|-------|\n| — | — | [Awaiting Round 0] | — |"},
			{Name: "Tensions Tracker", Text: "| ID | Tension | Status | Raised | Resolved |\n|----|---------|--------|--------|----------|\n| — | [Awaiting Round 0] | — | — | — |"},
			{Name: "Round 0: Opening Arguments", Text: opening.String()},
		},
	}.Render()
}

func cellText(s string) string { return strings.ReplaceAll(oneLine(s), "|", `\|`) }

func panelTable(agents []blue.Agent) string {
	var b strings.Builder
	b.WriteString("| Agent | Role | Tier | Relevance | Emoji |\n|-------|------|------|-----------|-------|\n| 💙 Judge | Orchestrator | — | — | 💙 |\n")
	for _, a := range agents {
		fmt.Fprintf(&b, "| %s %s | %s | %s | %.2f | %s |\n", a.Emoji, a.Name, cellText(a.Role), a.Tier, a.Relevance, a.Emoji)
	}
	return b.String()
}

func scoreboardTable(st *alignState) string {
	var b strings.Builder
	b.WriteString("| Round | W | C | T | R | Score | Σ | Open T | New P | Velocity | Converge % |\n|-------|---|---|---|---|-------|---|--------|-------|----------|------------|\n")
	if st == nil {
		b.WriteString("| — | 0 | 0 | 0 | 0 | 0 | 0 | — | — | — | 0% |\n\n**Total ALIGNMENT**: 0")
		return b.String()
	}
	for _, row := range st.scoreboard {
		sc := row["score"].(map[string]any)
		fmt.Fprintf(&b, "| %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %.0f%% |\n", row["round"], sc["W"], sc["C"], sc["T"], sc["R"], sc["total"],
			row["cumulative_score"], row["open_tensions"], row["new_perspectives"], row["velocity"], row["converge_percent"])
	}
	fmt.Fprintf(&b, "\n**Total ALIGNMENT**: %d", st.alignment)
	return b.String()
}

// judgeProtocol is what the Judge follows, as Blue's build_judge_protocol
// answered it, with the hosted record in place of the files Blue's Judge
// wrote for the next round.
func judgeProtocol(rec alignRecord, agents []blue.Agent, dialogueFile string) map[string]any {
	list := make([]map[string]any, len(agents))
	var names []string
	for i, a := range agents {
		list[i] = map[string]any{"name": a.Name, "role": a.Role, "emoji": a.Emoji, "tier": a.Tier, "relevance": a.Relevance, "name_lowercase": a.Slug()}
		names = append(names, fmt.Sprintf("%s %s (%s)", a.Emoji, a.Name, a.Role))
	}
	instructions := fmt.Sprintf(`You are the 💙 Judge. Orchestrate this alignment dialogue. The hosted Blue server keeps its record in your organisation's own storage; you (Claude Code) run every expert agent yourself. The server never calls a model.

=== EACH ROUND ===

1. PANEL: round 0 uses the panel below. Between rounds you may change it with blue_dialogue_evolve_panel (output_dir="%[1]s", round=N, panel=[{name, role, source: retained|pool|created, tier?, focus?}]) or draw a new one with blue_dialogue_sample_panel.
2. PROMPTS: for EACH agent call blue_dialogue_round_prompt(output_dir="%[1]s", agent_name, agent_emoji, agent_role, round=N, expert_source). From round 1 the prompt already carries the record so far (open tensions, your last summary, last round's perspectives): agents need no files from the server.
3. SPAWN: all %[2]d experts in a SINGLE message with one Task call each (subagent_type from task_params), so they run in parallel. Each writes its answer to its output_file on this machine and returns a five-line confirmation.
4. SCORE: ALIGNMENT = Wisdom + Consistency + Truth + Relationships (unbounded), only after reading the returns.
5. REGISTER: call blue_dialogue_round_register(dialogue_id="%[3]s", round=N, score, score_components{wisdom,consistency,truth,relationships}, summary, expert_scores{slug: score}, perspectives, tensions, recommendations, evidence, claims (each {local_id, label, content or description, contributors, references[{type, target}]}), tension_updates[{id, status, by, via}], converge_signals). Rounds are written once, in order; the server numbers the entities (P0101, T0102, ...), updates the dialogue document's scoreboard, inventories and round section, and answers the ids.
6. CONVERGENCE (RFC 0057): velocity = open tensions + new perspectives; converge %% = experts signalling [MOVE:CONVERGE] / panel size. Converged only when velocity == 0 AND converge %% == 100. blue_dialogue_round_context shows both. Otherwise run the next round (at most 10).
7. VERDICT: blue_dialogue_verdict_register(dialogue_id="%[3]s", verdict_id, verdict_type=final, round, recommendation, description, ...). A final verdict is refused until the last round converged (force=true overrides, and the record says so). Then blue_dialogue_export returns the whole record as JSON, and blue_dialogue_publish publishes the dialogue.

FORMAT RULES: prefix agent names with their emoji (🧁 Muffin); the Judge is 💙 Judge; scores start at 0.

AGENTS: %[4]s
DIALOGUE: %[5]s
OUTPUT DIR (on this machine, for the agents' own files): %[1]s
MAX ROUNDS: 10`, rec.OutputDir, len(agents), rec.DialogueID, strings.Join(names, ", "), dialogueFile)
	out := map[string]any{
		"instructions":          instructions,
		"agent_prompt_template": agentPrompt("{{NAME}}", "{{EMOJI}}", "{{ROLE}}", "", "{{CONTEXT_INSTRUCTIONS}}", "{{OUTPUT_FILE}}", rec.Sources),
		"dialogue_file":         dialogueFile,
		"model":                 rec.Model,
		"sources":               nonNil(rec.Sources),
		"output_dir":            rec.OutputDir,
		"rotation":              rec.Rotation,
		"convergence": map[string]any{
			"max_rounds": 10, "tension_resolution_gate": true,
			"velocity_formula": "open_tensions + new_perspectives", "convergence_formula": "velocity == 0 AND converge_percent == 100%",
		},
		"expert_pool": map[string]any{"domain": rec.Domain, "question": orNil(rec.Question), "total_experts": len(rec.Pool), "pool_file": rec.OutputDir + "/expert-pool.json"},
	}
	if rec.Rotation == "graduated" {
		out["suggested_panel"], out["panel_is_suggestion"] = list, true
	} else {
		out["agents"] = list
	}
	return out
}

// agentPrompt is Blue's expert prompt (handlers/dialogue.rs
// handle_round_prompt).
func agentPrompt(name, emoji, role, focus, context, outputFile string, sources []string) string {
	focusLine := ""
	if focus != "" {
		focusLine = "\n\n**Your Focus**: " + focus + "\nBring this specialized perspective to the dialogue."
	}
	grounding := ""
	if len(sources) > 0 {
		grounding = "\n\nGROUNDING: Before responding, use the Read tool to read these files:\n- " + strings.Join(sources, "\n- ")
	}
	return fmt.Sprintf(`You are %[1]s %[2]s, a %[3]s in an ALIGNMENT-seeking dialogue.%[4]s

Your role:
- SURFACE perspectives others may have missed
- DEFEND valuable ideas with evidence, not ego
- CHALLENGE assumptions with curiosity, not destruction
- INTEGRATE perspectives that resonate
- CONCEDE gracefully when others see something you missed

Your contribution is scored on PRECISION, not volume.
One sharp insight beats ten paragraphs. You ALL win when the result is aligned.

%[5]s

=== MANDATORY FILE OUTPUT ===

You MUST write your response to a file. This is NOT optional.

OUTPUT FILE: %[6]s

Use the Write tool to write your COMPLETE response to the file above.
If you return your response without writing to the file, YOUR WORK WILL BE LOST.

=== FILE CONTENT STRUCTURE ===

Write EXACTLY this structure to the file:

[PERSPECTIVE P01: brief label]
Your strongest new viewpoint. Two to four sentences maximum. No preamble.

[PERSPECTIVE P02: brief label]  ← optional, only if genuinely distinct
One to two sentences maximum.

[TENSION T01: brief description]  ← optional
One sentence identifying the unresolved issue.

[REFINEMENT: description] or [CONCESSION: description] or [RESOLVED Tn]  ← optional
One sentence each. Use only when engaging with prior round content.

[MOVE:CONVERGE]  ← only when you have nothing left to add and accept the emerging position

---
Nothing else. No introduction. No conclusion. No elaboration.

=== RETURN CONFIRMATION ===

AFTER writing the file, return ONLY this structured confirmation to the Judge:

FILE_WRITTEN: %[6]s
Perspectives: P01 [label], P02 [label]
Tensions: T01 [label] or none
Moves: [CONCESSION|REFINEMENT|RESOLVED|CONVERGE] or none
Claim: [your single strongest claim in one sentence]

Five lines. The FILE_WRITTEN line proves you wrote the file. Without it, the Judge assumes your work was lost.%[7]s`, name, emoji, role, focusLine, context, outputFile, grounding)
}

// RoundPromptIn are blue_dialogue_round_prompt's parameters, all of Blue's.
type RoundPromptIn struct {
	OutputDir    string   `json:"output_dir" jsonschema:"the output_dir blue_dialogue_create answered (or the dialogue_id)"`
	AgentName    string   `json:"agent_name" jsonschema:"the agent's name, e.g. Muffin"`
	AgentEmoji   string   `json:"agent_emoji" jsonschema:"the agent's emoji, e.g. 🧁"`
	AgentRole    string   `json:"agent_role" jsonschema:"the agent's role, e.g. Platform Architect"`
	Round        int      `json:"round" jsonschema:"the round: 0 for opening arguments, 1 and on after"`
	Sources      []string `json:"sources,omitempty" jsonschema:"files on your machine the agent reads for grounding"`
	ExpertSource string   `json:"expert_source,omitempty" jsonschema:"how the expert joined: retained, pool or created (fresh experts get a context brief)"`
	Focus        string   `json:"focus,omitempty" jsonschema:"a focus for a created expert"`
}

var agentNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9 _-]{0,39}$`)

func (s *Service) roundPrompt(ctx context.Context, st Store, in RoundPromptIn) (Result, error) {
	switch {
	case !agentNameRE.MatchString(in.AgentName):
		return Result{}, fmt.Errorf("agent_name %q: give a name of letters, digits, spaces, - or _ (up to 40), e.g. Muffin", in.AgentName)
	case in.Round < 0 || in.Round > blue.MaxRound:
		return Result{}, fmt.Errorf("round is %d; give 0 to %d", in.Round, blue.MaxRound)
	case strings.TrimSpace(in.AgentRole) == "" || len(in.AgentRole) > 200:
		return Result{}, errors.New("agent_role is required (up to 200 characters)")
	case len(in.Focus) > 1000:
		return Result{}, errors.New("focus is over 1000 characters")
	}
	a, rounds, err := s.findAlignmentRounds(ctx, st, "output_dir", in.OutputDir)
	if err != nil {
		return Result{}, err
	}
	if in.Round > len(rounds) {
		return Result{}, fmt.Errorf("round %d: only %d rounds are registered; prompt round %d next", in.Round, len(rounds), len(rounds))
	}
	sources := in.Sources
	if sources == nil {
		sources = a.rec.Sources
	}
	state := foldAlignment(a.rec, rounds[:in.Round])
	fresh := in.Round > 0 && in.ExpertSource != "retained"
	context := ""
	if in.Round > 0 {
		prev := in.Round - 1
		var b strings.Builder
		if fresh {
			b.WriteString(contextBrief(a, state, rounds[prev], in.Round))
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "THE RECORD SO FAR — THIS IS MANDATORY READING:\nYour response MUST engage with these open tensions and with your peers' perspectives.\n\n### Judge's synthesis of round %d\n\n%s\n\n### Open tensions\n\n", prev, cmp.Or(oneLine(rounds[prev].Summary), "(none given)"))
		open := state.openTensions()
		if len(open) == 0 {
			b.WriteString("none\n")
		}
		for _, t := range open {
			fmt.Fprintf(&b, "- %s %s: %s (%s)\n", t.ID, oneLine(t.Label), oneLine(t.Description), t.status)
		}
		fmt.Fprintf(&b, "\n### Perspectives of round %d\n\n", prev)
		for _, p := range rounds[prev].Perspectives {
			fmt.Fprintf(&b, "- %s %s (%s): %s\n", p.ID, oneLine(p.Label), strings.Join(p.Contributors, ", "), oneLine(p.Content))
		}
		fmt.Fprintf(&b, "\nYour peers' full answers of round %d are in %s/round-%d/ on this machine, if the Judge kept them: read them when they are there.", prev, a.rec.OutputDir, prev)
		context = b.String()
	}
	slug := strings.ToLower(in.AgentName)
	outputFile := fmt.Sprintf("%s/round-%d/%s.md", a.rec.OutputDir, in.Round, slug)
	prompt := agentPrompt(in.AgentName, in.AgentEmoji, in.AgentRole, in.Focus, context, outputFile, sources)
	r := ok(fmt.Sprintf("Prompt for %s %s, round %d", in.AgentEmoji, in.AgentName, in.Round))
	fields := map[string]any{
		"prompt":      prompt,
		"prompt_file": fmt.Sprintf("%s/round-%d/%s.prompt.md", a.rec.OutputDir, in.Round, slug),
		"output_file": outputFile,
		"task_params": map[string]any{"subagent_type": "general-purpose", "description": fmt.Sprintf("%s %s expert deliberation", in.AgentEmoji, in.AgentName)},
		"dialogue_id": a.rec.DialogueID,
	}
	if in.ExpertSource != "" {
		fields["expert_source"] = in.ExpertSource
		if fresh {
			fields["has_context_brief"] = true
		}
	}
	if in.Focus != "" {
		fields["focus"] = in.Focus
	}
	return r.with(fields), nil
}

// contextBrief is Blue's brief for an expert joining after round 0
// (generate_context_brief), from the record rather than the Judge's files.
func contextBrief(a *alignDoc, st *alignState, prev alignRound, round int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Context for Round %d\n\nYou are joining this dialogue in progress. Here's what happened:\n\n### Key Tensions\n\n", round)
	ts := st.entities[blue.Tension]
	if len(ts) == 0 {
		b.WriteString("No tensions recorded yet.\n")
	}
	for i, t := range ts {
		if i == 5 {
			fmt.Fprintf(&b, "... and %d more tensions\n", len(ts)-5)
			break
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", t.ID, cellText(t.Label), t.status)
	}
	if prev.Summary != "" {
		sum := []rune(oneLine(prev.Summary))
		fmt.Fprintf(&b, "\n### Round %d Summary\n\n%s", prev.Round, string(sum[:min(len(sum), 500)]))
		if len(sum) > 500 {
			b.WriteString("...")
		}
		b.WriteString("\n")
	}
	if panel := a.panel(prev.Round); len(panel) > 0 {
		fmt.Fprintf(&b, "\n### Round %d Panel\n\n", prev.Round)
		for i, p := range panel {
			if i == 8 {
				fmt.Fprintf(&b, "... and %d more experts\n", len(panel)-8)
				break
			}
			fmt.Fprintf(&b, "- %s %s: %s\n", p.Emoji, p.Name, oneLine(p.Role))
		}
	}
	b.WriteString("\n### Your Task\n\nReview these positions and contribute your fresh perspective. You bring a viewpoint that may have been missing from earlier rounds.\n")
	return b.String()
}

// SamplePanelIn are blue_dialogue_sample_panel's parameters.
type SamplePanelIn struct {
	DialogueTitle string   `json:"dialogue_title" jsonschema:"the dialogue's title or dialogue_id"`
	Round         int      `json:"round" jsonschema:"the round to draw the panel for"`
	PanelSize     int      `json:"panel_size,omitempty" jsonschema:"experts to draw (default 12)"`
	Retain        []string `json:"retain,omitempty" jsonschema:"draw only from roles containing one of these"`
	Exclude       []string `json:"exclude,omitempty" jsonschema:"never draw roles containing one of these"`
}

func (s *Service) samplePanel(ctx context.Context, st Store, in SamplePanelIn) (Result, error) {
	size := in.PanelSize
	if size == 0 {
		size = 12
	}
	if size < 1 || size > maxPanelSize {
		return Result{}, fmt.Errorf("panel_size is %d; give 1 to %d", size, maxPanelSize)
	}
	if in.Round < 0 || in.Round > blue.MaxRound {
		return Result{}, fmt.Errorf("round is %d; give 0 to %d", in.Round, blue.MaxRound)
	}
	a, err := s.findAlignment(ctx, st, "dialogue_title", in.DialogueTitle)
	if err != nil {
		return Result{}, err
	}
	contains := func(list []string, role string) bool {
		return slices.ContainsFunc(list, func(x string) bool { return strings.Contains(strings.ToLower(role), strings.ToLower(x)) })
	}
	var pool []blue.PoolExpert
	for _, e := range a.rec.Pool {
		if (len(in.Retain) == 0 || contains(in.Retain, e.Role)) && !contains(in.Exclude, e.Role) {
			pool = append(pool, e)
		}
	}
	if len(pool) == 0 {
		return Result{}, errors.New("retain, exclude: no experts remain after filtering; check retain/exclude")
	}
	agents := blue.NamePanel(blue.SamplePanel(pool, size, rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))))
	err = s.saveAlignment(ctx, st, a, func(rec *alignRecord) error {
		a.setPanel(alignPanel{Round: in.Round, Agents: agents})
		for _, ag := range agents {
			rel := ag.Relevance
			a.addExpert(alignExpert{Slug: ag.Slug(), Name: ag.Name, Role: ag.Role, Tier: ag.Tier, Source: "pool", Relevance: &rel, FirstRound: in.Round, CreatedAt: s.now()})
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	panel := make([]map[string]any, len(agents))
	for i, ag := range agents {
		panel[i] = map[string]any{"name": ag.Name, "role": ag.Role, "emoji": ag.Emoji, "tier": ag.Tier, "relevance": ag.Relevance}
	}
	return ok(fmt.Sprintf("Sampled %d experts for round %d", len(agents), in.Round)).with(map[string]any{
		"round": in.Round, "panel": panel, "panel_file": fmt.Sprintf("%s/round-%d/panel.json", a.rec.OutputDir, in.Round),
	}), nil
}

// PanelExpert is one expert of a Judge-evolved panel (RFC 0050).
type PanelExpert struct {
	Name   string `json:"name" jsonschema:"the pastry name, e.g. Muffin"`
	Role   string `json:"role" jsonschema:"the expert's role"`
	Source string `json:"source" jsonschema:"retained, pool or created"`
	Tier   string `json:"tier,omitempty" jsonschema:"Core, Adjacent or Wildcard (for created experts)"`
	Focus  string `json:"focus,omitempty" jsonschema:"a focus area"`
}

// EvolvePanelIn are blue_dialogue_evolve_panel's parameters.
type EvolvePanelIn struct {
	OutputDir string        `json:"output_dir" jsonschema:"the output_dir blue_dialogue_create answered (or the dialogue_id)"`
	Round     int           `json:"round" jsonschema:"the round this panel is for"`
	Panel     []PanelExpert `json:"panel" jsonschema:"every expert of the round's panel"`
}

func (s *Service) evolvePanel(ctx context.Context, st Store, in EvolvePanelIn) (Result, error) {
	if len(in.Panel) == 0 || len(in.Panel) > maxPanelSize {
		return Result{}, fmt.Errorf("panel has %d experts; give 1 to %d", len(in.Panel), maxPanelSize)
	}
	if in.Round < 0 || in.Round > blue.MaxRound {
		return Result{}, fmt.Errorf("round is %d; give 0 to %d", in.Round, blue.MaxRound)
	}
	names := map[string]bool{}
	for i, p := range in.Panel {
		switch {
		case !agentNameRE.MatchString(p.Name):
			return Result{}, fmt.Errorf("panel[%d].name %q: give a name of letters, digits, spaces, - or _", i, p.Name)
		case names[strings.ToLower(p.Name)]:
			return Result{}, fmt.Errorf("panel[%d].name %q: expert names must be unique", i, p.Name)
		case strings.TrimSpace(p.Role) == "":
			return Result{}, fmt.Errorf("panel[%d].role is required", i)
		}
		names[strings.ToLower(p.Name)] = true
	}
	a, err := s.findAlignment(ctx, st, "output_dir", in.OutputDir)
	if err != nil {
		return Result{}, err
	}
	var agents []blue.Agent
	counts := map[string]int{}
	for _, p := range in.Panel {
		counts[p.Source]++
		tier, rel := blue.TierAdjacent, 0.70
		if p.Source == "created" {
			if t, ok := blue.ParseTier(p.Tier); ok {
				tier = t
			}
			rel = 0.75
		} else if i := slices.IndexFunc(a.rec.Pool, func(e blue.PoolExpert) bool { return strings.EqualFold(e.Role, p.Role) }); i >= 0 {
			tier, rel = a.rec.Pool[i].Tier, a.rec.Pool[i].Relevance
		}
		agents = append(agents, blue.Agent{Name: p.Name, Role: p.Role, Emoji: blue.AgentEmoji, Tier: tier, Relevance: rel, Focus: p.Focus})
	}
	hist := &panelHistory{Round: in.Round, PanelSize: len(agents), RetainedCount: counts["retained"], FromPoolCount: counts["pool"], CreatedCount: counts["created"], Experts: in.Panel}
	err = s.saveAlignment(ctx, st, a, func(rec *alignRecord) error {
		a.setPanel(alignPanel{Round: in.Round, Agents: agents, History: hist})
		for i, ag := range agents {
			rel := ag.Relevance
			a.addExpert(alignExpert{Slug: ag.Slug(), Name: ag.Name, Role: ag.Role, Tier: ag.Tier, Source: in.Panel[i].Source, Focus: ag.Focus, Relevance: &rel, FirstRound: in.Round, CreatedAt: s.now()})
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	var brief any
	if in.Round > 0 {
		rounds, err := s.rounds(ctx, st, a)
		if err != nil {
			return Result{}, err
		}
		if n := min(in.Round, len(rounds)); n > 0 {
			brief = contextBrief(a, foldAlignment(a.rec, rounds[:n]), rounds[n-1], in.Round)
		}
	}
	list := make([]map[string]any, len(agents))
	for i, ag := range agents {
		list[i] = map[string]any{"name": ag.Name, "role": ag.Role, "emoji": ag.Emoji, "tier": ag.Tier, "relevance": ag.Relevance, "focus": orNil(ag.Focus)}
	}
	return ok(fmt.Sprintf("Panel evolved for round %d: %d retained, %d from pool, %d created", in.Round, counts["retained"], counts["pool"], counts["created"])).with(map[string]any{
		"round": in.Round, "panel_size": len(agents), "retained": counts["retained"], "from_pool": counts["pool"], "created": counts["created"],
		"panel_file": fmt.Sprintf("%s/round-%d/panel.json", a.rec.OutputDir, in.Round), "context_brief": brief, "agents": list,
	}), nil
}

// DialogueRefIn names an alignment dialogue and a round.
type DialogueRefIn struct {
	DialogueID string `json:"dialogue_id" jsonschema:"the dialogue_id blue_dialogue_create answered (or the dialogue's title)"`
	Round      int    `json:"round" jsonschema:"the round"`
}

func (s *Service) roundContext(ctx context.Context, st Store, in DialogueRefIn) (Result, error) {
	a, rounds, err := s.findAlignmentRounds(ctx, st, "dialogue_id", in.DialogueID)
	if err != nil {
		return Result{}, err
	}
	state := foldAlignment(a.rec, rounds)
	can, blockers := blue.CanConverge(state.last)
	var last any
	if n := len(state.scoreboard); n > 0 {
		row := state.scoreboard[n-1]
		last = map[string]any{
			"round": row["round"], "score": row["score"], "velocity": row["velocity"], "open_tensions": row["open_tensions"],
			"new_perspectives": row["new_perspectives"], "converge_signals": row["converge_signals"], "panel_size": row["panel_size"],
			"converge_percent": row["converge_percent"], "cumulative_score": row["cumulative_score"],
		}
	}
	experts := make([]map[string]any, len(a.rec.Experts))
	for i, e := range a.rec.Experts {
		experts[i] = map[string]any{"expert_slug": e.Slug, "role": e.Role, "tier": e.Tier, "source": e.Source, "focus": orNil(e.Focus), "total_score": state.totals[e.Slug]}
	}
	var open []string
	for _, t := range state.openTensions() {
		open = append(open, t.ID)
	}
	verdicts := make([]map[string]any, len(a.rec.Verdicts))
	for i, v := range a.rec.Verdicts {
		verdicts[i] = map[string]any{"verdict_id": v.VerdictID, "verdict_type": v.VerdictType, "round": v.Round, "recommendation": v.Recommendation, "description": v.Description}
	}
	panel := a.panel(in.Round)
	if panel == nil {
		panel = []blue.Agent{}
	}
	return ok(fmt.Sprintf("Context for round %d of %q: %d rounds registered", in.Round, a.rec.DialogueID, len(rounds))).with(map[string]any{
		"dialogue_id": a.rec.DialogueID, "round": in.Round,
		"dialogue":    map[string]any{"title": a.rec.Title, "question": orNil(a.rec.Question), "status": a.rec.Status, "total_rounds": len(rounds), "total_alignment": state.alignment},
		"convergence": map[string]any{"can_converge": can, "blockers": nonNil(blockers), "last_round": last},
		"experts":     experts, "perspectives": state.entityViews(blue.Perspective, false), "tensions": state.entityViews(blue.Tension, false),
		"open_tensions": nonNil(open), "recommendations": state.entityViews(blue.Recommendation, false),
		"evidence": state.entityViews(blue.Evidence, false), "claims": state.entityViews(blue.Claim, false), "verdicts": verdicts,
		"panel": panel,
	}), nil
}

// ExpertCreateIn are blue_dialogue_expert_create's parameters.
type ExpertCreateIn struct {
	DialogueID     string `json:"dialogue_id" jsonschema:"the dialogue_id"`
	ExpertSlug     string `json:"expert_slug" jsonschema:"the expert's slug, lower case, e.g. palmier"`
	Role           string `json:"role" jsonschema:"the expert's role"`
	Tier           string `json:"tier" jsonschema:"Core, Adjacent or Wildcard"`
	Focus          string `json:"focus,omitempty" jsonschema:"the expert's focus"`
	CreationReason string `json:"creation_reason" jsonschema:"why the Judge created this expert"`
	FirstRound     int    `json:"first_round" jsonschema:"the round the expert joins"`
}

var expertSlugRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,39}$`)

func (s *Service) expertCreate(ctx context.Context, st Store, in ExpertCreateIn) (Result, error) {
	switch {
	case !expertSlugRE.MatchString(in.ExpertSlug):
		return Result{}, fmt.Errorf("expert_slug %q: give lower-case letters, digits, - or _ (up to 40), e.g. palmier", in.ExpertSlug)
	case strings.TrimSpace(in.Role) == "":
		return Result{}, errors.New("role is required")
	case strings.TrimSpace(in.CreationReason) == "":
		return Result{}, errors.New("creation_reason is required")
	case in.FirstRound < 0 || in.FirstRound > blue.MaxRound:
		return Result{}, fmt.Errorf("first_round is %d; give 0 to %d", in.FirstRound, blue.MaxRound)
	}
	tier, _ := blue.ParseTier(in.Tier)
	a, err := s.findAlignment(ctx, st, "dialogue_id", in.DialogueID)
	if err != nil {
		return Result{}, err
	}
	e := alignExpert{Slug: in.ExpertSlug, Name: blue.TitleCase(in.ExpertSlug), Role: in.Role, Tier: tier, Source: "created", Focus: in.Focus, CreationReason: in.CreationReason, FirstRound: in.FirstRound, CreatedAt: s.now()}
	err = s.saveAlignment(ctx, st, a, func(*alignRecord) error {
		if !a.addExpert(e) {
			return fmt.Errorf("expert_slug %q is already an expert of %q", in.ExpertSlug, a.rec.DialogueID)
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	return ok(fmt.Sprintf("Created expert '%s' (%s) for round %d", in.ExpertSlug, in.Role, in.FirstRound)).with(map[string]any{
		"expert": map[string]any{"expert_slug": e.Slug, "role": e.Role, "tier": e.Tier, "source": "created", "focus": orNil(e.Focus), "creation_reason": e.CreationReason, "first_round": e.FirstRound},
	}), nil
}

// Reference is a cross-reference from one entity to another.
type Reference struct {
	Type   string `json:"type" jsonschema:"support, oppose, refine, address, resolve, reopen, question or depend"`
	Target string `json:"target" jsonschema:"the target's display id, e.g. T0001"`
}

// RoundEntity is a perspective, tension, recommendation, evidence or claim
// as the Judge registers it.
type RoundEntity struct {
	LocalID      string         `json:"local_id,omitempty" jsonschema:"the agent's own id, e.g. P01"`
	Label        string         `json:"label,omitempty" jsonschema:"a short label"`
	Content      string         `json:"content,omitempty" jsonschema:"the text (description for tensions)"`
	Description  string         `json:"description,omitempty" jsonschema:"a tension's description"`
	Contributors []string       `json:"contributors,omitempty" jsonschema:"the experts' slugs"`
	Parameters   map[string]any `json:"parameters,omitempty" jsonschema:"a recommendation's parameters"`
	References   []Reference    `json:"references,omitempty" jsonschema:"references to other entities"`
}

// TensionUpdate moves an earlier tension to a new status.
type TensionUpdate struct {
	ID     string `json:"id" jsonschema:"the tension's display id, e.g. T0001"`
	Status string `json:"status,omitempty" jsonschema:"open, addressed, resolved or reopened"`
	By     any    `json:"by,omitempty" jsonschema:"the expert (or list of experts) that moved it"`
	Via    string `json:"via,omitempty" jsonschema:"the entity that moved it, e.g. P0102"`
}

// ScoreComponents is a round's ALIGNMENT by component (RFC 0057).
type ScoreComponents struct {
	Wisdom        int `json:"wisdom,omitempty"`
	Consistency   int `json:"consistency,omitempty"`
	Truth         int `json:"truth,omitempty"`
	Relationships int `json:"relationships,omitempty"`
}

// RoundRegisterIn are blue_dialogue_round_register's parameters: Blue's
// schema and the RFC 0057 metrics its handler read.
type RoundRegisterIn struct {
	DialogueID      string           `json:"dialogue_id" jsonschema:"the dialogue_id"`
	Round           int              `json:"round" jsonschema:"the round; rounds are registered once each, in order from 0"`
	Score           int              `json:"score" jsonschema:"the round's ALIGNMENT score"`
	Summary         string           `json:"summary,omitempty" jsonschema:"the Judge's synthesis of the round"`
	ExpertScores    map[string]int   `json:"expert_scores,omitempty" jsonschema:"expert slug to score, e.g. {\"muffin\": 12}"`
	Perspectives    []RoundEntity    `json:"perspectives,omitempty" jsonschema:"perspectives: local_id, label, content, contributors, references"`
	Recommendations []RoundEntity    `json:"recommendations,omitempty" jsonschema:"recommendations: local_id, label, content, contributors, parameters, references"`
	Tensions        []RoundEntity    `json:"tensions,omitempty" jsonschema:"tensions: local_id, label, description, contributors, references"`
	Evidence        []RoundEntity    `json:"evidence,omitempty" jsonschema:"evidence: local_id, label, content, contributors, references"`
	Claims          []RoundEntity    `json:"claims,omitempty" jsonschema:"claims: local_id, label, content, contributors, references"`
	TensionUpdates  []TensionUpdate  `json:"tension_updates,omitempty" jsonschema:"tension status updates: id, status, by, via"`
	ScoreComponents *ScoreComponents `json:"score_components,omitempty" jsonschema:"the score by component: wisdom, consistency, truth, relationships"`
	OpenTensions    *int             `json:"open_tensions,omitempty" jsonschema:"open tensions after the round (default: counted from the record)"`
	NewPerspectives *int             `json:"new_perspectives,omitempty" jsonschema:"new perspectives this round (default: the perspectives registered)"`
	ConvergeSignals *int             `json:"converge_signals,omitempty" jsonschema:"experts that signalled [MOVE:CONVERGE]"`
	PanelSize       *int             `json:"panel_size,omitempty" jsonschema:"the round's panel size (default: the round's panel)"`
}

func (s *Service) roundRegister(ctx context.Context, st Store, in RoundRegisterIn) (Result, error) {
	if in.Round < 0 || in.Round > blue.MaxRound {
		return Result{}, fmt.Errorf("round is %d; give 0 to %d", in.Round, blue.MaxRound)
	}
	a, prior, err := s.findAlignmentRounds(ctx, st, "dialogue_id", in.DialogueID)
	if err != nil {
		return Result{}, err
	}
	switch {
	case in.Round < len(prior):
		return Result{}, fmt.Errorf("round %d of %q is already registered (a round is written once); register round %d next", in.Round, a.rec.DialogueID, len(prior))
	case in.Round > len(prior):
		return Result{}, fmt.Errorf("round %d: register round %d of %q first (rounds go in order)", in.Round, len(prior), a.rec.DialogueID)
	case a.rec.Status == "converged":
		return Result{}, fmt.Errorf("dialogue %q has converged (final verdict registered); it takes no more rounds", a.rec.DialogueID)
	}
	now := s.now()
	r := alignRound{Round: in.Round, Score: in.Score, Summary: in.Summary, TensionUpdates: in.TensionUpdates, ExpertScores: in.ExpertScores, CreatedAt: now}
	if in.ScoreComponents != nil {
		r.Components = *in.ScoreComponents
	}
	known := foldAlignment(a.rec, prior)
	errs := roundErrors(a, known, in)
	registered := map[string]any{"refs": 0}
	refs := 0
	for _, g := range []struct {
		name string
		typ  byte
		in   []RoundEntity
		out  *[]alignEntity
	}{
		{"perspectives", blue.Perspective, in.Perspectives, &r.Perspectives},
		{"tensions", blue.Tension, in.Tensions, &r.Tensions},
		{"recommendations", blue.Recommendation, in.Recommendations, &r.Recommendations},
		{"evidence", blue.Evidence, in.Evidence, &r.Evidence},
		{"claims", blue.Claim, in.Claims, &r.Claims},
	} {
		ids := []map[string]any{}
		for i, e := range g.in {
			id := blue.DisplayID(g.typ, in.Round, i+1)
			*g.out = append(*g.out, alignEntity{ID: id, LocalID: e.LocalID, Round: in.Round, Seq: i + 1, Label: e.Label, Content: e.Content, Description: e.Description,
				Contributors: nonNil(e.Contributors), Parameters: e.Parameters, References: e.References, CreatedAt: now})
			ids = append(ids, map[string]any{"local_id": e.LocalID, "global_id": id})
			refs += len(e.References)
		}
		registered[g.name] = ids
	}
	registered["refs"] = refs
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.String()
		}
		return Result{}, fmt.Errorf("validation failed with %d error(s), nothing registered: %s", len(errs), strings.Join(msgs, "; "))
	}
	// The metrics Blue read from the Judge; where the Judge gave none, the
	// record's own count (Blue took 0, which no round could converge with).
	after := foldAlignment(a.rec, append(slices.Clone(prior), r))
	r.Convergence = blue.Convergence{OpenTensions: len(after.openTensions()), NewPerspectives: len(r.Perspectives), PanelSize: len(a.panel(in.Round))}
	if in.OpenTensions != nil {
		r.Convergence.OpenTensions = *in.OpenTensions
	}
	if in.NewPerspectives != nil {
		r.Convergence.NewPerspectives = *in.NewPerspectives
	}
	if in.ConvergeSignals != nil {
		r.Convergence.ConvergeSignals = *in.ConvergeSignals
	}
	if in.PanelSize != nil {
		r.Convergence.PanelSize = *in.PanelSize
	}
	body, err := renderRound(a.rec.Title, r)
	if err != nil {
		return Result{}, err
	}
	if len(body) > maxRoundBytes {
		return Result{}, fmt.Errorf("round %d is %d KiB; the limit is %d KiB: register shorter texts", in.Round, len(body)/1024, maxRoundBytes/1024)
	}
	rid := roundID(a.doc.ID, in.Round)
	title := fmt.Sprintf("%s round %d", a.rec.DialogueID, in.Round)
	if err := st.Create(ctx, &store.Document{Kind: kindAlignRound, ID: rid, Title: title, Slug: blue.Slug(title), Status: "registered", Body: body, CreatedAt: now, UpdatedAt: now}); err != nil {
		if errors.Is(err, store.ErrExists) {
			return Result{}, fmt.Errorf("round %d of %q was registered by another call meanwhile; read it with blue_dialogue_round_context", in.Round, a.rec.DialogueID)
		}
		return Result{}, storeErr("register the round", err)
	}
	// The round is registered. What follows is derived from it and is
	// redone on every registration, so a failure here loses nothing.
	var warnings []string
	if err := s.saveAlignment(ctx, st, a, func(rec *alignRecord) error { rec.Rounds = max(rec.Rounds, in.Round+1); return nil }); err != nil {
		warnings = append(warnings, err.Error())
	}
	all := append(prior, r)
	if err := s.refreshDialogue(ctx, st, a, all); err != nil {
		warnings = append(warnings, "the dialogue document was not refreshed (it will be at the next registration): "+err.Error())
	}
	scores := []map[string]any{}
	for _, slug := range slices.Sorted(maps.Keys(in.ExpertScores)) {
		scores = append(scores, map[string]any{"expert_slug": slug, "score": in.ExpertScores[slug]})
	}
	registered["expert_scores"] = scores
	res := ok(fmt.Sprintf("Registered round %d data for dialogue '%s'", in.Round, a.rec.DialogueID))
	if len(warnings) > 0 {
		res.Hint = strings.Join(warnings, "; ")
	}
	can, blockers := blue.CanConverge(&r.Convergence)
	return res.with(map[string]any{
		"dialogue_id": a.rec.DialogueID, "round": in.Round, "score": in.Score, "registered": registered,
		"convergence": map[string]any{"can_converge": can, "blockers": nonNil(blockers), "velocity": r.Convergence.Velocity(), "converge_percent": r.Convergence.Percent()},
	}), nil
}

// roundErrors is Blue's batch validation of a round (every problem, not
// the first), and the hosted checks that keep the record whole:
// references and tension updates name entities that exist, scores name
// experts of the dialogue, and lists and texts stay within bounds.
func roundErrors(a *alignDoc, known *alignState, in RoundRegisterIn) []blue.ValidationError {
	var errs []blue.ValidationError
	add := func(code, field, msg string) {
		errs = append(errs, blue.ValidationError{Code: code, Field: field, Message: msg})
	}
	// The ids this round will have, for references within the round.
	thisRound := map[string]byte{}
	groups := []struct {
		name, textField string
		typ             byte
		es              []RoundEntity
	}{
		{"perspectives", "content", blue.Perspective, in.Perspectives},
		{"tensions", "description", blue.Tension, in.Tensions},
		{"recommendations", "content", blue.Recommendation, in.Recommendations},
		{"evidence", "content", blue.Evidence, in.Evidence},
		{"claims", "content", blue.Claim, in.Claims},
	}
	for _, g := range groups {
		for i := range g.es {
			thisRound[blue.DisplayID(g.typ, in.Round, i+1)] = g.typ
		}
	}
	exists := func(id string) (byte, bool) {
		if t, ok := thisRound[id]; ok {
			return t, true
		}
		if e := known.byID[id]; e != nil {
			return e.typ, true
		}
		return 0, false
	}
	for _, g := range groups {
		if len(g.es) > maxEntities {
			add("invalid_round", g.name, fmt.Sprintf("%d %s; a round holds at most %d of each", len(g.es), g.name, maxEntities))
		}
		for i, e := range g.es {
			f := fmt.Sprintf("%s[%d]", g.name, i)
			text := e.Content
			if g.typ == blue.Tension {
				text = e.Description
				if text == "" {
					text = e.Content // Blue's tensions had a description; accept content too
				}
			}
			if strings.TrimSpace(e.Label) == "" {
				add("missing_field", f+".label", "Required field 'label' is missing")
			}
			if strings.TrimSpace(text) == "" {
				add("missing_field", f+"."+g.textField, fmt.Sprintf("Required field '%s' is missing", g.textField))
			}
			if len(e.Label)+len(text) > maxAlignText {
				add("invalid_round", f, fmt.Sprintf("label and text are %d bytes; the limit is %d", len(e.Label)+len(text), maxAlignText))
			}
			for j, r := range e.References {
				rf := fmt.Sprintf("%s.references[%d]", f, j)
				refErrs := blue.RefCheck(rf, g.typ, r.Type, r.Target)
				errs = append(errs, refErrs...)
				if len(refErrs) == 0 {
					if _, ok := exists(r.Target); !ok {
						add("entity_not_found", rf+".target", fmt.Sprintf("%s is not in the record of %q", r.Target, a.rec.DialogueID))
					}
				}
			}
		}
	}
	for i, u := range in.TensionUpdates {
		f := fmt.Sprintf("tension_updates[%d]", i)
		typ, _, _, ok := blue.ParseDisplayID(u.ID)
		switch {
		case u.ID == "":
			add("missing_field", f+".id", "Required field 'id' is missing")
		case !ok:
			add("invalid_display_id", f+".id", fmt.Sprintf("invalid display id %q (want e.g. T0001)", u.ID))
		case typ != blue.Tension:
			add("type_id_mismatch", f+".id", fmt.Sprintf("%s is not a tension: a tension update's id starts with T", u.ID))
		default:
			if _, found := exists(u.ID); !found {
				add("entity_not_found", f+".id", fmt.Sprintf("%s is not in the record of %q", u.ID, a.rec.DialogueID))
			}
		}
		if u.Status != "" && !slices.Contains(blue.TensionStatuses, u.Status) {
			add("invalid_status_transition", f+".status", fmt.Sprintf("status %q: want %s", u.Status, strings.Join(blue.TensionStatuses, ", ")))
		}
		switch by := u.By.(type) {
		case nil, string:
		case []any:
			for _, x := range by {
				if _, ok := x.(string); !ok {
					add("invalid_round", f+".by", "by is an expert slug or a list of them")
					break
				}
			}
		default:
			add("invalid_round", f+".by", "by is an expert slug or a list of them")
		}
	}
	for _, slug := range slices.Sorted(maps.Keys(in.ExpertScores)) {
		if a.expert(slug) == nil {
			add("expert_not_in_dialogue", "expert_scores."+slug, fmt.Sprintf("%q is not an expert of %q (add one with blue_dialogue_expert_create or blue_dialogue_evolve_panel)", slug, a.rec.DialogueID))
		}
	}
	if len(in.Summary) > maxAlignText {
		add("invalid_round", "summary", fmt.Sprintf("summary is %d bytes; the limit is %d", len(in.Summary), maxAlignText))
	}
	return errs
}

// refreshDialogue rewrites the dialogue document's generated sections from
// the record: panel, scoreboard, inventories, one section per round, and
// the verdicts. The Judge's own sections stay as they are.
func (s *Service) refreshDialogue(ctx context.Context, st Store, a *alignDoc, rounds []alignRound) error {
	state := foldAlignment(a.rec, rounds)
	for attempt := 0; ; attempt++ {
		d, err := st.Get(ctx, "dialogue", a.doc.ID)
		if err != nil {
			return storeErr("read the dialogue", err)
		}
		body, err := withBody(ctx, st, d)
		if err != nil {
			return err
		}
		body = blue.ReplaceSection(body, "Expert Panel", panelTable(a.panel(len(rounds))))
		body = blue.ReplaceSection(body, "Alignment Scoreboard", scoreboardTable(state))
		var inv, tens strings.Builder
		inv.WriteString("| ID | Agent | Perspective | Round |\n|----|-------|-------------|-------|\n")
		for _, p := range state.entities[blue.Perspective] {
			fmt.Fprintf(&inv, "| %s | %s | %s | %d |\n", p.ID, cellText(strings.Join(p.Contributors, ", ")), cellText(p.Label), p.Round)
		}
		tens.WriteString("| ID | Tension | Status | Raised | Resolved |\n|----|---------|--------|--------|----------|\n")
		for _, t := range state.entities[blue.Tension] {
			resolved := "—"
			if t.status == "resolved" {
				resolved = "✓"
			}
			fmt.Fprintf(&tens, "| %s | %s | %s | %d | %s |\n", t.ID, cellText(t.Label), t.status, t.Round, resolved)
		}
		body = blue.ReplaceSection(body, "Perspectives Inventory", inv.String())
		body = blue.ReplaceSection(body, "Tensions Tracker", tens.String())
		for _, r := range rounds {
			var b strings.Builder
			fmt.Fprintf(&b, "**Score**: %d · **Velocity**: %d · **Converge**: %.0f%%\n\n", r.Score, r.Convergence.Velocity(), r.Convergence.Percent())
			if r.Summary != "" {
				fmt.Fprintf(&b, "**Judge's synthesis**: %s\n\n", oneLine(r.Summary))
			}
			for _, g := range r.groups() {
				for _, e := range g.es {
					fmt.Fprintf(&b, "- **%s** %s: %s\n", e.ID, oneLine(e.Label), oneLine(e.Content+e.Description))
				}
			}
			body = blue.ReplaceSection(body, fmt.Sprintf("Round %d Record", r.Round), b.String())
		}
		if len(a.rec.Verdicts) > 0 {
			var b strings.Builder
			for _, v := range a.rec.Verdicts {
				fmt.Fprintf(&b, "- **%s** (%s, round %d): %s. %s\n", v.VerdictID, v.VerdictType, v.Round, oneLine(v.Recommendation), oneLine(v.Description))
			}
			body = blue.ReplaceSection(body, "Verdicts", b.String())
		}
		d.Body, d.UpdatedAt = body, s.now()
		err = st.Update(ctx, d)
		if err == nil || !errors.Is(err, store.ErrConflict) || attempt == 4 {
			if err != nil {
				return storeErr("update the dialogue", err)
			}
			return nil
		}
	}
}

// VerdictRegisterIn are blue_dialogue_verdict_register's parameters, and
// force, which Blue's handler read.
type VerdictRegisterIn struct {
	DialogueID             string   `json:"dialogue_id" jsonschema:"the dialogue_id"`
	VerdictID              string   `json:"verdict_id" jsonschema:"the verdict's id, e.g. final, V01, minority-esg"`
	VerdictType            string   `json:"verdict_type" jsonschema:"interim, final, minority or dissent"`
	Round                  int      `json:"round" jsonschema:"the round the verdict was issued in"`
	Recommendation         string   `json:"recommendation" jsonschema:"the one-line decision"`
	Description            string   `json:"description" jsonschema:"the reasoning, in two or three sentences"`
	Conditions             []string `json:"conditions,omitempty" jsonschema:"conditions of the verdict"`
	Vote                   string   `json:"vote,omitempty" jsonschema:"the vote, e.g. 12-0"`
	Confidence             string   `json:"confidence,omitempty" jsonschema:"unanimous, strong, split or contested"`
	TensionsResolved       []string `json:"tensions_resolved,omitempty" jsonschema:"tension ids the verdict resolves"`
	TensionsAccepted       []string `json:"tensions_accepted,omitempty" jsonschema:"tension ids acknowledged but not blocking"`
	RecommendationsAdopted []string `json:"recommendations_adopted,omitempty" jsonschema:"recommendation ids adopted"`
	AuthorExpert           string   `json:"author_expert,omitempty" jsonschema:"the authoring expert's slug (none: the Judge)"`
	SupportingExperts      []string `json:"supporting_experts,omitempty" jsonschema:"experts supporting a minority verdict"`
	Force                  bool     `json:"force,omitempty" jsonschema:"register a final verdict although the dialogue has not converged (recorded as forced)"`
}

var verdictIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (s *Service) verdictRegister(ctx context.Context, st Store, in VerdictRegisterIn) (Result, error) {
	switch {
	case !verdictIDRE.MatchString(in.VerdictID):
		return Result{}, fmt.Errorf("verdict_id %q: give letters, digits, ., - or _ (up to 64), e.g. final", in.VerdictID)
	case strings.TrimSpace(in.Recommendation) == "":
		return Result{}, errors.New("recommendation is required")
	case strings.TrimSpace(in.Description) == "":
		return Result{}, errors.New("description is required")
	case len(in.Recommendation)+len(in.Description) > maxAlignText:
		return Result{}, fmt.Errorf("recommendation and description are over %d bytes", maxAlignText)
	}
	a, rounds, err := s.findAlignmentRounds(ctx, st, "dialogue_id", in.DialogueID)
	if err != nil {
		return Result{}, err
	}
	if in.Round < 0 || in.Round >= len(rounds) {
		return Result{}, fmt.Errorf("round %d: %q has %d registered rounds; a verdict names one of them", in.Round, a.rec.DialogueID, len(rounds))
	}
	state := foldAlignment(a.rec, rounds)
	for _, ids := range []struct {
		field string
		typ   byte
		ids   []string
	}{{"tensions_resolved", blue.Tension, in.TensionsResolved}, {"tensions_accepted", blue.Tension, in.TensionsAccepted}, {"recommendations_adopted", blue.Recommendation, in.RecommendationsAdopted}} {
		for i, id := range ids.ids {
			if e := state.byID[id]; e == nil || e.typ != ids.typ {
				return Result{}, fmt.Errorf("%s[%d]: %q is not a %s of %q", ids.field, i, id, map[byte]string{blue.Tension: "tension", blue.Recommendation: "recommendation"}[ids.typ], a.rec.DialogueID)
			}
		}
	}
	for i, slug := range append([]string{in.AuthorExpert}, in.SupportingExperts...) {
		if slug != "" && a.expert(slug) == nil {
			field := "author_expert"
			if i > 0 {
				field = fmt.Sprintf("supporting_experts[%d]", i-1)
			}
			return Result{}, fmt.Errorf("%s: %q is not an expert of %q", field, slug, a.rec.DialogueID)
		}
	}
	var warning string
	if in.VerdictType == "final" {
		can, blockers := blue.CanConverge(state.last)
		if !can && !in.Force {
			last := state.last
			r := Result{Status: "blocked", Message: "Cannot register final verdict: convergence criteria not met",
				Hint: "Use blue_dialogue_round_context to see detailed convergence status"}
			return r.with(map[string]any{
				"error_type": "convergence_blocked", "blockers": blockers,
				"current_state": map[string]any{"velocity": last.Velocity(), "open_tensions": last.OpenTensions, "new_perspectives": last.NewPerspectives,
					"converge_percent": last.Percent(), "converge_signals": last.ConvergeSignals, "panel_size": last.PanelSize},
				"suggestion": "Either resolve remaining tensions/perspectives and get 100% expert convergence, or use force=true to override (not recommended).",
			}), nil
		}
		if !can {
			warning = "FORCED CONVERGENCE: Convergence criteria not met. Blockers: " + strings.Join(blockers, "; ")
		}
	}
	now := s.now()
	v := alignVerdict{VerdictID: in.VerdictID, VerdictType: in.VerdictType, Round: in.Round, Recommendation: in.Recommendation, Description: in.Description,
		Conditions: in.Conditions, TensionsResolved: in.TensionsResolved, TensionsAccepted: in.TensionsAccepted, RecommendationsAdopted: in.RecommendationsAdopted,
		SupportingExperts: in.SupportingExperts, Forced: warning != "", CreatedAt: now}
	for _, p := range []struct {
		dst **string
		v   string
	}{{&v.AuthorExpert, in.AuthorExpert}, {&v.Vote, in.Vote}, {&v.Confidence, in.Confidence}} {
		if p.v != "" {
			x := p.v
			*p.dst = &x
		}
	}
	err = s.saveAlignment(ctx, st, a, func(rec *alignRecord) error {
		for _, old := range rec.Verdicts {
			if old.VerdictID == in.VerdictID {
				return fmt.Errorf("verdict_id %q is already registered for %q", in.VerdictID, rec.DialogueID)
			}
			if in.VerdictType == "final" && old.VerdictType == "final" {
				return fmt.Errorf("verdict_type: %q already has the final verdict %q", rec.DialogueID, old.VerdictID)
			}
		}
		if len(rec.Verdicts) >= maxVerdictCount {
			return fmt.Errorf("%q has %d verdicts, the most a dialogue keeps", rec.DialogueID, maxVerdictCount)
		}
		rec.Verdicts = append(rec.Verdicts, v)
		if in.VerdictType == "final" {
			rec.Status, rec.ConvergedAt = "converged", &now
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("Registered %s verdict '%s' for dialogue '%s'", in.VerdictType, in.VerdictID, a.rec.DialogueID))
	if err := s.refreshDialogue(ctx, st, a, rounds); err != nil {
		r.Hint = "the dialogue document was not refreshed: " + err.Error()
	}
	fields := map[string]any{"dialogue_id": a.rec.DialogueID, "verdict_id": in.VerdictID, "verdict_type": in.VerdictType, "round": in.Round}
	if warning != "" {
		fields["warning"], fields["forced"] = warning, true
	}
	return r.with(fields), nil
}

// DialogueExportIn are blue_dialogue_export's parameters.
type DialogueExportIn struct {
	DialogueID string `json:"dialogue_id" jsonschema:"the dialogue_id"`
	OutputPath string `json:"output_path,omitempty" jsonschema:"where you will save the JSON on your machine (the hosted server writes nothing there; it answers the JSON as export)"`
}

func (s *Service) dialogueExport(ctx context.Context, st Store, in DialogueExportIn) (Result, error) {
	a, rounds, err := s.findAlignmentRounds(ctx, st, "dialogue_id", in.DialogueID)
	if err != nil {
		return Result{}, err
	}
	state := foldAlignment(a.rec, rounds)
	rec := a.rec
	experts := make([]map[string]any, len(rec.Experts))
	for i, e := range rec.Experts {
		scores := state.scores[e.Slug]
		if scores == nil {
			scores = map[string]int{}
		}
		experts[i] = map[string]any{"expert_slug": e.Slug, "role": e.Role, "description": nil, "focus": orNil(e.Focus), "tier": e.Tier, "source": e.Source,
			"relevance": e.Relevance, "creation_reason": orNil(e.CreationReason), "scores": scores, "total_score": state.totals[e.Slug],
			"first_round": e.FirstRound, "created_at": stamp(e.CreatedAt)}
	}
	verdicts := make([]map[string]any, len(rec.Verdicts))
	for i, v := range rec.Verdicts {
		verdicts[i] = map[string]any{"verdict_id": v.VerdictID, "verdict_type": v.VerdictType, "round": v.Round, "author_expert": v.AuthorExpert,
			"recommendation": v.Recommendation, "description": v.Description, "conditions": v.Conditions, "vote": v.Vote, "confidence": v.Confidence,
			"tensions_resolved": v.TensionsResolved, "tensions_accepted": v.TensionsAccepted, "recommendations_adopted": v.RecommendationsAdopted,
			"key_evidence": nil, "key_claims": nil, "supporting_experts": v.SupportingExperts, "forced": v.Forced, "created_at": stamp(v.CreatedAt)}
	}
	var converged any
	if rec.ConvergedAt != nil {
		converged = stamp(*rec.ConvergedAt)
	}
	export := map[string]any{
		"dialogue": map[string]any{"dialogue_id": rec.DialogueID, "title": rec.Title, "question": orNil(rec.Question), "status": rec.Status,
			"created_at": stamp(rec.CreatedAt), "converged_at": converged, "total_rounds": len(rounds), "total_alignment": state.alignment,
			"output_dir": rec.OutputDir, "calibrated": false, "background": nil},
		"experts": experts, "perspectives": state.entityViews(blue.Perspective, true), "tensions": state.entityViews(blue.Tension, true),
		"recommendations": state.entityViews(blue.Recommendation, true), "evidence": state.entityViews(blue.Evidence, true),
		"claims": state.entityViews(blue.Claim, true), "verdicts": verdicts, "scoreboard": state.scoreboard, "panels": rec.Panels,
		"exported_at": stamp(s.now()),
	}
	out := cmp.Or(in.OutputPath, rec.OutputDir+"/dialogue.json")
	return ok(fmt.Sprintf("Exported dialogue '%s': save the export field as %s", rec.DialogueID, out)).with(map[string]any{
		"dialogue_id": rec.DialogueID, "output_path": out, "export": export,
		"stats": map[string]any{"experts": len(rec.Experts), "perspectives": len(state.entities[blue.Perspective]), "tensions": len(state.entities[blue.Tension]),
			"recommendations": len(state.entities[blue.Recommendation]), "evidence": len(state.entities[blue.Evidence]), "claims": len(state.entities[blue.Claim]), "verdicts": len(rec.Verdicts)},
	}), nil
}

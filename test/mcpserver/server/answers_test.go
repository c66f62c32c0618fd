package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/test/world"
)

// The hosted server answers with Blue's fields, as docs/blue-tools.md lists
// them per tool ("Answer fields, per tool"): a journey through every tool
// over S3 and DynamoDB collects one answer for each row of that table, and
// each answer must carry the row's fields in the row's shape.
func TestAnswersCarryBluesFields(t *testing.T) {
	t.Parallel()
	rows := answerRows(t)
	w := world.Start(t)
	tn := newTenant(t, w, "answers", 121212121212)
	srv := w.Serve(t, tn, world.ServerOptions{})
	s := connect(t, srv.URL, tn.Token)

	answers := map[string]map[string]any{} // "tool|case" → the answer
	call := func(tool, cs string, args map[string]any) map[string]any {
		t.Helper()
		text, isErr, err := world.CallTool(context.Background(), s, tool, args)
		if err != nil || isErr {
			t.Fatalf("%s(%v): %v %s", tool, args, err, text)
		}
		var a map[string]any
		if err := json.Unmarshal([]byte(text), &a); err != nil {
			t.Fatalf("%s: %v: %s", tool, err, text)
		}
		if cs != "" {
			answers[tool+"|"+cs] = a
		}
		return a
	}
	version := func(a map[string]any) float64 { return a["document"].(map[string]any)["version"].(float64) }

	// Spikes and RFCs.
	call("blue_spike_create", "success", map[string]any{"title": "Cache the index?", "question": "Is DynamoDB fast enough?"})
	call("blue_spike_complete", "rfc_required", map[string]any{"title": "Cache the index?", "outcome": "recommends-implementation"})
	call("blue_rfc_create", "success", map[string]any{"title": "Index cache", "problem": "Listing is slow.", "source_spike": "Cache the index?"})
	adr := call("blue_adr_create", "success", map[string]any{"title": "Evidence", "decision": "Show, don't tell: testing is the evidence."})
	call("blue_doc_section_write", "", map[string]any{"doc_type": "adr", "title": "Evidence", "section": "Applies When", "text": "- Writing tests", "version": version(adr)})
	call("blue_rfc_update_status", "accepted", map[string]any{"title": "Index cache", "status": "accepted"})
	call("blue_rfc_plan", "success", map[string]any{"title": "Index cache", "tasks": []string{"design", "build", "test"}})
	call("blue_rfc_task_complete", "success", map[string]any{"title": "Index cache", "task": "design"})
	call("blue_rfc_complete", "blocked", map[string]any{"title": "Index cache"})
	call("blue_rfc_get", "success", map[string]any{"title": "Index cache"})
	call("blue_rfc_validate", "success", map[string]any{"title": "Index cache"})
	call("blue_rfc_task_complete", "", map[string]any{"title": "Index cache", "task": "build"})
	call("blue_rfc_task_complete", "", map[string]any{"title": "Index cache", "task": "test"})
	call("blue_rfc_complete", "success", map[string]any{"title": "Index cache"})
	call("blue_rfc_complete", "already implemented", map[string]any{"title": "Index cache"})
	call("blue_rfc_create", "", map[string]any{"title": "Testing evidence"})
	call("blue_rfc_update_status", "", map[string]any{"title": "Testing evidence", "status": "accepted"})
	call("blue_rfc_update_status", "in-progress", map[string]any{"title": "Testing evidence", "status": "in-progress"})
	call("blue_spike_create", "", map[string]any{"title": "Second spike", "question": "?"})
	call("blue_rfc_create", "", map[string]any{"title": "From the second spike", "source_spike": "Second spike"})
	for _, to := range []string{"accepted", "in-progress"} {
		call("blue_rfc_update_status", "", map[string]any{"title": "From the second spike", "status": to})
	}
	call("blue_rfc_update_status", "implemented", map[string]any{"title": "From the second spike", "status": "implemented"})
	call("blue_rfc_create", "", map[string]any{"title": "Ready one"})
	call("blue_rfc_update_status", "", map[string]any{"title": "Ready one", "status": "accepted"})
	call("blue_rfc_create", "", map[string]any{"title": "A draft one"})
	call("blue_rfc_list", "success", nil)
	call("blue_spike_create", "", map[string]any{"title": "Third spike", "question": "?"})
	call("blue_spike_complete", "success", map[string]any{"title": "Third spike", "outcome": "no-action"})

	// ADRs and decisions.
	call("blue_adr_create", "", map[string]any{"title": "Cache listings", "rfc": "Index cache", "decision": "Per ADR 0001, cache."})
	call("blue_adr_list", "success", nil)
	call("blue_adr_get", "success", map[string]any{"number": 1})
	call("blue_adr_relevant", "success", map[string]any{"context": "testing evidence"})
	call("blue_adr_audit", "success", nil)
	call("blue_decision_create", "success", map[string]any{"title": "Use dynalite", "decision": "Yes."})

	// PRDs.
	call("blue_prd_create", "success", map[string]any{"title": "Search", "problem": "Slow."})
	call("blue_prd_get", "success", map[string]any{"title": "Search"})
	call("blue_prd_approve", "success", map[string]any{"title": "Search"})
	call("blue_prd_complete", "blocked", map[string]any{"title": "Search"})
	call("blue_prd_criteria", "", map[string]any{"title": "Search", "criteria": []string{"finds by title"}})
	call("blue_prd_criterion_complete", "", map[string]any{"title": "Search", "criterion": "1"})
	call("blue_prd_complete", "success", map[string]any{"title": "Search"})
	call("blue_prd_list", "success", nil)

	// Post-mortems, runbooks, audits, dialogues.
	call("blue_postmortem_create", "success", map[string]any{"title": "DNS outage", "severity": "high"})
	call("blue_postmortem_action_to_rfc", "success", map[string]any{"postmortem_title": "DNS outage", "action": "1", "rfc_title": "Second resolver"})
	call("blue_runbook_create", "success", map[string]any{"title": "API", "service_name": "api", "actions": []string{"restart the api"}})
	call("blue_runbook_update", "success", map[string]any{"title": "API", "add_operation": "restart"})
	call("blue_runbook_lookup", "found", map[string]any{"action": "restart the api"})
	call("blue_runbook_lookup", "not found", map[string]any{"action": "kubernetes networking"})
	call("blue_runbook_actions", "success", nil)
	call("blue_audit_create", "success", map[string]any{"title": "Security pass", "audit_type": "security"})
	call("blue_audit_list", "success", nil)
	call("blue_audit_get", "success", map[string]any{"title": "Security pass"})
	call("blue_audit_complete", "success", map[string]any{"title": "Security pass"})
	call("blue_dialogue_create", "success", map[string]any{"title": "Kickoff", "rfc_title": "Index cache", "content": "We talked."})
	call("blue_dialogue_get", "success", map[string]any{"title": "Kickoff"})
	call("blue_dialogue_list", "success", map[string]any{"rfc_title": "Index cache"})
	pool := map[string]any{"domain": "Storage", "experts": []map[string]any{{"role": "Architect", "tier": "core", "relevance": 0.9}, {"role": "Analyst", "tier": "wildcard", "relevance": 0.5}}}
	al := call("blue_dialogue_create", "alignment", map[string]any{"title": "Align on caching", "alignment": true, "expert_pool": pool})
	did, out := al["dialogue_id"], al["judge_protocol"].(map[string]any)["output_dir"]
	call("blue_dialogue_round_prompt", "success", map[string]any{"output_dir": out, "agent_name": "Muffin", "agent_emoji": "🧁", "agent_role": "Architect", "round": 0})
	call("blue_dialogue_sample_panel", "success", map[string]any{"dialogue_title": did, "round": 0, "panel_size": 2})
	call("blue_dialogue_round_register", "success", map[string]any{"dialogue_id": did, "round": 0, "score": 5, "expert_scores": map[string]any{"muffin": 5},
		"perspectives":    []map[string]any{{"local_id": "P01", "label": "Cache", "content": "It is slow.", "contributors": []string{"muffin"}}},
		"tensions":        []map[string]any{{"local_id": "T01", "label": "Staleness", "description": "Stale reads."}},
		"recommendations": []map[string]any{{"label": "TTL", "content": "30 s", "parameters": map[string]any{"ttl": 30}}}})
	call("blue_dialogue_expert_create", "success", map[string]any{"dialogue_id": did, "expert_slug": "palmier", "role": "SRE", "tier": "Adjacent", "creation_reason": "operations", "first_round": 1})
	call("blue_dialogue_evolve_panel", "success", map[string]any{"output_dir": out, "round": 1, "panel": []map[string]any{{"name": "Muffin", "role": "Architect", "source": "retained"}, {"name": "Palmier", "role": "SRE", "source": "created", "tier": "Adjacent", "focus": "operations"}}})
	call("blue_dialogue_round_prompt", "fresh expert", map[string]any{"output_dir": out, "agent_name": "Palmier", "agent_emoji": "🧁", "agent_role": "SRE", "round": 1, "expert_source": "created", "focus": "operations"})
	call("blue_dialogue_verdict_register", "success", map[string]any{"dialogue_id": did, "verdict_id": "V01", "verdict_type": "interim", "round": 0, "recommendation": "Try a TTL", "description": "Open question."})
	call("blue_dialogue_verdict_register", "blocked", map[string]any{"dialogue_id": did, "verdict_id": "final", "verdict_type": "final", "round": 0, "recommendation": "TTL", "description": "Agreed."})
	call("blue_dialogue_round_context", "success", map[string]any{"dialogue_id": did, "round": 1})
	call("blue_dialogue_verdict_register", "forced", map[string]any{"dialogue_id": did, "verdict_id": "final", "verdict_type": "final", "round": 0, "recommendation": "TTL", "description": "Agreed.", "force": true})
	call("blue_dialogue_export", "success", map[string]any{"dialogue_id": did})

	// Search, status, next.
	call("blue_search", "success", map[string]any{"query": "cache"})
	call("blue_search", "adr", map[string]any{"query": "adr:1"})
	call("blue_status", "success", nil)
	call("blue_next", "success", nil)

	// Delete, restore, purge.
	call("blue_delete", "dry run", map[string]any{"doc_type": "rfc", "title": "Index cache", "dry_run": true})
	call("blue_delete", "blocked", map[string]any{"doc_type": "rfc", "title": "Index cache", "force": true})
	call("blue_delete", "requires_force", map[string]any{"doc_type": "decision", "title": "Use dynalite"})
	call("blue_delete", "success", map[string]any{"doc_type": "rfc", "title": "A draft one"})
	call("blue_restore", "success", map[string]any{"doc_type": "rfc", "title": "A draft one"})
	call("blue_delete", "", map[string]any{"doc_type": "decision", "title": "Use dynalite", "force": true})
	call("blue_deleted_list", "success", nil)
	call("blue_purge_deleted", "success", map[string]any{"days": 0})

	for _, row := range rows {
		key := row.tool + "|" + row.cs
		a, ok := answers[key]
		if !ok {
			t.Errorf("%s (%s): the journey has no such answer; add a call for it", row.tool, row.cs)
			continue
		}
		delete(answers, key)
		want := "success"
		if slices.Contains([]string{"blocked", "rfc_required", "requires_force"}, row.cs) {
			want = row.cs
		}
		if a["status"] != want {
			t.Errorf("%s (%s): status %v, want %s", row.tool, row.cs, a["status"], want)
		}
		for _, f := range row.fields {
			if err := f.check(a); err != nil {
				b, _ := json.Marshal(a)
				t.Errorf("%s (%s): %v\n%s", row.tool, row.cs, err, b)
			}
		}
	}
	for key := range answers {
		t.Errorf("%s: answered, but docs/blue-tools.md has no row for it", key)
	}
	// Every tool of Blue's table that the hosted server serves has a row.
	have := map[string]bool{}
	for _, row := range rows {
		have[row.tool] = true
	}
	for name := range bluesTable(t) {
		if !have[name] && !slices.Contains([]string{"blue_sync", "blue_dialogue_save"}, name) {
			t.Errorf("%s: no row in the answer fields table", name)
		}
	}
}

// The kinds' statuses and transitions are the table's.
func TestTransitionsMatchTheTable(t *testing.T) {
	t.Parallel()
	statuses := map[string][]string{}
	moves := map[string]map[string][]string{}
	for _, cells := range docTable(t, "### Transitions, per kind", 3) {
		k, from := cells[0], cells[1]
		statuses[k] = append(statuses[k], from)
		if moves[k] == nil {
			moves[k] = map[string][]string{}
		}
		if cells[2] != "–" {
			moves[k][from] = strings.Split(cells[2], ", ")
		}
	}
	if len(statuses) != len(blue.Kinds) {
		t.Errorf("the table has %d kinds, blue.Kinds %d", len(statuses), len(blue.Kinds))
	}
	for _, k := range blue.Kinds {
		if !slices.Equal(statuses[k.Name], k.Statuses) {
			t.Errorf("%s: statuses %v, the table has %v", k.Name, k.Statuses, statuses[k.Name])
		}
		for _, from := range k.Statuses {
			if got, want := k.Transitions[from], moves[k.Name][from]; !slices.Equal(got, want) {
				t.Errorf("%s: from %s to %v, the table has %v", k.Name, from, got, want)
			}
			for _, to := range k.Statuses {
				legal := slices.Contains(moves[k.Name][from], to)
				if err := k.CanMove(from, to); (err == nil) != legal {
					t.Errorf("%s: %s → %s: CanMove %v, the table says legal=%v", k.Name, from, to, err, legal)
				}
			}
		}
	}
}

// The served input schemas carry the table's enums.
func TestSchemasCarryTheTablesEnums(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	tn := newTenant(t, w, "enums", 131313131313)
	srv := w.Serve(t, tn, world.ServerOptions{})
	s := connect(t, srv.URL, tn.Token)
	res, err := s.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[string]map[string]any{}
	for _, tool := range res.Tools {
		b, _ := json.Marshal(tool.InputSchema)
		var sch map[string]any
		_ = json.Unmarshal(b, &sch)
		schemas[tool.Name] = sch
	}
	enumAt := func(sch map[string]any, path string) []string {
		cur := sch
		for _, part := range strings.Split(path, ".") {
			props, _ := cur["properties"].(map[string]any)
			next, _ := props[part].(map[string]any)
			for next != nil && next["items"] != nil {
				next, _ = next["items"].(map[string]any)
			}
			if next == nil {
				return nil
			}
			cur = next
		}
		var out []string
		for _, v := range cur["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	rows := docTable(t, "### Argument enums", 3)
	if len(rows) < 10 {
		t.Fatalf("read %d enum rows", len(rows))
	}
	for _, cells := range rows {
		sch, ok := schemas[cells[0]]
		if !ok {
			t.Errorf("%s is not served", cells[0])
			continue
		}
		got := func() (out []string) {
			defer func() { _ = recover() }()
			return enumAt(sch, cells[1])
		}()
		if want := strings.Split(cells[2], ", "); !slices.Equal(got, want) {
			t.Errorf("%s %s: enum %v, the table has %v", cells[0], cells[1], got, want)
		}
	}
	// And a value outside one is refused, naming the values.
	_, e := call(t, s, "blue_audit_create", map[string]any{"title": "x", "audit_type": "pentest"})
	if !strings.Contains(e, `argument "audit_type": "pentest" is not an audit type; use one of: repository, security`) {
		t.Errorf("audit_type pentest: %q", e)
	}
}

// answerRow is one row of the answer fields table.
type answerRow struct {
	tool, cs string
	fields   []field
}

func answerRows(t *testing.T) []answerRow {
	t.Helper()
	var out []answerRow
	for _, cells := range docTable(t, "### Answer fields, per tool", 3) {
		fields, err := parseFields(cells[2])
		if err != nil {
			t.Fatalf("%s (%s): %v", cells[0], cells[1], err)
		}
		out = append(out, answerRow{tool: cells[0], cs: cells[1], fields: fields})
	}
	if len(out) < 40 {
		t.Fatalf("read only %d rows", len(out))
	}
	return out
}

// docTable reads the rows of the table in a section of docs/blue-tools.md.
func docTable(t *testing.T, heading string, columns int) [][]string {
	t.Helper()
	var out [][]string
	for _, line := range strings.Split(docSection(t, bluesDoc(t), heading), "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "|---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) != columns {
			t.Fatalf("%s: row %q has %d cells", heading, line, len(cells))
		}
		if cells[0] == "tool" || cells[0] == "kind" {
			continue // the head
		}
		out = append(out, cells)
	}
	return out
}

// field is one entry of the fields notation: name, name{...}, name[] or
// name[{...}].
type field struct {
	name   string
	list   bool
	object bool // name{...}, or a list of them
	keys   []field
}

// check reports whether the answer a has the field in its shape. A list's
// items are checked when it has any.
func (f field) check(a map[string]any) error {
	v, has := a[f.name]
	if !has {
		return fmt.Errorf("no %s", f.name)
	}
	checkObject := func(v any) error {
		m, isObject := v.(map[string]any)
		if !isObject {
			return fmt.Errorf("%s is %T, not an object", f.name, v)
		}
		for _, k := range f.keys {
			if err := k.check(m); err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
		}
		return nil
	}
	switch {
	case f.list:
		items, isList := v.([]any)
		if !isList {
			return fmt.Errorf("%s is %T, not a list", f.name, v)
		}
		if f.object {
			for _, it := range items {
				if err := checkObject(it); err != nil {
					return err
				}
			}
		}
	case f.object:
		return checkObject(v)
	}
	return nil
}

// parseFields reads "a, b{c,d}, e[], f[{g,h{i}}]".
func parseFields(s string) ([]field, error) {
	p := &fieldParser{s: strings.ReplaceAll(s, " ", "")}
	fs, err := p.list()
	if err == nil && p.i != len(p.s) {
		err = fmt.Errorf("unexpected %q at %d", p.s[p.i:], p.i)
	}
	return fs, err
}

type fieldParser struct {
	s string
	i int
}

func (p *fieldParser) list() ([]field, error) {
	var out []field
	for {
		f, err := p.field()
		if err != nil {
			return nil, err
		}
		out = append(out, f)
		if p.i >= len(p.s) || p.s[p.i] != ',' {
			return out, nil
		}
		p.i++
	}
}

func (p *fieldParser) field() (field, error) {
	start := p.i
	for p.i < len(p.s) && (p.s[p.i] == '_' || p.s[p.i] >= 'a' && p.s[p.i] <= 'z' || p.s[p.i] >= 'A' && p.s[p.i] <= 'Z') {
		p.i++
	}
	f := field{name: p.s[start:p.i]}
	if f.name == "" {
		return f, fmt.Errorf("a name expected at %d of %q", start, p.s)
	}
	object := func() error {
		p.i++ // '{'
		keys, err := p.list()
		if err != nil {
			return err
		}
		if p.i >= len(p.s) || p.s[p.i] != '}' {
			return fmt.Errorf("'}' expected at %d of %q", p.i, p.s)
		}
		p.i++
		f.object, f.keys = true, keys
		return nil
	}
	switch {
	case p.i < len(p.s) && p.s[p.i] == '{':
		if err := object(); err != nil {
			return f, err
		}
	case p.i < len(p.s) && p.s[p.i] == '[':
		p.i++
		f.list = true
		if p.i < len(p.s) && p.s[p.i] == '{' {
			if err := object(); err != nil {
				return f, err
			}
		}
		if p.i >= len(p.s) || p.s[p.i] != ']' {
			return f, fmt.Errorf("']' expected at %d of %q", p.i, p.s)
		}
		p.i++
	}
	return f, nil
}

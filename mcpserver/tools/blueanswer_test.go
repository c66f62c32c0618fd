package tools

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/superviber/blue-operator/mcpserver/store"
)

// The hosted fields come first and win; Blue's follow, sorted; markdown
// stays readable.
func TestResultCarriesBluesFields(t *testing.T) {
	r := ok("a < b").with(map[string]any{"tasks": []int{1}, "status": "draft", "id": "0001", "progress": 1})
	r.Progress = progressView(nil)
	b, err := r.MarshalJSON() // as the tool encodes it: no HTML escapes
	if err != nil {
		t.Fatal(err)
	}
	want := `{"status":"success","message":"a < b","progress":{"done":0,"completed":0,"total":0,"percent":0,"percentage":0},"id":"0001","tasks":[1]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if b, _ := json.Marshal(ok("plain")); string(b) != `{"status":"success","message":"plain"}` {
		t.Errorf("without Blue's fields: %s", b)
	}
	var back Result
	if err := json.Unmarshal([]byte(want), &back); err != nil || back.Status != "success" || back.Progress.Percentage != 0 {
		t.Errorf("read back %+v %v", back, err)
	}
}

// blue_rfc_get answers Blue's tasks and progress beside the hosted ones.
func TestRFCGetAnswersBluesShape(t *testing.T) {
	f := newFixture(t)
	id := f.rfcAt(t, "Index cache", "accepted")
	run(t, f, f.svc.rfcPlan, RFCPlanIn{Title: id, Tasks: []string{"design", "build", "ship"}})
	run(t, f, f.svc.rfcTaskComplete, RFCTaskIn{Title: id, Task: "build"})
	r := run(t, f, f.svc.rfcGet, TitleIn{Title: id})
	b, _ := json.Marshal(r)
	var got struct {
		Tasks []struct {
			Index       int    `json:"index"`
			Description string `json:"description"`
			Completed   bool   `json:"completed"`
		} `json:"tasks"`
		Progress struct {
			Done, Completed, Total, Percent, Percentage int
		} `json:"progress"`
		Number          int              `json:"number"`
		FilePath        string           `json:"file_path"`
		PlanFile        string           `json:"plan_file"`
		PlanURI         string           `json:"_plan_uri"`
		ClaudeCodeTasks []map[string]any `json:"claude_code_tasks"`
		Document        struct {
			Status string `json:"status"`
		} `json:"document"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Tasks) != 3 || got.Tasks[1].Index != 2 || got.Tasks[1].Description != "build" || !got.Tasks[1].Completed || got.Tasks[0].Completed {
		t.Errorf("tasks %+v", got.Tasks)
	}
	if p := got.Progress; p.Completed != 1 || p.Done != 1 || p.Total != 3 || p.Percentage != 33 || p.Percent != 33 {
		t.Errorf("progress %+v", p)
	}
	if got.Number != 1 || got.FilePath != "rfcs/0001-index-cache.accepted.md" || got.PlanFile != "rfcs/0001-index-cache.plan.md" || got.PlanURI != "blue://docs/rfcs/0001/plan" {
		t.Errorf("paths %+v", got)
	}
	if len(got.ClaudeCodeTasks) != 2 || got.ClaudeCodeTasks[0]["subject"] != "💙 design" || got.Document.Status != "accepted" {
		t.Errorf("claude_code_tasks %v, document status %q", got.ClaudeCodeTasks, got.Document.Status)
	}
}

// Moving an RFC to in-progress answers the ADRs Blue's relevance scoring
// finds for its title (Blue's RFC 0038), as adr_suggestions.
func TestInProgressSuggestsADRs(t *testing.T) {
	f := newFixture(t)
	adr := run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Evidence", Decision: "Show, don't tell: testing is the evidence."}).Document
	run(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: "adr", Title: adr.ID}, Section: "Applies When", Text: "- Writing tests", Version: adr.Version})
	run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Billing in Postgres", Decision: "Use Postgres."})

	for _, tc := range []struct {
		title   string
		newADR  bool
		suggest bool
	}{
		{"Testing evidence", false, true},
		{"Refactor testing evidence", true, true},
		{"Kubernetes networking", false, false},
	} {
		id := f.rfcAt(t, tc.title, "accepted")
		r := run(t, f, f.svc.rfcUpdateStatus, RFCStatusIn{Title: id, Status: "in-progress"})
		sugg, has := r.Blue["adr_suggestions"].(map[string]any)
		if has != tc.suggest {
			t.Errorf("%q: adr_suggestions %v, want present=%v", tc.title, r.Blue["adr_suggestions"], tc.suggest)
			continue
		}
		if r.Blue["new_status"] != "in-progress" || r.Blue["warning"] == nil {
			t.Errorf("%q: %v", tc.title, r.Blue)
		}
		if !has {
			continue
		}
		relevant := sugg["relevant_adrs"].([]map[string]any)
		if len(relevant) != 1 || relevant[0]["number"] != 1 || relevant[0]["confidence"].(float64) <= relevantAbove || relevant[0]["why"] == "" {
			t.Errorf("%q: relevant %v", tc.title, relevant)
		}
		if sugg["suggests_new_adr"] != tc.newADR || !strings.Contains(sugg["hint"].(string), "ADR") {
			t.Errorf("%q: %v", tc.title, sugg)
		}
	}
	// blue_adr_relevant answers the same scoring as Blue's relevant list.
	r := run(t, f, f.svc.adrRelevant, ContextIn{Context: "testing evidence"})
	if rel := r.Blue["relevant"].([]map[string]any); len(rel) != 1 || rel[0]["title"] != "Evidence" || r.Blue["method"] != "keyword" {
		t.Errorf("relevant %v", r.Blue)
	}
}

// Blue's relevance score, on its own test's ADR.
func TestRelevanceScore(t *testing.T) {
	a := adrFacts{number: 4, title: "Evidence", keywords: []string{"test", "testing", "evidence"},
		appliesWhen: []string{"Writing tests"}, antiPatterns: []string{"Claiming code works without tests"}}
	if score, why := relevance([]string{"testing", "strategy"}, a); score <= 0.5 || why == "" {
		t.Errorf("score %v (%s), want more than 0.5", score, why)
	}
	if score, _ := relevance([]string{"kubernetes"}, a); score != 0 {
		t.Errorf("unrelated score %v", score)
	}
	if score, _ := relevance([]string{"evidence", "test", "tests", "writing"}, a); score != 1 {
		t.Errorf("capped score %v", score)
	}
}

func TestCitesADR(t *testing.T) {
	for _, tc := range []struct {
		body string
		n    int
		want int
	}{
		{"see adr:12 for that", 1, 0}, // ADR 12, not ADR 1
		{"see adr:12 for that", 12, 1},
		{"as ADR-3 says", 3, 1},
		{"as ADR 3. says", 3, 1},
		{"ADR 3", 3, 1},
		{"ADR #3 and adr-0004", 4, 1},
		{"ADR 30", 3, 0},
		{"ADR 0013", 1, 0},
		{"cadr 3", 3, 0},
	} {
		// Documents are scored for citations from their search index entry.
		if got := entryOf(&store.Document{}, []byte(tc.body)).cites(tc.n); got != (tc.want == 1) {
			t.Errorf("%q cites ADR %d: %v, want %v", tc.body, tc.n, got, tc.want == 1)
		}
	}
}

// A storage failure reading an ADR is reported as one, not as "no ADR".
func TestADRGetStorageError(t *testing.T) {
	f := newFixture(t)
	run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "Cache"})
	f.st.fail("Get", errors.New("dynamodb: throttled"))
	msg := runErr(t, f, f.svc.adrGet, ADRGetIn{Number: 1})
	if strings.Contains(msg, "no ADR matches") || !strings.Contains(msg, "throttled") {
		t.Errorf("error %q", msg)
	}
	f.st.fail("Get", nil)
	r := run(t, f, f.svc.adrGet, ADRGetIn{Number: 1})
	for _, k := range []string{"number", "title", "content", "file", "applies_when", "anti_patterns", "referenced_by"} {
		if _, has := r.Blue[k]; !has {
			t.Errorf("adr_get lacks %s", k)
		}
	}
}

// Blue's enums are in the schemas, and only their values are accepted.
func TestSchemasCarryBluesEnums(t *testing.T) {
	f := newFixture(t)
	cs := connectTools(t, f.svc)
	tools, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	enums := map[string]map[string][]string{}
	for _, tool := range tools.Tools {
		b, _ := json.Marshal(tool.InputSchema)
		var sch struct {
			Properties map[string]struct {
				Enum []string `json:"enum"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(b, &sch); err != nil {
			t.Fatal(err)
		}
		for name, p := range sch.Properties {
			if len(p.Enum) > 0 {
				if enums[tool.Name] == nil {
					enums[tool.Name] = map[string][]string{}
				}
				enums[tool.Name][name] = p.Enum
			}
		}
	}
	for _, tc := range []struct {
		tool, arg string
		want      []string
	}{
		{"blue_spike_complete", "outcome", []string{"no-action", "decision-made", "recommends-implementation", "resolved"}},
		{"blue_rfc_update_status", "status", []string{"draft", "accepted", "in-progress", "implemented", "superseded"}},
		{"blue_audit_create", "audit_type", []string{"repository", "security", "rfc-verification", "adr-adherence", "custom"}},
		{"blue_delete", "doc_type", []string{"rfc", "spike", "adr", "decision", "prd", "postmortem", "runbook"}},
		{"blue_search", "doc_type", []string{"rfc", "spike", "adr", "decision", "prd", "postmortem", "runbook", "dialogue", "audit"}},
		{"blue_postmortem_create", "severity", []string{"P1", "P2", "P3", "P4", "critical", "high", "medium", "low"}},
		{"blue_prd_list", "status", []string{"draft", "approved", "implemented"}},
		{"blue_dialogue_create", "rotation", []string{"none", "wildcards", "full", "graduated"}},
	} {
		if got := enums[tc.tool][tc.arg]; !slices.Equal(got, tc.want) {
			t.Errorf("%s %s: enum %v, want %v", tc.tool, tc.arg, got, tc.want)
		}
	}
	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"blue_spike_complete", map[string]any{"title": "x", "outcome": "maybe"}, `argument "outcome": "maybe" is not a spike outcome; use one of: no-action, decision-made`},
		{"blue_rfc_list", map[string]any{"status": "done"}, `argument "status": "done" is not an RFC status`},
		{"blue_adr_list", map[string]any{"status": "draft"}, `"draft" is not an ADR status`},
		{"blue_dialogue_create", map[string]any{"title": "x", "expert_pool": map[string]any{"domain": "d", "experts": []any{map[string]any{"role": "r", "tier": "top", "relevance": 1}}}}, `argument "expert_pool"`},
		{"blue_dialogue_create", map[string]any{"title": "x", "expert_pool": map[string]any{"experts": []any{}}}, `argument "expert_pool"`},
		{"blue_dialogue_create", map[string]any{"title": "x", "nope": 1}, `unknown argument "nope"`},
	} {
		if text, isErr := callText(t, cs, tc.tool, tc.args); !isErr || !strings.Contains(text, tc.want) {
			t.Errorf("%s(%v): %q (isError %v), want %q", tc.tool, tc.args, text, isErr, tc.want)
		}
	}
	// Every argument Blue's blue_dialogue_create took is accepted.
	args := map[string]any{"title": "Kickoff", "summary": "s", "content": "c", "alignment": false, "panel_size": 5, "rotation": "wildcards", "model": "opus",
		"sources": []string{"README.md"}, "expert_pool": map[string]any{"domain": "Storage", "experts": []any{map[string]any{"role": "DBA", "tier": "core", "relevance": 0.9}}}}
	if text, isErr := callText(t, cs, "blue_dialogue_create", args); isErr {
		t.Errorf("dialogue with Blue's arguments: %s", text)
	}
}

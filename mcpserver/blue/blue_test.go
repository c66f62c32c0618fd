package blue

import (
	"strings"
	"testing"
	"time"
)

func TestRFCTransitions(t *testing.T) {
	rfc, _ := KindByName("rfc")
	cases := []struct {
		from, to string
		ok       bool
		msg      string
	}{
		{RFCDraft, RFCAccepted, true, ""},
		{RFCDraft, RFCSuperseded, true, ""},
		{RFCAccepted, RFCDraft, true, ""},
		{RFCAccepted, RFCInProgress, true, ""},
		{RFCInProgress, RFCImpl, true, ""},
		{RFCInProgress, RFCSuperseded, true, ""},
		{RFCDraft, RFCImpl, false, "from draft it may go to: accepted, superseded"},
		{RFCDraft, RFCInProgress, false, "cannot go from draft to in-progress"},
		{RFCImpl, RFCDraft, false, "final"},
		{RFCSuperseded, RFCAccepted, false, "final"},
		{RFCDraft, "done", false, `"done" is not an RFC status`},
		{RFCDraft, RFCDraft, false, "already draft"},
	}
	for _, tc := range cases {
		t.Run(tc.from+"->"+tc.to, func(t *testing.T) {
			err := rfc.CanMove(tc.from, tc.to)
			if tc.ok != (err == nil) {
				t.Fatalf("CanMove = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q lacks %q", err, tc.msg)
			}
		})
	}
}

func TestRegistryIsComplete(t *testing.T) {
	want := []string{"rfc", "spike", "adr", "decision", "prd", "postmortem", "runbook", "dialogue", "audit"}
	if got := strings.Join(KindNames(), ","); got != strings.Join(want, ",") {
		t.Fatalf("kinds %s", got)
	}
	for _, k := range Kinds {
		for _, s := range k.Statuses {
			if k.Suffix[s] == "" {
				t.Errorf("%s status %s has no file suffix", k.Name, s)
			}
			for _, to := range k.Transitions[s] {
				if !k.HasStatus(to) {
					t.Errorf("%s: %s → unknown %s", k.Name, s, to)
				}
			}
		}
		if p, ok := KindByPlural(k.Plural); !ok || p.Name != k.Name || Plural(k.Name) != k.Plural {
			t.Errorf("plural lookup of %s", k.Name)
		}
	}
}

func TestSlug(t *testing.T) {
	cases := map[string]string{
		"Hello World":             "hello-world",
		"  API: v2 -- redesign! ": "api-v2-redesign",
		"../../etc/passwd":        "etc-passwd",
		"Ünïcode café":            "n-code-caf",
		"a/b\\c":                  "a-b-c",
		"---":                     "",
		strings.Repeat("x", 100):  strings.Repeat("x", 80),
	}
	for in, want := range cases {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIDsAndNumbers(t *testing.T) {
	if got := FormatNumber(7); got != "0007" {
		t.Errorf("FormatNumber = %s", got)
	}
	ts := time.Date(2026, 11, 25, 2, 44, 59, 0, time.FixedZone("x", 3600))
	if got := TimestampID(ts); got != "2026-11-25T0144Z" {
		t.Errorf("TimestampID = %s", got)
	}
	for in, want := range map[string]int{"7": 7, "0007": 7, "RFC 0012": 12, "#3": 3} {
		if n, ok := ParseNumber(in); !ok || n != want {
			t.Errorf("ParseNumber(%q) = %d %v", in, n, ok)
		}
	}
	if _, ok := ParseNumber("my title"); ok {
		t.Errorf("a title parsed as a number")
	}
	if TitleCase("in-progress") != "In-Progress" || TitleCase("draft") != "Draft" {
		t.Errorf("TitleCase")
	}
}

func TestMarkdownHeaderAndSections(t *testing.T) {
	d := Doc{
		Heading: "RFC 0001: Cache | things",
		Header:  []Row{{"Status", "Draft"}, {"Date", "2026-11-25"}, {"Source Spike", ""}, {"Note", "a|b"}},
		Sections: []Section{
			{"Summary", "Why we cache."},
			{"Test Plan", ""},
		},
	}
	body := d.Render()
	if !strings.Contains(string(body), "| **Status** | Draft |") || strings.Contains(string(body), "Source Spike") {
		t.Fatalf("render:\n%s", body)
	}
	if HeaderValue(body, "Note") != "a|b" || HeaderValue(body, "Missing") != "" {
		t.Errorf("header values")
	}
	body = SetHeader(body, "Status", "Accepted")
	if HeaderValue(body, "Status") != "Accepted" || strings.Count(string(body), "**Status**") != 1 {
		t.Errorf("SetHeader replace:\n%s", body)
	}
	body = SetHeader(body, "Outcome", "no-action")
	if HeaderValue(body, "Outcome") != "no-action" || HeaderValue(body, "Date") != "2026-11-25" {
		t.Errorf("SetHeader add:\n%s", body)
	}
	if SectionText(body, "summary") != "Why we cache." || SectionText(body, "Test Plan") != "" {
		t.Errorf("sections:\n%s", body)
	}
	body = AppendToSection(body, "Summary", "- more")
	body = AppendToSection(body, "Troubleshooting", "- restart it")
	if got := SectionText(body, "Summary"); got != "Why we cache.\n- more" {
		t.Errorf("appended summary %q", got)
	}
	if SectionText(body, "Troubleshooting") != "- restart it" || SectionText(body, "Test Plan") != "" {
		t.Errorf("append new section:\n%s", body)
	}
}

func TestTasksAndProgress(t *testing.T) {
	tasks := Tasks("# Plan\n- [ ] one\n- [x] two\n* [X] three\nnot a task\n- [ ]missing space")
	if len(tasks) != 3 || tasks[0].Done || !tasks[1].Done || !tasks[2].Done || tasks[2].Text != "three" {
		t.Fatalf("tasks %+v", tasks)
	}
	if d, n, p := Progress(tasks); d != 2 || n != 3 || p != 66 {
		t.Errorf("progress %d/%d %d%%", d, n, p)
	}
	if again := Tasks(RenderTasks(tasks)); len(again) != 3 || again[1] != tasks[1] {
		t.Errorf("round trip %+v", again)
	}
	if _, _, p := Progress(nil); p != 0 {
		t.Errorf("empty progress %d", p)
	}
}

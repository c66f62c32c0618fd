package blue

import (
	"strings"
	"testing"
)

// Criteria reads what Blue's parse_acceptance_criteria reads.
func TestCriteriaAsBlueReadsThem(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		// Blue's own test of its parser.
		{"blue's test", "\n**Acceptance Criteria**:\n- [x] Done item\n- [ ] Pending item\n## Next Section\n", "- [x] Done item\n- [ ] Pending item\n"},
		{"per story", "## User Stories\n\n### Story 1: A\n\n**Acceptance Criteria**:\n- [ ] a1\n\n### Story 2: B\n\n**Acceptance Criteria**:\n- [X] b1\n- [ ] b2\n\n## Success Metrics\n\n- [ ] not one\n", "- [ ] a1\n- [x] b1\n- [ ] b2\n"},
		{"a story heading closes the list", "**Acceptance Criteria**:\n- [ ] a\n### Story 2\n- [ ] b\n", "- [ ] a\n"},
		{"any deeper heading closes it", "**Acceptance Criteria**:\n- [ ] a\n### Notes\n- [ ] b\n", "- [ ] a\n"},
		{"only exact boxes", "**Acceptance Criteria**:\n  - [ ] indented\n* [ ] star\n-[ ] tight\n- [ ]no space\n- [ ] real\n", "- [ ] real\n"},
		{"the marker anywhere on its line", "Our **Acceptance Criteria** are:\n- [x] one\n", "- [x] one\n"},
		{"no marker, no criteria", "## Goals\n\n- [ ] a goal\n", ""},
		{"windows line ends", "**Acceptance Criteria**:\r\n- [ ] a\r\n## Next\r\n- [ ] b\r\n", "- [ ] a\n"},
		// The hosted server's older shape (Blue would not read it).
		{"older section", "## Problem\n\nx\n\n## Acceptance Criteria\n\n- [ ] a\n- [x] b\n\n## Other\n\n- [ ] c\n", "- [ ] a\n- [x] b\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CriteriaKey([]byte(tc.body)); got != tc.want {
				t.Errorf("criteria %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSetCriteria(t *testing.T) {
	two := "# PRD\n\n## User Stories\n\n### Story 1: A\n\n**Acceptance Criteria**:\n- [ ] a1\n- [x] a2\n\n### Story 2: B\n\n**Acceptance Criteria**:\n- [ ] b1\n\n## Success Metrics\n\nm\n"
	for _, tc := range []struct {
		name  string
		body  string
		tasks []Task
		want  string // the whole new body
	}{
		{
			name:  "replace the placeholders",
			body:  "## User Stories\n\n**As a** user\n\n**Acceptance Criteria**:\n- [ ] [Criterion 1]\n- [ ] [Criterion 2]\n\n## Next\n",
			tasks: []Task{{Text: "fast"}, {Text: "cheap", Done: true}},
			want:  "## User Stories\n\n**As a** user\n\n**Acceptance Criteria**:\n- [ ] fast\n- [x] cheap\n\n## Next\n",
		},
		{
			name:  "each criterion stays in its story, a new one joins the one before it",
			body:  two,
			tasks: []Task{{Text: "a1", Done: true}, {Text: "a3"}, {Text: "b1"}, {Text: "b2"}},
			want:  "# PRD\n\n## User Stories\n\n### Story 1: A\n\n**Acceptance Criteria**:\n- [x] a1\n- [ ] a3\n\n### Story 2: B\n\n**Acceptance Criteria**:\n- [ ] b1\n- [ ] b2\n\n## Success Metrics\n\nm\n",
		},
		{
			name:  "the order given is the document's",
			body:  two,
			tasks: []Task{{Text: "b1"}, {Text: "a1"}},
			want:  "# PRD\n\n## User Stories\n\n### Story 1: A\n\n**Acceptance Criteria**:\n\n### Story 2: B\n\n**Acceptance Criteria**:\n- [ ] b1\n- [ ] a1\n\n## Success Metrics\n\nm\n",
		},
		{
			name:  "no list: one at the end of the user stories",
			body:  "## User Stories\n\n### Story 1\n\ntext\n\n## Next\n\nn\n",
			tasks: []Task{{Text: "a"}},
			want:  "## User Stories\n\n### Story 1\n\ntext\n**Acceptance Criteria**:\n- [ ] a\n\n## Next\n\nn\n",
		},
		{
			name:  "no list, no stories: a section of its own",
			body:  "# PRD\n\n## Problem\n\np\n",
			tasks: []Task{{Text: "a"}},
			want:  "# PRD\n\n## Problem\n\np\n\n## Acceptance Criteria\n\n**Acceptance Criteria**:\n- [ ] a\n",
		},
		{
			name:  "an older section gets Blue's marker",
			body:  "## Acceptance Criteria\n\n- [ ] a\n- [x] b\n\n## Next\n",
			tasks: []Task{{Text: "a", Done: true}, {Text: "b", Done: true}},
			want:  "## Acceptance Criteria\n\n**Acceptance Criteria**:\n- [x] a\n- [x] b\n\n## Next\n",
		},
		{
			name:  "an empty older section gets the marker and the list",
			body:  "## Acceptance Criteria\n\n## Next\n",
			tasks: []Task{{Text: "a"}},
			want:  "## Acceptance Criteria\n\n**Acceptance Criteria**:\n- [ ] a\n\n## Next\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(SetCriteria([]byte(tc.body), tc.tasks))
			if got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
			if key := CriteriaKey([]byte(got)); key != RenderTasks(tc.tasks) {
				t.Errorf("criteria read back %q, want %q", key, RenderTasks(tc.tasks))
			}
			// Once written, an older section is read the same by Blue's
			// parser, which opens a list only at the marker.
			if strings.Contains(got, CriteriaMarker) {
				blueOnly := strings.ReplaceAll(got, "## Acceptance Criteria\n", "## Elsewhere\n")
				if key := CriteriaKey([]byte(blueOnly)); key != RenderTasks(tc.tasks) {
					t.Errorf("as Blue reads it %q", key)
				}
			}
			// Writing the same criteria again changes nothing.
			if again := string(SetCriteria([]byte(got), tc.tasks)); again != got {
				t.Errorf("not stable:\n%q\n%q", got, again)
			}
		})
	}
}

func TestParseRef(t *testing.T) {
	rfc, _ := KindByName("rfc")
	pm, _ := KindByName("postmortem")
	for _, tc := range []struct {
		k    Kind
		ref  string
		want int // -1: not a number
	}{
		{rfc, "7", 7}, {rfc, " 0007 ", 7}, {rfc, "#7", 7}, {rfc, "RFC 0007", 7}, {rfc, "rfc-7", 7}, {rfc, "RFC#7", 7}, {rfc, "rfc: 7", 7},
		{rfc, "Phase 1", -1}, {rfc, "ADR 3", -1}, {rfc, "RFC", -1}, {rfc, "RFC 7b", -1}, {rfc, "RFC7", -1}, {rfc, "-7", -1}, {rfc, "1e3", -1},
		{pm, "post-mortem 2", 2}, {pm, "postmortem-2", 2},
	} {
		n, ok := ParseRef(tc.k, tc.ref)
		if tc.want < 0 && ok || tc.want >= 0 && (!ok || n != tc.want) {
			t.Errorf("ParseRef(%s, %q) = %d, %v; want %d", tc.k.Name, tc.ref, n, ok, tc.want)
		}
	}
	if _, ok := ParseNumber("Phase 1"); ok {
		t.Errorf("a title that ends in a number is a number")
	}
	if n, ok := ParseNumber("ADR-0003"); !ok || n != 3 {
		t.Errorf("ParseNumber(ADR-0003) = %d %v", n, ok)
	}
}

func TestArticle(t *testing.T) {
	for name, want := range map[string]string{"rfc": "an RFC", "adr": "an ADR", "prd": "a PRD", "spike": "a Spike", "audit": "an Audit", "postmortem": "a Post-mortem"} {
		k, _ := KindByName(name)
		if got := k.Article(); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

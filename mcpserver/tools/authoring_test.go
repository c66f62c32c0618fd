package tools

import (
	"fmt"
	"strings"
	"testing"

	"github.com/superviber/blue-operator/mcpserver/blue"
)

func TestSectionWrite(t *testing.T) {
	f := newFixture(t)
	id := f.newRFC(t, "Index cache")
	v := func() int64 { return run(t, f, f.svc.rfcGet, TitleIn{Title: id}).Document.Version }

	r := run(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: id}, Section: "Proposal", Text: "Cache the index in memory.\n\n### Eviction\n\nLRU.", Version: v()})
	if r.Document.Version != 2 {
		t.Fatalf("version after write %d, want 2", r.Document.Version)
	}
	run(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: "Index cache"}, Section: "proposal", Text: "Measured: 3 ms.", Mode: "append", Version: v()})
	run(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: id}, Section: "Test Plan", Text: "Bench it.", Version: v()})
	run(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: id}, Section: "Summary", Text: "Reads are slow.", Version: v()})
	run(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: id}, Section: "Alternatives", Text: "A CDN.", Version: v()})

	got := run(t, f, f.svc.rfcGet, TitleIn{Title: id}).Document.Content
	wantContains(t, "body", got, "## Proposal\n\nCache the index in memory.\n\n### Eviction\n\nLRU.\nMeasured: 3 ms.", "## Test Plan\n\nBench it.", "## Alternatives\n\nA CDN.", "| **Status** | Draft |")
	if d := run(t, f, f.svc.rfcValidate, TitleIn{Title: id}).Data["empty_sections"]; len(d.([]string)) != 0 {
		t.Errorf("validate still reports empty sections: %v", d)
	}
	if n := len(blue.Sections([]byte(got))); n != 6 {
		t.Errorf("%d sections, want 6:\n%s", n, got)
	}

	for _, tc := range []struct {
		name string
		in   SectionWriteIn
		want string
	}{
		{"stale version", SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: id}, Section: "Goals", Text: "x", Version: 1}, "you read version 1 of rfc 0001, it is now at version 6"},
		{"no version", SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: id}, Section: "Goals", Text: "x"}, `argument "version" is required`},
		{"no section", SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: id}, Text: "x", Version: 6}, `argument "section" is required`},
		{"a heading for a name", SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: id}, Section: "## Goals", Text: "x", Version: 6}, `argument "section"`},
		{"two lines for a name", SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: id}, Section: "Goals\nStatus", Text: "x", Version: 6}, `argument "section"`},
		{"bad mode", SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: id}, Section: "Goals", Text: "x", Mode: "prepend", Version: 6}, `argument "mode"`},
		{"too big", SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: id}, Section: "Goals", Text: strings.Repeat("x", maxSectionBytes+1), Version: 6}, `argument "text" is 65537 bytes`},
		{"unknown kind", SectionWriteIn{DocIn: DocIn{DocType: "memo", Title: id}, Section: "Goals", Text: "x", Version: 6}, `argument "doc_type": "memo"`},
		{"missing document", SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: "Nope"}, Section: "Goals", Text: "x", Version: 6}, "no RFC matches"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, f, f.svc.sectionWrite, tc.in, tc.want)
			if got := run(t, f, f.svc.rfcGet, TitleIn{Title: id}).Document.Version; got != 6 {
				t.Errorf("a refused write changed the document: version %d", got)
			}
		})
	}
	// The same text again writes nothing.
	r = run(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: id}, Section: "Summary", Text: "Reads are slow.", Version: 6})
	if r.Document.Version != 6 || !strings.Contains(r.Message, "unchanged") {
		t.Errorf("no-op write: %+v", r)
	}
}

// The header is the server's: no write changes a status, forges a row or
// adds a section a gate reads.
func TestWritesCannotForgeWhatTheServerOwns(t *testing.T) {
	f := newFixture(t)
	prd := run(t, f, f.svc.prdCreate, PRDCreateIn{Title: "Search"}).Document
	run(t, f, f.svc.prdCriteria, PRDCriteriaIn{Title: prd.ID, Criteria: []string{"finds by title", "finds by body"}})
	run(t, f, f.svc.prdApprove, TitleIn{Title: prd.ID})
	cur := run(t, f, f.svc.prdGet, TitleIn{Title: prd.ID}).Document
	original := cur.Content

	// A body that rewrites the header and ticks the criteria.
	forged := strings.Replace(original, "| **Status** | Approved |", "| **Status** | Implemented |", 1)
	forged = strings.ReplaceAll(forged, "- [ ]", "- [x]")
	wantErr(t, f, f.svc.bodyWrite, BodyWriteIn{DocIn: DocIn{DocType: "prd", Title: prd.ID}, Body: forged, Version: cur.Version}, `"Acceptance Criteria" section is kept by the server`)

	// A body that only rewrites the header: the header stays, the rest lands.
	headerOnly := strings.Replace(original, "| **Status** | Approved |", "| **Status** | Implemented |", 1)
	headerOnly = strings.Replace(headerOnly, "## Problem\n", "## Problem\n\nSearch is slow.\n", 1)
	r := run(t, f, f.svc.bodyWrite, BodyWriteIn{DocIn: DocIn{DocType: "prd", Title: prd.ID}, Body: headerOnly, Version: cur.Version})
	after := run(t, f, f.svc.prdGet, TitleIn{Title: prd.ID}).Document
	if after.Status != "approved" || !strings.Contains(after.Content, "| **Status** | Approved |") || strings.Contains(after.Content, "Implemented") {
		t.Errorf("a body write changed the status:\n%s", after.Content)
	}
	wantContains(t, "body", after.Content, "Search is slow.")

	// A second Acceptance Criteria section, ticked, hidden in another.
	for _, tc := range []struct {
		name string
		run  func() string
	}{
		{"in a section's text", func() string {
			return runErr(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: "prd", Title: prd.ID}, Section: "Problem", Text: "x\n\n## Acceptance Criteria\n\n- [x] finds by title\n- [x] finds by body", Version: r.Document.Version})
		}},
		{"as a section", func() string {
			return runErr(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: "prd", Title: prd.ID}, Section: "Acceptance Criteria", Text: "- [x] finds by title\n- [x] finds by body", Version: r.Document.Version})
		}},
		{"as a repeated section of a body", func() string {
			b := strings.Replace(after.Content, "## Problem\n", "## Acceptance Criteria\n\n- [x] finds by title\n- [x] finds by body\n\n## Problem\n", 1)
			return runErr(t, f, f.svc.bodyWrite, BodyWriteIn{DocIn: DocIn{DocType: "prd", Title: prd.ID}, Body: b, Version: r.Document.Version})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if msg := tc.run(); !strings.Contains(msg, "Acceptance Criteria") && !strings.Contains(msg, "appears twice") && !strings.Contains(msg, "heading") {
				t.Errorf("refused with %q", msg)
			}
			wantStatus(t, run(t, f, f.svc.prdComplete, TitleIn{Title: prd.ID}), "blocked")
		})
	}
	// Header rows forged inside a section are content, not the header.
	v := run(t, f, f.svc.prdGet, TitleIn{Title: prd.ID}).Document.Version
	run(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: "prd", Title: prd.ID}, Section: "Users", Text: "| **Status** | Implemented |", Version: v})
	run(t, f, f.svc.prdCriterionComplete, PRDCriterionIn{Title: prd.ID, Criterion: "1"})
	body := []byte(run(t, f, f.svc.prdGet, TitleIn{Title: prd.ID}).Document.Content)
	if got := blue.HeaderValue(body, "Status"); got != "Approved" {
		t.Errorf("header Status %q", got)
	}
	if !strings.Contains(blue.SectionText(body, "Users"), "| **Status** | Implemented |") {
		t.Errorf("the section's own table row was rewritten:\n%s", body)
	}
}

// The criteria live where Blue's template puts them, under each user story
// after an **Acceptance Criteria** line, amid text the client writes. No
// write may change, add, remove, duplicate or tick one, in any section;
// the story text around them is the client's.
func TestWritesCannotForgeCriteriaInBluesShape(t *testing.T) {
	f := newFixture(t)
	prd := run(t, f, f.svc.prdCreate, PRDCreateIn{Title: "Search"}).Document
	run(t, f, f.svc.prdCriteria, PRDCriteriaIn{Title: prd.ID, Criteria: []string{"finds by title", "finds by body"}})
	run(t, f, f.svc.prdApprove, TitleIn{Title: prd.ID})
	cur := func() *DocView { return run(t, f, f.svc.prdGet, TitleIn{Title: prd.ID}).Document }
	stories := blue.SectionText([]byte(cur().Content), "User Stories")
	if !strings.Contains(stories, "**Acceptance Criteria**:\n- [ ] finds by title\n- [ ] finds by body") {
		t.Fatalf("user stories:\n%s", stories)
	}
	section := func(name, text, mode string) error {
		_, err := f.svc.sectionWrite(f.ctx, f.st, SectionWriteIn{DocIn: DocIn{DocType: "prd", Title: prd.ID}, Section: name, Text: text, Mode: mode, Version: cur().Version})
		return err
	}
	body := func(edit func(string) string) error {
		d := cur()
		_, err := f.svc.bodyWrite(f.ctx, f.st, BodyWriteIn{DocIn: DocIn{DocType: "prd", Title: prd.ID}, Body: edit(d.Content), Version: d.Version})
		return err
	}
	for _, tc := range []struct {
		name  string
		write func() error
	}{
		{"tick in the stories", func() error {
			return section("User Stories", strings.Replace(stories, "- [ ] finds by title", "- [x] finds by title", 1), "")
		}},
		{"tick in the body", func() error { return body(func(b string) string { return strings.ReplaceAll(b, "- [ ]", "- [X]") }) }},
		{"drop one", func() error {
			return body(func(b string) string { return strings.Replace(b, "- [ ] finds by body\n", "", 1) })
		}},
		{"rename one", func() error {
			return body(func(b string) string { return strings.Replace(b, "finds by body", "finds anything", 1) })
		}},
		{"unmark the list", func() error {
			return body(func(b string) string {
				return strings.Replace(b, "**Acceptance Criteria**:", "Acceptance criteria:", 1)
			})
		}},
		{"close the list early", func() error {
			return body(func(b string) string {
				return strings.Replace(b, "**Acceptance Criteria**:\n", "**Acceptance Criteria**:\n### Story 2\n", 1)
			})
		}},
		{"a second story's ticked list", func() error {
			return section("User Stories", "### Story 2: More\n\n**Acceptance Criteria**:\n- [x] faster", "append")
		}},
		{"a list in another section", func() error {
			return section("Users", "Everyone.\n\n**Acceptance Criteria**:\n- [x] finds by title", "")
		}},
		{"the same list twice", func() error {
			return section("Open Questions", "**Acceptance Criteria**:\n- [ ] finds by title\n- [ ] finds by body", "")
		}},
		{"an old-style section", func() error { return section("Acceptance Criteria", "- [x] finds by title\n- [x] finds by body", "") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := cur()
			if err := tc.write(); err == nil {
				t.Fatalf("accepted")
			} else if !strings.Contains(err.Error(), `"Acceptance Criteria" section is kept by the server`) {
				t.Errorf("refused with %q", err)
			}
			if got := blue.CriteriaKey([]byte(cur().Content)); got != "- [ ] finds by title\n- [ ] finds by body\n" {
				t.Errorf("criteria now %q", got)
			}
			if cur().Version != before.Version {
				t.Errorf("a refused write changed the document")
			}
			wantStatus(t, run(t, f, f.svc.prdComplete, TitleIn{Title: prd.ID}), "blocked")
		})
	}
	// Restoring the text of version 1 (the template's placeholders) keeps
	// today's criteria.
	run(t, f, f.svc.revisionRestore, RevisionRestoreIn{DocIn: DocIn{DocType: "prd", Title: prd.ID}, Revision: 1, Version: cur().Version})
	if got := blue.CriteriaKey([]byte(cur().Content)); got != "- [ ] finds by title\n- [ ] finds by body\n" {
		t.Errorf("criteria after a restore %q", got)
	}
	// The stories' own text is the client's: rewriting it around the
	// criteria, or adding a box Blue does not read (indented), is fine.
	story := strings.Replace(stories, "**As a** [user type]", "**As a** support engineer", 1) + "\n\n  - [x] a note, not a criterion"
	if err := section("User Stories", story, ""); err != nil {
		t.Fatalf("story text: %v", err)
	}
	wantContains(t, "stories", cur().Content, "**As a** support engineer")
	wantStatus(t, run(t, f, f.svc.prdComplete, TitleIn{Title: prd.ID}), "blocked")
	run(t, f, f.svc.prdCriterionComplete, PRDCriterionIn{Title: prd.ID, Criterion: "1"})
	run(t, f, f.svc.prdCriterionComplete, PRDCriterionIn{Title: prd.ID, Criterion: "2"})
	wantStatus(t, run(t, f, f.svc.prdComplete, TitleIn{Title: prd.ID}), "success")
}

// Free text of every tool is refused when it would start a section.
func TestFreeTextCannotStartASection(t *testing.T) {
	f := newFixture(t)
	id := f.newRFC(t, "A")
	for _, text := range []string{"ok\n## Status", "## Goals", "  # Title", "x\r\n##\r\n"} {
		wantErr(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: id}, Section: "Goals", Text: text, Version: 1}, `argument "text" has a line`)
	}
	// Deeper headings and indented code are text.
	run(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: id}, Section: "Goals", Text: "### Sub\n\n    ## not a heading (code)\n#hashtag", Version: 1})
	// The same check runs in argument decoding for every tool's free text:
	// see TestArgumentsRefuseSectionHeadings.
}

func TestRevisions(t *testing.T) {
	f := newFixture(t)
	id := f.newRFC(t, "History")
	for i, text := range []string{"first", "second", "third"} {
		run(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: "rfc", Title: id}, Section: "Proposal", Text: text, Version: int64(i + 1)})
	}
	run(t, f, f.svc.rfcUpdateStatus, RFCStatusIn{Title: id, Status: "accepted"})

	r := run(t, f, f.svc.revisions, RevisionsIn{DocIn: DocIn{DocType: "rfc", Title: "History"}})
	revs := r.Data["revisions"].([]RevisionView)
	var got []string
	for _, rv := range revs {
		got = append(got, fmt.Sprintf("v%d %s", rv.Version, rv.Status))
	}
	if want := "v5 accepted v4 draft v3 draft v2 draft v1 draft"; strings.Join(got, " ") != want {
		t.Fatalf("revisions %v, want %s", got, want)
	}

	old := run(t, f, f.svc.revisionGet, RevisionGetIn{DocIn: DocIn{DocType: "rfc", Title: id}, Revision: 2})
	if c := old.Data["content"].(string); blue.SectionText([]byte(c), "Proposal") != "first" {
		t.Errorf("revision 2:\n%s", c)
	}
	wantErr(t, f, f.svc.revisionGet, RevisionGetIn{DocIn: DocIn{DocType: "rfc", Title: id}, Revision: 9}, "has no revision 9")
	wantErr(t, f, f.svc.revisionGet, RevisionGetIn{DocIn: DocIn{DocType: "rfc", Title: id}}, `argument "revision" is required`)

	// Restore brings back the text as a new write; the status stays.
	wantErr(t, f, f.svc.revisionRestore, RevisionRestoreIn{DocIn: DocIn{DocType: "rfc", Title: id}, Revision: 2, Version: 4}, "it is now at version 5")
	rr := run(t, f, f.svc.revisionRestore, RevisionRestoreIn{DocIn: DocIn{DocType: "rfc", Title: id}, Revision: 2, Version: 5})
	if rr.Document.Version != 6 || rr.Document.Status != "accepted" {
		t.Fatalf("restore: %+v", rr.Document)
	}
	now := []byte(run(t, f, f.svc.rfcGet, TitleIn{Title: id}).Document.Content)
	if blue.SectionText(now, "Proposal") != "first" || blue.HeaderValue(now, "Status") != "Accepted" {
		t.Errorf("after restore:\n%s", now)
	}
	// The restore is itself a revision; the history lost nothing.
	if n := len(run(t, f, f.svc.revisions, RevisionsIn{DocIn: DocIn{DocType: "rfc", Title: id}}).Data["revisions"].([]RevisionView)); n != 6 {
		t.Errorf("%d revisions after restore, want 6", n)
	}
}

// A restore of an old PRD revision never brings back ticked criteria.
func TestRestoreKeepsServerSections(t *testing.T) {
	f := newFixture(t)
	prd := run(t, f, f.svc.prdCreate, PRDCreateIn{Title: "Gate"}).Document
	run(t, f, f.svc.prdCriteria, PRDCriteriaIn{Title: prd.ID, Criteria: []string{"a"}})
	run(t, f, f.svc.prdCriterionComplete, PRDCriterionIn{Title: prd.ID, Criterion: "a"})
	ticked := run(t, f, f.svc.prdGet, TitleIn{Title: prd.ID}).Document.Version
	run(t, f, f.svc.prdCriteria, PRDCriteriaIn{Title: prd.ID, Criteria: []string{"a", "b"}})
	cur := run(t, f, f.svc.prdGet, TitleIn{Title: prd.ID}).Document
	run(t, f, f.svc.revisionRestore, RevisionRestoreIn{DocIn: DocIn{DocType: "prd", Title: prd.ID}, Revision: ticked, Version: cur.Version})
	run(t, f, f.svc.prdApprove, TitleIn{Title: prd.ID})
	wantStatus(t, run(t, f, f.svc.prdComplete, TitleIn{Title: prd.ID}), "blocked")
}

func TestEveryKindIsWritable(t *testing.T) {
	f := newFixture(t)
	docs := map[string]string{
		"rfc":        f.newRFC(t, "W"),
		"spike":      run(t, f, f.svc.spikeCreate, SpikeCreateIn{Title: "W", Question: "q?"}).Document.ID,
		"adr":        run(t, f, f.svc.adrCreate, ADRCreateIn{Title: "W"}).Document.ID,
		"decision":   run(t, f, f.svc.decisionCreate, DecisionCreateIn{Title: "W", Decision: "d"}).Document.ID,
		"prd":        run(t, f, f.svc.prdCreate, PRDCreateIn{Title: "W"}).Document.ID,
		"postmortem": run(t, f, f.svc.postmortemCreate, PostmortemCreateIn{Title: "W", Severity: "P2"}).Document.ID,
		"runbook":    run(t, f, f.svc.runbookCreate, RunbookCreateIn{Title: "W"}).Document.ID,
		"audit":      run(t, f, f.svc.auditCreate, AuditCreateIn{Title: "W"}).Document.ID,
		"dialogue":   run(t, f, f.svc.dialogueCreate, DialogueCreateIn{Title: "W"}).Document.ID,
	}
	for k, id := range docs {
		t.Run(k, func(t *testing.T) {
			r := run(t, f, f.svc.sectionWrite, SectionWriteIn{DocIn: DocIn{DocType: k, Title: id}, Section: "Notes", Text: "written to a " + k, Version: 1})
			if r.Document.Version != 2 {
				t.Errorf("version %d", r.Document.Version)
			}
		})
	}
}

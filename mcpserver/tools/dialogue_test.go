package tools

import (
	"slices"
	"strings"
	"testing"
)

func TestDialogues(t *testing.T) {
	f := newFixture(t)
	f.newRFC(t, "Index cache")
	f.newRFC(t, "Rate limits")
	wantErr(t, f, f.svc.dialogueCreate, DialogueCreateIn{Title: "Align", Alignment: true}, "expert_pool is required with alignment: true")
	wantErr(t, f, f.svc.dialogueCreate, DialogueCreateIn{Title: "Huge", Content: strings.Repeat("x", 256*1024+1)}, "content is 256 KiB; the limit is 256 KiB")
	wantErr(t, f, f.svc.dialogueCreate, DialogueCreateIn{Title: "Orphan", RFCTitle: "nope"}, `rfc_title: not found: no RFC matches "nope"`)

	r := run(t, f, f.svc.dialogueCreate, DialogueCreateIn{Title: "Cache review", RFCTitle: "index cache", Content: "A: ok"})
	if r.Document.Attrs[attrRFC] != "0001" || !strings.Contains(r.Document.Content, "| **RFC** | RFC 0001: Index cache |") {
		t.Errorf("create %+v", r.Document)
	}
	run(t, f, f.svc.dialogueCreate, DialogueCreateIn{Title: "Limits chat", RFCTitle: "2"})
	run(t, f, f.svc.dialogueCreate, DialogueCreateIn{Title: "Cache follow-up", RFCTitle: "Index cache"})
	run(t, f, f.svc.dialogueCreate, DialogueCreateIn{Title: "Free talk"})

	for _, tc := range []struct {
		rfc  string
		want []string
	}{
		{"", []string{"Cache follow-up", "Cache review", "Free talk", "Limits chat"}},
		{"Index cache", []string{"Cache follow-up", "Cache review"}},
		{"0002", []string{"Limits chat"}},
	} {
		r := run(t, f, f.svc.dialogueList, DialogueListIn{RFCTitle: tc.rfc})
		if got := titles(r.Documents); !slices.Equal(got, tc.want) {
			t.Errorf("rfc_title %q: %v, want %v", tc.rfc, got, tc.want)
		}
	}
	wantErr(t, f, f.svc.dialogueList, DialogueListIn{RFCTitle: "nope"}, "rfc_title: not found")
	if r := run(t, f, f.svc.getKind("dialogue"), TitleIn{Title: "Cache review"}); !strings.Contains(r.Document.Content, "## Dialogue\n\nA: ok\n") {
		t.Errorf("get %+v", r.Document)
	}
}

package importer

import (
	"strings"
	"testing"
	"testing/fstest"
)

func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for p, s := range files {
		m[p] = &fstest.MapFile{Data: []byte(s)}
	}
	return m
}

func TestRead(t *testing.T) {
	files, skipped, err := Read(mapFS(map[string]string{
		"rfcs/0001-A-cache.md":                     "# RFC 0001: Cache\n\n**Status**: In-Progress\n",
		"rfcs/0002-A-queue.md":                     "# RFC 0002: Queue\n\n**Status**: whatever\n",
		"rfcs/0003-old.md":                         "# RFC 0003: Old\n\n| | |\n|---|---|\n| **Status** | Accepted |\n",
		"rfcs/0004-plain.md":                       "# RFC 0004: Plain\n",
		"rfcs/0001-cache.plan.md":                  "# Plan: Cache\n\n| | |\n|---|---|\n| **Updated** | then |\n\n## Tasks\n\n- [x] a\n- [ ] b\n",
		"rfcs/0009-orphan.plan.md":                 "# Plan: Orphan\n\n## Tasks\n\n- [ ] a\n",
		"rfcs/0005-x.bogus.md":                     "# RFC 0005: X\n",
		"spikes/not-a-timestamp.md":                "# Spike: X\n",
		"dialogues/2026-01-01T0000Z-t.md":          "# Dialogue: T\n",
		"runbooks/restart.pub.md":                  "# Runbook: Restart\n\n| | |\n|---|---|\n| **Date** | 2026-02-03 |\n",
		"runbooks/undated.md":                      "# Runbook: Undated\n",
		"decisions/2026-01-01T0000Z-d.recorded.md": "# Decision: D\n",
		"notes/x.md":                               "x",
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.Doc.Kind+"/"+f.Doc.ID] = f.Doc.Status + " " + f.Doc.Title
	}
	for id, want := range map[string]string{
		"rfc/0001":                         "in-progress Cache", // A, and the header says which
		"rfc/0002":                         "accepted Queue",    // A, and the header does not say
		"rfc/0003":                         "accepted Old",      // no suffix: the header's table
		"rfc/0004":                         "draft Plain",       // nothing at all: the initial status
		"runbook/2026-02-03T0000Z-restart": "published Restart",
		"runbook/1970-01-01T0000Z-undated": "active Undated",
		"decision/2026-01-01T0000Z-d":      "recorded D",
	} {
		if got[id] != want {
			t.Errorf("%s: %q, want %q", id, got[id], want)
		}
	}
	for _, f := range files {
		if f.Doc.ID == "0001" && (f.Doc.Attrs["plan"] != "- [x] a\n- [ ] b\n" || f.Doc.Attrs["plan_updated"] != "then") {
			t.Errorf("plan of 0001: %v", f.Doc.Attrs)
		}
	}
	var why []string
	for _, s := range skipped {
		why = append(why, s.Path+": "+s.Reason)
	}
	all := strings.Join(why, "\n")
	for _, want := range []string{
		"notes: not a folder",
		"rfcs/0009-orphan.plan.md: a plan without its RFC",
		`rfcs/0005-x.bogus.md: rfcs/0005-x.bogus.md: "bogus" is not one of the RFC status suffixes`,
		"spikes/not-a-timestamp.md: spikes/not-a-timestamp.md: want YYYY-MM-DDTHHMMZ-slug[.status].md",
		"dialogues/2026-01-01T0000Z-t.md: dialogues/2026-01-01T0000Z-t.md: a dialogue is <ts>-slug.dialogue[.status].md",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("skipped list lacks %q:\n%s", want, all)
		}
	}
}

func TestReadRefusesWhatItCannotRead(t *testing.T) {
	for name, content := range map[string]string{
		"no heading": "Just text",
		"too large":  "# RFC 0001: Big\n" + strings.Repeat("x", maxFileBytes),
		"bad status": "# RFC 0001: X\n\n| | |\n|---|---|\n| **Status** | Pondering |\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Read(mapFS(map[string]string{"rfcs/0001-x.md": content})); err == nil || !strings.Contains(err.Error(), "rfcs/0001-x.md") {
				t.Errorf("err %v, want one naming the file", err)
			}
		})
	}
}

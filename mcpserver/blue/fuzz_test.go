package blue

import (
	"strings"
	"testing"
)

// The markdown a client writes is parsed by the server to find sections,
// header values and checklists: no input makes a parser panic, setting a
// header value then reading it gives it back, and text with no structural
// line stays inside the section it is written to.
func FuzzMarkdown(f *testing.F) {
	for _, s := range []string{
		"# RFC 0001: T\n\n| | |\n|---|---|\n| **Status** | Draft |\n\n---\n\n## Summary\n\nx\n",
		"# T\n\n**Status**: Implemented\n\n## A\n\n- [x] one\n- [ ] two\n",
		"## only\n", "", "| **Status** | x |\n## Acceptance Criteria\n- [x] a", "\r\n## \r\n",
	} {
		f.Add(s, "Status", "In-Progress", "Proposal", "text")
	}
	f.Fuzz(func(t *testing.T, body, key, value, section, text string) {
		b := []byte(body)
		_ = Sections(b)
		_ = Tasks(SectionText(b, section))
		_ = HeaderValue(b, key)
		_, _ = StructuralLine(text)
		_ = AppendToSection(b, section, text)
		if validKey(key) && !strings.ContainsAny(value, "\n\r|*") && strings.TrimSpace(value) == value && value != "" {
			if got := HeaderValue(SetHeader(b, key, value), key); got != value && !strings.Contains(body, "**"+key+"**") {
				t.Fatalf("SetHeader(%q) then HeaderValue = %q", value, got)
			}
		}
		if _, structural := StructuralLine(text); !structural && validKey(section) && !strings.Contains(section, "#") {
			out := ReplaceSection(b, section, text)
			if n := len(Sections(out)); n < len(Sections(b)) {
				t.Fatalf("writing a section lost sections: %d → %d", len(Sections(b)), n)
			}
		}
	})
}

func validKey(k string) bool {
	if k == "" || len(k) > 40 {
		return false
	}
	for _, r := range k {
		if !(r == ' ' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return strings.TrimSpace(k) == k
}

// File names found in a client's folder: no name makes the parser panic,
// and what it accepts has a kind and a safe slug.
func FuzzFileName(f *testing.F) {
	for _, s := range []string{"0001-A-cache.md", "0001-cache.wip.md", "0001-cache.plan.md", "2026-01-01T0000Z-x.dialogue.recorded.md", "restart.pub.md", "../x.md", "0001-.md"} {
		f.Add("rfcs", s)
		f.Add("dialogues", s)
		f.Add("runbooks", s)
	}
	f.Fuzz(func(t *testing.T, plural, name string) {
		ref, err := ParseFileName(plural, name)
		if err != nil {
			return
		}
		if ref.Kind.Name == "" || ref.Slug == "" || strings.ContainsAny(ref.Slug, "/.\\") {
			t.Fatalf("%s/%s accepted as %+v", plural, name, ref)
		}
		if ref.Status != "" && !ref.Kind.HasStatus(ref.Status) {
			t.Fatalf("%s/%s: status %q is not the kind's", plural, name, ref.Status)
		}
	})
}

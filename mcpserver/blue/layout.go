package blue

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Layout is one of Blue's on-disk layouts of .blue/docs. They differ only in
// how an RFC's file is named; every other kind, and plan files, are named
// the same in both.
type Layout string

const (
	// LayoutRFC0073 is today's Blue CLI (its RFC 0073): an RFC is
	// NNNN-{D|A|I|S}-slug.md, the letter its status.
	LayoutRFC0073 Layout = "rfc-0073"
	// LayoutDB1DA8C is the last Blue MCP server's (commit db1da8c): an RFC is
	// NNNN-slug.<suffix>.md like the other kinds.
	LayoutDB1DA8C Layout = "db1da8c"
)

// DefaultLayout is the one today's Blue CLI reads.
const DefaultLayout = LayoutRFC0073

// Layouts are the layouts, for messages and flags.
var Layouts = []Layout{LayoutRFC0073, LayoutDB1DA8C}

// ParseLayout reads a layout's name.
func ParseLayout(s string) (Layout, error) {
	for _, l := range Layouts {
		if string(l) == s {
			return l, nil
		}
	}
	return "", fmt.Errorf("layout %q is not %s or %s", s, LayoutRFC0073, LayoutDB1DA8C)
}

// rfcLetters is RFC 0073's status letter. Blue folds accepted and
// in-progress into A; the header's Status row tells them apart.
var rfcLetters = map[string]string{
	RFCDraft: "D", RFCAccepted: "A", RFCInProgress: "A", RFCImpl: "I", RFCSuperseded: "S",
}

// RFCLetter is an RFC status's letter in LayoutRFC0073.
func RFCLetter(status string) (string, bool) {
	l, ok := rfcLetters[status]
	return l, ok
}

// FileRef is what a document's file name says, in either layout.
type FileRef struct {
	Kind      Kind
	Number    int    // numbered kinds
	Timestamp string // timestamp kinds: YYYY-MM-DDTHHMMZ
	Slug      string
	// Status is what the name says; "" when it names none (an old file
	// without a suffix), or when it cannot tell (RFC 0073's A is accepted
	// or in-progress): then the header's Status row decides.
	Status string
	Plan   bool // an RFC's NNNN-slug.plan.md
	Layout Layout
}

var (
	rfc0073Name  = regexp.MustCompile(`^(\d{4})-([DAIS])-([a-z0-9][a-z0-9-]*)\.md$`)
	numberedName = regexp.MustCompile(`^(\d{4})-([a-z0-9][a-z0-9-]*?)(?:\.([a-z.]+))?\.md$`)
	stampedName  = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2}T\d{4}Z)-([a-z0-9][a-z0-9-]*?)(?:\.([a-z.]+))?\.md$`)
	slugName     = regexp.MustCompile(`^([a-z0-9][a-z0-9-]*?)(?:\.([a-z.]+))?\.md$`)
)

// ParseFileName reads a file name found in .blue/docs/<plural>/.
func ParseFileName(plural, name string) (FileRef, error) {
	k, ok := KindByPlural(plural)
	if !ok {
		return FileRef{}, fmt.Errorf("%s/%s: %q is not a folder of Blue's", plural, name, plural)
	}
	bad := func(why string) (FileRef, error) {
		return FileRef{}, fmt.Errorf("%s/%s: %s", plural, name, why)
	}
	ref := FileRef{Kind: k, Layout: LayoutDB1DA8C}
	if k.Name == "rfc" {
		if m := rfc0073Name.FindStringSubmatch(name); m != nil {
			ref.Number, _ = strconv.Atoi(m[1])
			ref.Slug, ref.Layout = m[3], LayoutRFC0073
			switch m[2] {
			case "D":
				ref.Status = RFCDraft
			case "I":
				ref.Status = RFCImpl
			case "S":
				ref.Status = RFCSuperseded
			}
			return ref, nil
		}
	}
	var suffix string
	switch {
	case k.Numbered:
		m := numberedName.FindStringSubmatch(name)
		if m == nil {
			return bad("want NNNN-slug[.status].md")
		}
		ref.Number, _ = strconv.Atoi(m[1])
		ref.Slug, suffix = m[2], m[3]
	case k.Name == "runbook":
		m := slugName.FindStringSubmatch(name)
		if m == nil {
			return bad("want slug[.status].md")
		}
		ref.Slug, suffix = m[1], m[2]
	default:
		m := stampedName.FindStringSubmatch(name)
		if m == nil {
			return bad("want YYYY-MM-DDTHHMMZ-slug[.status].md")
		}
		ref.Timestamp, ref.Slug, suffix = m[1], m[2], m[3]
	}
	if suffix == "plan" && k.Name == "rfc" {
		ref.Plan = true
		return ref, nil
	}
	if k.Name == "dialogue" {
		rest, isDialogue := strings.CutPrefix(suffix, "dialogue")
		if !isDialogue {
			return bad("a dialogue is <ts>-slug.dialogue[.status].md")
		}
		suffix = strings.TrimPrefix(rest, ".")
		if suffix != "" {
			suffix = "dialogue." + suffix
		}
	}
	if suffix == "" {
		return ref, nil
	}
	for status, sfx := range k.Suffix {
		if sfx == suffix {
			ref.Status = status
			return ref, nil
		}
	}
	return bad(fmt.Sprintf("%q is not one of the %s status suffixes", suffix, k.Title))
}

// ParseStatus reads a header's Status value ("In-Progress") as a kind's
// status ("in-progress"), "" if it is not one.
func ParseStatus(k Kind, v string) string {
	s := strings.ToLower(strings.TrimSpace(v))
	s = strings.ReplaceAll(s, " ", "-")
	if k.HasStatus(s) {
		return s
	}
	return ""
}

package blue

import (
	"strconv"
	"strings"
)

// A reference to a document by number: Blue's lookup read a number only
// when the whole reference was one ("7", "0007"). The hosted server also
// reads the forms people write, "#7" and the kind's own name before the
// number ("RFC 0007", "rfc-7", "ADR#3"), but never a number that ends a
// title: "Phase 1" is a title, not RFC 0001.

// ParseRef reads ref as a number of kind k: "7", "0007", "#7", or k's name
// or title, then a space, '-', '#' or ':', then the number ("RFC 0007",
// "post-mortem 2").
func ParseRef(k Kind, ref string) (int, bool) {
	return parseRef(ref, []string{k.Name, k.Title})
}

// ParseNumber reads "7", "0007", "#7" or a kind's name and a number
// ("RFC 0007", "adr-3") as the number.
func ParseNumber(s string) (int, bool) {
	var prefixes []string
	for _, k := range Kinds {
		prefixes = append(prefixes, k.Name, k.Title)
	}
	return parseRef(s, prefixes)
}

func parseRef(ref string, prefixes []string) (int, bool) {
	s := strings.TrimSpace(ref)
	if rest, found := strings.CutPrefix(s, "#"); found {
		return digits(rest)
	}
	if n, ok := digits(s); ok {
		return n, true
	}
	lower := strings.ToLower(s)
	for _, p := range prefixes {
		p = strings.ToLower(p)
		rest, found := strings.CutPrefix(lower, p)
		if !found || rest == "" || !strings.ContainsRune(" -#:", rune(rest[0])) {
			continue
		}
		if n, ok := digits(strings.TrimLeft(rest, " -#:")); ok {
			return n, true
		}
	}
	return 0, false
}

// digits reads s as a whole non-negative decimal number.
func digits(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

package store

import (
	"regexp"
	"strings"
	"testing"
)

// The loops must accept exactly what the documented expressions accept.
func TestNameChecksMatchTheirExpressions(t *testing.T) {
	kindRE := regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	idRE := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	cases := []string{
		"", "a", "rfc", "RFC", "0001", "a-b_c", "a.b", ".a", "-a", "_a", "a/b", "a\x00", "é", "a b",
		"2026-11-25T0617Z-standup", "..", "a..b", "z9", "9z", "a\n",
		strings.Repeat("a", 32), strings.Repeat("a", 33),
		strings.Repeat("A", 128), strings.Repeat("A", 129),
	}
	for _, c := range cases {
		if got, want := validKind(c), kindRE.MatchString(c); got != want {
			t.Errorf("validKind(%q) = %v, the expression says %v", c, got, want)
		}
		if got, want := validID(c), idRE.MatchString(c); got != want {
			t.Errorf("validID(%q) = %v, the expression says %v", c, got, want)
		}
	}
}

func FuzzNameChecksMatchTheirExpressions(f *testing.F) {
	kindRE := regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	idRE := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	for _, s := range []string{"rfc", "0001", "a.b-c_d", "A\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validKind(s) != kindRE.MatchString(s) || validID(s) != idRE.MatchString(s) {
			t.Errorf("%q: validKind %v / %v, validID %v / %v", s, validKind(s), kindRE.MatchString(s), validID(s), idRE.MatchString(s))
		}
	})
}

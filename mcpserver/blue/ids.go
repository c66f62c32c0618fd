package blue

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Slug is Blue's: lower case, every run of non-alphanumerics becomes one
// '-', trimmed. Only ASCII letters and digits survive, so a slug can never
// hold a path separator or "..".
func Slug(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > 80 {
		s = strings.TrimRight(s[:80], "-")
	}
	return s
}

// FormatNumber is Blue's %04d.
func FormatNumber(n int) string { return fmt.Sprintf("%04d", n) }

// TimestampID is Blue's UTC id for unnumbered kinds: YYYY-MM-DDTHHMMZ.
func TimestampID(t time.Time) string { return t.UTC().Format("2006-01-02T1504Z") }

// DeSlug turns "my-new-idea" back into words for a title match.
func DeSlug(s string) string { return strings.ReplaceAll(s, "-", " ") }

// TitleCase writes a status as Blue's header does: "in-progress" → "In-Progress".
func TitleCase(s string) string {
	parts := strings.Split(s, "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "-")
}

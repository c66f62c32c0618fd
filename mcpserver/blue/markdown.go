package blue

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// Doc is a markdown document as Blue writes it: a heading, a header table of
// **Key** | Value rows, then "## Section" blocks. The Blue CLI reads the
// same shape, so an export of a client's bucket works with it.
type Doc struct {
	Heading  string
	Header   []Row
	Sections []Section
}

// Row is one header-table row.
type Row struct{ Key, Value string }

// Section is a "## Name" block.
type Section struct{ Name, Text string }

// Render writes the document.
func (d Doc) Render() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n| | |\n|---|---|\n", d.Heading)
	for _, r := range d.Header {
		if r.Value == "" {
			continue
		}
		fmt.Fprintf(&b, "| **%s** | %s |\n", r.Key, cell(r.Value))
	}
	b.WriteString("\n---\n")
	for _, s := range d.Sections {
		fmt.Fprintf(&b, "\n## %s\n\n", s.Name)
		if t := strings.TrimSpace(s.Text); t != "" {
			b.WriteString(t)
			b.WriteString("\n")
		}
	}
	return b.Bytes()
}

// cell keeps a value on one table row.
func cell(v string) string {
	v = strings.ReplaceAll(v, "\n", " ")
	return strings.ReplaceAll(v, "|", `\|`)
}

// Bullets renders a list.
func Bullets(items []string) string {
	var b strings.Builder
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			fmt.Fprintf(&b, "- %s\n", it)
		}
	}
	return b.String()
}

var headerRow = regexp.MustCompile(`(?m)^\| \*\*([^*]+)\*\* \| (.*) \|$`)

// splitHead cuts body before its first section: the heading and the header
// table are the head, which the server owns; the sections are the author's.
// A row that looks like a header row inside a section is content, never the
// header.
func splitHead(body []byte) (head, rest []byte) {
	if bytes.HasPrefix(body, []byte("## ")) {
		return nil, body
	}
	if i := bytes.Index(body, []byte("\n## ")); i >= 0 {
		return body[:i+1], body[i+1:]
	}
	return body, nil
}

// Head is the part of body before its first section: heading and header table.
func Head(body []byte) []byte {
	head, _ := splitHead(body)
	return head
}

// WithHead puts head in front of body's sections, dropping whatever body had
// before its first section.
func WithHead(head, body []byte) []byte {
	_, rest := splitHead(body)
	out := append([]byte{}, head...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, rest...)
}

// headerLine is the other header shape Blue writes (today's CLI):
// "**Status**: Implemented", one per line.
var headerLine = regexp.MustCompile(`(?m)^\*\*([^*]+)\*\*: (.*)$`)

// HeaderValue reads a header value, "" if absent: a table row, or a
// "**Key**: value" line.
func HeaderValue(body []byte, key string) string {
	head, _ := splitHead(body)
	for _, m := range headerRow.FindAllSubmatch(head, -1) {
		if string(m[1]) == key {
			return strings.ReplaceAll(string(m[2]), `\|`, "|")
		}
	}
	for _, m := range headerLine.FindAllSubmatch(head, -1) {
		if string(m[1]) == key {
			return strings.TrimSpace(string(m[2]))
		}
	}
	return ""
}

// SetHeader rewrites (or adds, after the last header entry) a header value,
// as Blue rewrites the Status row on every status change, in the shape the
// header already has. Only the head is touched.
func SetHeader(body []byte, key, value string) []byte {
	head, rest := splitHead(body)
	shape, entry := headerRow, fmt.Sprintf("| **%s** | %s |", key, cell(value))
	if len(headerRow.FindIndex(head)) == 0 && len(headerLine.FindIndex(head)) > 0 {
		shape, entry = headerLine, fmt.Sprintf("**%s**: %s", key, strings.ReplaceAll(value, "\n", " "))
	}
	found := false
	out := shape.ReplaceAllFunc(head, func(line []byte) []byte {
		m := shape.FindSubmatch(line)
		if string(m[1]) == key {
			found = true
			return []byte(entry)
		}
		return line
	})
	if !found {
		locs := shape.FindAllIndex(head, -1)
		if len(locs) == 0 {
			out = append([]byte(entry+"\n\n"), head...)
		} else {
			end := locs[len(locs)-1][1]
			out = append(append(append([]byte{}, head[:end]...), '\n'), entry...)
			out = append(out, head[end:]...)
		}
	}
	return append(out, rest...)
}

// StructuralLine reports the first line of text that would start a new
// document part if it were put into a section: a level-1 or level-2 ATX
// heading ("# ", "## ", up to three spaces of indent). Deeper headings
// ("### ") are fine. Free text from a client must never carry one, or it
// could add a section that fools a gate (a PRD's "## Acceptance Criteria"
// with ticked boxes inside its Problem).
func StructuralLine(text string) (string, bool) {
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimRight(line, "\r")
		trimmed := strings.TrimLeft(t, " ")
		if len(t)-len(trimmed) > 3 {
			continue
		}
		if trimmed == "#" || trimmed == "##" || strings.HasPrefix(trimmed, "# ") || strings.HasPrefix(trimmed, "## ") {
			return t, true
		}
	}
	return "", false
}

// Sections lists a body's sections in order, with their text.
func Sections(body []byte) []Section {
	_, rest := splitHead(body)
	var (
		out []Section
		cur *Section
		buf []string
	)
	flush := func() {
		if cur != nil {
			cur.Text = strings.TrimSpace(strings.Join(buf, "\n"))
			out = append(out, *cur)
		}
	}
	for _, line := range strings.Split(string(rest), "\n") {
		if strings.HasPrefix(line, "## ") {
			flush()
			cur, buf = &Section{Name: strings.TrimSpace(line[3:])}, nil
			continue
		}
		buf = append(buf, line)
	}
	flush()
	return out
}

// SectionText returns a section's text, "" if absent.
func SectionText(body []byte, name string) string {
	var (
		in  bool
		out []string
	)
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64*1024), len(body)+1)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			if in {
				break
			}
			in = strings.EqualFold(strings.TrimSpace(line[3:]), name)
			continue
		}
		if in {
			out = append(out, line)
		}
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// ReplaceSection swaps a section's text, adding the section at the end of
// the document when absent.
func ReplaceSection(body []byte, name, text string) []byte {
	lines := strings.Split(string(body), "\n")
	start, end := -1, len(lines)
	for i, l := range lines {
		if strings.HasPrefix(l, "## ") {
			if start >= 0 {
				end = i
				break
			}
			if strings.EqualFold(strings.TrimSpace(l[3:]), name) {
				start = i
			}
		}
	}
	if start < 0 {
		return AppendToSection(body, name, text)
	}
	out := append([]string{}, lines[:start+1]...)
	out = append(out, "", strings.TrimSpace(text), "")
	out = append(out, lines[end:]...)
	return []byte(strings.Join(out, "\n"))
}

// AppendToSection adds text at the end of a section, creating it at the end
// of the document when absent.
func AppendToSection(body []byte, name, text string) []byte {
	lines := strings.Split(string(body), "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "## ") && strings.EqualFold(strings.TrimSpace(l[3:]), name) {
			start = i
			break
		}
	}
	if start < 0 {
		return []byte(strings.TrimRight(string(body), "\n") + "\n\n## " + name + "\n\n" + strings.TrimSpace(text) + "\n")
	}
	end := len(lines)
	for i := start + 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "## ") {
			end = i
			break
		}
	}
	// Insert before the trailing blank lines of the section.
	at := end
	for at > start+1 && strings.TrimSpace(lines[at-1]) == "" {
		at--
	}
	ins := []string{strings.TrimSpace(text)}
	if at == start+1 {
		ins = append([]string{""}, ins...)
	}
	out := append([]string{}, lines[:at]...)
	out = append(out, ins...)
	out = append(out, lines[at:]...)
	return []byte(strings.Join(out, "\n"))
}

// Task is one checkbox line.
type Task struct {
	Text string
	Done bool
}

var checkbox = regexp.MustCompile(`^\s*[-*] \[([ xX])\] (.*)$`)

// Tasks reads every checkbox in text.
func Tasks(text string) []Task {
	var out []Task
	for _, l := range strings.Split(text, "\n") {
		if m := checkbox.FindStringSubmatch(l); m != nil {
			out = append(out, Task{Text: strings.TrimSpace(m[2]), Done: m[1] != " "})
		}
	}
	return out
}

// RenderTasks writes tasks as a checklist.
func RenderTasks(tasks []Task) string {
	var b strings.Builder
	for _, t := range tasks {
		mark := " "
		if t.Done {
			mark = "x"
		}
		fmt.Fprintf(&b, "- [%s] %s\n", mark, t.Text)
	}
	return b.String()
}

// Progress is done/total as a percentage (0 with no tasks).
func Progress(tasks []Task) (done, total, percent int) {
	for _, t := range tasks {
		if t.Done {
			done++
		}
	}
	total = len(tasks)
	if total > 0 {
		percent = done * 100 / total
	}
	return done, total, percent
}

package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// Blue's answers. Blue's own server answered every tool with a JSON object
// of its own fields ("tasks", "progress", "drafts", "recommendations", ...).
// Clients and prompts written for it read those fields, so the hosted
// answers carry them too, under Blue's names and in Blue's shapes, beside
// the hosted fields (document, documents, data, ...), which clients of the
// hosted server read. docs/blue-tools.md lists them per tool; the
// end-to-end tests check the served answers against that list.
//
// Where Blue used a name the hosted answer has already, the hosted field
// stays and says what Blue's did where it can: "progress" has Blue's
// completed and percentage beside done and percent; a dry run's "document"
// has Blue's type and file_path. Blue's "status" was the document's status
// in a few answers (rfc_get, rfc_validate, adr_get); there it is the
// hosted result status, and the document's status is document.status.

// hostedKeys are the top-level names of the hosted answer.
var hostedKeys = []string{"status", "message", "hint", "document", "documents", "next_page_token", "progress", "data", "suggested_tool", "suggested_args"}

// MarshalJSON writes the hosted fields, then Blue's (sorted by name) that
// the hosted ones do not already name. HTML characters stay as they are,
// as in the tool's answer (markdown's <, > and &).
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	head, err := marshalRaw(plain(r))
	if err != nil || len(r.Blue) == 0 {
		return head, err
	}
	keys := make([]string, 0, len(r.Blue))
	for k := range r.Blue {
		if !slices.Contains(hostedKeys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b bytes.Buffer
	b.Write(bytes.TrimSuffix(head, []byte("}")))
	for _, k := range keys {
		v, err := marshalRaw(r.Blue[k])
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", k, err)
		}
		name, _ := marshalRaw(k)
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.Write(name)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshalRaw(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// with adds Blue's fields to r.
func (r Result) with(fields map[string]any) Result {
	if r.Blue == nil {
		r.Blue = make(map[string]any, len(fields))
	}
	for k, v := range fields {
		r.Blue[k] = v
	}
	return r
}

// filePath is where Blue's last MCP server (db1da8c) kept the document,
// relative to .blue/docs, as its answers named it: "rfcs/0001-slug.draft.md",
// "spikes/<ts>-slug.wip.md", "runbooks/slug.active.md". An id the hosted
// server did not give (none today) is used as it is.
func filePath(d *store.Document) string {
	k, ok := blue.KindByName(d.Kind)
	if !ok {
		return ""
	}
	stem := d.ID
	switch {
	case k.Numbered:
		stem = d.ID + "-" + d.Slug
	case k.Name == "runbook":
		stem = d.Slug
	}
	sfx := k.Suffix[d.Status]
	if sfx == "" {
		return k.Plural + "/" + stem + ".md"
	}
	return k.Plural + "/" + stem + "." + sfx + ".md"
}

// planFilePath is an RFC's plan file in Blue's layout.
func planFilePath(d *store.Document) string {
	return "rfcs/" + d.ID + "-" + d.Slug + ".plan.md"
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// orNil is Blue's null for an argument not given.
func orNil(s string) any {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return s
}

// numberOrNil is Blue's number, null for kinds it did not number.
func numberOrNil(d *store.Document) any {
	if d.Number == 0 {
		return nil
	}
	return d.Number
}

// blueTasks are plan tasks as Blue's rfc_get listed them: 1-based index
// (as its blue_rfc_task_complete documents), description, completed.
func blueTasks(tasks []blue.Task) []map[string]any {
	out := make([]map[string]any, 0, len(tasks))
	for i, t := range tasks {
		out = append(out, map[string]any{"index": i + 1, "description": t.Text, "completed": t.Done})
	}
	return out
}

// blueProgress is Blue's progress object alone.
func blueProgress(done, total, pct int) map[string]any {
	return map[string]any{"completed": done, "total": total, "percentage": pct}
}

// listItem is one document of a Blue list answer (rfcs, prds, audits,
// dialogues, ...): what Blue's list handlers answered per document.
func listItem(d *store.Document) map[string]any {
	return map[string]any{
		"id": d.ID, "number": numberOrNil(d), "title": d.Title, "status": d.Status,
		"file_path": filePath(d), "path": filePath(d), "created_at": stamp(d.CreatedAt),
	}
}

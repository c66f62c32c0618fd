// Package importer moves a team in: it reads a Blue docs folder
// (.blue/docs) in either of Blue's layouts (today's CLI, RFC 0073, and the
// last MCP server's, db1da8c) and writes its documents into the client's
// bucket and table. It is `blue-mcp import`, run by the client with its own
// AWS credentials, like `blue-mcp export`.
//
// It keeps what the files hold: numbers, statuses, RFC plans (and their
// Updated stamp), titles, slugs and the markdown bodies verbatim, header
// table and all, so dates and links stay where Blue wrote them. Importing
// is planned before anything is written: a document already in the store
// with the same content is left alone (a second run changes nothing), and
// any conflict (an id or title the store holds with other content, two
// files with one number) refuses the whole import with every conflict
// named, before anything is written.
package importer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/export"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// Store is what an import needs of the client's storage; *store.Store has it.
type Store interface {
	Get(ctx context.Context, kind, id string) (*store.Document, error)
	List(ctx context.Context, kind string, o store.ListOptions) ([]store.Document, string, error)
	Create(ctx context.Context, d *store.Document) error
	NextNumber(ctx context.Context, kind string) (int, error)
	RaiseCounter(ctx context.Context, kind string, n int) error
}

// maxFileBytes is the largest document file read, as the tools' limit.
const maxFileBytes = 256 << 10

// File is one document read from the folder.
type File struct {
	Path string // relative to the docs folder, slash-separated
	Doc  store.Document
}

// Skipped is a file or folder that is not one of Blue's documents.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Read parses every document of docs (the .blue/docs folder as an fs.FS).
// Files that are not documents (patterns, publications, an alignment
// dialogue's round folders, notes) are skipped and listed; a document file
// that cannot be read is an error.
func Read(docs fs.FS) ([]File, []Skipped, error) {
	var (
		files   []File
		skipped []Skipped
		plans   = map[string]File{} // "rfc/0007" → the plan file's tasks
		errs    []error
	)
	top, err := fs.ReadDir(docs, ".")
	if err != nil {
		return nil, nil, fmt.Errorf("import: %w", err)
	}
	for _, e := range top {
		k, isKind := blue.KindByPlural(e.Name())
		if !e.IsDir() || !isKind {
			skipped = append(skipped, Skipped{Path: e.Name(), Reason: "not a folder of Blue's document kinds"})
			continue
		}
		entries, err := fs.ReadDir(docs, e.Name())
		if err != nil {
			return nil, nil, fmt.Errorf("import: %w", err)
		}
		for _, f := range entries {
			p := path.Join(e.Name(), f.Name())
			if f.IsDir() || !strings.HasSuffix(f.Name(), ".md") {
				skipped = append(skipped, Skipped{Path: p, Reason: "not a markdown document"})
				continue
			}
			ref, err := blue.ParseFileName(e.Name(), f.Name())
			if err != nil {
				skipped = append(skipped, Skipped{Path: p, Reason: err.Error()})
				continue
			}
			b, err := fs.ReadFile(docs, p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if len(b) > maxFileBytes {
				errs = append(errs, fmt.Errorf("%s is %d bytes; a document holds at most %d (256 KiB)", p, len(b), maxFileBytes))
				continue
			}
			d, err := parse(k, ref, b)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p, err))
				continue
			}
			if ref.Plan {
				plans[d.ID] = File{Path: p, Doc: d}
				continue
			}
			files = append(files, File{Path: p, Doc: d})
		}
	}
	rfcs := map[string]int{} // id → index in files
	for i, f := range files {
		if _, seen := rfcs[f.Doc.ID]; f.Doc.Kind == "rfc" && !seen {
			rfcs[f.Doc.ID] = i // the first, as a scan would find it
		}
	}
	for id, plan := range plans {
		i, found := rfcs[id]
		if !found {
			skipped = append(skipped, Skipped{Path: plan.Path, Reason: "a plan without its RFC"})
			continue
		}
		if files[i].Doc.Attrs == nil {
			files[i].Doc.Attrs = map[string]string{}
		}
		maps.Copy(files[i].Doc.Attrs, plan.Doc.Attrs)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	sort.Slice(skipped, func(i, j int) bool { return skipped[i].Path < skipped[j].Path })
	return files, skipped, errors.Join(errs...)
}

// parse reads one file into the document it is.
func parse(k blue.Kind, ref blue.FileRef, b []byte) (store.Document, error) {
	d := store.Document{Kind: k.Name, Slug: ref.Slug, Number: ref.Number}
	heading, _, _ := bytes.Cut(b, []byte("\n"))
	title, isHeading := strings.CutPrefix(strings.TrimSpace(string(heading)), "# ")
	if !isHeading || strings.TrimSpace(title) == "" {
		return d, errors.New(`no "# " heading on the first line to take the title from`)
	}
	title = strings.TrimSpace(title)
	switch {
	case k.Numbered:
		d.ID = blue.FormatNumber(ref.Number)
	case k.Name == "runbook":
		// Blue names runbooks by slug alone; the id takes the header's Date
		// so that it is stable from one import to the next.
		date := blue.HeaderValue(b, "Date")
		if len(date) < 10 || !isDate(date[:10]) {
			date = "1970-01-01"
		}
		d.ID = date[:10] + "T0000Z-" + ref.Slug
	default:
		d.ID = ref.Timestamp + "-" + ref.Slug
	}
	if ref.Plan {
		title, _ = strings.CutPrefix(title, "Plan: ")
		tasks := blue.Tasks(blue.SectionText(b, "Tasks"))
		d.Title, d.Attrs = title, map[string]string{"plan": blue.RenderTasks(tasks)}
		if u := blue.HeaderValue(b, "Updated"); u != "" {
			d.Attrs[export.AttrPlanUpdated] = u
		}
		return d, nil
	}
	// "RFC 0007: Title", "Spike: Title", "Alignment Dialogue: Title".
	if before, after, found := strings.Cut(title, ": "); found && strings.Contains(strings.ToLower(before), strings.ToLower(k.Title)) {
		title = strings.TrimSpace(after)
	}
	d.Title = title
	d.Status = ref.Status
	raw := blue.HeaderValue(b, "Status")
	header := blue.ParseStatus(k, raw)
	if d.Status == "" {
		// The name says nothing, or RFC 0073's A (accepted or in-progress):
		// the header decides.
		if raw != "" && header == "" && !(k.Name == "rfc" && ref.Layout == blue.LayoutRFC0073) {
			return d, fmt.Errorf("the header's Status %q is not one of the %s statuses (%s)", raw, k.Title, strings.Join(k.Statuses, ", "))
		}
		d.Status = header
	}
	if d.Status == "" {
		if k.Name == "rfc" && ref.Layout == blue.LayoutRFC0073 {
			d.Status = blue.RFCAccepted
		} else {
			d.Status = k.Initial()
		}
	}
	if !k.HasStatus(d.Status) {
		return d, fmt.Errorf("status %q is not one of the %s statuses", d.Status, k.Title)
	}
	for key, attr := range map[string]string{"Outcome": "outcome", "Severity": "severity"} {
		if v := blue.HeaderValue(b, key); v != "" {
			if d.Attrs == nil {
				d.Attrs = map[string]string{}
			}
			d.Attrs[attr] = v
		}
	}
	d.Body = b
	return d, nil
}

func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for i, r := range s {
		if i != 4 && i != 7 && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// Action is what an import does with one file.
type Action string

// The actions.
const (
	Create    Action = "create"
	Unchanged Action = "unchanged"
	Conflict  Action = "conflict"
)

// Step is the plan for one file.
type Step struct {
	Path   string `json:"path"`
	Kind   string `json:"doc_type"`
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status string `json:"status"`
	Action Action `json:"action"`
	Reason string `json:"reason,omitempty"`
}

// Plan is what an import would do.
type Plan struct {
	Steps   []Step
	create  []File
	maxNums map[string]int // numbered kind → highest number imported
}

// Conflicts are the steps that stop the import.
func (p Plan) Conflicts() []Step {
	var out []Step
	for _, s := range p.Steps {
		if s.Action == Conflict {
			out = append(out, s)
		}
	}
	return out
}

// Count is how many steps take an action.
func (p Plan) Count(a Action) int {
	n := 0
	for _, s := range p.Steps {
		if s.Action == a {
			n++
		}
	}
	return n
}

// ErrConflicts is returned (wrapped) when the plan has conflicts: nothing
// was written.
var ErrConflicts = errors.New("the import has conflicts; nothing was written")

// PlanImport compares the files with the store: each becomes a create, an
// unchanged or a conflict. It reads only.
func PlanImport(ctx context.Context, st Store, files []File) (Plan, error) {
	p := Plan{maxNums: map[string]int{}}
	byID := map[string][]File{}
	for _, f := range files {
		byID[f.Doc.Kind+"/"+f.Doc.ID] = append(byID[f.Doc.Kind+"/"+f.Doc.ID], f)
	}
	titles := map[string]map[string]string{} // kind → normalized title → id, of the store's live documents
	for _, k := range blue.Kinds {
		titles[k.Name] = map[string]string{}
		for tok := ""; ; {
			docs, next, err := st.List(ctx, k.Name, store.ListOptions{Limit: 1000, PageToken: tok})
			if err != nil {
				return p, fmt.Errorf("import: list %s: %w", k.Plural, err)
			}
			for _, d := range docs {
				titles[k.Name][norm(d.Title)] = d.ID
			}
			if tok = next; tok == "" {
				break
			}
		}
	}
	seenTitle := map[string]string{} // kind/normalized title → path, within the folder
	for _, f := range files {
		d := f.Doc
		step := Step{Path: f.Path, Kind: d.Kind, ID: d.ID, Title: d.Title, Status: d.Status}
		conflict := func(why string, args ...any) {
			step.Action, step.Reason = Conflict, fmt.Sprintf(why, args...)
		}
		if same := byID[d.Kind+"/"+d.ID]; len(same) > 1 {
			var others []string
			for _, o := range same {
				if o.Path != f.Path {
					others = append(others, o.Path)
				}
			}
			conflict("%s %s is also %s: Blue let two files share it, the store cannot; renumber or remove one", d.Kind, d.ID, strings.Join(others, ", "))
			p.Steps = append(p.Steps, step)
			continue
		}
		if other, dup := seenTitle[d.Kind+"/"+norm(d.Title)]; dup {
			conflict("title %q is also %s", d.Title, other)
			p.Steps = append(p.Steps, step)
			continue
		}
		seenTitle[d.Kind+"/"+norm(d.Title)] = f.Path
		cur, err := st.Get(ctx, d.Kind, d.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if owner, taken := titles[d.Kind][norm(d.Title)]; taken {
				conflict("the store's %s %s already has the title %q", d.Kind, owner, d.Title)
			} else {
				step.Action = Create
				p.create = append(p.create, f)
				if k, _ := blue.KindByName(d.Kind); k.Numbered && d.Number > p.maxNums[d.Kind] {
					p.maxNums[d.Kind] = d.Number
				}
			}
		case err != nil:
			return p, fmt.Errorf("import: get %s %s: %w", d.Kind, d.ID, err)
		case cur.DeletedAt != nil:
			conflict("the store's %s %s is soft-deleted: restore or purge it first", d.Kind, d.ID)
		default:
			if diff := differs(cur, &d); diff != "" {
				conflict("the store's %s %s (version %d) has another %s", d.Kind, d.ID, cur.Version, diff)
			} else {
				step.Action = Unchanged
			}
		}
		p.Steps = append(p.Steps, step)
	}
	return p, nil
}

func norm(title string) string { return strings.ToLower(strings.Join(strings.Fields(title), " ")) }

// differs names what the stored document has that the file does not.
func differs(cur, d *store.Document) string {
	switch {
	case cur.Title != d.Title:
		return "title"
	case cur.Status != d.Status:
		return "status"
	case !bytes.Equal(cur.Body, d.Body):
		return "body"
	case strings.TrimSpace(cur.Attrs["plan"]) != strings.TrimSpace(d.Attrs["plan"]):
		return "plan"
	}
	return ""
}

// Summary is what an import did.
type Summary struct {
	Created   int `json:"created"`
	Unchanged int `json:"unchanged"`
}

// Apply carries out a plan without conflicts: counters first, so that no
// number the folder holds is handed out again, then one create per
// document. Each create is atomic; after a failure, running the import
// again creates what is missing and leaves the rest unchanged.
func Apply(ctx context.Context, st Store, p Plan) (Summary, error) {
	sum := Summary{Unchanged: p.Count(Unchanged)}
	if c := p.Conflicts(); len(c) > 0 {
		return sum, fmt.Errorf("import: %d conflicts: %w", len(c), ErrConflicts)
	}
	for kind, n := range p.maxNums {
		if err := st.RaiseCounter(ctx, kind, n); err != nil {
			return sum, fmt.Errorf("import: %w", err)
		}
	}
	creates := slices.Clone(p.create)
	sort.SliceStable(creates, func(i, j int) bool { return creates[i].Doc.ID < creates[j].Doc.ID })
	for _, f := range creates {
		d := f.Doc
		if k, _ := blue.KindByName(d.Kind); k.Counted {
			n, err := st.NextNumber(ctx, d.Kind)
			if err != nil {
				return sum, fmt.Errorf("import %s: %w", f.Path, err)
			}
			d.Number = n
		}
		if err := st.Create(ctx, &d); err != nil {
			return sum, fmt.Errorf("import %s: %w (%d created before it; run the import again to finish)", f.Path, err, sum.Created)
		}
		sum.Created++
	}
	return sum, nil
}

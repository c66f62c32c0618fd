// Package export writes a client's Blue documents from its own bucket and
// table into Blue's on-disk layout (.blue/docs/<plural>/...), so the Blue CLI
// reads them: the client's fallback while the hosted server is down, and its
// way out when it leaves. It runs with the client's own AWS credentials and
// only reads from AWS.
//
// File names are Blue's, with the status suffix from blue.Kinds:
//
//	rfc, adr, prd              NNNN-slug.<suffix>.md   (and NNNN-slug.plan.md for an RFC's plan)
//	spike, decision, audit,
//	postmortem                 <UTC ts>-slug.<suffix>.md
//	dialogue                   <UTC ts>-slug.dialogue.<recorded|pub>.md
//	runbook                    slug.<suffix>.md
//
// Soft-deleted documents are not exported. Nothing is written outside the
// target directory: every name is checked to be one plain file name, and all
// writes go through an os.Root. A manifest (.blue-export.json) records what
// the last export wrote, so a later export replaces and removes only its own
// unchanged files: a file edited locally (say while the server was down) is
// never overwritten or removed unless Options.Force.
package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// StoreReader is what Export reads; *store.Store has it.
type StoreReader interface {
	List(ctx context.Context, kind string, o store.ListOptions) ([]store.Document, string, error)
	Body(ctx context.Context, d *store.Document) ([]byte, error)
}

// Summary says what an export did. Paths are relative to the export
// directory, slash-separated, sorted.
type Summary struct {
	Dir string `json:"dir"`
	// Documents counts exported documents per kind (plans not included).
	Documents map[string]int `json:"documents"`
	Plans     int            `json:"plans"`
	// Files lists every file of this export (written or already up to date).
	Files []string `json:"files"`
	// Written are the files created or changed by this run.
	Written []string `json:"written"`
	// Unchanged were already up to date.
	Unchanged []string `json:"unchanged"`
	// Removed are files of the previous export that no longer belong (a
	// document changed status, was renamed or deleted).
	Removed []string `json:"removed"`
	// Conflicts are files not written or removed because they were changed
	// locally since the last export, or were not made by an export.
	Conflicts []string `json:"conflicts,omitempty"`
}

// Total is the number of documents exported.
func (s Summary) Total() int {
	n := 0
	for _, c := range s.Documents {
		n += c
	}
	return n
}

// Options tune ExportWith.
type Options struct {
	// Force overwrites and removes files changed locally since the last
	// export (or never made by one).
	Force bool
	// Kinds limits the export to these doc_types; all of blue.Kinds when empty.
	Kinds []string
	// Layout is Blue's on-disk layout to write; blue.DefaultLayout (the one
	// today's Blue CLI reads) when empty.
	Layout blue.Layout
}

// ErrConflict is returned (wrapped) when some files were left alone because
// they were changed locally; everything else was exported.
var ErrConflict = errors.New("files changed locally were left alone")

// ManifestName is the file, in the export directory, that records what the
// last export wrote.
const ManifestName = ".blue-export.json"

// Export writes every live document of every kind into dir (the docs root,
// e.g. .blue/docs) in Blue's layout.
func Export(ctx context.Context, st StoreReader, dir string) (Summary, error) {
	return ExportWith(ctx, st, dir, Options{})
}

// file is one file to write.
type file struct {
	path string // "<plural>/<name>"
	data []byte
}

// ExportWith is Export with options.
func ExportWith(ctx context.Context, st StoreReader, dir string, o Options) (Summary, error) {
	sum := Summary{Dir: dir, Documents: map[string]int{}, Files: []string{}, Written: []string{}, Unchanged: []string{}, Removed: []string{}}
	kinds := blue.Kinds
	if len(o.Kinds) > 0 {
		kinds = nil
		for _, name := range o.Kinds {
			k, ok := blue.KindByName(name)
			if !ok {
				return sum, fmt.Errorf("export: unknown doc_type %q; use one of %s", name, strings.Join(blue.KindNames(), ", "))
			}
			kinds = append(kinds, k)
		}
	}
	// Read everything first: a failure to read leaves the directory as it was.
	var files []file
	taken := map[string]bool{}
	for _, k := range kinds {
		docs, err := listAll(ctx, st, k.Name)
		if err != nil {
			return sum, err
		}
		for i := range docs {
			d := &docs[i]
			body, err := st.Body(ctx, d)
			if errors.Is(err, store.ErrNotFound) {
				continue // purged since the listing
			}
			if err != nil {
				return sum, fmt.Errorf("export %s/%s: %w", k.Name, d.ID, err)
			}
			if d.DeletedAt != nil {
				continue // deleted since the listing (Body refreshed d)
			}
			var dfs []file
			// Two documents whose names collide (runbooks are named by slug
			// alone) are kept apart: the later one in id order gets "-2",
			// "-3", ... so neither is lost.
			for n := 1; ; n++ {
				if dfs, err = documentFiles(k, d, body, n, o.Layout); err != nil {
					return sum, err
				}
				if !slices.ContainsFunc(dfs, func(f file) bool { return taken[f.path] }) {
					break
				}
			}
			for _, f := range dfs {
				taken[f.path] = true
			}
			files = append(files, dfs...)
			sum.Documents[k.Name]++
			if len(dfs) > 1 {
				sum.Plans++
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	return sum, write(dir, files, o, &sum, kinds)
}

func listAll(ctx context.Context, st StoreReader, kind string) ([]store.Document, error) {
	var out []store.Document
	o := store.ListOptions{Limit: 1000}
	for {
		docs, next, err := st.List(ctx, kind, o)
		if err != nil {
			return nil, fmt.Errorf("export: list %s: %w", kind, err)
		}
		out = append(out, docs...)
		if next == "" {
			return out, nil
		}
		o.PageToken = next
	}
}

// Compiled on first use: only the export subcommand needs them, and safeName's
// counted repeat would otherwise cost every server start 180 KB of heap.
var (
	// safeName is one plain file name: no separators, no leading dot.
	safeName = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,250}\.md$`)
	safePart = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	numberID = lazyRegexp(`^[0-9]{4,}$`)
	tsPrefix = lazyRegexp(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{4}Z`)
)

func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// FileName is a document's file name in Blue's layout, relative to the docs
// root ("rfcs/0001-index-cache.draft.md"). It fails for a kind, status, id or
// slug that cannot make a safe file name.
func FileName(d *store.Document, layout blue.Layout) (string, error) {
	k, ok := blue.KindByName(d.Kind)
	if !ok {
		return "", fmt.Errorf("export %s/%s: unknown doc_type", d.Kind, d.ID)
	}
	stem, err := stemOf(k, d)
	if err != nil {
		return "", err
	}
	return suffixed(k, d, stem, layout)
}

// suffixed names a document's file from its stem: the status as a suffix,
// or for an RFC in LayoutRFC0073 as the letter after its number.
func suffixed(k blue.Kind, d *store.Document, stem string, layout blue.Layout) (string, error) {
	if k.Name == "rfc" && layout != blue.LayoutDB1DA8C {
		letter, ok := blue.RFCLetter(d.Status)
		if !ok || len(stem) < 5 {
			return "", fmt.Errorf("export %s/%s: status %q has no letter in Blue's RFC 0073 layout", k.Name, d.ID, d.Status)
		}
		return checkName(k, d, stem[:4]+"-"+letter+stem[4:]+".md")
	}
	sfx, ok := k.Suffix[d.Status]
	if !ok {
		return "", fmt.Errorf("export %s/%s: status %q has no file suffix in Blue", k.Name, d.ID, d.Status)
	}
	return checkName(k, d, stem+"."+sfx+".md")
}

// PlanFileName is an RFC's plan file name ("rfcs/0001-index-cache.plan.md").
func PlanFileName(d *store.Document) (string, error) {
	k, ok := blue.KindByName(d.Kind)
	if !ok || !k.Numbered {
		return "", fmt.Errorf("export %s/%s: only numbered kinds have plan files", d.Kind, d.ID)
	}
	stem, err := stemOf(k, d)
	if err != nil {
		return "", err
	}
	return checkName(k, d, stem+".plan.md")
}

func checkName(k blue.Kind, d *store.Document, name string) (string, error) {
	if !safeName().MatchString(name) || strings.Contains(name, "..") || !safePart().MatchString(k.Plural) {
		return "", fmt.Errorf("export %s/%s: %q is not a safe file name", k.Name, d.ID, name)
	}
	return k.Plural + "/" + name, nil
}

// stemOf is the file name without suffixes, as Blue names the kind's files.
func stemOf(k blue.Kind, d *store.Document) (string, error) {
	slug := d.Slug
	if slug == "" {
		slug = blue.Slug(d.Title)
	}
	if !safePart().MatchString(slug) || strings.Contains(slug, "..") {
		return "", fmt.Errorf("export %s/%s: slug %q cannot be a file name", k.Name, d.ID, slug)
	}
	if !safePart().MatchString(d.ID) || strings.Contains(d.ID, "..") {
		return "", fmt.Errorf("export %s/%s: id cannot be a file name", k.Name, d.ID)
	}
	switch {
	case k.Name == "runbook":
		return slug, nil
	case k.Numbered:
		id := d.ID
		if d.Number > 0 {
			id = blue.FormatNumber(d.Number)
		} else if !numberID().MatchString(id) {
			return "", fmt.Errorf("export %s/%s: a %s needs a number", k.Name, d.ID, k.Title)
		}
		return id + "-" + slug, nil
	default:
		// Timestamp kinds: Blue's <UTC ts>-slug, whatever the id added.
		if ts := tsPrefix().FindString(d.ID); ts != "" {
			return ts + "-" + slug, nil
		}
		if d.ID == slug || strings.HasSuffix(d.ID, "-"+slug) {
			return d.ID, nil
		}
		return d.ID + "-" + slug, nil
	}
}

// documentFiles are a document's files: its markdown, and an RFC's plan.
// n > 1 disambiguates a name another document already has.
func documentFiles(k blue.Kind, d *store.Document, body []byte, n int, layout blue.Layout) ([]file, error) {
	stem, err := stemOf(k, d)
	if err != nil {
		return nil, err
	}
	if n > 1 {
		stem += "-" + strconv.Itoa(n)
	}
	name, err := suffixed(k, d, stem, layout)
	if err != nil {
		return nil, err
	}
	// The index is authoritative for the status; Blue reads it from the
	// header row, so make sure the two agree.
	if want := blue.TitleCase(d.Status); blue.HeaderValue(body, "Status") != want {
		body = blue.SetHeader(body, "Status", want)
	}
	files := []file{{path: name, data: body}}
	if plan := strings.TrimSpace(d.Attrs["plan"]); plan != "" && k.Numbered {
		pname, err := checkName(k, d, stem+".plan.md")
		if err != nil {
			return nil, err
		}
		updated := d.Attrs[AttrPlanUpdated] // as the imported plan file said
		if updated == "" {
			updated = d.UpdatedAt.UTC().Format(time.RFC3339)
		}
		files = append(files, file{path: pname, data: PlanMarkdown(d.Title, blue.Tasks(plan), updated)})
	}
	return files, nil
}

// AttrPlanUpdated keeps an imported plan file's Updated value, so an export
// writes the plan file back as it was.
const AttrPlanUpdated = "plan_updated"

// PlanMarkdown renders a plan file as Blue writes and reads it: a "# Plan:"
// heading, a header table with RFC, Status (in-progress or complete) and
// Updated, and a "## Tasks" checklist.
func PlanMarkdown(title string, tasks []blue.Task, updated string) []byte {
	status := "in-progress"
	if done, total, _ := blue.Progress(tasks); total > 0 && done == total {
		status = "complete"
	}
	cell := func(v string) string {
		return strings.ReplaceAll(strings.ReplaceAll(v, "\n", " "), "|", `\|`)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Plan: %s\n\n| | |\n|---|---|\n", strings.ReplaceAll(title, "\n", " "))
	fmt.Fprintf(&b, "| **RFC** | %s |\n| **Status** | %s |\n| **Updated** | %s |\n\n", cell(title), status, cell(updated))
	b.WriteString("## Tasks\n\n")
	b.WriteString(blue.RenderTasks(tasks))
	return []byte(b.String())
}

// manifest is what the last export wrote: path → sha256 of the content.
type manifest struct {
	Version int               `json:"version"`
	Files   map[string]string `json:"files"`
}

func digest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// write puts files under dir through an os.Root, replaces and removes only
// what the previous export made and nobody changed since, and records the
// new manifest.
func write(dir string, files []file, o Options, sum *Summary, kinds []blue.Kind) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer root.Close()

	old := manifest{Files: map[string]string{}}
	if b, err := root.ReadFile(ManifestName); err == nil {
		if err := json.Unmarshal(b, &old); err != nil || old.Files == nil {
			return fmt.Errorf("export: %s in %s is not a manifest this tool wrote; move it away", ManifestName, dir)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("export: %w", err)
	}
	// ours reports whether the file at p is the previous export's, unchanged.
	ours := func(p string, cur []byte) bool {
		h, ok := old.Files[p]
		return ok && h == digest(cur)
	}

	next := manifest{Version: 1, Files: map[string]string{}}
	keep := map[string]bool{}
	for _, f := range files {
		keep[f.path] = true
		sum.Files = append(sum.Files, f.path)
		if err := root.MkdirAll(path.Dir(f.path), 0o755); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		cur, err := root.ReadFile(f.path)
		switch {
		case err == nil && string(cur) == string(f.data):
			next.Files[f.path] = digest(f.data)
			sum.Unchanged = append(sum.Unchanged, f.path)
			continue
		case err == nil && !o.Force && !ours(f.path, cur):
			sum.Conflicts = append(sum.Conflicts, f.path)
			if h, ok := old.Files[f.path]; ok {
				next.Files[f.path] = h // still ours to replace once the edit is resolved
			}
			continue
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("export: %w", err)
		}
		if err := writeFile(root, f.path, f.data); err != nil {
			return err
		}
		next.Files[f.path] = digest(f.data)
		sum.Written = append(sum.Written, f.path)
	}
	// Files of the previous export that no longer belong, in the kinds
	// exported this time.
	exported := map[string]bool{}
	for _, k := range kinds {
		exported[k.Plural] = true
	}
	for p, h := range old.Files {
		if keep[p] {
			continue
		}
		if dirOf, name, ok := strings.Cut(p, "/"); !ok || !safePart().MatchString(dirOf) || !safeName().MatchString(name) {
			continue // not a name this tool writes: never touch it
		}
		if dirOf, _, _ := strings.Cut(p, "/"); !exported[dirOf] {
			next.Files[p] = h
			continue
		}
		cur, err := root.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if !o.Force && digest(cur) != h {
			sum.Conflicts = append(sum.Conflicts, p)
			continue
		}
		if err := root.Remove(p); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		sum.Removed = append(sum.Removed, p)
	}
	b, _ := json.MarshalIndent(next, "", "  ")
	if err := writeFile(root, ManifestName, append(b, '\n')); err != nil {
		return err
	}
	sort.Strings(sum.Files)
	sort.Strings(sum.Written)
	sort.Strings(sum.Unchanged)
	sort.Strings(sum.Removed)
	sort.Strings(sum.Conflicts)
	if len(sum.Conflicts) > 0 {
		return fmt.Errorf("export: %w (pass --force to overwrite them): %s", ErrConflict, strings.Join(sum.Conflicts, ", "))
	}
	return nil
}

// writeFile replaces p atomically: a temporary file in the same folder,
// renamed over it.
func writeFile(root *os.Root, p string, data []byte) error {
	tmp := path.Join(path.Dir(p), "."+path.Base(p)+".tmp")
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, p)
	}
	if err != nil {
		_ = root.Remove(tmp)
		return fmt.Errorf("export: write %s: %w", p, err)
	}
	return nil
}

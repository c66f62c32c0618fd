package tools

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// Authoring: in local Blue, Claude edited the markdown files of the checkout
// and git kept their history. Hosted, these tools are the only way in, so
// they write any part of any document, each write naming the version it
// read, and every write is a revision of the document's history.
//
// What the server owns stays the server's: the heading and header table
// (status, dates, links, numbers) are kept from the stored document whatever
// a write sends, and what a lifecycle gate reads (serverSections) changes
// only through its own tools.

// Size limits of what one write may carry.
const (
	maxSectionBytes = 64 << 10
	maxBodyBytes    = 256 << 10
	maxSectionName  = 80
)

// serverPart is a part of a document a gate reads, which only its tools
// write.
type serverPart struct {
	name    string // as messages call it
	explain string // what it is, for messages
	tools   string // the tools that write it
	// read is everything the gate reads of the part: two bodies it reads
	// the same of pass or fail the gate alike.
	read func(body []byte) string
	// keep puts cur's part into next (a restore of old text).
	keep func(next, cur []byte) []byte
}

// serverSections are the parts a gate reads, by kind. A PRD's acceptance
// criteria are the "- [ ]" lines Blue's parser reads wherever the document
// has an **Acceptance Criteria** line (under each user story of Blue's
// template, or in an older "## Acceptance Criteria" section): no body or
// section write may change, add, remove or duplicate one, or tick it.
var serverSections = map[string]serverPart{
	"prd": {
		name:    "Acceptance Criteria",
		explain: "every \"- [ ]\" line after an " + blue.CriteriaMarker + " line",
		tools:   "blue_prd_criteria and blue_prd_criterion_complete",
		read:    blue.CriteriaKey,
		keep:    func(next, cur []byte) []byte { return blue.SetCriteria(next, blue.Criteria(cur)) },
	},
}

// DocIn names a document of any kind.
type DocIn struct {
	Common
	DocType string `json:"doc_type" jsonschema:"the document's kind: rfc, spike, adr, decision, prd, postmortem, runbook, dialogue or audit"`
	Title   string `json:"title" jsonschema:"the document's title, slug or number"`
}

// SectionWriteIn are blue_doc_section_write's parameters.
type SectionWriteIn struct {
	DocIn
	Section string `json:"section" jsonschema:"the section's name, e.g. Proposal; a section not in the document is added at its end"`
	Text    string `json:"text" jsonschema:"the section's text, markdown (### and deeper for subheadings); at most 64 KiB"`
	Mode    string `json:"mode,omitempty" jsonschema:"replace (the default) or append"`
	Version int64  `json:"version" jsonschema:"the document version you read (from a _get tool, a _list tool or resources/read); a stale write is refused"`
}

// BodyWriteIn are blue_doc_body_write's parameters.
type BodyWriteIn struct {
	DocIn
	Body    string `json:"body" blue:"markdown" jsonschema:"the whole document as markdown; the heading and header table are the server's and are kept as stored; at most 256 KiB"`
	Version int64  `json:"version" jsonschema:"the document version you read; a stale write is refused"`
}

// RevisionsIn are blue_doc_revisions's parameters.
type RevisionsIn struct {
	DocIn
}

// RevisionGetIn are blue_doc_revision_get's parameters.
type RevisionGetIn struct {
	DocIn
	Revision int64 `json:"revision" jsonschema:"the version to read, from blue_doc_revisions"`
}

// RevisionRestoreIn are blue_doc_revision_restore's parameters.
type RevisionRestoreIn struct {
	DocIn
	Revision int64 `json:"revision" jsonschema:"the old version whose text to bring back, from blue_doc_revisions"`
	Version  int64 `json:"version" jsonschema:"the document's current version, as you read it; a stale restore is refused"`
}

// RevisionView is one entry of a document's history.
type RevisionView struct {
	Version int64  `json:"version"`
	Title   string `json:"title"`
	Status  string `json:"status"`
	At      string `json:"at"`
	Size    int64  `json:"size"`
}

// anyKind reads a doc_type argument naming any of Blue's kinds.
func anyKind(name string) (blue.Kind, error) {
	k, ok := blue.KindByName(strings.TrimSpace(name))
	if !ok {
		return blue.Kind{}, fmt.Errorf("argument \"doc_type\": %q is not one of %s", name, strings.Join(blue.KindNames(), ", "))
	}
	return k, nil
}

// errStale is a write that named a version other than the stored one.
func errStale(d *store.Document, read int64) error {
	return fmt.Errorf("stale write refused: you read version %d of %s %s, it is now at version %d (updated %s); nothing was written: read it again and reapply your change",
		read, d.Kind, d.ID, d.Version, d.UpdatedAt.UTC().Format(time.RFC3339))
}

// write is every authoring write: find the document, check the version
// read, let edit produce the new body from the stored one, keep what the
// server owns, and commit it as a new revision. An edit that changes nothing
// writes nothing.
func (s *Service) write(ctx context.Context, st Store, in DocIn, read int64, edit func(body []byte) ([]byte, error)) (Result, error) {
	k, err := anyKind(in.DocType)
	if err != nil {
		return Result{}, err
	}
	if read < 1 {
		return Result{}, errors.New("argument \"version\" is required: the version you read, from a _get or _list tool (1 or more)")
	}
	d, body, err := s.findWithBody(ctx, st, k, in.Title)
	if err != nil {
		return Result{}, err
	}
	if d.Version != read {
		return Result{}, errStale(d, read)
	}
	next, err := edit(body)
	if err != nil {
		return Result{}, err
	}
	next = blue.WithHead(blue.Head(body), next)
	if err := keepsServerSections(k, body, next); err != nil {
		return Result{}, err
	}
	if len(next) > maxBodyBytes {
		return Result{}, fmt.Errorf("the document would be %d bytes; a document holds at most %d (256 KiB)", len(next), maxBodyBytes)
	}
	if bytes.Equal(next, body) {
		r := ok(fmt.Sprintf("%s %s is unchanged (version %d): nothing to write", k.Title, d.ID, d.Version))
		r.Document = view(d, nil)
		return r, nil
	}
	d.Body = next
	if err := st.Update(ctx, d); err != nil {
		if errors.Is(err, store.ErrConflict) {
			// Someone committed between our read and our write.
			if cur, gerr := st.Get(ctx, d.Kind, d.ID); gerr == nil {
				return Result{}, errStale(cur, read)
			}
		}
		return Result{}, storeErr("write", err)
	}
	r := ok(fmt.Sprintf("Wrote %s %s: now version %d", k.Title, d.ID, d.Version))
	r.Document = view(d, nil)
	return r, nil
}

// keepsServerSections refuses a write that changes what a gate reads (a
// PRD's criteria: changed, added, removed, duplicated or ticked, in any
// section), or that repeats any section name (a reader takes the first, so
// a repeat could hide the real one).
func keepsServerSections(k blue.Kind, old, next []byte) error {
	seen := map[string]bool{}
	for _, sec := range blue.Sections(next) {
		name := strings.ToLower(sec.Name)
		if seen[name] {
			return fmt.Errorf("section %q appears twice: a document has each section once", sec.Name)
		}
		seen[name] = true
	}
	if part, guarded := serverSections[k.Name]; guarded && part.read(old) != part.read(next) {
		return fmt.Errorf("the %s's %q section is kept by the server (%s): change it with %s", k.Title, part.name, part.explain, part.tools)
	}
	return nil
}

func (s *Service) sectionWrite(ctx context.Context, st Store, in SectionWriteIn) (Result, error) {
	name := strings.TrimSpace(in.Section)
	switch {
	case name == "":
		return Result{}, errors.New("argument \"section\" is required: the section's name, e.g. Proposal")
	case len(name) > maxSectionName || strings.ContainsAny(name, "\r\n#|"):
		return Result{}, fmt.Errorf("argument \"section\": a section name is one line of at most %d characters without #, |", maxSectionName)
	case len(in.Text) > maxSectionBytes:
		return Result{}, fmt.Errorf("argument \"text\" is %d bytes; a section holds at most %d (64 KiB): split it across sections", len(in.Text), maxSectionBytes)
	}
	// Argument decoding refuses this already; the handler does not rely on it.
	if line, bad := blue.StructuralLine(in.Text); bad {
		return Result{}, fmt.Errorf("argument \"text\" has a line %q that would start a new section; use \"### \" for a subheading", abbreviate(line))
	}
	appendText := false
	switch in.Mode {
	case "", "replace":
	case "append":
		appendText = true
	default:
		return Result{}, fmt.Errorf("argument \"mode\": %q is not replace or append", in.Mode)
	}
	return s.write(ctx, st, in.DocIn, in.Version, func(body []byte) ([]byte, error) {
		if appendText {
			return blue.AppendToSection(body, name, in.Text), nil
		}
		return blue.ReplaceSection(body, name, in.Text), nil
	})
}

func (s *Service) bodyWrite(ctx context.Context, st Store, in BodyWriteIn) (Result, error) {
	if len(in.Body) > maxBodyBytes {
		return Result{}, fmt.Errorf("argument \"body\" is %d bytes; a document holds at most %d (256 KiB)", len(in.Body), maxBodyBytes)
	}
	return s.write(ctx, st, in.DocIn, in.Version, func([]byte) ([]byte, error) {
		return []byte(in.Body), nil
	})
}

func (s *Service) revisions(ctx context.Context, st Store, in RevisionsIn) (Result, error) {
	k, err := anyKind(in.DocType)
	if err != nil {
		return Result{}, err
	}
	d, err := s.find(ctx, st, k, in.Title, store.ListOptions{})
	if err != nil {
		return Result{}, err
	}
	revs, err := st.Revisions(ctx, d.Kind, d.ID)
	if err != nil {
		return Result{}, storeErr("revisions", err)
	}
	views := make([]RevisionView, 0, len(revs))
	for _, rv := range revs {
		views = append(views, RevisionView{Version: rv.Version, Title: rv.Title, Status: rv.Status, At: rv.At.UTC().Format(time.RFC3339), Size: rv.Size})
	}
	r := ok(fmt.Sprintf("%s %s has %d revisions; it is at version %d", k.Title, d.ID, len(views), d.Version))
	r.Document = view(d, nil)
	r.Data = map[string]any{"revisions": views}
	r.Hint = "Read one with blue_doc_revision_get; bring its text back with blue_doc_revision_restore."
	return r, nil
}

func (s *Service) revisionGet(ctx context.Context, st Store, in RevisionGetIn) (Result, error) {
	d, old, err := s.revisionBody(ctx, st, in.DocIn, in.Revision)
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("%s %s as it was at version %d (now at %d)", d.Kind, d.ID, in.Revision, d.Version))
	r.Data = map[string]any{"revision": in.Revision, "content": string(old)}
	r.Document = view(d, nil)
	return r, nil
}

func (s *Service) revisionRestore(ctx context.Context, st Store, in RevisionRestoreIn) (Result, error) {
	_, old, err := s.revisionBody(ctx, st, in.DocIn, in.Revision)
	if err != nil {
		return Result{}, err
	}
	k, _ := anyKind(in.DocType)
	return s.write(ctx, st, in.DocIn, in.Version, func(cur []byte) ([]byte, error) {
		// The old text, under today's header; what the server keeps stays
		// as it is now.
		if part, guarded := serverSections[k.Name]; guarded {
			return part.keep(old, cur), nil
		}
		return old, nil
	})
}

func (s *Service) revisionBody(ctx context.Context, st Store, in DocIn, version int64) (*store.Document, []byte, error) {
	k, err := anyKind(in.DocType)
	if err != nil {
		return nil, nil, err
	}
	if version < 1 {
		return nil, nil, errors.New("argument \"revision\" is required: a version from blue_doc_revisions (1 or more)")
	}
	d, err := s.find(ctx, st, k, in.Title, store.ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	old, err := st.BodyAt(ctx, d.Kind, d.ID, version)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fmt.Errorf("%s %s has no revision %d: blue_doc_revisions lists them", k.Title, d.ID, version)
	}
	if err != nil {
		return nil, nil, storeErr("read revision", err)
	}
	return d, old, nil
}

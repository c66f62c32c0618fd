// Package tools is Blue's tool set as the hosted server serves it: the same
// tool names, parameters, statuses and lifecycle rules as Blue's own MCP
// server, over the client's S3 bucket and DynamoDB table, plus a _list tool
// for every kind and documents as MCP resources.
package tools

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// Store is what the tools need of the client's storage; *store.Store has it.
type Store interface {
	NextNumber(ctx context.Context, kind string) (int, error)
	Create(ctx context.Context, d *store.Document) error
	Get(ctx context.Context, kind, id string) (*store.Document, error)
	Update(ctx context.Context, d *store.Document) error
	List(ctx context.Context, kind string, o store.ListOptions) ([]store.Document, string, error)
	Delete(ctx context.Context, kind, id string, version int64) error
	Restore(ctx context.Context, kind, id string, version int64) error
	Purge(ctx context.Context, kind, id string) error
	Body(ctx context.Context, d *store.Document) ([]byte, error)
	Revisions(ctx context.Context, kind, id string) ([]store.Revision, error)
	BodyAt(ctx context.Context, kind, id string, version int64) ([]byte, error)
}

// Service runs the tools for one tenant.
type Service struct {
	// Store returns the client's storage as the calling user may use it. It
	// fails (for example "access revoked by the client") when the tenant's
	// configuration or credentials are gone; that error is the tool's answer.
	Store func(ctx context.Context) (Store, error)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// CallTimeout bounds one tool call, every round trip to the client's
	// account included (DefaultCallTimeout when zero).
	CallTimeout time.Duration

	// indexWrites are the search index write-backs still running
	// (searchindex.go).
	indexWrites sync.WaitGroup
}

// Wait waits for the work a call left running after its answer (writing
// back a repaired search index).
func (s *Service) Wait() { s.indexWrites.Wait() }

// DefaultCallTimeout bounds a tool call.
const DefaultCallTimeout = 60 * time.Second

func (s *Service) callTimeout() time.Duration {
	if s.CallTimeout > 0 {
		return s.CallTimeout
	}
	return DefaultCallTimeout
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Attribute keys kept in the index next to a document.
const (
	attrPlan             = "plan"
	attrSourceSpike      = "source_spike"
	attrSourcePRD        = "source_prd"
	attrSourcePostmortem = "source_postmortem"
	attrRFC              = "rfc"
	attrOutcome          = "outcome"
	attrSeverity         = "severity"
	attrActions          = "actions"
	attrAuditType        = "audit_type"
	attrDeletedStatus    = "status_before_delete"
)

// Common is accepted by every tool so that prompts written for Blue's local
// server (which took a working directory) keep working; the hosted server
// serves one tenant and ignores it.
type Common struct {
	Cwd string `json:"cwd,omitempty" jsonschema:"ignored by the hosted server (kept so Blue prompts keep working)"`
}

// TitleIn names a document.
type TitleIn struct {
	Common
	Title string `json:"title" jsonschema:"the document's title, slug or number"`
}

// Result is what every tool answers, as Blue did: a status, a message a
// person can read, an optional hint for the next step, and the data.
type Result struct {
	// Status is success, blocked (a lifecycle gate stopped it),
	// rfc_required (a spike that recommends implementation needs an RFC)
	// or requires_force (blue_delete of a document that is not a draft),
	// as Blue answered.
	Status        string         `json:"status"`
	Message       string         `json:"message"`
	Hint          string         `json:"hint,omitempty"`
	Document      *DocView       `json:"document,omitempty"`
	Documents     []DocView      `json:"documents,omitempty"`
	NextPageToken string         `json:"next_page_token,omitempty"`
	Progress      *ProgressView  `json:"progress,omitempty"`
	Data          map[string]any `json:"data,omitempty"`
	// SuggestedTool and SuggestedArgs are the call Blue suggests next (an
	// rfc_required answer names blue_rfc_create and its arguments).
	SuggestedTool string         `json:"suggested_tool,omitempty"`
	SuggestedArgs map[string]any `json:"suggested_args,omitempty"`
	// Blue holds the fields Blue's own server answered the tool with, under
	// Blue's names and in Blue's shapes (docs/blue-tools.md lists them per
	// tool). They are written at the top level of the answer beside the
	// hosted fields; where Blue used a name the hosted answer already has
	// (status, message, hint, document, progress), the hosted field stays
	// and carries Blue's meaning too (see MarshalJSON).
	Blue map[string]any `json:"-"`
}

// DocView is a document as tools show it.
type DocView struct {
	Kind   string            `json:"doc_type"`
	ID     string            `json:"id"`
	Number int               `json:"number,omitempty"`
	Title  string            `json:"title"`
	Slug   string            `json:"slug"`
	Status string            `json:"status"`
	URI    string            `json:"uri"`
	Attrs  map[string]string `json:"metadata,omitempty"`
	// FilePath is where Blue keeps the file, relative to .blue/docs, as
	// its answers named it ("rfcs/0001-index-cache.draft.md").
	FilePath string `json:"file_path,omitempty"`
	// Type is Blue's name for doc_type in the answers that used it (a
	// blue_delete dry run's document).
	Type      string `json:"type,omitempty"`
	Content   string `json:"content,omitempty"`
	Version   int64  `json:"version"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	DeletedAt string `json:"deleted_at,omitempty"`
}

// ProgressView is a checklist's completion: the hosted fields (done,
// percent, tasks) and Blue's (completed, percentage), which say the same.
type ProgressView struct {
	Done       int        `json:"done"`
	Completed  int        `json:"completed"`
	Total      int        `json:"total"`
	Percent    int        `json:"percent"`
	Percentage int        `json:"percentage"`
	Tasks      []TaskView `json:"tasks,omitempty"`
}

// TaskView is one checklist item.
type TaskView struct {
	Index int    `json:"index"`
	Text  string `json:"text"`
	Done  bool   `json:"done"`
}

// URI is a document's MCP resource address.
func URI(kind, id string) string { return "blue://docs/" + blue.Plural(kind) + "/" + id }

func view(d *store.Document, body []byte) *DocView {
	v := &DocView{
		Kind: d.Kind, ID: d.ID, Number: d.Number, Title: d.Title, Slug: d.Slug, Status: d.Status,
		URI: URI(d.Kind, d.ID), Attrs: publicAttrs(d.Attrs), FilePath: filePath(d), Content: string(body), Version: d.Version,
		CreatedAt: d.CreatedAt.UTC().Format(time.RFC3339), UpdatedAt: d.UpdatedAt.UTC().Format(time.RFC3339),
	}
	if d.DeletedAt != nil {
		v.DeletedAt = d.DeletedAt.UTC().Format(time.RFC3339)
	}
	return v
}

// publicAttrs hides the bulky plan from listings; it has its own view.
func publicAttrs(a map[string]string) map[string]string {
	if len(a) == 0 {
		return nil
	}
	out := make(map[string]string, len(a))
	for k, v := range a {
		if k != attrPlan {
			out[k] = v
		}
	}
	return out
}

func ok(msg string) Result { return Result{Status: "success", Message: msg} }

// Errors a tool answers with. They become MCP tool errors (isError), never
// protocol errors, so the model reads them.
var (
	errNotFound = errors.New("not found")
)

func notFound(k blue.Kind, ref string) error {
	return fmt.Errorf("%w: no %s matches %q; list them with blue_%s_list", errNotFound, k.Title, ref, k.Name)
}

// storeErr turns storage errors into messages a user can act on, without
// any document content.
func storeErr(op string, err error) error {
	switch {
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%s: the document changed while this call ran; read it again and retry", op)
	case errors.Is(err, store.ErrExists):
		return fmt.Errorf("%s: a document with that title already exists", op)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%s: %w", op, errNotFound)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func kind(name string) blue.Kind {
	k, found := blue.KindByName(name)
	if !found {
		// The registry is static; every caller passes a registered name.
		return blue.Kind{Name: name, Plural: name + "s", Title: name, Statuses: []string{"unknown"}}
	}
	return k
}

// listAll reads every document of a kind (metadata only).
func listAll(ctx context.Context, st Store, kind string, o store.ListOptions) ([]store.Document, error) {
	var out []store.Document
	o.Limit = 100
	for {
		docs, next, err := st.List(ctx, kind, o)
		if err != nil {
			return nil, storeErr("list "+kind, err)
		}
		out = append(out, docs...)
		if next == "" {
			return out, nil
		}
		o.PageToken = next
	}
}

// titleIndex is a Store that finds a live document by its exact title
// without a listing (*store.Store has it; the client's API does not).
type titleIndex interface {
	GetByTitle(ctx context.Context, kind, title string) (*store.Document, error)
}

// titleOrIDIndex is a Store that reads a title's claim and an id's document
// in one request (the client's table; not the client's API).
type titleOrIDIndex interface {
	GetByTitleOrID(ctx context.Context, kind, title, id string) (d *store.Document, byTitle bool, err error)
}

// find looks a document up in Blue's order (find_document in
// crates/blue-core/src/store.rs at db1da8c): the exact title; then the
// reference read as a slug (its '-' as spaces: that title, or a title
// containing it); then the number ("7", "0007", and the hosted forms "#7"
// and "RFC 0007") or id; then a title containing the reference. Among
// several titles that match a step, the shortest wins. An exact title
// therefore wins over a number: "Phase 1" finds the RFC titled "Phase 1",
// not RFC 0001. With a store that has a title index, a title or a number
// is found without listing the kind.
func (s *Service) find(ctx context.Context, st Store, k blue.Kind, ref string, o store.ListOptions) (*store.Document, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, fmt.Errorf("title is required: give the %s's title, slug or number", k.Title)
	}
	live := !o.OnlyDeleted && !o.IncludeDeleted
	var (
		docs   []store.Document
		listed bool
	)
	// first is the document with the shortest title that pred accepts,
	// from one listing of the kind.
	first := func(pred func(d *store.Document) bool) (*store.Document, error) {
		if !listed {
			var err error
			if docs, err = listAll(ctx, st, k.Name, o); err != nil {
				return nil, err
			}
			listed = true
		}
		var best *store.Document
		for i := range docs {
			d := &docs[i]
			if pred(d) && (best == nil || len(d.Title) < len(best.Title)) {
				best = d
			}
		}
		if best == nil {
			return nil, nil
		}
		full, err := st.Get(ctx, best.Kind, best.ID)
		if err != nil {
			return nil, storeErr("get "+k.Name, err)
		}
		return full, nil
	}
	found := func(d *store.Document, err error) bool { return d != nil || err != nil }

	// 1. The exact title (compared as the store keeps titles unique). When
	// the reference is also a number, the lookup by number (step 3) runs at
	// the same time: a title still wins, but "1" costs one round trip to the
	// client's table, not two.
	n, isNum := blue.ParseRef(k, ref)
	byNumber := isNum && k.Numbered && !o.OnlyDeleted
	type got struct {
		d   *store.Document
		err error
	}
	var numberCh chan got
	titled := false // step 1 done (and step 3 with it) without a listing
	if both, ok := st.(titleOrIDIndex); ok && live && byNumber && !strings.Contains(ref, "-") {
		// The title and the number in one round trip: a title still wins
		// (with a '-', the reference read as a slug comes before the
		// number, so that order keeps the two reads apart).
		d, _, err := both.GetByTitleOrID(ctx, k.Name, ref, blue.FormatNumber(n))
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			// A client API without lookup: the steps below.
		case err == nil && d.DeletedAt == nil:
			return d, nil
		case err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalid):
			return nil, storeErr("get "+k.Name, err)
		default:
			// Neither a live title nor a live number: Blue's remaining
			// steps (the id, a title containing the reference) list the kind.
			byNumber, titled = false, true
		}
	}
	if !titled {
		ti, indexed := st.(titleIndex)
		if indexed && live {
			if byNumber {
				numberCh = make(chan got, 1)
				go func() {
					d, err := st.Get(ctx, k.Name, blue.FormatNumber(n))
					numberCh <- got{d, err}
				}()
			}
			d, err := ti.GetByTitle(ctx, k.Name, ref)
			switch {
			case err == nil:
				return d, nil
			case errors.Is(err, errors.ErrUnsupported):
				indexed = false // a client API without lookup: list
			case !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalid):
				return nil, storeErr("get "+k.Name, err)
			}
		}
		if !indexed || !live {
			if d, err := first(func(d *store.Document) bool { return sameTitle(d.Title, ref) }); found(d, err) {
				return d, err
			}
		}
	}
	lower := strings.ToLower(ref)
	// 2. The reference as a slug: "index-cache" is "Index cache".
	if strings.Contains(ref, "-") {
		words := blue.DeSlug(ref)
		if d, err := first(func(d *store.Document) bool { return sameTitle(d.Title, words) || d.Slug == lower }); found(d, err) {
			return d, err
		}
		lowerWords := strings.ToLower(words)
		if d, err := first(func(d *store.Document) bool { return strings.Contains(strings.ToLower(d.Title), lowerWords) }); found(d, err) {
			return d, err
		}
	}
	// 3. The number, or the id.
	if byNumber {
		var d *store.Document
		var err error
		if numberCh != nil {
			r := <-numberCh
			d, err = r.d, r.err
		} else {
			d, err = st.Get(ctx, k.Name, blue.FormatNumber(n))
		}
		if err == nil && (d.DeletedAt == nil || o.IncludeDeleted) {
			return d, nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalid) {
			return nil, storeErr("get "+k.Name, err)
		}
	}
	if d, err := first(func(d *store.Document) bool { return d.ID == ref || (isNum && d.Number == n && d.Number > 0) }); found(d, err) {
		return d, err
	}
	// 4. A title containing the reference.
	if d, err := first(func(d *store.Document) bool { return strings.Contains(strings.ToLower(d.Title), lower) }); found(d, err) {
		return d, err
	}
	return nil, notFound(k, ref)
}

// sameTitle compares titles as the store does: case-insensitively, with
// runs of white space as one.
func sameTitle(a, b string) bool {
	return strings.EqualFold(strings.Join(strings.Fields(a), " "), strings.Join(strings.Fields(b), " "))
}

// findWithBody looks a live document up by title, slug or number and loads
// its body: what every read-modify tool starts with.
func (s *Service) findWithBody(ctx context.Context, st Store, k blue.Kind, ref string) (*store.Document, []byte, error) {
	d, err := s.find(ctx, st, k, ref, store.ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	body, err := withBody(ctx, st, d)
	if err != nil {
		return nil, nil, err
	}
	return d, body, nil
}

// withBody loads the body of a document returned without one.
func withBody(ctx context.Context, st Store, d *store.Document) ([]byte, error) {
	if d.Body != nil {
		return d.Body, nil
	}
	b, err := st.Body(ctx, d)
	if err != nil {
		return nil, storeErr("read "+d.Kind, err)
	}
	return b, nil
}

// newDoc allocates the id (number or timestamp) and creates the document.
// Numbers come from the counter, so concurrent creates never share one.
func (s *Service) newDoc(ctx context.Context, st Store, k blue.Kind, title string, attrs map[string]string, render func(id string, number int) []byte) (*store.Document, error) {
	title = strings.TrimSpace(title)
	if title == "" {
		return nil, fmt.Errorf("title is required")
	}
	if len(title) > 200 {
		return nil, fmt.Errorf("title is %d characters; keep it under 200", len(title))
	}
	slug := blue.Slug(title)
	if slug == "" {
		return nil, fmt.Errorf("title %q has no letters or digits to make a file name from", title)
	}
	now := s.now()
	d := &store.Document{Kind: k.Name, Slug: slug, Title: title, Status: k.Initial(), Attrs: attrs, CreatedAt: now, UpdatedAt: now}
	if k.Numbered || k.Counted {
		n, err := st.NextNumber(ctx, k.Name)
		if err != nil {
			return nil, storeErr("allocate "+k.Name+" number", err)
		}
		d.Number = n
	}
	if k.Numbered {
		d.ID = blue.FormatNumber(d.Number)
	} else {
		// Timestamp ids are per minute; the slug keeps two documents of the
		// same minute apart.
		d.ID = blue.TimestampID(now) + "-" + slug
	}
	d.Body = render(d.ID, d.Number)
	if err := st.Create(ctx, d); err != nil {
		return nil, storeErr("create "+k.Name, err)
	}
	return d, nil
}

// setStatus moves a document through its lifecycle: the index, and the
// Status row of the markdown, as Blue rewrote it.
func (s *Service) setStatus(ctx context.Context, st Store, d *store.Document, to string) error {
	k := kind(d.Kind)
	if err := k.CanMove(d.Status, to); err != nil {
		return err
	}
	body, err := withBody(ctx, st, d)
	if err != nil {
		return err
	}
	d.Body = blue.SetHeader(body, "Status", blue.TitleCase(to))
	d.Status = to
	d.UpdatedAt = s.now()
	if err := st.Update(ctx, d); err != nil {
		return storeErr("update "+d.Kind, err)
	}
	return nil
}

func heading(k blue.Kind, number int, title string) string {
	if k.Numbered {
		return fmt.Sprintf("%s %s: %s", k.Title, blue.FormatNumber(number), title)
	}
	return fmt.Sprintf("%s: %s", k.Title, title)
}

func sortByID(docs []store.Document) {
	sort.Slice(docs, func(i, j int) bool { return docs[i].ID < docs[j].ID })
}

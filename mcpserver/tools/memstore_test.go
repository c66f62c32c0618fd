package tools

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/superviber/blue-operator/mcpserver/store"
)

// memStore is an in-memory Store with mcpserver/store's contract, so the
// handlers can be tested without S3 and DynamoDB (as go-sdk's
// examples/server/memory tests its handlers over a memory store):
//
//   - every error wraps store.ErrNotFound, ErrExists, ErrConflict or
//     ErrInvalid, as the real store's do, so the tools' error mapping runs;
//   - NextNumber is a per-kind counter from 1;
//   - GetByTitle finds a live document by title, compared as Create
//     compares titles (the store's title index);
//   - Create is create-if-absent: ErrExists when the id is taken (live or
//     soft-deleted) or a live document of the kind has the title (compared
//     trimmed, whitespace collapsed, case-insensitively);
//   - Update, Delete and Restore take the caller's version (ErrConflict when
//     it moved on) and bump it; Update keeps the stored body when Body is
//     nil, keeps Number and CreatedAt, and refuses a title another live
//     document has;
//   - Delete is soft (Get still returns the document, with DeletedAt; List
//     hides it unless asked) and releases the title; Restore claims it again;
//     Purge removes a document in any state;
//   - List pages in id order without bodies, with opaque page tokens bound
//     to the kind, status filter and deleted mode they were issued for;
//   - Body returns the body of the version the document was read at (the
//     store keeps superseded revisions as the document's history); for a
//     document it has no revision for, it refreshes *d to the latest version
//     and returns that version's body, and a purged document is ErrNotFound.
//
// Times come from the store's own clock, as in the real store. It is safe
// for concurrent use.
type memStore struct {
	now func() time.Time

	mu       sync.Mutex
	counters map[string]int
	docs     map[string]map[string]*memDoc // kind → id → document
	calls    map[string]int                // method name → calls
	// hookFn, when set, runs once before the next call of hookMethod: a
	// test's way to change the store while a tool call runs.
	hookMethod string
	hookFn     func()
	failOn     map[string]error // method → error every call of it returns
}

// memDoc is one committed document and its body revisions, oldest first.
type memDoc struct {
	d    store.Document
	revs []memRev
	hist []store.Revision // every Create and Update, oldest first
}

// record adds md's current state to its history, as the store's commit does.
func (md *memDoc) record() {
	md.hist = append(md.hist, store.Revision{Version: md.d.Version, Title: md.d.Title, Status: md.d.Status, At: md.d.UpdatedAt, Size: int64(len(md.d.Body))})
}

// memRev is a body as Create or Update wrote it at a version; changes that
// keep the body (status only, delete, restore) keep pointing to it.
type memRev struct {
	version int64
	body    []byte
}

func newMemStore(now func() time.Time) *memStore {
	if now == nil {
		now = time.Now
	}
	return &memStore{now: now, counters: map[string]int{}, docs: map[string]map[string]*memDoc{}, calls: map[string]int{}, failOn: map[string]error{}}
}

var _ Store = (*memStore)(nil)

// enter counts the call, runs a pending hook for it and returns the error
// the test wants every call of the method to fail with, if any. It must be
// called without the lock.
func (m *memStore) enter(method string) error {
	m.mu.Lock()
	m.calls[method]++
	var hook func()
	if m.hookFn != nil && m.hookMethod == method {
		hook, m.hookFn = m.hookFn, nil
	}
	fail := m.failOn[method]
	m.mu.Unlock()
	if hook != nil {
		hook()
	}
	return fail
}

// onNext makes fn run before the next call of method; fn may use the store
// (a concurrent writer, as far as the call is concerned).
func (m *memStore) onNext(method string, fn func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hookMethod, m.hookFn = method, fn
}

// fail makes every call of method fail with err (nil: stop failing).
func (m *memStore) fail(method string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failOn[method] = err
}

func (m *memStore) callCount(method string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[method]
}

func (m *memStore) resetCalls() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = map[string]int{}
}

func (m *memStore) clock() time.Time { return m.now().UTC() }

func (m *memStore) NextNumber(_ context.Context, kind string) (int, error) {
	if err := m.enter("NextNumber"); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := memCheckKind(kind); err != nil {
		return 0, err
	}
	m.counters[kind]++
	return m.counters[kind], nil
}

func (m *memStore) Create(_ context.Context, d *store.Document) error {
	if err := m.enter("Create"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := memCheckDoc(d); err != nil {
		return err
	}
	if _, taken := m.docs[d.Kind][d.ID]; taken {
		return fmt.Errorf("create %s/%s: %w", d.Kind, d.ID, store.ErrExists)
	}
	if m.titleTaken(d.Kind, d.Title, "") {
		return fmt.Errorf("create %s/%s: %w", d.Kind, d.ID, store.ErrExists)
	}
	now := m.clock()
	c := memClone(d)
	c.Version, c.CreatedAt, c.UpdatedAt, c.DeletedAt = 1, now, now, nil
	if c.Body == nil {
		c.Body = []byte{}
	}
	if m.docs[d.Kind] == nil {
		m.docs[d.Kind] = map[string]*memDoc{}
	}
	md := &memDoc{d: *c, revs: []memRev{{version: 1, body: c.Body}}}
	md.record()
	m.docs[d.Kind][d.ID] = md
	d.Version, d.CreatedAt, d.UpdatedAt, d.DeletedAt = 1, now, now, nil
	return nil
}

func (m *memStore) Get(_ context.Context, kind, id string) (*store.Document, error) {
	if err := m.enter("Get"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := memCheckKindID(kind, id); err != nil {
		return nil, err
	}
	md, found := m.docs[kind][id]
	if !found {
		return nil, fmt.Errorf("get %s/%s: %w", kind, id, store.ErrNotFound)
	}
	return memClone(&md.d), nil
}

// GetByTitle is the store's title index: the kind's live document with
// the title (compared as the store compares titles), ErrNotFound if none.
func (m *memStore) GetByTitle(_ context.Context, kind, title string) (*store.Document, error) {
	if err := m.enter("GetByTitle"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := memCheckKind(kind); err != nil {
		return nil, err
	}
	norm := memNormTitle(title)
	for _, md := range m.docs[kind] {
		if md.d.DeletedAt == nil && memNormTitle(md.d.Title) == norm {
			return memClone(&md.d), nil
		}
	}
	return nil, fmt.Errorf("get %s by title: %w", kind, store.ErrNotFound)
}

func (m *memStore) Update(_ context.Context, d *store.Document) error {
	if err := m.enter("Update"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := memCheckDoc(d); err != nil {
		return err
	}
	md, found := m.docs[d.Kind][d.ID]
	if !found || md.d.DeletedAt != nil {
		return fmt.Errorf("update %s/%s: %w", d.Kind, d.ID, store.ErrNotFound)
	}
	if d.Version != md.d.Version {
		return fmt.Errorf("update %s/%s: have version %d, stored %d: %w", d.Kind, d.ID, d.Version, md.d.Version, store.ErrConflict)
	}
	if m.titleTaken(d.Kind, d.Title, d.ID) {
		return fmt.Errorf("update %s/%s: %w", d.Kind, d.ID, store.ErrExists)
	}
	now := m.clock()
	next := md.d
	next.Slug, next.Title, next.Status, next.Attrs = d.Slug, d.Title, d.Status, maps.Clone(d.Attrs)
	next.Version++
	next.UpdatedAt = now
	if d.Body != nil {
		next.Body = append([]byte{}, d.Body...)
		md.revs = append(md.revs, memRev{version: next.Version, body: next.Body})
	}
	md.d = next
	md.record()
	d.Number, d.CreatedAt, d.UpdatedAt, d.Version, d.DeletedAt = next.Number, next.CreatedAt, now, next.Version, nil
	return nil
}

func (m *memStore) Revisions(_ context.Context, kind, id string) ([]store.Revision, error) {
	if err := m.enter("Revisions"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	md, found := m.docs[kind][id]
	if !found {
		return nil, fmt.Errorf("revisions %s/%s: %w", kind, id, store.ErrNotFound)
	}
	out := make([]store.Revision, len(md.hist))
	for i, r := range md.hist {
		out[len(md.hist)-1-i] = r
	}
	return out, nil
}

func (m *memStore) BodyAt(_ context.Context, kind, id string, version int64) ([]byte, error) {
	if err := m.enter("BodyAt"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	md, found := m.docs[kind][id]
	if !found || !slices.ContainsFunc(md.hist, func(r store.Revision) bool { return r.Version == version }) {
		return nil, fmt.Errorf("body %s/%s v%d: %w", kind, id, version, store.ErrNotFound)
	}
	for i := len(md.revs) - 1; i >= 0; i-- {
		if md.revs[i].version <= version {
			return append([]byte{}, md.revs[i].body...), nil
		}
	}
	return nil, fmt.Errorf("body %s/%s v%d: %w", kind, id, version, store.ErrNotFound)
}

func (m *memStore) List(_ context.Context, kind string, o store.ListOptions) ([]store.Document, string, error) {
	if err := m.enter("List"); err != nil {
		return nil, "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := memCheckKind(kind); err != nil {
		return nil, "", err
	}
	limit := o.Limit
	switch {
	case limit < 0 || limit > 1000:
		return nil, "", fmt.Errorf("%w: limit %d (want 0-1000)", store.ErrInvalid, limit)
	case limit == 0:
		limit = 50
	}
	tok := memToken{Kind: kind, Status: o.Status}
	switch {
	case o.OnlyDeleted:
		tok.Mode = 2
	case o.IncludeDeleted:
		tok.Mode = 1
	}
	after := ""
	if o.PageToken != "" {
		var err error
		if after, err = tok.decode(o.PageToken); err != nil {
			return nil, "", err
		}
	}
	ids := make([]string, 0, len(m.docs[kind]))
	for id := range m.docs[kind] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []store.Document
	for _, id := range ids {
		d := &m.docs[kind][id].d
		deleted := d.DeletedAt != nil
		switch {
		case id <= after && after != "",
			o.Status != "" && d.Status != o.Status,
			tok.Mode == 0 && deleted,
			tok.Mode == 2 && !deleted:
			continue
		}
		c := memClone(d)
		c.Body = nil
		out = append(out, *c)
		if len(out) > limit {
			out = out[:limit]
			tok.After = out[limit-1].ID
			return out, tok.encode(), nil
		}
	}
	return out, "", nil
}

func (m *memStore) Delete(_ context.Context, kind, id string, version int64) error {
	if err := m.enter("Delete"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := memCheckKindID(kind, id); err != nil {
		return err
	}
	md, found := m.docs[kind][id]
	if !found || md.d.DeletedAt != nil {
		return fmt.Errorf("delete %s/%s: %w", kind, id, store.ErrNotFound)
	}
	if md.d.Version != version {
		return fmt.Errorf("delete %s/%s: have version %d, stored %d: %w", kind, id, version, md.d.Version, store.ErrConflict)
	}
	now := m.clock()
	md.d.Version++
	md.d.UpdatedAt, md.d.DeletedAt = now, &now
	return nil
}

func (m *memStore) Restore(_ context.Context, kind, id string, version int64) error {
	if err := m.enter("Restore"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := memCheckKindID(kind, id); err != nil {
		return err
	}
	md, found := m.docs[kind][id]
	if !found || md.d.DeletedAt == nil {
		return fmt.Errorf("restore %s/%s: no soft-deleted document: %w", kind, id, store.ErrNotFound)
	}
	if md.d.Version != version {
		return fmt.Errorf("restore %s/%s: have version %d, stored %d: %w", kind, id, version, md.d.Version, store.ErrConflict)
	}
	if m.titleTaken(kind, md.d.Title, id) {
		return fmt.Errorf("restore %s/%s: %w", kind, id, store.ErrExists)
	}
	md.d.Version++
	md.d.UpdatedAt, md.d.DeletedAt = m.clock(), nil
	return nil
}

func (m *memStore) Purge(_ context.Context, kind, id string) error {
	if err := m.enter("Purge"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := memCheckKindID(kind, id); err != nil {
		return err
	}
	if _, found := m.docs[kind][id]; !found {
		return fmt.Errorf("purge %s/%s: %w", kind, id, store.ErrNotFound)
	}
	delete(m.docs[kind], id)
	return nil
}

func (m *memStore) Body(_ context.Context, d *store.Document) ([]byte, error) {
	if err := m.enter("Body"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if d == nil {
		return nil, fmt.Errorf("%w: nil document", store.ErrInvalid)
	}
	md, found := m.docs[d.Kind][d.ID]
	if !found {
		return nil, fmt.Errorf("get %s/%s: %w", d.Kind, d.ID, store.ErrNotFound)
	}
	if d.Version >= 1 && d.Version <= md.d.Version {
		// The revision version d.Version points to: the last written by then.
		for i := len(md.revs) - 1; i >= 0; i-- {
			if md.revs[i].version <= d.Version {
				return append([]byte{}, md.revs[i].body...), nil
			}
		}
	}
	// Not a version the store wrote: d becomes the latest one.
	latest := memClone(&md.d)
	latest.Body = nil
	*d = *latest
	return append([]byte{}, md.d.Body...), nil
}

// titleTaken reports whether a live document of the kind other than id has
// the title, compared as the store compares titles.
func (m *memStore) titleTaken(kind, title, id string) bool {
	norm := memNormTitle(title)
	for did, md := range m.docs[kind] {
		if did != id && md.d.DeletedAt == nil && memNormTitle(md.d.Title) == norm {
			return true
		}
	}
	return false
}

// doc returns a copy of a stored document, or nil (for assertions).
func (m *memStore) doc(kind, id string) *store.Document {
	m.mu.Lock()
	defer m.mu.Unlock()
	md, found := m.docs[kind][id]
	if !found {
		return nil
	}
	return memClone(&md.d)
}

// count is the number of documents of a kind, deleted ones included.
func (m *memStore) count(kind string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.docs[kind])
}

// memToken is a page token: the listing it belongs to and the last id.
type memToken struct {
	Kind   string `json:"k"`
	Status string `json:"s,omitempty"`
	Mode   int    `json:"m,omitempty"`
	After  string `json:"a"`
}

func (t memToken) encode() string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (t memToken) decode(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("%w: malformed page token", store.ErrInvalid)
	}
	var got memToken
	if err := json.Unmarshal(b, &got); err != nil || got.After == "" {
		return "", fmt.Errorf("%w: malformed page token", store.ErrInvalid)
	}
	if got.Kind != t.Kind || got.Status != t.Status || got.Mode != t.Mode {
		return "", fmt.Errorf("%w: page token belongs to another listing", store.ErrInvalid)
	}
	return got.After, nil
}

func memClone(d *store.Document) *store.Document {
	c := *d
	c.Attrs = maps.Clone(d.Attrs)
	if d.Body != nil {
		c.Body = append([]byte{}, d.Body...)
	}
	if d.DeletedAt != nil {
		t := *d.DeletedAt
		c.DeletedAt = &t
	}
	return &c
}

func memNormTitle(t string) string { return strings.ToLower(strings.Join(strings.Fields(t), " ")) }

// The validation below is the store's (store.go: checkKind, checkKindID,
// checkDoc), which is unexported.

func memCheckKind(kind string) error {
	ok := len(kind) > 0 && len(kind) <= 32 && kind[0] >= 'a' && kind[0] <= 'z'
	for i := 1; ok && i < len(kind); i++ {
		c := kind[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("%w: kind %q", store.ErrInvalid, kind)
	}
	return nil
}

func memCheckKindID(kind, id string) error {
	if err := memCheckKind(kind); err != nil {
		return err
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	ok := len(id) > 0 && len(id) <= 128 && alnum(id[0])
	for i := 1; ok && i < len(id); i++ {
		c := id[i]
		ok = alnum(c) || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("%w: id %q", store.ErrInvalid, id)
	}
	return nil
}

func memPrintable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func memCheckDoc(d *store.Document) error {
	if d == nil {
		return fmt.Errorf("%w: nil document", store.ErrInvalid)
	}
	if err := memCheckKindID(d.Kind, d.ID); err != nil {
		return err
	}
	bad := func(what string) error { return fmt.Errorf("%w: %s/%s: %s", store.ErrInvalid, d.Kind, d.ID, what) }
	if n := memNormTitle(d.Title); n == "" || len(n) > 900 || !memPrintable(d.Title) {
		return bad("bad title")
	}
	if d.Status == "" || len(d.Status) > 64 || !memPrintable(d.Status) || strings.ContainsAny(d.Status, " \t") {
		return bad("bad status")
	}
	if len(d.Slug) > 200 || !memPrintable(d.Slug) || strings.ContainsAny(d.Slug, `/\`) || strings.HasPrefix(d.Slug, ".") {
		return bad("bad slug")
	}
	if d.Number < 0 {
		return bad("negative number")
	}
	if len(d.Body) > 32<<20 {
		return bad("body too large")
	}
	for k := range d.Attrs {
		if k == "" || len(k) > 255 || !memPrintable(k) {
			return bad("bad attribute name")
		}
	}
	return nil
}

// TestMemStoreContract checks the fake against the contract it stands in
// for, so that the handler tests exercise what the real store does.
func TestMemStoreContract(t *testing.T) {
	ctx := t.Context()
	clock := &fakeClock{t: start}
	m := newMemStore(clock.Now)
	is := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", what, err, want)
		}
	}
	newDoc := func(id, title string) *store.Document {
		return &store.Document{Kind: "rfc", ID: id, Slug: "s", Title: title, Status: "draft", Body: []byte("v1"), Attrs: map[string]string{"a": "1"}}
	}

	for _, want := range []int{1, 2, 3} {
		if n, err := m.NextNumber(ctx, "rfc"); err != nil || n != want {
			t.Fatalf("NextNumber: %d, %v; want %d", n, err, want)
		}
	}
	if n, _ := m.NextNumber(ctx, "adr"); n != 1 {
		t.Errorf("counters are per kind: adr got %d", n)
	}
	_, err := m.NextNumber(ctx, "Bad Kind")
	is("NextNumber bad kind", err, store.ErrInvalid)

	d := newDoc("0001", "Index cache")
	d.CreatedAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // the store sets the times
	if err := m.Create(ctx, d); err != nil || d.Version != 1 || !d.CreatedAt.Equal(start) {
		t.Fatalf("Create: %v, v%d %s", err, d.Version, d.CreatedAt)
	}
	d.Attrs["a"] = "changed by the caller"
	if got, _ := m.Get(ctx, "rfc", "0001"); got.Attrs["a"] != "1" || string(got.Body) != "v1" {
		t.Errorf("the store shares the caller's maps: %+v", got)
	}
	is("Create same id", m.Create(ctx, newDoc("0001", "Other")), store.ErrExists)
	is("Create same title", m.Create(ctx, newDoc("0002", "  INDEX   cache ")), store.ErrExists)
	is("Create bad id", m.Create(ctx, newDoc("../x", "x")), store.ErrInvalid)
	is("Create no title", m.Create(ctx, newDoc("0003", " ")), store.ErrInvalid)
	bad := newDoc("0003", "x")
	bad.Status = "in progress"
	is("Create bad status", m.Create(ctx, bad), store.ErrInvalid)
	_, err = m.Get(ctx, "rfc", "0009")
	is("Get missing", err, store.ErrNotFound)

	// Update: versions, nil body keeps the body, Number and CreatedAt fixed.
	cur, _ := m.Get(ctx, "rfc", "0001")
	stale := *cur
	clock.Advance(time.Minute)
	cur.Status, cur.Body, cur.Number, cur.CreatedAt = "accepted", nil, 99, time.Time{}
	if err := m.Update(ctx, cur); err != nil || cur.Version != 2 || cur.Number != 0 || !cur.CreatedAt.Equal(start) || !cur.UpdatedAt.Equal(start.Add(time.Minute)) {
		t.Fatalf("Update: %v %+v", err, cur)
	}
	if got, _ := m.Get(ctx, "rfc", "0001"); string(got.Body) != "v1" || got.Status != "accepted" {
		t.Errorf("nil body: %+v", got)
	}
	is("Update stale", m.Update(ctx, &stale), store.ErrConflict)
	if err := m.Create(ctx, newDoc("0002", "Rate limits")); err != nil {
		t.Fatal(err)
	}
	rename, _ := m.Get(ctx, "rfc", "0002")
	rename.Title = "index CACHE"
	is("Update to a taken title", m.Update(ctx, rename), store.ErrExists)

	// Body: the body of the version listed, kept when it is superseded.
	listed, _, _ := m.List(ctx, "rfc", store.ListOptions{})
	if listed[0].Body != nil {
		t.Errorf("List returned a body")
	}
	withBody := listed[0]
	cur, _ = m.Get(ctx, "rfc", "0001")
	cur.Status, cur.Body = "in-progress", nil // keeps the body: the listed version's revision stays
	_ = m.Update(ctx, cur)
	if b, err := m.Body(ctx, &withBody); err != nil || string(b) != "v1" || withBody.Version != 2 {
		t.Errorf("Body of an unchanged revision: %q %v v%d", b, err, withBody.Version)
	}
	cur.Body = []byte("v4")
	_ = m.Update(ctx, cur)
	if b, err := m.Body(ctx, &withBody); err != nil || string(b) != "v1" || withBody.Version != 2 {
		t.Errorf("Body of a superseded revision: %q %v v%d", b, err, withBody.Version)
	}
	if b, err := m.Body(ctx, &store.Document{Kind: "rfc", ID: "0001"}); err != nil || string(b) != "v4" {
		t.Errorf("Body of a document the store did not return: %q %v", b, err)
	}

	// Delete and Restore: soft, versioned, releasing and reclaiming the title.
	is("Delete stale", m.Delete(ctx, "rfc", "0001", 1), store.ErrConflict)
	is("Restore live", m.Restore(ctx, "rfc", "0001", 4), store.ErrNotFound)
	if err := m.Delete(ctx, "rfc", "0001", 4); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Get(ctx, "rfc", "0001"); err != nil || got.DeletedAt == nil || got.Version != 5 {
		t.Errorf("Get deleted: %+v %v", got, err)
	}
	is("Delete deleted", m.Delete(ctx, "rfc", "0001", 5), store.ErrNotFound)
	gone, _ := m.Get(ctx, "rfc", "0001")
	gone.Version = 5
	is("Update deleted", m.Update(ctx, gone), store.ErrNotFound)
	is("Create over a deleted id", m.Create(ctx, newDoc("0001", "New")), store.ErrExists)
	if err := m.Create(ctx, newDoc("0003", "Index cache")); err != nil {
		t.Fatalf("the deleted title is free: %v", err)
	}
	is("Restore onto a taken title", m.Restore(ctx, "rfc", "0001", 5), store.ErrExists)
	if err := m.Purge(ctx, "rfc", "0003"); err != nil {
		t.Fatal(err)
	}
	is("Restore stale", m.Restore(ctx, "rfc", "0001", 4), store.ErrConflict)
	if err := m.Restore(ctx, "rfc", "0001", 5); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get(ctx, "rfc", "0001"); got.DeletedAt != nil || got.Version != 6 {
		t.Errorf("restored: %+v", got)
	}
	is("Purge missing", m.Purge(ctx, "rfc", "0003"), store.ErrNotFound)
	_, err = m.Body(ctx, &store.Document{Kind: "rfc", ID: "0003", Version: 1})
	is("Body of a purged document", err, store.ErrNotFound)

	// List: id order, modes, status filter, pages, tokens bound to their listing.
	for i := 4; i <= 8; i++ {
		d := newDoc(fmt.Sprintf("%04d", i), fmt.Sprintf("Doc %d", i))
		if i%2 == 0 {
			d.Status = "accepted"
		}
		if err := m.Create(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	_ = m.Delete(ctx, "rfc", "0005", 1)
	listIDs := func(o store.ListOptions) ([]string, string) {
		t.Helper()
		docs, next, err := m.List(ctx, "rfc", o)
		if err != nil {
			t.Fatalf("List %+v: %v", o, err)
		}
		var out []string
		for _, d := range docs {
			out = append(out, d.ID)
		}
		return out, next
	}
	for _, tc := range []struct {
		o    store.ListOptions
		want string
	}{
		{store.ListOptions{}, "0001 0002 0004 0006 0007 0008"},
		{store.ListOptions{IncludeDeleted: true}, "0001 0002 0004 0005 0006 0007 0008"},
		{store.ListOptions{OnlyDeleted: true, IncludeDeleted: true}, "0005"},
		{store.ListOptions{Status: "accepted"}, "0004 0006 0008"},
	} {
		if got, next := listIDs(tc.o); strings.Join(got, " ") != tc.want || next != "" {
			t.Errorf("List %+v: %v (next %q), want %s", tc.o, got, next, tc.want)
		}
	}
	var paged []string
	o := store.ListOptions{Limit: 2}
	for {
		got, next := listIDs(o)
		paged = append(paged, got...)
		if next == "" {
			break
		}
		o.PageToken = next
	}
	if strings.Join(paged, " ") != "0001 0002 0004 0006 0007 0008" {
		t.Errorf("paged: %v", paged)
	}
	if _, next := listIDs(store.ListOptions{Limit: 6}); next != "" {
		t.Errorf("a full last page has a next token")
	}
	_, tok := listIDs(store.ListOptions{Limit: 1})
	for _, o := range []store.ListOptions{
		{PageToken: tok, Status: "accepted"},
		{PageToken: tok, IncludeDeleted: true},
		{PageToken: "forged"},
		{Limit: 1001},
		{Limit: -1},
	} {
		_, _, err := m.List(ctx, "rfc", o)
		is(fmt.Sprintf("List %+v", o), err, store.ErrInvalid)
	}
	_, _, err = m.List(ctx, "adr", store.ListOptions{PageToken: tok})
	is("List another kind's token", err, store.ErrInvalid)
}

package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Errors the store returns, wrapped with context; test with errors.Is.
var (
	// ErrNotFound: no such (live or soft-deleted) document.
	ErrNotFound = errors.New("not found")
	// ErrExists: the id, or the title among the kind's live documents, is taken.
	ErrExists = errors.New("already exists")
	// ErrConflict: the document changed since the version the caller holds.
	ErrConflict = errors.New("version conflict")
	// ErrInvalid: a malformed argument (kind, id, title, page token, ...).
	ErrInvalid = errors.New("invalid argument")
)

// Document is one stored document.
type Document struct {
	Kind      string            // e.g. "rfc"
	ID        string            // "0001" for numbered kinds, or a UTC timestamp id like "2026-11-25T0244Z"
	Number    int               // numbered kinds' number, else 0; set at create, immutable
	Slug      string            // used in the export object's name
	Title     string            // unique per kind among live documents, case-insensitively
	Status    string            // indexed: List can filter on it
	Body      []byte            // markdown; nil in List results (see Store.Body)
	Attrs     map[string]string // small indexed metadata (outcome, severity, source_spike, ...)
	Version   int64             // optimistic concurrency: 1 after create, +1 per change
	CreatedAt time.Time
	UpdatedAt time.Time
	DeletedAt *time.Time // set while soft-deleted

	rev string // S3 key of the body revision this version points to
}

// Revision is one committed version of a document's content, as Create or
// Update wrote it: the history that git gave a local Blue checkout. Delete
// and Restore change only whether the document is live and add none.
type Revision struct {
	Version int64
	Title   string
	Status  string
	At      time.Time
	Size    int64 // bytes of the body

	rev string // S3 key of the body
}

// MaxHistory is how many revisions a document's history lists; older ones
// drop out of it (their bodies stay in the bucket until Purge).
const MaxHistory = 500

// ListOptions selects and pages List results.
type ListOptions struct {
	Status         string // only documents with this status
	IncludeDeleted bool   // live and soft-deleted documents
	OnlyDeleted    bool   // only soft-deleted documents (wins over IncludeDeleted)
	Limit          int    // page size; 0 means 50, at most 1000
	PageToken      string // from the previous call's next
}

// Options configure a Store.
type Options struct {
	Bucket string // the client's bucket
	// ExpectedBucketOwner is the client's account id, sent with every S3
	// call so that S3 refuses a bucket another account owns.
	ExpectedBucketOwner string
	Table               string // the client's table (schema: see the package doc)
	KMSKeyID            string // the client's KMS key; every object is written with SSE-KMS under it
	// Plural names a kind's folder ("rfc" → "rfcs"); default kind+"s".
	Plural func(kind string) string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// ExportKey names a document's export object; default "<plural>/<id>-<slug>.md"
	// ("<plural>/<id>.md" without slug). It must depend only on the document's
	// fields and never collide between documents.
	ExportKey func(d *Document) string
	// BodyCacheBytes bounds the in-memory cache of immutable body revisions;
	// 0 means 32 MiB, negative disables it.
	BodyCacheBytes int64
	// Cache, when set, is the body cache to use, shared with other Stores
	// (BodyCacheBytes is then ignored).
	Cache *BodyCache
	// OnExportError hears about export objects that could not be brought up to
	// date after a committed change (the change stands; the next write of the
	// document or SyncExport repairs the export). Optional.
	OnExportError func(kind, id string, err error)
	// OnSharedRead hears the AWS request id of a read that another call of
	// this store's ran and ctx's call shared (see readGroup), so that the
	// call's audit record names the request that answered it. Optional.
	OnSharedRead func(ctx context.Context, requestID string)
}

// Store is safe for concurrent use.
type Store struct {
	s3    *s3.Client
	ddb   *dynamodb.Client
	o     Options
	cache *bodyCache
	reads readGroup // consistent item reads that overlap are shared
	// noBatch: the role's policy refused BatchGetItem (written before the
	// store used it); read items one by one.
	noBatch atomic.Bool
}

// New returns a Store over the client's bucket and table. The clients carry
// the client's (assumed-role) credentials; the store adds none of its own.
func New(s3c *s3.Client, ddb *dynamodb.Client, o Options) *Store {
	if o.Plural == nil {
		o.Plural = func(kind string) string { return kind + "s" }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BodyCacheBytes == 0 {
		o.BodyCacheBytes = 32 << 20
	}
	cache := newBodyCache(o.BodyCacheBytes)
	if o.Cache != nil {
		cache = o.Cache.c
	}
	return &Store{s3: s3c, ddb: ddb, o: o, cache: cache}
}

// DropCache forgets every cached body (e.g. when the client revokes access).
func (s *Store) DropCache() { s.cache.clear() }

func (s *Store) now() time.Time { return s.o.Now().UTC() }

func (s *Store) exportKey(d *Document) string {
	if s.o.ExportKey != nil {
		return s.o.ExportKey(d)
	}
	// Timestamp ids already end in the slug (Blue's "<ts>-<slug>").
	if d.Slug == "" || strings.HasSuffix(d.ID, "-"+d.Slug) {
		return s.o.Plural(d.Kind) + "/" + d.ID + ".md"
	}
	return s.o.Plural(d.Kind) + "/" + d.ID + "-" + d.Slug + ".md"
}

// revKey names an immutable body revision. Revisions live under their own
// prefix so the <plural>/ folders hold exactly what a Blue export has.
func (s *Store) revKey(kind, id string, version int64, txn string) string {
	return fmt.Sprintf("%sv%d-%s.md", s.revPrefix(kind, id), version, txn)
}

func (s *Store) revPrefix(kind, id string) string {
	return ".revisions/" + s.o.Plural(kind) + "/" + id + "/"
}

// Keys and names of the single-table layout (see the package doc).
const (
	attrPK      = "PK"
	attrSK      = "SK"
	attrG1PK    = "GSI1PK"
	attrG1SK    = "GSI1SK"
	attrG2PK    = "GSI2PK"
	attrG2SK    = "GSI2SK"
	attrKind    = "kind"
	attrID      = "id"
	attrNum     = "num"
	attrSlug    = "slug"
	attrTitle   = "title"
	attrStatus  = "status"
	attrAttrs   = "attrs"
	attrVer     = "ver"
	attrCreated = "created"
	attrUpdated = "updated"
	attrDeleted = "deleted"
	attrBody    = "body"
	attrSize    = "size"
	attrExport  = "export"
	attrCTxn    = "ctxn" // the txn under which the current title was claimed
	attrWTxn    = "wtxn" // the txn of the commit that wrote this version
	attrTxn     = "txn"  // pending marker: an operation in flight
	attrPTitle  = "ptitle"
	attrPurging = "purging"
	attrHist    = "hist" // the revisions, oldest first (see Revision)
	attrOwner   = "owner"
	attrAt      = "at"
	attrN       = "n"

	// IndexByKind lists a kind's documents by id.
	IndexByKind = "ByKind"
	// IndexByKindStatus lists a kind's documents of one status by id.
	IndexByKindStatus = "ByKindStatus"

	metaSK = "META#"
)

func upper(kind string) string { return strings.ToUpper(kind) }

func docPK(kind, id string) string { return upper(kind) + "#" + id }

// kindPK is the kind's own partition (counter, title claims). Ids are never
// empty, so it cannot collide with a document's partition.
func kindPK(kind string) string { return upper(kind) + "#" }

func counterSK(kind string) string { return "COUNTER#" + kind }

func titleSK(norm string) string { return "TITLE#" + norm }

func statusPK(kind, status string) string { return upper(kind) + "#" + status }

// normTitle is the form titles are unique in: trimmed, inner whitespace
// collapsed, lower-cased.
func normTitle(t string) string {
	return strings.ToLower(strings.Join(strings.Fields(t), " "))
}

// validKind and validID are loops rather than regular expressions: they run
// on every call, and RE2 expands a counted repeat such as {0,127} into one
// instruction per repeat, which cost the server 145 KB of heap at start-up.

// validKind reports whether kind matches [a-z][a-z0-9_-]{0,31}.
func validKind(kind string) bool {
	if len(kind) == 0 || len(kind) > 32 || kind[0] < 'a' || kind[0] > 'z' {
		return false
	}
	for i := 1; i < len(kind); i++ {
		if c := kind[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validID reports whether id matches [A-Za-z0-9][A-Za-z0-9._-]{0,127}.
func validID(id string) bool {
	if len(id) == 0 || len(id) > 128 || !alnum(id[0]) {
		return false
	}
	for i := 1; i < len(id); i++ {
		if c := id[i]; !(alnum(c) || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func checkKind(kind string) error {
	if !validKind(kind) {
		return invalidf("kind %q (want [a-z][a-z0-9_-]*)", kind)
	}
	return nil
}

func checkKindID(kind, id string) error {
	if err := checkKind(kind); err != nil {
		return err
	}
	if !validID(id) {
		return invalidf("id %q (want [A-Za-z0-9][A-Za-z0-9._-]*)", id)
	}
	return nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
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

const (
	maxTitleBytes = 900 // the claim's sort key must stay under DynamoDB's 1024
	maxBodyBytes  = 32 << 20
)

// checkDoc validates what a write stores. Error messages name fields, never
// their content beyond kind and id.
func checkDoc(d *Document) error {
	if d == nil {
		return invalidf("nil document")
	}
	if err := checkKindID(d.Kind, d.ID); err != nil {
		return err
	}
	switch n := normTitle(d.Title); {
	case n == "":
		return invalidf("%s/%s: empty title", d.Kind, d.ID)
	case len(n) > maxTitleBytes || !printable(d.Title):
		return invalidf("%s/%s: title too long or not printable UTF-8", d.Kind, d.ID)
	}
	if d.Status == "" || len(d.Status) > 64 || !printable(d.Status) || strings.ContainsAny(d.Status, " \t") {
		return invalidf("%s/%s: status must be 1-64 printable characters without spaces", d.Kind, d.ID)
	}
	if len(d.Slug) > 200 || !printable(d.Slug) || strings.ContainsAny(d.Slug, `/\`) || strings.HasPrefix(d.Slug, ".") {
		return invalidf("%s/%s: slug must be at most 200 printable characters, no slashes, not starting with a dot", d.Kind, d.ID)
	}
	if d.Number < 0 {
		return invalidf("%s/%s: negative number", d.Kind, d.ID)
	}
	if len(d.Body) > maxBodyBytes {
		return invalidf("%s/%s: body over %d bytes", d.Kind, d.ID, maxBodyBytes)
	}
	for k := range d.Attrs {
		if k == "" || len(k) > 255 || !printable(k) {
			return invalidf("%s/%s: attribute names must be 1-255 printable characters", d.Kind, d.ID)
		}
	}
	return nil
}

// newTxn returns 128 random bits, hex: unique per write attempt.
func newTxn() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

func cloneDoc(d *Document) *Document {
	c := *d
	c.Attrs = maps.Clone(d.Attrs)
	if d.Body != nil {
		c.Body = append([]byte(nil), d.Body...)
	}
	if d.DeletedAt != nil {
		t := *d.DeletedAt
		c.DeletedAt = &t
	}
	return &c
}

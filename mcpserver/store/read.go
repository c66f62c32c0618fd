package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Get returns a committed document with its body (strongly consistent).
// Soft-deleted documents are returned too, with DeletedAt set, so that they
// can be shown as deleted and restored; ErrNotFound when there is none.
func (s *Store) Get(ctx context.Context, kind, id string) (*Document, error) {
	if err := checkKindID(kind, id); err != nil {
		return nil, err
	}
	return s.withBody(ctx, kind, id, nil)
}

// withBody returns the committed document whose META is m (nil: read it)
// with its body. The body revision may be gone by the time it is read
// (superseded and cleaned up since META was read): META is then read again.
func (s *Store) withBody(ctx context.Context, kind, id string, m *meta) (*Document, error) {
	for range 4 {
		if m == nil {
			var err error
			if m, err = s.getMeta(ctx, kind, id); err != nil {
				return nil, err
			}
		}
		if m == nil || !m.committed() {
			return nil, fmt.Errorf("get %s/%s: %w", kind, id, ErrNotFound)
		}
		body, err := s.loadBody(ctx, m.rev)
		if errors.Is(err, errNoSuchKey) {
			m = nil // read META again
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get %s/%s: %w", kind, id, err)
		}
		d := cloneDoc(&m.Document)
		d.Body = body
		return d, nil
	}
	return nil, fmt.Errorf("get %s/%s: body revision missing", kind, id)
}

// GetByTitleOrID answers a reference that may be a title or an id (a
// number such as "1" is both): the kind's live document with that title
// when there is one, else the document id (live or soft-deleted, as Get),
// with byTitle saying which. The title's claim and id's META are read in
// one strongly consistent request, so the lookup costs one round trip to
// the client's table. ErrNotFound when neither exists.
func (s *Store) GetByTitleOrID(ctx context.Context, kind, title, id string) (d *Document, byTitle bool, err error) {
	if err := checkKindID(kind, id); err != nil {
		return nil, false, err
	}
	norm := normTitle(title)
	if norm == "" || len(norm) > maxTitleBytes {
		return nil, false, invalidf("title empty or too long")
	}
	claim, item, err := s.consistentGetBoth(ctx, keyOf(kindPK(kind), titleSK(norm)), keyOf(docPK(kind, id), metaSK))
	if err != nil {
		return nil, false, fmt.Errorf("get %s %q or %s: %w", kind, title, id, err)
	}
	var m *meta
	if len(item) > 0 {
		if m, err = decodeMeta(item); err != nil {
			return nil, false, fmt.Errorf("get %s/%s: %w", kind, id, err)
		}
	}
	if owner := getS(claim, attrOwner); owner != "" {
		// As in GetByTitle: only a live document that has the title counts.
		var d *Document
		if owner == id {
			d, err = s.withBody(ctx, kind, id, m)
		} else {
			d, err = s.Get(ctx, kind, owner)
		}
		switch {
		case err == nil && d.DeletedAt == nil && normTitle(d.Title) == norm:
			return d, true, nil
		case err == nil && owner == id:
			return d, false, nil // the id's own document, already read with its body
		case err != nil && !errors.Is(err, ErrNotFound):
			return nil, false, err
		}
	}
	if m == nil {
		return nil, false, fmt.Errorf("get %s %q or %s: %w", kind, title, id, ErrNotFound)
	}
	d, err = s.withBody(ctx, kind, id, m)
	return d, false, err
}

// GetByTitle returns the kind's live document with this title, compared as
// titles are unique (case-insensitive, whitespace collapsed), through the
// title's claim item: two strongly consistent reads, no listing. ErrNotFound
// when no live document has it.
func (s *Store) GetByTitle(ctx context.Context, kind, title string) (*Document, error) {
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	norm := normTitle(title)
	if norm == "" || len(norm) > maxTitleBytes {
		return nil, invalidf("title empty or too long")
	}
	item, err := s.consistentGet(ctx, keyOf(kindPK(kind), titleSK(norm)))
	if err != nil {
		return nil, fmt.Errorf("get %s by title: %w", kind, err)
	}
	owner := getS(item, attrOwner)
	if owner == "" {
		return nil, fmt.Errorf("get %s by title: %w", kind, ErrNotFound)
	}
	// The claim may be stale or its owner mid-rename: only a live document
	// that has the title counts.
	d, err := s.Get(ctx, kind, owner)
	if err != nil {
		return nil, err
	}
	if d.DeletedAt != nil || normTitle(d.Title) != norm {
		return nil, fmt.Errorf("get %s by title: %w", kind, ErrNotFound)
	}
	return d, nil
}

// Body loads the body of a document returned by List: the body of the
// version listed, which is kept as history. If that revision is gone (purged,
// or out of the history), *d is refreshed to the latest committed version and
// that version's body is returned.
func (s *Store) Body(ctx context.Context, d *Document) ([]byte, error) {
	if d == nil {
		return nil, invalidf("nil document")
	}
	if d.rev != "" {
		body, err := s.loadBody(ctx, d.rev)
		if !errors.Is(err, errNoSuchKey) {
			if err != nil {
				return nil, fmt.Errorf("body %s/%s: %w", d.Kind, d.ID, err)
			}
			return body, nil
		}
	}
	latest, err := s.Get(ctx, d.Kind, d.ID)
	if err != nil {
		return nil, err
	}
	body := latest.Body
	latest.Body = nil
	*d = *latest
	return body, nil
}

// Revisions lists a document's revisions, newest first (at most
// MaxHistory), for live and soft-deleted documents alike.
func (s *Store) Revisions(ctx context.Context, kind, id string) ([]Revision, error) {
	m, err := s.committedMeta(ctx, kind, id, "revisions")
	if err != nil {
		return nil, err
	}
	h := m.storedHistory()
	out := make([]Revision, len(h))
	for i, r := range h {
		out[len(h)-1-i] = r
	}
	return out, nil
}

// BodyAt reads the body a document had at one of its revisions (see
// Revisions); ErrNotFound when that version is not in its history.
func (s *Store) BodyAt(ctx context.Context, kind, id string, version int64) ([]byte, error) {
	m, err := s.committedMeta(ctx, kind, id, "body")
	if err != nil {
		return nil, err
	}
	for _, r := range m.storedHistory() {
		if r.Version == version {
			b, err := s.loadBody(ctx, r.rev)
			if err != nil {
				return nil, fmt.Errorf("body %s/%s v%d: %w", kind, id, version, err)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("body %s/%s: version %d is not in its history: %w", kind, id, version, ErrNotFound)
}

// committedMeta reads the META of a committed document (live or
// soft-deleted), ErrNotFound otherwise.
func (s *Store) committedMeta(ctx context.Context, kind, id, op string) (*meta, error) {
	if err := checkKindID(kind, id); err != nil {
		return nil, err
	}
	m, err := s.getMeta(ctx, kind, id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if m == nil || !m.committed() {
		return nil, fmt.Errorf("%s %s/%s: %w", op, kind, id, ErrNotFound)
	}
	return m, nil
}

func (s *Store) loadBody(ctx context.Context, rev string) ([]byte, error) {
	if rev == "" {
		return nil, errNoSuchKey
	}
	if b, ok := s.cache.get(rev); ok {
		return b, nil
	}
	b, err := s.getObject(ctx, rev)
	if err != nil {
		return nil, err
	}
	s.cache.put(rev, b)
	return b, nil
}

const (
	defaultLimit = 50
	maxLimit     = 1000
)

// List returns a page of a kind's documents in id order, without bodies, and
// the token of the next page ("" on the last). It reads the GSIs, which are
// eventually consistent in DynamoDB. Page tokens are opaque and bound to the
// kind and filters they were issued for: any other use is ErrInvalid.
func (s *Store) List(ctx context.Context, kind string, o ListOptions) (docs []Document, next string, err error) {
	if err := checkKind(kind); err != nil {
		return nil, "", err
	}
	limit := o.Limit
	switch {
	case limit < 0 || limit > maxLimit:
		return nil, "", invalidf("limit %d (want 0-%d)", limit, maxLimit)
	case limit == 0:
		limit = defaultLimit
	}
	mode := modeLive
	switch {
	case o.OnlyDeleted:
		mode = modeDeleted
	case o.IncludeDeleted:
		mode = modeAll
	}
	tok := pageToken{V: 1, Kind: kind, Status: o.Status, Mode: mode}

	e := newExpr()
	in := &dynamodb.QueryInput{TableName: aws.String(s.o.Table), ScanIndexForward: aws.Bool(true)}
	var hashAttr, rangeAttr, hashVal string
	if o.Status != "" {
		in.IndexName = aws.String(IndexByKindStatus)
		hashAttr, rangeAttr, hashVal = attrG2PK, attrG2SK, statusPK(kind, o.Status)
	} else {
		in.IndexName = aws.String(IndexByKind)
		hashAttr, rangeAttr, hashVal = attrG1PK, attrG1SK, upper(kind)
	}
	in.KeyConditionExpression = aws.String(e.n(hashAttr) + " = " + e.v(sv(hashVal)))
	switch mode {
	case modeLive:
		in.FilterExpression = aws.String("attribute_not_exists(" + e.n(attrDeleted) + ")")
	case modeDeleted:
		in.FilterExpression = aws.String("attribute_exists(" + e.n(attrDeleted) + ")")
	}
	in.ExpressionAttributeNames, in.ExpressionAttributeValues = e.nameMap(), e.valueMap()

	if o.PageToken != "" {
		after, err := decodePageToken(o.PageToken, tok)
		if err != nil {
			return nil, "", err
		}
		// The start key is rebuilt from the id alone, inside this kind's
		// partition of the index, so a token cannot reach another kind.
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			hashAttr: sv(hashVal), rangeAttr: sv(after), attrPK: sv(docPK(kind, after)), attrSK: sv(metaSK),
		}
	}

	for {
		// One more than needed tells whether another page exists.
		in.Limit = aws.Int32(int32(limit - len(docs) + 1))
		out, err := s.ddb.Query(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("list %s: %w", kind, err)
		}
		for _, it := range out.Items {
			m, err := decodeMeta(it)
			if err != nil {
				return nil, "", fmt.Errorf("list %s: %w", kind, err)
			}
			if m.Kind != kind || !m.committed() {
				continue
			}
			docs = append(docs, *cloneDoc(&m.Document))
		}
		if len(docs) > limit {
			docs = docs[:limit]
			tok.After = docs[limit-1].ID
			return docs, tok.encode(), nil
		}
		if len(out.LastEvaluatedKey) == 0 {
			return docs, "", nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// Listing modes, part of the page token.
const (
	modeLive    = 0
	modeAll     = 1
	modeDeleted = 2
)

// pageToken is what a page token encodes: the listing it belongs to and the
// last id returned.
type pageToken struct {
	V      int    `json:"v"`
	Kind   string `json:"k"`
	Status string `json:"s,omitempty"`
	Mode   int    `json:"m,omitempty"`
	After  string `json:"a"`
}

func (t pageToken) encode() string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodePageToken returns the id to continue after, if the token was issued
// for the same listing as want.
func decodePageToken(s string, want pageToken) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 1024 {
		return "", invalidf("malformed page token")
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil {
		return "", invalidf("malformed page token")
	}
	if t.V != 1 || t.Kind != want.Kind || t.Status != want.Status || t.Mode != want.Mode {
		return "", invalidf("page token belongs to another listing")
	}
	if !validID(t.After) {
		return "", invalidf("malformed page token")
	}
	return t.After, nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// NextNumber returns the kind's next number (1, 2, ...) from an atomic counter
// item (UpdateItem ADD): concurrent callers never get the same number. A
// number whose Create fails is reused by retrying that Create with the same id.
func (s *Store) NextNumber(ctx context.Context, kind string) (int, error) {
	if err := checkKind(kind); err != nil {
		return 0, err
	}
	e := newExpr()
	out, err := s.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.o.Table),
		Key:                       keyOf(kindPK(kind), counterSK(kind)),
		UpdateExpression:          aws.String("ADD " + e.n(attrN) + " " + e.v(nv(1))),
		ExpressionAttributeNames:  e.nameMap(),
		ExpressionAttributeValues: e.valueMap(),
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, fmt.Errorf("next number %s: %w", kind, err)
	}
	n, err := getN(out.Attributes, attrN)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("next number %s: bad counter value (%v)", kind, err)
	}
	return int(n), nil
}

// RaiseCounter makes the kind's counter at least n, so NextNumber never
// hands out a number an imported document already has. One conditional
// UpdateItem: a counter already past n is left alone.
func (s *Store) RaiseCounter(ctx context.Context, kind string, n int) error {
	if err := checkKind(kind); err != nil {
		return err
	}
	e := newExpr()
	_, err := s.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.o.Table),
		Key:                       keyOf(kindPK(kind), counterSK(kind)),
		UpdateExpression:          aws.String("SET " + e.n(attrN) + " = " + e.v(nv(int64(n)))),
		ConditionExpression:       aws.String("attribute_not_exists(" + e.n(attrN) + ") OR " + e.n(attrN) + " < " + e.v(nv(int64(n)))),
		ExpressionAttributeNames:  e.nameMap(),
		ExpressionAttributeValues: e.valueMap(),
	})
	if err != nil && !isCCF(err) {
		return fmt.Errorf("raise counter %s: %w", kind, err)
	}
	return nil
}

// Create stores a new document: ErrExists when the kind already has this id
// (live, soft-deleted or being purged) or a live document with the same title
// (case-insensitive). On success d.Version is 1 and d's times are set.
func (s *Store) Create(ctx context.Context, d *Document) error {
	if err := checkDoc(d); err != nil {
		return err
	}
	kind, id, norm := d.Kind, d.ID, normTitle(d.Title)
	now, txn := s.now(), newTxn()
	body := d.Body
	rev := s.revKey(kind, id, 1, txn)

	err := s.putPending(ctx, kind, id, txn, norm)
	pending := err == nil
	var upErr error
	if pending {
		// The body goes up only once the pending META is in, never before:
		// until then a late Purge of an earlier document with this id may
		// still delete what it listed under the id's revision prefix (see
		// Purge).
		wait := s.goPut(ctx, rev, body)
		err = s.claimTitle(ctx, kind, norm, id, txn)
		if upErr = wait(); err == nil {
			err = upErr
		}
	}
	if err != nil {
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		if pending && upErr == nil {
			_ = s.deleteObject(cctx, rev)
		}
		if pending {
			s.dropPending(cctx, kind, id, norm, txn)
		}
		return fmt.Errorf("create %s/%s: %w", kind, id, err)
	}

	m := &meta{
		Document: Document{
			Kind: kind, ID: id, Number: d.Number, Slug: d.Slug, Title: d.Title, Status: d.Status,
			Attrs: maps.Clone(d.Attrs), Version: 1, CreatedAt: now, UpdatedAt: now, rev: rev,
		},
		size: int64(len(body)),
		ctxn: txn,
		wtxn: txn,
	}
	m.export = s.exportKey(&m.Document)
	m.withRevision(nil)
	// The commit: only our own pending META (txn still ours, never committed)
	// may become the document.
	e := newExpr()
	cond := e.n(attrTxn) + " = " + e.v(sv(txn)) + " AND " + e.n(attrVer) + " = " + e.v(nv(0))
	if err := s.putMeta(ctx, m, cond, e); err != nil {
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		if _, ok, rerr := s.landed(cctx, kind, id, txn, true, rev); !ok {
			if !isCCF(err) || rerr != nil {
				// Unknown outcome: leave everything; a retry finds out.
				return fmt.Errorf("create %s/%s: commit: %w", kind, id, errors.Join(err, rerr))
			}
			// Another create of this id replaced our pending META, or a
			// claimant of our title aborted us: nothing was committed.
			_ = s.deleteObject(cctx, rev)
			s.releaseClaim(cctx, kind, norm, id, txn)
			s.dropAborted(cctx, kind, id, txn)
			return fmt.Errorf("create %s/%s: %w", kind, id, ErrExists)
		}
		// Our commit landed; only its answer was lost.
	}
	s.cache.put(rev, body)
	s.afterCommit(ctx, m, body, "")

	d.Version, d.CreatedAt, d.UpdatedAt, d.DeletedAt, d.rev = 1, now, now, nil, rev
	return nil
}

// Update replaces a live document's title, slug, status, body and attrs.
// d.Version must be the stored version (else ErrConflict, and nothing
// changes); on success it is bumped. Number and CreatedAt cannot change.
// A new title must be free among the kind's live documents (else ErrExists).
// A nil Body keeps the stored body (so a document from List can be updated
// without loading it); an empty non-nil Body stores an empty one.
func (s *Store) Update(ctx context.Context, d *Document) error {
	if err := checkDoc(d); err != nil {
		return err
	}
	kind, id := d.Kind, d.ID
	cur, err := s.getMeta(ctx, kind, id)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if cur == nil || !cur.live() {
		return fmt.Errorf("update %s/%s: %w", kind, id, ErrNotFound)
	}
	v := cur.Version
	if d.Version != v {
		return fmt.Errorf("update %s/%s: have version %d, stored %d: %w", kind, id, d.Version, v, ErrConflict)
	}
	now, txn := s.now(), newTxn()
	norm, oldNorm := normTitle(d.Title), normTitle(cur.Title)
	renamed := norm != oldNorm
	body, rev, size := d.Body, s.revKey(kind, id, v+1, txn), int64(len(d.Body))
	keepBody := body == nil
	wait := func() error { return nil }
	if keepBody {
		rev, size = cur.rev, cur.size
	} else {
		wait = s.goPut(ctx, rev, body)
	}
	if renamed {
		err = s.markPending(ctx, kind, id, v, txn, norm, false)
		if err == nil {
			err = s.claimTitle(ctx, kind, norm, id, txn)
		}
	}
	upErr := wait()
	if err == nil {
		err = upErr
	}
	if err != nil {
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		if upErr == nil && !keepBody {
			_ = s.deleteObject(cctx, rev)
		}
		if renamed {
			s.dropPending(cctx, kind, id, norm, txn)
		}
		return fmt.Errorf("update %s/%s: %w", kind, id, err)
	}

	m := &meta{
		Document: Document{
			Kind: kind, ID: id, Number: cur.Number, Slug: d.Slug, Title: d.Title, Status: d.Status,
			Attrs: maps.Clone(d.Attrs), Version: v + 1, CreatedAt: cur.CreatedAt, UpdatedAt: now, rev: rev,
		},
		size: size,
		ctxn: cur.ctxn,
		wtxn: txn,
	}
	m.export = s.exportKey(&m.Document)
	m.withRevision(cur.storedHistory())
	e := newExpr()
	cond := []string{
		e.n(attrVer) + " = " + e.v(nv(v)),
		"attribute_not_exists(" + e.n(attrDeleted) + ")",
		"attribute_not_exists(" + e.n(attrPurging) + ")",
	}
	if renamed {
		m.ctxn = txn
		cond = append(cond, e.n(attrTxn)+" = "+e.v(sv(txn)))
	}
	if err := s.putMeta(ctx, m, strings.Join(cond, " AND "), e); err != nil {
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		newRev := rev
		if keepBody {
			newRev = ""
		}
		re, ok, rerr := s.landed(cctx, kind, id, txn, renamed, newRev)
		if !ok {
			if !isCCF(err) || rerr != nil {
				return fmt.Errorf("update %s/%s: commit: %w", kind, id, errors.Join(err, rerr))
			}
			if !keepBody {
				_ = s.deleteObject(cctx, rev)
			}
			why := ErrConflict
			if renamed {
				s.releaseClaim(cctx, kind, norm, id, txn)
				// Same version but our marker gone: a claimant of the title won.
				if re != nil && re.Version == v && re.txn == "" {
					why = ErrExists
				}
			}
			return fmt.Errorf("update %s/%s: %w", kind, id, why)
		}
		// Our commit landed; only its answer was lost.
	}
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	if renamed {
		s.releaseClaim(cctx, kind, oldNorm, id, cur.ctxn)
	}
	if !keepBody {
		// The superseded revision stays: it is the document's history.
		s.cache.put(rev, body)
	}
	s.afterCommit(ctx, m, body, cur.export)

	d.Number, d.CreatedAt, d.UpdatedAt, d.Version, d.DeletedAt, d.rev = cur.Number, cur.CreatedAt, now, v+1, nil, rev
	return nil
}

// Delete soft-deletes a live document at the given version (ErrConflict if it
// moved on): it disappears from List (unless asked for), keeps its body, and
// releases its title. Get still returns it, with DeletedAt set.
func (s *Store) Delete(ctx context.Context, kind, id string, version int64) error {
	if err := checkKindID(kind, id); err != nil {
		return err
	}
	cur, err := s.getMeta(ctx, kind, id)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if cur == nil || !cur.live() {
		return fmt.Errorf("delete %s/%s: %w", kind, id, ErrNotFound)
	}
	if cur.Version != version {
		return fmt.Errorf("delete %s/%s: have version %d, stored %d: %w", kind, id, version, cur.Version, ErrConflict)
	}
	now, txn := s.now(), newTxn()
	m := *cur
	m.Version, m.UpdatedAt, m.DeletedAt, m.wtxn = version+1, now, &now, txn
	e := newExpr()
	cond := e.n(attrVer) + " = " + e.v(nv(version)) + " AND attribute_not_exists(" + e.n(attrDeleted) + ") AND attribute_not_exists(" + e.n(attrPurging) + ")"
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	if err := s.putMeta(ctx, &m, cond, e); err != nil {
		if _, ok, rerr := s.landed(cctx, kind, id, txn, false, ""); !ok {
			if isCCF(err) && rerr == nil {
				return fmt.Errorf("delete %s/%s: %w", kind, id, ErrConflict)
			}
			return fmt.Errorf("delete %s/%s: commit: %w", kind, id, errors.Join(err, rerr))
		}
		// Our commit landed; only its answer was lost.
	}
	s.releaseClaim(cctx, kind, normTitle(cur.Title), id, cur.ctxn)
	s.afterCommit(ctx, &m, nil, cur.export)
	return nil
}

// Restore brings back a soft-deleted document at the given version
// (ErrConflict if it moved on). ErrExists when a live document has taken its
// title meanwhile; ErrNotFound when it is not soft-deleted.
func (s *Store) Restore(ctx context.Context, kind, id string, version int64) error {
	if err := checkKindID(kind, id); err != nil {
		return err
	}
	cur, err := s.getMeta(ctx, kind, id)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if cur == nil || !cur.committed() || cur.DeletedAt == nil {
		return fmt.Errorf("restore %s/%s: no soft-deleted document: %w", kind, id, ErrNotFound)
	}
	if cur.Version != version {
		return fmt.Errorf("restore %s/%s: have version %d, stored %d: %w", kind, id, version, cur.Version, ErrConflict)
	}
	txn, norm := newTxn(), normTitle(cur.Title)
	err = s.markPending(ctx, kind, id, version, txn, norm, true)
	if err == nil {
		err = s.claimTitle(ctx, kind, norm, id, txn)
	}
	if err != nil {
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		s.dropPending(cctx, kind, id, norm, txn)
		return fmt.Errorf("restore %s/%s: %w", kind, id, err)
	}
	now := s.now()
	m := *cur
	m.Version, m.UpdatedAt, m.DeletedAt, m.ctxn, m.wtxn = version+1, now, nil, txn, txn
	e := newExpr()
	cond := e.n(attrVer) + " = " + e.v(nv(version)) + " AND " + e.n(attrTxn) + " = " + e.v(sv(txn)) + " AND attribute_exists(" + e.n(attrDeleted) + ")"
	if err := s.putMeta(ctx, &m, cond, e); err != nil {
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		re, ok, rerr := s.landed(cctx, kind, id, txn, true, "")
		if !ok {
			if !isCCF(err) || rerr != nil {
				return fmt.Errorf("restore %s/%s: commit: %w", kind, id, errors.Join(err, rerr))
			}
			s.releaseClaim(cctx, kind, norm, id, txn)
			why := ErrConflict
			if re != nil && re.Version == version && re.txn == "" {
				why = ErrExists
			}
			return fmt.Errorf("restore %s/%s: %w", kind, id, why)
		}
		// Our commit landed; only its answer was lost.
	}
	s.afterCommit(ctx, &m, nil, cur.export)
	return nil
}

// Purge hard-deletes a document in any state: its index items, its other
// items in its partition, its title claim, its body revisions and its export
// object. It is idempotent: after a failure, Purge again finishes the job.
func (s *Store) Purge(ctx context.Context, kind, id string) error {
	if err := checkKindID(kind, id); err != nil {
		return err
	}
	var cur *meta
	for attempt := 0; ; attempt++ {
		var err error
		if cur, err = s.getMeta(ctx, kind, id); err != nil {
			return fmt.Errorf("purge: %w", err)
		}
		if cur == nil {
			return fmt.Errorf("purge %s/%s: %w", kind, id, ErrNotFound)
		}
		if cur.purging {
			break
		}
		// Invisible from here on; bumping the version makes every in-flight
		// commit of this document fail its condition.
		e := newExpr()
		_, err = s.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(s.o.Table),
			Key:       keyOf(docPK(kind, id), metaSK),
			UpdateExpression: aws.String("SET " + e.n(attrPurging) + " = " + e.v(&types.AttributeValueMemberBOOL{Value: true}) +
				", " + e.n(attrVer) + " = " + e.n(attrVer) + " + " + e.v(nv(1)) +
				" REMOVE " + strings.Join([]string{e.n(attrG1PK), e.n(attrG1SK), e.n(attrG2PK), e.n(attrG2SK), e.n(attrTxn), e.n(attrPTitle)}, ", ")),
			ConditionExpression:       aws.String(e.n(attrVer) + " = " + e.v(nv(cur.Version))),
			ExpressionAttributeNames:  e.nameMap(),
			ExpressionAttributeValues: e.valueMap(),
		})
		if err == nil {
			break
		}
		if !isCCF(err) {
			return fmt.Errorf("purge %s/%s: mark: %w", kind, id, err)
		}
		if attempt >= 5 {
			return fmt.Errorf("purge %s/%s: keeps changing: %w", kind, id, ErrConflict)
		}
	}

	// List what to delete, then read META again, and delete only if it is
	// still purging. Another Purge of this document (a retry, a second
	// caller) may have finished meanwhile and the id been created again; a
	// new document writes nothing under its id before its pending META,
	// which needs this META gone, so while META is still purging after the
	// listing, everything listed belongs to the purged document.
	items, err := s.partitionItems(ctx, kind, id)
	if err != nil {
		return fmt.Errorf("purge %s/%s: %w", kind, id, err)
	}
	keys, err := s.listKeys(ctx, s.revPrefix(kind, id))
	if err != nil {
		return fmt.Errorf("purge %s/%s: %w", kind, id, err)
	}
	if re, err := s.getMeta(ctx, kind, id); err != nil {
		return fmt.Errorf("purge: %w", err)
	} else if re == nil || !re.purging {
		return nil // purged by another caller meanwhile
	}
	for _, k := range items {
		if _, err := s.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.o.Table), Key: k}); err != nil {
			return fmt.Errorf("purge %s/%s: delete partition item: %w", kind, id, err)
		}
	}
	s.releaseClaim(ctx, kind, normTitle(cur.Title), id, cur.ctxn)
	if cur.txn != "" {
		s.releaseClaim(ctx, kind, cur.ptitle, id, cur.txn)
	}
	if cur.export != "" {
		keys = append(keys, cur.export)
	}
	for _, k := range keys {
		if err := s.deleteObject(ctx, k); err != nil {
			return fmt.Errorf("purge %s/%s: %w", kind, id, err)
		}
		s.cache.drop(k)
	}
	e := newExpr()
	_, err = s.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.o.Table),
		Key:                       keyOf(docPK(kind, id), metaSK),
		ConditionExpression:       aws.String(e.n(attrPurging) + " = " + e.v(&types.AttributeValueMemberBOOL{Value: true})),
		ExpressionAttributeNames:  e.nameMap(),
		ExpressionAttributeValues: e.valueMap(),
	})
	if err != nil && !isCCF(err) { // CCF: already gone
		return fmt.Errorf("purge %s/%s: delete index: %w", kind, id, err)
	}
	return nil
}

// partitionItems lists the keys of the document's items other than META
// (tasks, links, ... that other components keep in its partition).
func (s *Store) partitionItems(ctx context.Context, kind, id string) ([]map[string]types.AttributeValue, error) {
	var keys []map[string]types.AttributeValue
	e := newExpr()
	p := dynamodb.NewQueryPaginator(s.ddb, &dynamodb.QueryInput{
		TableName:                 aws.String(s.o.Table),
		KeyConditionExpression:    aws.String(e.n(attrPK) + " = " + e.v(sv(docPK(kind, id)))),
		ProjectionExpression:      aws.String(e.n(attrPK) + ", " + e.n(attrSK)),
		ExpressionAttributeNames:  e.nameMap(),
		ExpressionAttributeValues: e.valueMap(),
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list partition: %w", err)
		}
		for _, it := range page.Items {
			if getS(it, attrSK) != metaSK {
				keys = append(keys, keyOf(getS(it, attrPK), getS(it, attrSK)))
			}
		}
	}
	return keys, nil
}

// landed tells whether a commit that did not answer success is in fact in
// the document, by reading META again. The SDK retries a write whose answer
// was lost (a 500, a reset connection) after DynamoDB applied it, and the
// retry then fails its condition, so a failed condition does not mean that
// nothing was committed; cleaning up as if it did would delete the revision
// the document points at and release a title it holds. A commit is known by
// what only it wrote: wtxn (until the next commit), ctxn when it claimed a
// title (until the next rename or restore), and its new revision in the
// history. When none is there after a failed condition, the commit has not
// landed and never will (its condition names a version or txn that is gone
// for good), or a later commit has replaced every trace of it; either way
// its revision is not in the history and its claim is not the one META
// names, so cleaning them up is safe. After any other error an attempt may
// still be in flight, so not finding it proves nothing. err is set when META
// cannot be read; the outcome then stays unknown.
func (s *Store) landed(ctx context.Context, kind, id, txn string, claimed bool, rev string) (m *meta, ok bool, err error) {
	m, err = s.getMeta(ctx, kind, id)
	if err != nil || m == nil || !m.committed() {
		return m, false, err
	}
	if m.wtxn == txn || (claimed && m.ctxn == txn) {
		return m, true, nil
	}
	if rev != "" {
		for _, r := range m.storedHistory() {
			if r.rev == rev {
				return m, true, nil
			}
		}
	}
	return m, false, nil
}

// putMeta writes a committed META item under a condition.
func (s *Store) putMeta(ctx context.Context, m *meta, cond string, e *expr) error {
	_, err := s.ddb.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.o.Table),
		Item:                      metaItem(m),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  e.nameMap(),
		ExpressionAttributeValues: e.valueMap(),
	})
	return err
}

// putPending writes the invisible pending META of a create. It may replace
// only a pending META (an abandoned or concurrent create of the same id, which
// then fails its commit), never a committed or purging one.
func (s *Store) putPending(ctx context.Context, kind, id, txn, norm string) error {
	it := keyOf(docPK(kind, id), metaSK)
	it[attrKind], it[attrID] = sv(kind), sv(id)
	it[attrVer] = nv(0)
	it[attrTxn], it[attrPTitle] = sv(txn), sv(norm)
	e := newExpr()
	cond := "attribute_not_exists(" + e.n(attrPK) + ") OR " + e.n(attrVer) + " = " + e.v(nv(0))
	_, err := s.ddb.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.o.Table),
		Item:                      it,
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  e.nameMap(),
		ExpressionAttributeValues: e.valueMap(),
	})
	if isCCF(err) {
		return ErrExists
	}
	if err != nil {
		return fmt.Errorf("pending index: %w", err)
	}
	return nil
}

// markPending records on a committed META that txn is claiming title norm
// (rename or restore). It replaces any other pending marker, which aborts
// that operation (its commit checks the version or its own txn).
func (s *Store) markPending(ctx context.Context, kind, id string, version int64, txn, norm string, deleted bool) error {
	e := newExpr()
	del := "attribute_not_exists(" + e.n(attrDeleted) + ")"
	if deleted {
		del = "attribute_exists(" + e.n(attrDeleted) + ")"
	}
	_, err := s.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.o.Table),
		Key:                       keyOf(docPK(kind, id), metaSK),
		UpdateExpression:          aws.String("SET " + e.n(attrTxn) + " = " + e.v(sv(txn)) + ", " + e.n(attrPTitle) + " = " + e.v(sv(norm))),
		ConditionExpression:       aws.String(e.n(attrVer) + " = " + e.v(nv(version)) + " AND " + del + " AND attribute_not_exists(" + e.n(attrPurging) + ")"),
		ExpressionAttributeNames:  e.nameMap(),
		ExpressionAttributeValues: e.valueMap(),
	})
	if isCCF(err) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("mark pending: %w", err)
	}
	return nil
}

// dropPending undoes an operation that will not commit (best effort): its
// pending META (create) or marker (rename, restore), and its title claim.
func (s *Store) dropPending(ctx context.Context, kind, id, norm, txn string) {
	e := newExpr()
	// A pending create's META goes; a committed META only loses the marker.
	_, err := s.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.o.Table),
		Key:                       keyOf(docPK(kind, id), metaSK),
		ConditionExpression:       aws.String(e.n(attrTxn) + " = " + e.v(sv(txn)) + " AND " + e.n(attrVer) + " = " + e.v(nv(0))),
		ExpressionAttributeNames:  e.nameMap(),
		ExpressionAttributeValues: e.valueMap(),
	})
	if isCCF(err) {
		_ = s.clearMarker(ctx, kind, id, txn)
	}
	s.releaseClaim(ctx, kind, norm, id, txn)
}

// dropAborted deletes our pending META after a claimant aborted it (best
// effort), unless another create of the id has taken it over since.
func (s *Store) dropAborted(ctx context.Context, kind, id, txn string) {
	e := newExpr()
	_, _ = s.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.o.Table),
		Key:       keyOf(docPK(kind, id), metaSK),
		ConditionExpression: aws.String(e.n(attrVer) + " = " + e.v(nv(0)) +
			" AND (attribute_not_exists(" + e.n(attrTxn) + ") OR " + e.n(attrTxn) + " = " + e.v(sv(txn)) + ")"),
		ExpressionAttributeNames:  e.nameMap(),
		ExpressionAttributeValues: e.valueMap(),
	})
}

// clearMarker removes txn's pending marker from META if it is still there.
// Used both to undo our own operation and to abort someone else's.
func (s *Store) clearMarker(ctx context.Context, kind, id, txn string) error {
	e := newExpr()
	_, err := s.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.o.Table),
		Key:                       keyOf(docPK(kind, id), metaSK),
		UpdateExpression:          aws.String("REMOVE " + e.n(attrTxn) + ", " + e.n(attrPTitle)),
		ConditionExpression:       aws.String(e.n(attrTxn) + " = " + e.v(sv(txn))),
		ExpressionAttributeNames:  e.nameMap(),
		ExpressionAttributeValues: e.valueMap(),
	})
	return err
}

// claim is a decoded title claim item.
type claim struct{ owner, txn string }

// claimTitle makes the kind's claim on title norm name (id, txn). See the
// package doc for why this keeps titles unique without transactions.
func (s *Store) claimTitle(ctx context.Context, kind, norm, id, txn string) error {
	key := keyOf(kindPK(kind), titleSK(norm))
	item := func() map[string]types.AttributeValue {
		it := keyOf(kindPK(kind), titleSK(norm))
		it[attrOwner], it[attrTxn], it[attrAt] = sv(id), sv(txn), tv(s.now())
		return it
	}
	for attempt := 0; attempt < 32; attempt++ { // every lost round means another claimant progressed
		e := newExpr()
		_, err := s.ddb.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                aws.String(s.o.Table),
			Item:                     item(),
			ConditionExpression:      aws.String("attribute_not_exists(" + e.n(attrPK) + ")"),
			ExpressionAttributeNames: e.nameMap(),
		})
		if err == nil {
			return nil
		}
		if !isCCF(err) {
			return fmt.Errorf("claim title: %w", err)
		}
		held, err := s.consistentGet(ctx, key)
		if err != nil {
			return fmt.Errorf("read title claim: %w", err)
		}
		if len(held) == 0 {
			continue // released meanwhile
		}
		c := claim{owner: getS(held, attrOwner), txn: getS(held, attrTxn)}
		if c.owner == id && c.txn == txn {
			return nil
		}
		// The claim was read before its owner's META: see the package doc.
		owner, err := s.getMeta(ctx, kind, c.owner)
		if err != nil {
			return fmt.Errorf("read title owner: %w", err)
		}
		switch {
		case owner != nil && owner.txn == c.txn && owner.ptitle == norm && !owner.purging:
			// The owner is mid-operation for this title: abort it.
			if err := s.clearMarker(ctx, kind, c.owner, c.txn); err != nil {
				if isCCF(err) {
					continue // it committed or moved on: look again
				}
				return fmt.Errorf("abort title claimant: %w", err)
			}
		case owner != nil && owner.live() && normTitle(owner.Title) == norm:
			return ErrExists
		}
		// Stale (or just aborted): take it over unless it changed meanwhile.
		e = newExpr()
		_, err = s.ddb.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                 aws.String(s.o.Table),
			Item:                      item(),
			ConditionExpression:       aws.String(e.n(attrOwner) + " = " + e.v(sv(c.owner)) + " AND " + e.n(attrTxn) + " = " + e.v(sv(c.txn))),
			ExpressionAttributeNames:  e.nameMap(),
			ExpressionAttributeValues: e.valueMap(),
		})
		if err == nil {
			return nil
		}
		if !isCCF(err) {
			return fmt.Errorf("take over title claim: %w", err)
		}
	}
	return fmt.Errorf("claim title: too much contention: %w", ErrConflict)
}

// releaseClaim deletes the title claim if (id, txn) still holds it (best
// effort: a claim left behind is stale and taken over by the next claimant).
func (s *Store) releaseClaim(ctx context.Context, kind, norm, id, txn string) {
	if norm == "" || txn == "" {
		return
	}
	e := newExpr()
	_, _ = s.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.o.Table),
		Key:                       keyOf(kindPK(kind), titleSK(norm)),
		ConditionExpression:       aws.String(e.n(attrOwner) + " = " + e.v(sv(id)) + " AND " + e.n(attrTxn) + " = " + e.v(sv(txn))),
		ExpressionAttributeNames:  e.nameMap(),
		ExpressionAttributeValues: e.valueMap(),
	})
}

// goPut uploads a new body revision in the background; the returned func
// waits for it and must always be called.
func (s *Store) goPut(ctx context.Context, key string, body []byte) func() error {
	ch := make(chan error, 1)
	go func() { ch <- s.putObject(ctx, key, body, true) }()
	return func() error { return <-ch }
}

// afterCommit brings the export object up to date (see syncExport) and
// reports a failure to OnExportError; the commit stands either way.
func (s *Store) afterCommit(ctx context.Context, m *meta, body []byte, prevExport string) {
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	if err := s.syncExport(cctx, m, body, prevExport); err != nil && s.o.OnExportError != nil {
		s.o.OnExportError(m.Kind, m.ID, err)
	}
}

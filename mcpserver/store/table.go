package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// CreateTable creates a table with the store's schema (see the package doc)
// and waits until it is ACTIVE. In production the client's Terraform creates
// the table; this is for tests and the local stack.
func CreateTable(ctx context.Context, ddb *dynamodb.Client, name string) error {
	s := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	key := func(h, r string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(h), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(r), KeyType: types.KeyTypeRange},
		}
	}
	all := &types.Projection{ProjectionType: types.ProjectionTypeAll}
	_, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{s(attrPK), s(attrSK), s(attrG1PK), s(attrG1SK), s(attrG2PK), s(attrG2SK)},
		KeySchema:            key(attrPK, attrSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			{IndexName: aws.String(IndexByKind), KeySchema: key(attrG1PK, attrG1SK), Projection: all},
			{IndexName: aws.String(IndexByKindStatus), KeySchema: key(attrG2PK, attrG2SK), Projection: all},
		},
	})
	if err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	// Poll rather than use the SDK waiter, whose first wait is 20 s.
	delay := 10 * time.Millisecond
	for {
		out, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("describe table %s: %w", name, err)
		}
		if active(out.Table) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("table %s not active: %w", name, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

func active(t *types.TableDescription) bool {
	if t == nil || t.TableStatus != types.TableStatusActive {
		return false
	}
	for _, g := range t.GlobalSecondaryIndexes {
		if g.IndexStatus != types.IndexStatusActive {
			return false
		}
	}
	return true
}

// meta is a decoded META item.
type meta struct {
	Document
	export  string
	ctxn    string
	wtxn    string
	txn     string
	ptitle  string
	purging bool
	size    int64
	hist    []Revision
}

// revision is the history entry of m's current content.
func (m *meta) revision() Revision {
	return Revision{Version: m.Version, Title: m.Title, Status: m.Status, At: m.UpdatedAt, Size: m.size, rev: m.rev}
}

// withRevision appends m's current content to the history it carries from
// prev, keeping the newest MaxHistory entries.
func (m *meta) withRevision(prev []Revision) {
	h := append(append(make([]Revision, 0, len(prev)+1), prev...), m.revision())
	if len(h) > MaxHistory {
		h = h[len(h)-MaxHistory:]
	}
	m.hist = h
}

// storedHistory is the document's revisions, oldest first. A document
// written before histories were kept has only its current revision.
func (m *meta) storedHistory() []Revision {
	if len(m.hist) == 0 {
		return []Revision{m.revision()}
	}
	return m.hist
}

func histValue(h []Revision) types.AttributeValue {
	l := make([]types.AttributeValue, len(h))
	for i, r := range h {
		l[i] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			attrVer: nv(r.Version), attrTitle: sv(r.Title), attrStatus: sv(r.Status),
			attrAt: tv(r.At), attrSize: nv(r.Size), attrBody: sv(r.rev),
		}}
	}
	return &types.AttributeValueMemberL{Value: l}
}

func decodeHist(v types.AttributeValue) ([]Revision, error) {
	l, ok := v.(*types.AttributeValueMemberL)
	if !ok {
		return nil, nil
	}
	h := make([]Revision, 0, len(l.Value))
	for _, e := range l.Value {
		it, ok := e.(*types.AttributeValueMemberM)
		if !ok {
			return nil, fmt.Errorf("decode %s: entry is not a map", attrHist)
		}
		r := Revision{Title: getS(it.Value, attrTitle), Status: getS(it.Value, attrStatus), rev: getS(it.Value, attrBody)}
		var err error
		if r.Version, err = getN(it.Value, attrVer); err != nil {
			return nil, fmt.Errorf("decode %s: %w", attrHist, err)
		}
		if r.Size, err = getN(it.Value, attrSize); err != nil {
			return nil, fmt.Errorf("decode %s: %w", attrHist, err)
		}
		if r.At, _, err = getT(it.Value, attrAt); err != nil {
			return nil, fmt.Errorf("decode %s: %w", attrHist, err)
		}
		h = append(h, r)
	}
	return h, nil
}

// committed reports a document readers may see (live or soft-deleted).
func (m *meta) committed() bool { return m.Version >= 1 && !m.purging }

// live reports a committed document that is not soft-deleted.
func (m *meta) live() bool { return m.committed() && m.DeletedAt == nil }

func sv(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func nv(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func tv(t time.Time) types.AttributeValue { return sv(t.UTC().Format(time.RFC3339Nano)) }

func keyOf(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: sv(pk), attrSK: sv(sk)}
}

func attrsValue(a map[string]string) types.AttributeValue {
	m := make(map[string]types.AttributeValue, len(a))
	for k, v := range a {
		m[k] = sv(v)
	}
	return &types.AttributeValueMemberM{Value: m}
}

// metaItem is the full committed META item of m.
func metaItem(m *meta) map[string]types.AttributeValue {
	it := keyOf(docPK(m.Kind, m.ID), metaSK)
	it[attrKind] = sv(m.Kind)
	it[attrID] = sv(m.ID)
	it[attrSlug] = sv(m.Slug)
	it[attrTitle] = sv(m.Title)
	it[attrStatus] = sv(m.Status)
	it[attrVer] = nv(m.Version)
	it[attrCreated] = tv(m.CreatedAt)
	it[attrUpdated] = tv(m.UpdatedAt)
	it[attrBody] = sv(m.rev)
	it[attrSize] = nv(m.size)
	it[attrExport] = sv(m.export)
	it[attrCTxn] = sv(m.ctxn)
	if m.wtxn != "" {
		it[attrWTxn] = sv(m.wtxn)
	}
	if m.Number != 0 {
		it[attrNum] = nv(int64(m.Number))
	}
	if len(m.Attrs) > 0 {
		it[attrAttrs] = attrsValue(m.Attrs)
	}
	if m.DeletedAt != nil {
		it[attrDeleted] = tv(*m.DeletedAt)
	}
	if len(m.hist) > 0 {
		it[attrHist] = histValue(m.hist)
	}
	it[attrG1PK] = sv(upper(m.Kind))
	it[attrG1SK] = sv(m.ID)
	it[attrG2PK] = sv(statusPK(m.Kind, m.Status))
	it[attrG2SK] = sv(m.ID)
	return it
}

func getS(it map[string]types.AttributeValue, k string) string {
	if v, ok := it[k].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(it map[string]types.AttributeValue, k string) (int64, error) {
	v, ok := it[k].(*types.AttributeValueMemberN)
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(v.Value, 10, 64)
}

func getT(it map[string]types.AttributeValue, k string) (time.Time, bool, error) {
	s := getS(it, k)
	if s == "" {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil, err
}

// decodeMeta reads a META item (from the table or a GSI, which projects ALL).
func decodeMeta(it map[string]types.AttributeValue) (*meta, error) {
	m := &meta{}
	m.Kind, m.ID = getS(it, attrKind), getS(it, attrID)
	m.Slug, m.Title, m.Status = getS(it, attrSlug), getS(it, attrTitle), getS(it, attrStatus)
	m.rev, m.export = getS(it, attrBody), getS(it, attrExport)
	m.ctxn, m.txn, m.ptitle = getS(it, attrCTxn), getS(it, attrTxn), getS(it, attrPTitle)
	m.wtxn = getS(it, attrWTxn)
	if b, ok := it[attrPurging].(*types.AttributeValueMemberBOOL); ok {
		m.purging = b.Value
	}
	var err error
	var n int64
	if n, err = getN(it, attrNum); err != nil {
		return nil, fmt.Errorf("decode %s: %w", attrNum, err)
	}
	m.Number = int(n)
	if m.Version, err = getN(it, attrVer); err != nil {
		return nil, fmt.Errorf("decode %s: %w", attrVer, err)
	}
	if m.size, err = getN(it, attrSize); err != nil {
		return nil, fmt.Errorf("decode %s: %w", attrSize, err)
	}
	if m.CreatedAt, _, err = getT(it, attrCreated); err != nil {
		return nil, fmt.Errorf("decode %s: %w", attrCreated, err)
	}
	if m.UpdatedAt, _, err = getT(it, attrUpdated); err != nil {
		return nil, fmt.Errorf("decode %s: %w", attrUpdated, err)
	}
	if t, ok, err := getT(it, attrDeleted); err != nil {
		return nil, fmt.Errorf("decode %s: %w", attrDeleted, err)
	} else if ok {
		m.DeletedAt = &t
	}
	if m.hist, err = decodeHist(it[attrHist]); err != nil {
		return nil, err
	}
	if a, ok := it[attrAttrs].(*types.AttributeValueMemberM); ok && len(a.Value) > 0 {
		m.Attrs = make(map[string]string, len(a.Value))
		for k, v := range a.Value {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				m.Attrs[k] = s.Value
			}
		}
	}
	return m, nil
}

// expr builds expression attribute names and values, only those used (the
// API rejects unused ones).
type expr struct {
	names  map[string]string
	values map[string]types.AttributeValue
}

func newExpr() *expr {
	return &expr{names: map[string]string{}, values: map[string]types.AttributeValue{}}
}

// n returns the placeholder of an attribute name.
func (e *expr) n(attr string) string {
	k := "#" + attr
	e.names[k] = attr
	return k
}

// v returns the placeholder of a value.
func (e *expr) v(val types.AttributeValue) string {
	k := ":v" + strconv.Itoa(len(e.values))
	e.values[k] = val
	return k
}

func (e *expr) nameMap() map[string]string {
	if len(e.names) == 0 {
		return nil
	}
	return e.names
}

func (e *expr) valueMap() map[string]types.AttributeValue {
	if len(e.values) == 0 {
		return nil
	}
	return e.values
}

func isCCF(err error) bool {
	var c *types.ConditionalCheckFailedException
	return errors.As(err, &c)
}

package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/test/dynamotest"
	"github.com/superviber/blue-operator/test/s3test"
)

// The client's assumed-role credentials and KMS key, as the server would
// hold them.
const (
	clientAKID   = "ASIACLIENTROLE"
	clientSecret = "client-role-secret"
	clientKMSKey = "arn:aws:kms:eu-west-1:111111111111:key/0d1e-client"
)

var (
	ddbSrv *dynamotest.Server
	s3Srv  *s3test.Server
	seq    atomic.Int64
)

// TestMain starts dynalite and gofakes3 once for the package; each test gets
// its own table and bucket.
func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	var err error
	ddbSrv, err = dynamotest.Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if s3Srv, err = s3test.Start(); err != nil {
		_ = ddbSrv.Close()
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = ddbSrv.Close()
	_ = s3Srv.Close()
	os.Exit(code)
}

type env struct {
	st     *store.Store
	ddb    *dynamodb.Client
	s3     *s3.Client
	table  string
	bucket string
	ctx    context.Context
}

func newEnv(tb testing.TB, tweak ...func(*store.Options)) *env {
	tb.Helper()
	n := seq.Add(1)
	e := &env{
		ddb:    ddbSrv.Client(clientAKID, clientSecret),
		s3:     s3Srv.Client(clientAKID, clientSecret),
		table:  fmt.Sprintf("blue-docs-%d", n),
		bucket: fmt.Sprintf("blue-docs-%d", n),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	e.ctx = ctx
	if err := store.CreateTable(ctx, e.ddb, e.table); err != nil {
		tb.Fatal(err)
	}
	if err := s3Srv.CreateBucket(e.bucket); err != nil {
		tb.Fatal(err)
	}
	o := store.Options{Bucket: e.bucket, Table: e.table, KMSKeyID: clientKMSKey}
	for _, f := range tweak {
		f(&o)
	}
	e.st = store.New(e.s3, e.ddb, o)
	return e
}

// objects lists the env's bucket under prefix.
func (e *env) objects(tb testing.TB, prefix string) map[string]string {
	tb.Helper()
	objs, err := s3Srv.Objects(e.bucket, prefix)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{}
	for _, o := range objs {
		out[o.Key] = string(o.Body)
	}
	return out
}

// failDDB makes DynamoDB calls on this env's table that match pred fail with
// a non-retryable AccessDeniedException (as when the client revokes the
// role mid-write), until the returned func is called.
func (e *env) failDDB(tb testing.TB, pred func(op string, body []byte) bool) (heal func()) {
	tb.Helper()
	ddbSrv.SetFault(func(r dynamotest.Request) *dynamotest.Fault {
		var b struct{ TableName string }
		_ = json.Unmarshal(r.Body, &b)
		if b.TableName == e.table && pred(r.Op, r.Body) {
			return &dynamotest.Fault{Status: 400, Type: "com.amazonaws.dynamodb.v20120810#AccessDeniedException", Message: "injected"}
		}
		return nil
	})
	tb.Cleanup(func() { ddbSrv.SetFault(nil) })
	return func() { ddbSrv.SetFault(nil) }
}

// isCommit matches the index write that commits a change: the only writes
// that carry the list index keys.
func isCommit(op string, body []byte) bool {
	return op == "PutItem" && strings.Contains(string(body), `"GSI1PK"`)
}

func rfc(id, title, status, body string) *store.Document {
	return &store.Document{Kind: "rfc", ID: id, Slug: slug(title), Title: title, Status: status, Body: []byte(body)}
}

func slug(title string) string {
	return strings.Trim(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, title), "-")
}

package store_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/test/dynamotest"
	"github.com/superviber/blue-operator/test/s3test"
)

// TestConcurrentPurgesSpareTheNextDocument runs two purges of one document
// side by side (a caller's retry, or two engineers): the second reads META
// while the first is purging, the first finishes, and the id is created
// again. The second purge must then leave the new document alone, its body
// revision and the items of its partition included. (Found by
// TestAmbiguousWritesUnderConcurrency, where this lost a body revision.)
func TestConcurrentPurgesSpareTheNextDocument(t *testing.T) {
	e := newEnv(t, func(o *store.Options) { o.BodyCacheBytes = -1 })
	if err := e.st.Create(e.ctx, rfc("0001", "First", "draft", "first")); err != nil {
		t.Fatal(err)
	}
	const k1, k2 = "ASIAPURGERONE", "ASIAPURGERTWO"
	opts := store.Options{Bucket: e.bucket, Table: e.table, KMSKeyID: clientKMSKey, BodyCacheBytes: -1}
	first := store.New(s3Srv.Client(k1, clientSecret), ddbSrv.Client(k1, clientSecret), opts)
	second := store.New(s3Srv.Client(k2, clientSecret), ddbSrv.Client(k2, clientSecret), opts)

	// The first purge is held once it has marked META (at its listing of the
	// revisions); the second at its listing of the partition, which comes
	// after it has read the purging META.
	firstHeld, releaseFirst := make(chan struct{}), make(chan struct{})
	secondHeld, releaseSecond := make(chan struct{}), make(chan struct{})
	var once1, once2 sync.Once
	s3Srv.SetFault(func(c s3test.Call) *s3test.Fault {
		if c.Bucket == e.bucket && c.Op == "s3:ListObjectsV2" && c.AccessKeyID == k1 {
			once1.Do(func() { close(firstHeld); <-releaseFirst })
		}
		return nil
	})
	t.Cleanup(func() { s3Srv.SetFault(nil) })
	var queries atomic.Int32
	ddbSrv.SetFault(func(r dynamotest.Request) *dynamotest.Fault {
		b := string(r.Body)
		if r.Op == "Query" && strings.Contains(b, e.table) && strings.Contains(b, `"RFC#0001"`) && !strings.Contains(b, "IndexName") {
			if queries.Add(1) == 2 { // the first purge's listing was the first
				once2.Do(func() { close(secondHeld); <-releaseSecond })
			}
		}
		return nil
	})
	t.Cleanup(func() { ddbSrv.SetFault(nil) })

	done1, done2 := make(chan error, 1), make(chan error, 1)
	go func() { done1 <- first.Purge(e.ctx, "rfc", "0001") }()
	<-firstHeld
	go func() { done2 <- second.Purge(e.ctx, "rfc", "0001") }()
	<-secondHeld
	close(releaseFirst)
	if err := <-done1; err != nil {
		t.Fatalf("first purge: %v", err)
	}

	// The id is free again: a new document, with an item in its partition.
	if err := e.st.Create(e.ctx, rfc("0001", "Second", "draft", "second")); err != nil {
		t.Fatalf("create after the purge: %v", err)
	}
	if _, err := e.ddb.PutItem(e.ctx, &dynamodb.PutItemInput{TableName: aws.String(e.table), Item: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "RFC#0001"}, "SK": &types.AttributeValueMemberS{Value: "TASK#0"},
	}}); err != nil {
		t.Fatal(err)
	}

	close(releaseSecond)
	if err := <-done2; err != nil {
		t.Fatalf("second purge: %v", err)
	}
	got, err := e.st.Get(e.ctx, "rfc", "0001")
	if err != nil || string(got.Body) != "second" || got.Title != "Second" {
		t.Fatalf("the new document after the late purge: %+v %v", got, err)
	}
	out, err := e.ddb.GetItem(e.ctx, &dynamodb.GetItemInput{TableName: aws.String(e.table), ConsistentRead: aws.Bool(true), Key: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "RFC#0001"}, "SK": &types.AttributeValueMemberS{Value: "TASK#0"},
	}})
	if err != nil || len(out.Item) == 0 {
		t.Fatalf("the new document's task was deleted by the late purge: %v", err)
	}
	if x := e.objects(t, ".revisions/rfcs/0001/"); len(x) != 1 {
		t.Fatalf("revisions: %v", keys(x))
	}
}

package store_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/test/dynamotest"
)

// getItems counts the GetItem calls on this env's table so far.
func (e *env) getItems() int { return ddbSrv.Count(e.table, "GetItem") }

// TestOverlappingReadsShareOneGetItem: a burst of reads of one document
// costs the client's table a few reads, not one per call, and each still
// gets the whole document.
func TestOverlappingReadsShareOneGetItem(t *testing.T) {
	e := newEnv(t)
	d := rfc("0001", "Shared reads", "draft", "# Shared\n")
	if err := e.st.Create(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	before := e.getItems()
	const readers = 64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range readers {
		wg.Go(func() {
			<-start
			got, err := e.st.Get(e.ctx, "rfc", "0001")
			if err != nil {
				t.Error(err)
				return
			}
			if got.Version != 1 || string(got.Body) != "# Shared\n" {
				t.Errorf("got %+v", got)
			}
		})
	}
	close(start)
	wg.Wait()
	reads := e.getItems() - before
	if reads > readers/4 {
		t.Errorf("%d overlapping Gets made %d GetItem calls, want them shared", readers, reads)
	}
	t.Logf("%d overlapping Gets, %d GetItem calls", readers, reads)
}

// slowAnswers holds every GetItem answer back for a while after the table
// gave it, as a cross-account hop does: an answer read before a write can
// then arrive after the write returned.
type slowAnswers struct{ next dynamodb.HTTPClient }

func (s slowAnswers) Do(r *http.Request) (*http.Response, error) {
	resp, err := s.next.Do(r)
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".GetItem") {
		time.Sleep(3 * time.Millisecond) // injected latency, not a wait
	}
	return resp, err
}

// TestSharedReadsNeverHideACompletedWrite attacks the sharing: readers keep
// a read of the document in flight at every moment, each answer arriving
// late, while another store (another replica, the same caller) updates it.
// Every read that begins after an update returned must see that update,
// however the reads overlap: joining a read already in flight would hand
// out an answer from before the write.
func TestSharedReadsNeverHideACompletedWrite(t *testing.T) {
	writer := newEnv(t)
	slow := dynamodb.New(writer.ddb.Options(), func(o *dynamodb.Options) { o.HTTPClient = slowAnswers{o.HTTPClient} })
	reader := store.New(writer.s3, slow, store.Options{Bucket: writer.bucket, Table: writer.table, KMSKeyID: clientKMSKey})
	d := rfc("0001", "Fresh reads", "draft", "v1")
	if err := writer.st.Create(writer.ctx, d); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(writer.ctx)
	var background sync.WaitGroup
	for range 8 {
		background.Go(func() {
			for ctx.Err() == nil {
				_, _ = reader.Get(ctx, "rfc", "0001")
			}
		})
	}
	var stale atomic.Int64
	for v := int64(2); v <= 12; v++ {
		d.Body = fmt.Appendf(nil, "v%d", v)
		if err := writer.st.Update(writer.ctx, d); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				got, err := reader.Get(writer.ctx, "rfc", "0001")
				if err != nil {
					t.Error(err)
					return
				}
				if got.Version < d.Version || string(got.Body) != string(d.Body) && got.Version == d.Version {
					stale.Add(1)
					t.Errorf("read after update to v%d saw v%d (%q)", d.Version, got.Version, got.Body)
				}
			})
		}
		wg.Wait()
	}
	cancel()
	background.Wait()
	if stale.Load() > 0 {
		t.Fatalf("%d reads missed an update that had completed before they began", stale.Load())
	}
}

// A client role whose policy predates BatchGetItem refuses it: the lookup
// still answers, with two GetItems, and the store stops asking.
func TestLookupUnderAPolicyWithoutBatchGetItem(t *testing.T) {
	e := newEnv(t)
	if err := e.st.Create(e.ctx, rfc("0001", "First", "draft", "one")); err != nil {
		t.Fatal(err)
	}
	// (failDDB matches by TableName, which a batch call does not carry.)
	ddbSrv.SetFault(func(r dynamotest.Request) *dynamotest.Fault {
		if r.Op == "BatchGetItem" && strings.Contains(string(r.Body), `"`+e.table+`"`) {
			return &dynamotest.Fault{Status: 400, Type: "com.amazonaws.dynamodb.v20120810#AccessDeniedException", Message: "not authorized to perform: dynamodb:BatchGetItem"}
		}
		return nil
	})
	t.Cleanup(func() { ddbSrv.SetFault(nil) })
	count := func(op string) int { return ddbSrv.Count(e.table, op) }
	for i := range 2 {
		batches, gets := count("BatchGetItem"), count("GetItem")
		d, byTitle, err := e.st.GetByTitleOrID(e.ctx, "rfc", "1", "0001")
		if err != nil || d.ID != "0001" || byTitle || string(d.Body) != "one" {
			t.Fatalf("lookup %d: %+v %v %v", i, d, byTitle, err)
		}
		wantBatches := 0
		if i == 0 {
			wantBatches = 1 // refused once, then never asked again
		}
		if n := count("BatchGetItem") - batches; n != wantBatches {
			t.Errorf("lookup %d: %d BatchGetItem requests, want %d", i, n, wantBatches)
		}
		if n := count("GetItem") - gets; n != 2 {
			t.Errorf("lookup %d: %d GetItem requests, want 2 (the claim and the META)", i, n)
		}
	}
}

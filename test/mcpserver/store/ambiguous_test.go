package store_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/test/dynamotest"
	"github.com/superviber/blue-operator/test/faultproxy"
)

// faultEnv is an env whose store reaches DynamoDB and S3 through
// fault-injecting proxies. The store is made as the client-run commands make
// theirs (store.NewFromConfig from an aws.Config without a Retryer, as the
// server's backend also leaves it), so every fault meets the SDK's own
// standard retryer first: 4 attempts for DynamoDB, 3 for S3, jittered
// exponential backoff with a 1 s base for throttling.
//
// env.st is a store over the direct clients without a body cache: the checks
// read what the table and the bucket hold, not what a cache remembers.
type faultEnv struct {
	*env
	faulty   *store.Store
	ddbProxy *faultproxy.Proxy
	s3Proxy  *faultproxy.Proxy
}

func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	e := newEnv(t, func(o *store.Options) { o.BodyCacheBytes = -1 })
	fe := &faultEnv{env: e, ddbProxy: faultproxy.New(t, ddbSrv.Endpoint()), s3Proxy: faultproxy.New(t, s3Srv.Endpoint())}
	cfg := aws.Config{Region: dynamotest.Region, Credentials: credentials.NewStaticCredentialsProvider(clientAKID, clientSecret, "")}
	fe.faulty = store.NewFromConfig(cfg, store.Endpoints{S3: fe.s3Proxy.URL(), DynamoDB: fe.ddbProxy.URL()},
		store.Options{Bucket: e.bucket, Table: e.table, KMSKeyID: clientKMSKey})
	return fe
}

// Requests the tests fail.
var (
	// The commit of Create, Update, Delete and Restore: the one PutItem that
	// writes the index keys (see isCommit).
	commitReq = faultproxy.DynamoDBOp("PutItem").And(faultproxy.BodyContains(`"GSI1PK"`))
	// Purge's first write (marking META as purging) and its last (deleting META).
	purgeMarkReq   = faultproxy.DynamoDBOp("UpdateItem").And(faultproxy.BodyContains(`"#purging"`))
	purgeDeleteReq = faultproxy.DynamoDBOp("DeleteItem").And(faultproxy.BodyContains(`"#purging"`))
	// A title claim.
	claimReq = faultproxy.DynamoDBOp("PutItem").And(faultproxy.BodyContains(`"TITLE#`))
)

func (fe *faultEnv) revisionPut() faultproxy.Match {
	return faultproxy.S3("PUT", "/"+fe.bucket+"/.revisions/")
}

// answerLost are the ways a write is applied and its answer lost: once (the
// SDK's retry then meets the applied write, and its condition fails), or on
// every attempt (the SDK gives up with the 500 or the reset).
var answerLost = []struct {
	name  string
	fault faultproxy.Fault
	times int // 0: every attempt
}{
	{"500-once", faultproxy.ApplyThen500, 1},
	{"reset-once", faultproxy.ApplyThenReset, 1},
	{"500-every-attempt", faultproxy.ApplyThen500, 0},
	{"reset-every-attempt", faultproxy.ApplyThenReset, 0},
}

const ddbAttempts = 4 // the SDK's default for DynamoDB
const s3Attempts = 3  // and for S3

// injectLost fails the answers of the requests m matches as lost says, and
// returns a func that checks the fault happened and the SDK retried: one
// lost answer then a retry, or every one of the SDK's attempts lost.
func injectLost(t *testing.T, p *faultproxy.Proxy, m faultproxy.Match, f faultproxy.Fault, times int) (check func()) {
	t.Helper()
	in := p.Inject(m, f, times)
	return func() {
		t.Helper()
		in.Remove()
		want := 1
		if times == 0 {
			want = ddbAttempts
		}
		if in.Hits() != want {
			t.Fatalf("fault hit %d requests, want %d", in.Hits(), want)
		}
		// The SDK retried the call whose answer was lost.
		evs := p.Events()
		for i, ev := range evs {
			if !ev.Injected() {
				continue
			}
			if ev.Upstream == 0 {
				t.Fatalf("%s was not applied before its answer was lost: %+v", ev.Op, ev)
			}
			if i+1 < len(evs) && strings.HasPrefix(evs[i+1].Attempt, "attempt=2;") && evs[i+1].Op == ev.Op {
				return
			}
		}
		t.Fatalf("no SDK retry after the lost answer: %+v", evs)
	}
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

func normTitle(t string) string { return strings.ToLower(strings.Join(strings.Fields(t), " ")) }

// items returns every item of the env's table.
func (fe *faultEnv) items(t *testing.T) []map[string]types.AttributeValue {
	t.Helper()
	var all []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(fe.ddb, &dynamodb.ScanInput{TableName: aws.String(fe.table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(fe.ctx)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Items...)
	}
	return all
}

func attrS(it map[string]types.AttributeValue, k string) string {
	if v, ok := it[k].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func attrN(it map[string]types.AttributeValue, k string) string {
	if v, ok := it[k].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return ""
}

// checkConsistent asserts what no fault may break, reading the table and
// the bucket directly:
//   - every committed document (live or soft-deleted) reads: Get and Body
//     work, META's revision and every revision of its history are in the
//     bucket, and the body is one that was written for that id;
//   - no two live documents share a title, and every live document's title
//     is held by its claim (so no later create or rename can take it).
//
// It returns the live documents by id.
func (fe *faultEnv) checkConsistent(t *testing.T, written map[string][]string) map[string]*store.Document {
	t.Helper()
	objs := fe.objects(t, ".revisions/")
	items := fe.items(t)
	claims := map[string]map[string]types.AttributeValue{}
	for _, it := range items {
		if sk := attrS(it, "SK"); strings.HasPrefix(sk, "TITLE#") {
			claims[strings.TrimPrefix(sk, "TITLE#")] = it
		}
	}
	live := map[string]*store.Document{}
	committed := map[string]bool{}
	titleOwner := map[string]string{}
	for _, it := range items {
		if attrS(it, "SK") != "META#" || attrN(it, "ver") == "0" || it["purging"] != nil {
			continue // pending or being purged: invisible
		}
		id := attrS(it, "id")
		committed[id] = true
		if rev := attrS(it, "body"); !hasKey(objs, rev) {
			t.Errorf("%s: META points at revision %q, which is not in the bucket", id, rev)
		}
		if h, ok := it["hist"].(*types.AttributeValueMemberL); ok {
			for _, e := range h.Value {
				if rev := attrS(e.(*types.AttributeValueMemberM).Value, "body"); rev != "" {
					if !hasKey(objs, rev) {
						t.Errorf("%s: history names revision %q, which is not in the bucket", id, rev)
					}
				}
			}
		}
		d, err := fe.env.st.Get(fe.ctx, "rfc", id)
		if err != nil {
			t.Errorf("%s: get: %v", id, err)
			continue
		}
		if !slices.Contains(written[id], string(d.Body)) {
			t.Errorf("%s: body %q was never written (written: %q)", id, d.Body, written[id])
		}
		if string(d.Body) != objs[attrS(it, "body")] {
			t.Errorf("%s: get returned %q, the revision holds %q", id, d.Body, objs[attrS(it, "body")])
		}
		revs, err := fe.env.st.Revisions(fe.ctx, "rfc", id)
		if err != nil {
			t.Errorf("%s: revisions: %v", id, err)
		}
		for _, r := range revs {
			if _, err := fe.env.st.BodyAt(fe.ctx, "rfc", id, r.Version); err != nil {
				t.Errorf("%s: body at v%d: %v", id, r.Version, err)
			}
		}
		if d.DeletedAt != nil {
			continue
		}
		live[id] = d
		norm := normTitle(d.Title)
		if other, dup := titleOwner[norm]; dup {
			t.Errorf("two live documents have the title %q: %s and %s", norm, other, id)
		}
		titleOwner[norm] = id
		c := claims[norm]
		if attrS(c, "owner") != id || attrS(c, "txn") != attrS(it, "ctxn") {
			t.Errorf("%s: its live title %q is not held by its claim (claim: owner %q txn %q; META ctxn %q)",
				id, norm, attrS(c, "owner"), attrS(c, "txn"), attrS(it, "ctxn"))
		}
	}
	// The listing agrees, and every listed document's body loads.
	docs, _, err := fe.env.st.List(fe.ctx, "rfc", store.ListOptions{IncludeDeleted: true, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for i := range docs {
		listed[docs[i].ID] = true
		if _, err := fe.env.st.Body(fe.ctx, &docs[i]); err != nil {
			t.Errorf("%s: body of the listed document: %v", docs[i].ID, err)
		}
	}
	for id := range committed {
		if !listed[id] {
			t.Errorf("%s: committed but not listed", id)
		}
	}
	for id := range listed {
		if !committed[id] {
			t.Errorf("%s: listed but not committed", id)
		}
	}
	return live
}

// titleTaken asserts that a create of another document with title fails
// with ErrExists (the live title is held).
func (fe *faultEnv) titleTaken(t *testing.T, id, title string) {
	t.Helper()
	if err := fe.env.st.Create(fe.ctx, rfc(id, title, "draft", "intruder")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("create %s with the live title %q: got %v, want ErrExists", id, title, err)
	}
}

func TestAmbiguousCreate(t *testing.T) {
	for _, lost := range answerLost {
		t.Run(lost.name, func(t *testing.T) {
			fe := newFaultEnv(t)
			check := injectLost(t, fe.ddbProxy, commitReq, lost.fault, lost.times)
			d := rfc("0001", "Alpha", "draft", "alpha v1")
			err := fe.faulty.Create(fe.ctx, d)
			check()
			// The commit landed, and the store knows its own commit.
			if err != nil || d.Version != 1 {
				t.Errorf("create whose commit landed: %v (version %d)", err, d.Version)
			}
			live := fe.checkConsistent(t, map[string][]string{"0001": {"alpha v1"}})
			if live["0001"] == nil || live["0001"].Title != "Alpha" {
				t.Fatalf("live after create: %+v", live)
			}
			fe.titleTaken(t, "0002", "alpha")
			// A retry by the caller finds it done.
			if err := fe.faulty.Create(fe.ctx, rfc("0001", "Alpha", "draft", "alpha v1")); !errors.Is(err, store.ErrExists) {
				t.Fatalf("retried create: %v", err)
			}
			if x := fe.objects(t, "rfcs/"); x["rfcs/0001-alpha.md"] != "alpha v1" {
				t.Fatalf("export: %v", x)
			}
			fe.checkConsistent(t, map[string][]string{"0001": {"alpha v1"}})
		})
	}
}

func TestAmbiguousUpdate(t *testing.T) {
	for _, lost := range answerLost {
		t.Run(lost.name+"/rename-and-body", func(t *testing.T) {
			fe := newFaultEnv(t)
			if err := fe.faulty.Create(fe.ctx, rfc("0001", "Alpha", "draft", "a1")); err != nil {
				t.Fatal(err)
			}
			d, err := fe.faulty.Get(fe.ctx, "rfc", "0001")
			if err != nil {
				t.Fatal(err)
			}
			d.Title, d.Slug, d.Body = "Beta", "beta", []byte("b2")
			check := injectLost(t, fe.ddbProxy, commitReq, lost.fault, lost.times)
			err = fe.faulty.Update(fe.ctx, d)
			check()
			if err != nil || d.Version != 2 {
				t.Errorf("update whose commit landed: %v (version %d)", err, d.Version)
			}
			written := map[string][]string{"0001": {"a1", "b2"}}
			live := fe.checkConsistent(t, written)
			if got := live["0001"]; got == nil || got.Title != "Beta" || string(got.Body) != "b2" || got.Version != 2 {
				t.Fatalf("after update: %+v", got)
			}
			// The new title is held; the old one was released.
			fe.titleTaken(t, "0002", "BETA")
			if err := fe.env.st.Create(fe.ctx, rfc("0003", "Alpha", "draft", "a3")); err != nil {
				t.Fatalf("old title still held: %v", err)
			}
			written["0003"] = []string{"a3"}
			if b, err := fe.env.st.BodyAt(fe.ctx, "rfc", "0001", 1); err != nil || string(b) != "a1" {
				t.Fatalf("history: %q %v", b, err)
			}
			fe.checkConsistent(t, written)
		})
		t.Run(lost.name+"/status-only", func(t *testing.T) {
			fe := newFaultEnv(t)
			if err := fe.faulty.Create(fe.ctx, rfc("0001", "Alpha", "draft", "a1")); err != nil {
				t.Fatal(err)
			}
			d, err := fe.faulty.Get(fe.ctx, "rfc", "0001")
			if err != nil {
				t.Fatal(err)
			}
			d.Status, d.Body = "accepted", nil
			check := injectLost(t, fe.ddbProxy, commitReq, lost.fault, lost.times)
			err = fe.faulty.Update(fe.ctx, d)
			check()
			if err != nil || d.Version != 2 {
				t.Errorf("update whose commit landed: %v (version %d)", err, d.Version)
			}
			live := fe.checkConsistent(t, map[string][]string{"0001": {"a1"}})
			if got := live["0001"]; got == nil || got.Status != "accepted" || string(got.Body) != "a1" {
				t.Fatalf("after update: %+v", got)
			}
			fe.titleTaken(t, "0002", "Alpha")
		})
	}
}

func TestAmbiguousDelete(t *testing.T) {
	for _, lost := range answerLost {
		t.Run(lost.name, func(t *testing.T) {
			fe := newFaultEnv(t)
			if err := fe.faulty.Create(fe.ctx, rfc("0001", "Alpha", "draft", "a1")); err != nil {
				t.Fatal(err)
			}
			check := injectLost(t, fe.ddbProxy, commitReq, lost.fault, lost.times)
			err := fe.faulty.Delete(fe.ctx, "rfc", "0001", 1)
			check()
			if err != nil {
				t.Errorf("delete whose commit landed: %v", err)
			}
			written := map[string][]string{"0001": {"a1"}}
			if live := fe.checkConsistent(t, written); len(live) != 0 {
				t.Fatalf("live after delete: %v", live)
			}
			got, err := fe.env.st.Get(fe.ctx, "rfc", "0001")
			if err != nil || got.DeletedAt == nil || got.Version != 2 || string(got.Body) != "a1" {
				t.Fatalf("after delete: %+v %v", got, err)
			}
			// The title is free; the deleted document cannot take it back.
			if err := fe.env.st.Create(fe.ctx, rfc("0002", "alpha", "draft", "a2")); err != nil {
				t.Fatalf("title of the deleted document still held: %v", err)
			}
			written["0002"] = []string{"a2"}
			if err := fe.faulty.Restore(fe.ctx, "rfc", "0001", 2); !errors.Is(err, store.ErrExists) {
				t.Fatalf("restore onto a taken title: %v", err)
			}
			fe.checkConsistent(t, written)
		})
	}
}

func TestAmbiguousRestore(t *testing.T) {
	for _, lost := range answerLost {
		t.Run(lost.name, func(t *testing.T) {
			fe := newFaultEnv(t)
			if err := fe.faulty.Create(fe.ctx, rfc("0001", "Alpha", "draft", "a1")); err != nil {
				t.Fatal(err)
			}
			if err := fe.faulty.Delete(fe.ctx, "rfc", "0001", 1); err != nil {
				t.Fatal(err)
			}
			check := injectLost(t, fe.ddbProxy, commitReq, lost.fault, lost.times)
			err := fe.faulty.Restore(fe.ctx, "rfc", "0001", 2)
			check()
			if err != nil {
				t.Errorf("restore whose commit landed: %v", err)
			}
			live := fe.checkConsistent(t, map[string][]string{"0001": {"a1"}})
			if got := live["0001"]; got == nil || got.Version != 3 || string(got.Body) != "a1" {
				t.Fatalf("after restore: %+v", got)
			}
			// The restored title is held: nobody else gets it.
			fe.titleTaken(t, "0002", "Alpha")
			if x := fe.objects(t, "rfcs/"); x["rfcs/0001-alpha.md"] != "a1" {
				t.Fatalf("export: %v", x)
			}
			fe.checkConsistent(t, map[string][]string{"0001": {"a1"}})
		})
	}
}

func TestAmbiguousPurge(t *testing.T) {
	for _, lost := range answerLost {
		t.Run(lost.name, func(t *testing.T) {
			fe := newFaultEnv(t)
			d := rfc("0001", "Alpha", "draft", "a1")
			if err := fe.faulty.Create(fe.ctx, d); err != nil {
				t.Fatal(err)
			}
			d.Body = []byte("a2")
			if err := fe.faulty.Update(fe.ctx, d); err != nil {
				t.Fatal(err)
			}
			times := lost.times
			fe.ddbProxy.Inject(purgeMarkReq, lost.fault, times)
			fe.ddbProxy.Inject(purgeDeleteReq, lost.fault, times)
			fe.s3Proxy.Inject(faultproxy.S3("DELETE", "/"+fe.bucket+"/.revisions/"), lost.fault, times)
			err := fe.faulty.Purge(fe.ctx, "rfc", "0001")
			fe.ddbProxy.Clear()
			fe.s3Proxy.Clear()
			if times == 1 && err != nil {
				t.Fatalf("purge with lost answers: %v", err)
			}
			// Gone from readers whatever the answer: the mark was applied.
			if _, gerr := fe.env.st.Get(fe.ctx, "rfc", "0001"); !errors.Is(gerr, store.ErrNotFound) {
				t.Fatalf("get after purge (%v): %v", err, gerr)
			}
			// Its title does not wait for the purge to finish.
			if err := fe.env.st.Create(fe.ctx, rfc("0002", "Alpha", "draft", "b1")); err != nil {
				t.Fatalf("title of a purged document: %v", err)
			}
			if err != nil {
				// The caller's retry finishes the job.
				if err := fe.faulty.Purge(fe.ctx, "rfc", "0001"); err != nil {
					t.Fatalf("purge again: %v", err)
				}
			}
			if err := fe.faulty.Purge(fe.ctx, "rfc", "0001"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("purge of a purged document: %v", err)
			}
			for _, it := range fe.items(t) {
				if attrS(it, "PK") == "RFC#0001" || attrS(it, "owner") == "0001" {
					t.Errorf("left in the table: %v", it)
				}
			}
			if x := fe.objects(t, ".revisions/rfcs/0001/"); len(x) != 0 {
				t.Errorf("revisions left: %v", keys(x))
			}
			if x := fe.objects(t, "rfcs/0001"); len(x) != 0 {
				t.Errorf("export left: %v", keys(x))
			}
			fe.checkConsistent(t, map[string][]string{"0002": {"b1"}})
			if err := fe.faulty.Create(fe.ctx, rfc("0001", "Alpha again", "draft", "c1")); err != nil {
				t.Fatalf("the purged id is not free: %v", err)
			}
		})
	}
}

// TestCommitAppliedThenDynamoDBUnreachable applies a commit and then makes
// DynamoDB unreachable for the rest of the call, so the store cannot even
// read back what happened: it must return an error, clean nothing up, and a
// retry by the caller must find the truth.
func TestCommitAppliedThenDynamoDBUnreachable(t *testing.T) {
	// gone fails the commit's answer and then every DynamoDB call until healed.
	gone := func(fe *faultEnv) (heal func()) {
		var applied atomic.Bool
		fe.ddbProxy.Inject(func(r *faultproxy.Request) bool {
			if commitReq(r) {
				applied.Store(true)
				return true
			}
			return false
		}, faultproxy.ApplyThenReset, 1)
		fe.ddbProxy.Inject(func(r *faultproxy.Request) bool { return applied.Load() }, faultproxy.ConnReset, 0)
		return fe.ddbProxy.Clear
	}
	t.Run("create", func(t *testing.T) {
		fe := newFaultEnv(t)
		heal := gone(fe)
		err := fe.faulty.Create(fe.ctx, rfc("0001", "Alpha", "draft", "a1"))
		heal()
		if err == nil || errors.Is(err, store.ErrExists) {
			t.Fatalf("create with an unknown outcome: %v", err)
		}
		fe.checkConsistent(t, map[string][]string{"0001": {"a1"}})
		fe.titleTaken(t, "0002", "Alpha")
		if err := fe.faulty.Create(fe.ctx, rfc("0001", "Alpha", "draft", "a1")); !errors.Is(err, store.ErrExists) {
			t.Fatalf("retried create: %v", err)
		}
		got, err := fe.faulty.Get(fe.ctx, "rfc", "0001")
		if err != nil || string(got.Body) != "a1" || got.Version != 1 {
			t.Fatalf("the caller's create: %+v %v", got, err)
		}
		// The export the call did not get to write is repaired.
		if err := fe.faulty.SyncExport(fe.ctx, "rfc", "0001"); err != nil {
			t.Fatal(err)
		}
		if x := fe.objects(t, "rfcs/"); x["rfcs/0001-alpha.md"] != "a1" {
			t.Fatalf("export: %v", x)
		}
	})
	t.Run("rename", func(t *testing.T) {
		fe := newFaultEnv(t)
		if err := fe.faulty.Create(fe.ctx, rfc("0001", "Alpha", "draft", "a1")); err != nil {
			t.Fatal(err)
		}
		d, err := fe.faulty.Get(fe.ctx, "rfc", "0001")
		if err != nil {
			t.Fatal(err)
		}
		d.Title, d.Body = "Beta", []byte("b2")
		heal := gone(fe)
		err = fe.faulty.Update(fe.ctx, d)
		heal()
		if err == nil || errors.Is(err, store.ErrConflict) {
			t.Fatalf("update with an unknown outcome: %v", err)
		}
		written := map[string][]string{"0001": {"a1", "b2"}}
		live := fe.checkConsistent(t, written)
		if live["0001"] == nil || live["0001"].Title != "Beta" {
			t.Fatalf("after update: %+v", live["0001"])
		}
		fe.titleTaken(t, "0002", "Beta")
		// The retry reads the truth, and the old title is not held.
		if err := fe.faulty.Update(fe.ctx, d); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("retried update: %v", err)
		}
		if err := fe.faulty.Create(fe.ctx, rfc("0003", "Alpha", "draft", "a3")); err != nil {
			t.Fatalf("old title: %v", err)
		}
		written["0003"] = []string{"a3"}
		fe.checkConsistent(t, written)
	})
	t.Run("restore", func(t *testing.T) {
		fe := newFaultEnv(t)
		if err := fe.faulty.Create(fe.ctx, rfc("0001", "Alpha", "draft", "a1")); err != nil {
			t.Fatal(err)
		}
		if err := fe.faulty.Delete(fe.ctx, "rfc", "0001", 1); err != nil {
			t.Fatal(err)
		}
		heal := gone(fe)
		err := fe.faulty.Restore(fe.ctx, "rfc", "0001", 2)
		heal()
		if err == nil {
			t.Fatal("restore with an unknown outcome succeeded")
		}
		if live := fe.checkConsistent(t, map[string][]string{"0001": {"a1"}}); live["0001"] == nil {
			t.Fatal("restored document not live")
		}
		fe.titleTaken(t, "0002", "alpha")
		if err := fe.faulty.Restore(fe.ctx, "rfc", "0001", 2); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("retried restore: %v", err)
		}
	})
}

// gaps are the times between successive events.
func gaps(evs []faultproxy.Event) (total time.Duration) {
	for i := 1; i < len(evs); i++ {
		total += evs[i].At.Sub(evs[i-1].At)
	}
	return total
}

// checkRetried asserts that the fault was met attempts times, by one SDK
// call's successive attempts, with backoff between them.
func checkRetried(t *testing.T, p *faultproxy.Proxy, attempts int, minBackoff time.Duration) {
	t.Helper()
	var hit []faultproxy.Event
	for _, ev := range p.Events() {
		if ev.Injected() {
			hit = append(hit, ev)
		}
	}
	if len(hit) != attempts {
		t.Fatalf("fault met %d times, want %d: %+v", len(hit), attempts, hit)
	}
	for i, ev := range hit {
		if want := fmt.Sprintf("attempt=%d;", i+1); !strings.HasPrefix(ev.Attempt, want) {
			t.Fatalf("request %d was %q, want the SDK's %s", i, ev.Attempt, want)
		}
	}
	if g := gaps(hit); g < minBackoff {
		t.Fatalf("attempts %v apart in all, want backoff of at least %v", g, minBackoff)
	}
}

// checkNothingLeft asserts that a failed create of id left nothing behind:
// nothing visible, no META (pending or not), no title claim, no revision.
func (fe *faultEnv) checkNothingLeft(t *testing.T, id string) {
	t.Helper()
	if _, err := fe.env.st.Get(fe.ctx, "rfc", id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get after a failed create: %v", err)
	}
	if docs, _, err := fe.env.st.List(fe.ctx, "rfc", store.ListOptions{IncludeDeleted: true}); err != nil || len(docs) != 0 {
		t.Fatalf("listed after a failed create: %+v %v", docs, err)
	}
	for _, it := range fe.items(t) {
		t.Errorf("left in the table: PK %s SK %s", attrS(it, "PK"), attrS(it, "SK"))
	}
	if x := fe.objects(t, ""); len(x) != 0 {
		t.Errorf("left in the bucket: %v", keys(x))
	}
}

func TestS3ErrorsAreRetriedThenFailCleanly(t *testing.T) {
	t.Run("create", func(t *testing.T) {
		t.Parallel()
		fe := newFaultEnv(t)
		fe.s3Proxy.Inject(fe.revisionPut(), faultproxy.Internal, 0)
		err := fe.faulty.Create(fe.ctx, rfc("0001", "Alpha", "draft", "a1"))
		fe.s3Proxy.Clear()
		var ae smithy.APIError
		var re *awshttp.ResponseError
		var mae *retry.MaxAttemptsError
		if !errors.As(err, &ae) || ae.ErrorCode() != "InternalError" || !errors.As(err, &re) || re.HTTPStatusCode() != 500 ||
			!errors.As(err, &mae) || mae.Attempt != s3Attempts || !strings.Contains(err.Error(), "create rfc/0001") {
			t.Fatalf("create with S3 failing: %v", err)
		}
		checkRetried(t, fe.s3Proxy, s3Attempts, 100*time.Microsecond)
		fe.checkNothingLeft(t, "0001")
		// Neither the title nor the id is held.
		if err := fe.faulty.Create(fe.ctx, rfc("0002", "alpha", "draft", "b1")); err != nil {
			t.Fatalf("title held by a failed create: %v", err)
		}
		if err := fe.faulty.Create(fe.ctx, rfc("0001", "Other", "draft", "a1")); err != nil {
			t.Fatalf("id held by a failed create: %v", err)
		}
		fe.checkConsistent(t, map[string][]string{"0001": {"a1"}, "0002": {"b1"}})
	})
	t.Run("rename", func(t *testing.T) {
		t.Parallel()
		fe := newFaultEnv(t)
		if err := fe.faulty.Create(fe.ctx, rfc("0001", "Alpha", "draft", "a1")); err != nil {
			t.Fatal(err)
		}
		d, err := fe.faulty.Get(fe.ctx, "rfc", "0001")
		if err != nil {
			t.Fatal(err)
		}
		fe.s3Proxy.ClearEvents()
		fe.s3Proxy.Inject(fe.revisionPut(), faultproxy.Unavailable, 0)
		d.Title, d.Body = "Beta", []byte("b2")
		err = fe.faulty.Update(fe.ctx, d)
		fe.s3Proxy.Clear()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "SlowDown" {
			t.Fatalf("update with S3 failing: %v", err)
		}
		checkRetried(t, fe.s3Proxy, s3Attempts, 100*time.Microsecond)
		live := fe.checkConsistent(t, map[string][]string{"0001": {"a1"}})
		if got := live["0001"]; got == nil || got.Version != 1 || got.Title != "Alpha" {
			t.Fatalf("after a failed update: %+v", got)
		}
		// No pending marker and no claim of the new title is left.
		for _, it := range fe.items(t) {
			if it["txn"] != nil && attrS(it, "SK") == "META#" || attrS(it, "SK") == "TITLE#beta" {
				t.Errorf("left in the table: %v", it)
			}
		}
		if revs := fe.objects(t, ".revisions/"); len(revs) != 1 {
			t.Errorf("revisions: %v", keys(revs))
		}
		if err := fe.faulty.Create(fe.ctx, rfc("0002", "Beta", "draft", "b1")); err != nil {
			t.Fatalf("title held by a failed rename: %v", err)
		}
	})
	t.Run("transient", func(t *testing.T) {
		t.Parallel()
		fe := newFaultEnv(t)
		fe.s3Proxy.Inject(fe.revisionPut(), faultproxy.Unavailable, s3Attempts-1)
		if err := fe.faulty.Create(fe.ctx, rfc("0001", "Alpha", "draft", "a1")); err != nil {
			t.Fatalf("create through %d S3 503s: %v", s3Attempts-1, err)
		}
		checkRetried(t, fe.s3Proxy, s3Attempts-1, 100*time.Microsecond)
		fe.checkConsistent(t, map[string][]string{"0001": {"a1"}})
	})
	t.Run("applied-answer-lost", func(t *testing.T) {
		t.Parallel()
		// The revision is stored but its answer is lost: the SDK's retry of
		// the create-only PUT finds it there (412).
		fe := newFaultEnv(t)
		fe.s3Proxy.Inject(fe.revisionPut(), faultproxy.ApplyThen500, 1)
		if err := fe.faulty.Create(fe.ctx, rfc("0001", "Alpha", "draft", "a1")); err != nil {
			t.Fatalf("create whose revision was stored: %v", err)
		}
		fe.checkConsistent(t, map[string][]string{"0001": {"a1"}})
		if revs := fe.objects(t, ".revisions/"); len(revs) != 1 {
			t.Errorf("revisions: %v", keys(revs))
		}
	})
}

func TestDynamoDBThrottlingIsRetriedThenFailsCleanly(t *testing.T) {
	t.Run("claim", func(t *testing.T) {
		t.Parallel()
		fe := newFaultEnv(t)
		fe.ddbProxy.Inject(claimReq, faultproxy.ProvisionedThroughputExceeded, 0)
		err := fe.faulty.Create(fe.ctx, rfc("0001", "Alpha", "draft", "a1"))
		fe.ddbProxy.Clear()
		var pte *types.ProvisionedThroughputExceededException
		var mae *retry.MaxAttemptsError
		if !errors.As(err, &pte) || !errors.As(err, &mae) || mae.Attempt != ddbAttempts || !strings.Contains(err.Error(), "create rfc/0001") {
			t.Fatalf("create with the claim throttled: %v", err)
		}
		// The throttling base delay is 1 s, jittered: three waits in all.
		checkRetried(t, fe.ddbProxy, ddbAttempts, 50*time.Millisecond)
		fe.checkNothingLeft(t, "0001")
		if err := fe.faulty.Create(fe.ctx, rfc("0002", "Alpha", "draft", "b1")); err != nil {
			t.Fatalf("title held by a throttled create: %v", err)
		}
		if err := fe.faulty.Create(fe.ctx, rfc("0001", "Other", "draft", "a1")); err != nil {
			t.Fatalf("id held by a throttled create: %v", err)
		}
	})
	t.Run("commit", func(t *testing.T) {
		t.Parallel()
		// A throttled commit: the outcome is known only to DynamoDB, so the
		// store leaves its pending META and claim (both invisible); they must
		// not block anyone.
		fe := newFaultEnv(t)
		fe.ddbProxy.Inject(commitReq, faultproxy.Throttling, 0)
		err := fe.faulty.Create(fe.ctx, rfc("0001", "Alpha", "draft", "a1"))
		fe.ddbProxy.Clear()
		var te *types.ThrottlingException
		var mae *retry.MaxAttemptsError
		if !errors.As(err, &te) || !errors.As(err, &mae) || mae.Attempt != ddbAttempts || errors.Is(err, store.ErrExists) {
			t.Fatalf("create with the commit throttled: %v", err)
		}
		checkRetried(t, fe.ddbProxy, ddbAttempts, 50*time.Millisecond)
		if _, err := fe.env.st.Get(fe.ctx, "rfc", "0001"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get: %v", err)
		}
		if x := fe.objects(t, "rfcs/"); len(x) != 0 {
			t.Fatalf("exported: %v", x)
		}
		if err := fe.faulty.Create(fe.ctx, rfc("0002", "alpha", "draft", "b1")); err != nil {
			t.Fatalf("title held by a throttled create: %v", err)
		}
		if err := fe.faulty.Create(fe.ctx, rfc("0001", "Other", "draft", "a1")); err != nil {
			t.Fatalf("id held by a throttled create: %v", err)
		}
		fe.checkConsistent(t, map[string][]string{"0001": {"a1"}, "0002": {"b1"}})
	})
	t.Run("transient", func(t *testing.T) {
		t.Parallel()
		fe := newFaultEnv(t)
		fe.ddbProxy.Inject(commitReq, faultproxy.ProvisionedThroughputExceeded, 1)
		if err := fe.faulty.Create(fe.ctx, rfc("0001", "Alpha", "draft", "a1")); err != nil {
			t.Fatalf("create through one throttle: %v", err)
		}
		checkRetried(t, fe.ddbProxy, 1, 0)
		fe.checkConsistent(t, map[string][]string{"0001": {"a1"}})
	})
}

// TestAmbiguousWritesUnderConcurrency runs writers over a few ids and titles
// while the proxies lose the answers of random writes (after applying them),
// reset connections and refuse reads; then checks that nothing was lost and
// no title is held twice, and that every document can still be written.
func TestAmbiguousWritesUnderConcurrency(t *testing.T) {
	fe := newFaultEnv(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	frng := rand.New(rand.NewPCG(seed, 0)) // used under the proxy's lock only
	write := faultproxy.DynamoDBOp("PutItem", "UpdateItem", "DeleteItem")
	chance := func(m faultproxy.Match, p float64) faultproxy.Match {
		return func(r *faultproxy.Request) bool { return m(r) && frng.Float64() < p }
	}
	srng := rand.New(rand.NewPCG(seed, 1))
	schance := func(m faultproxy.Match, p float64) faultproxy.Match {
		return func(r *faultproxy.Request) bool { return m(r) && srng.Float64() < p }
	}
	fe.ddbProxy.Inject(chance(write, 0.15), faultproxy.ApplyThen500, 0)
	fe.ddbProxy.Inject(chance(write, 0.1), faultproxy.ApplyThenReset, 0)
	fe.ddbProxy.Inject(chance(faultproxy.DynamoDBOp("GetItem"), 0.05), faultproxy.Internal, 0)
	fe.s3Proxy.Inject(schance(faultproxy.S3("PUT", "/"), 0.1), faultproxy.ApplyThen500, 0)
	fe.s3Proxy.Inject(schance(faultproxy.S3("", "/"), 0.05), faultproxy.Unavailable, 0)

	ids := []string{"0001", "0002", "0003", "0004"}
	titles := []string{"Alpha", "Beta", "Gamma"}
	var mu sync.Mutex
	written := map[string][]string{}
	note := func(id, body string) {
		mu.Lock()
		written[id] = append(written[id], body)
		mu.Unlock()
	}
	var errs atomic.Int64
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w+2)))
			for i := range 15 {
				id, title := ids[rng.IntN(len(ids))], titles[rng.IntN(len(titles))]
				body := fmt.Sprintf("%s by %d/%d", id, w, i)
				var err error
				switch op := rng.IntN(10); {
				case op < 3:
					note(id, body)
					err = fe.faulty.Create(fe.ctx, rfc(id, title, "draft", body))
				case op < 9:
					var d *store.Document
					if d, err = fe.faulty.Get(fe.ctx, "rfc", id); err != nil {
						break
					}
					switch {
					case d.DeletedAt != nil:
						err = fe.faulty.Restore(fe.ctx, "rfc", id, d.Version)
					case op < 6:
						d.Title, d.Slug, d.Body = title, slug(title), []byte(body)
						note(id, body)
						err = fe.faulty.Update(fe.ctx, d)
					case op < 7:
						d.Status, d.Body = "accepted", nil
						err = fe.faulty.Update(fe.ctx, d)
					default:
						err = fe.faulty.Delete(fe.ctx, "rfc", id, d.Version)
					}
				default:
					err = fe.faulty.Purge(fe.ctx, "rfc", id)
				}
				if err != nil {
					if errs.Add(1); !errors.Is(err, store.ErrExists) && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
						t.Logf("worker %d op %d: %v", w, i, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	fe.ddbProxy.Clear()
	fe.s3Proxy.Clear()
	var injected int
	for _, p := range []*faultproxy.Proxy{fe.ddbProxy, fe.s3Proxy} {
		for _, ev := range p.Events() {
			if ev.Injected() {
				injected++
			}
		}
	}
	t.Logf("%d faults injected, %d calls failed", injected, errs.Load())
	if injected == 0 {
		t.Fatal("no fault was injected")
	}

	live := fe.checkConsistent(t, written)
	for id, d := range live {
		fe.titleTaken(t, "9"+id[1:], d.Title)
	}
	// Every document can still be written: no leftover blocks anyone.
	for _, id := range ids {
		d, err := fe.faulty.Get(fe.ctx, "rfc", id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// A purge that failed midway holds the id until it is repeated,
			// as its caller would.
			if err = fe.faulty.Purge(fe.ctx, "rfc", id); err != nil && !errors.Is(err, store.ErrNotFound) {
				break
			}
			note(id, "final "+id)
			err = fe.faulty.Create(fe.ctx, rfc(id, "Final "+id, "draft", "final "+id))
		case err != nil:
		case d.DeletedAt != nil:
			if err = fe.faulty.Restore(fe.ctx, "rfc", id, d.Version); errors.Is(err, store.ErrExists) {
				err = nil // its title went to another document meanwhile
			}
		default:
			note(id, "final "+id)
			d.Body = []byte("final " + id)
			err = fe.faulty.Update(fe.ctx, d)
		}
		if err != nil {
			t.Errorf("%s after the faults: %v", id, err)
		}
	}
	fe.checkConsistent(t, written)
}

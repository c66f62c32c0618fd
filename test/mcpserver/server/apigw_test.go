package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/superviber/blue-operator/mcpserver/access"
	"github.com/superviber/blue-operator/mcpserver/apigw"
	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/mcpserver/tenantconfig"
	"github.com/superviber/blue-operator/test/apigwtest"
	"github.com/superviber/blue-operator/test/world"
)

// clientGateway is the client's side in API mode: its gateway serves the
// contract over its own storage, with its own credentials ("gateway-lambda").
func clientGateway(t *testing.T, w *world.World, tn *world.Tenant) *apigwtest.Gateway {
	st := store.New(w.S3.Client("gateway-lambda", "x"), w.DDB.Client("gateway-lambda", "x"),
		store.Options{Bucket: tn.Bucket, Table: tn.Table, KMSKeyID: tn.KMSKeyID, Plural: blue.Plural})
	return apigwtest.New(t, w.STS, tn.ClientRole, world.Region, st)
}

// With API_ENDPOINT set, the tools go through the client's API Gateway with
// SigV4-signed requests made with the assumed client-role credentials.
func TestAPIGatewayMode(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	tn := newTenant(t, w, "gateway", 414141414141)
	gw := clientGateway(t, w, tn)
	w.Infisical.SetSecret(tn.Project, tn.Environment, tn.SecretPath, tenantconfig.KeyAPIEndpoint, gw.URL)

	srv := w.Serve(t, tn, world.ServerOptions{})
	s := connect(t, srv.URL, tn.Token)
	mustCall(t, s, "blue_rfc_create", map[string]any{"title": "Through the gateway", "problem": "p"})
	mustCall(t, s, "blue_rfc_update_status", map[string]any{"title": "1", "status": "accepted"})
	got := mustCall(t, s, "blue_rfc_get", map[string]any{"title": "Through the gateway"})
	if got.Document.Status != "accepted" || !strings.Contains(got.Document.Content, "| **Status** | Accepted |") {
		t.Fatalf("get: %+v", got.Document)
	}
	// A lookup by number or by title is one request to the client's API
	// (its lookup route), not a listing of the kind. (The access check's
	// first read is done first; the next is 30 s away.)
	waitAccess(t, srv, tn, access.ReasonGranted)
	for _, ref := range []string{"1", "Through the gateway", "RFC 0001"} {
		before, _ := gw.Counts()
		if got := mustCall(t, s, "blue_rfc_get", map[string]any{"title": ref}); got.Document.ID != "0001" {
			t.Fatalf("get %q: %+v", ref, got.Document)
		}
		if after, _ := gw.Counts(); after-before != 1 {
			t.Errorf("blue_rfc_get %q made %d requests to the client's API, want 1", ref, after-before)
		}
	}
	if r := mustCall(t, s, "blue_rfc_list", nil); len(r.Documents) != 1 {
		t.Fatalf("list: %+v", r)
	}
	accepted, refused := gw.Counts()
	if accepted == 0 || refused != 0 {
		t.Errorf("gateway accepted %d, refused %d", accepted, refused)
	}
	// Storage was touched only by the gateway, never by the server directly.
	for _, wr := range w.S3.Writes() {
		if wr.AccessKeyID != "gateway-lambda" {
			t.Errorf("S3 write by %s, want only the gateway", wr.AccessKeyID)
		}
	}

	// The client narrows the role's execute-api:Invoke grant to reads: the
	// engineers can still read, and a write is a tool error that says
	// which request the client's API refused and where to look.
	gw.Grant("GET/v1/*")
	if got := mustCall(t, s, "blue_rfc_get", map[string]any{"title": "Through the gateway"}); got.Document.Status != "accepted" {
		t.Fatalf("read-only get: %+v", got.Document)
	}
	// Search still answers: the index it cannot write back is rebuilt from
	// reads.
	if r, errText := call(t, s, "blue_search", map[string]any{"query": "gateway"}); errText != "" || !strings.Contains(fmt.Sprint(r), "Through the gateway") {
		t.Errorf("search under a read-only grant: %+v %q", r, errText)
	}
	before := len(w.S3.Writes())
	_, errText := call(t, s, "blue_rfc_create", map[string]any{"title": "Not allowed", "problem": "p"})
	if !strings.Contains(errText, "refused the signed POST request (HTTP 403)") || !strings.Contains(errText, "execute-api:Invoke") {
		t.Errorf("write under a read-only grant: %q", errText)
	}
	if after := len(w.S3.Writes()); after != before {
		t.Errorf("a refused write reached the bucket: %d writes, was %d", after, before)
	}
	// One kind only: RFCs may be written, ADRs may not.
	gw.Grant("*/v1/rfc/*", "GET/v1/*")
	mustCall(t, s, "blue_rfc_create", map[string]any{"title": "Allowed", "problem": "p"})
	if _, errText := call(t, s, "blue_adr_create", map[string]any{"title": "Not allowed", "context": "c", "decision": "d"}); !strings.Contains(errText, "refused") {
		t.Errorf("ADR write under an RFC-only grant: %q", errText)
	}
	gw.Grant()

	// A request signed by anyone but the client role is refused.
	hop := credentials.NewStaticCredentialsProvider(tn.HopKey.AccessKeyID, tn.HopKey.SecretAccessKey, "")
	c, err := apigw.NewClient(gw.URL, world.Region, hop, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.NextNumber(context.Background(), "rfc"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("hop-role signature: %v", err)
	}
	if _, err := apigw.NewClient("http://gateway.example.com", world.Region, hop, nil); err == nil {
		t.Errorf("plain http to a non-loopback host accepted")
	}
}

// In API mode the server keeps the bodies it read by document version, as
// it keeps revisions in direct mode: reading a version again costs no
// request; a new version, or a document re-created under a purged one's id,
// is read anew.
func TestAPIClientCachesBodiesByVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := world.Start(t)
	tn := newTenant(t, w, "apicache", 424242424243)
	gw := clientGateway(t, w, tn)
	key := w.STS.NewAccessKey(tn.ClientRole)
	c, err := apigw.NewClient(gw.URL, world.Region, credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.CacheBodies(store.NewBodyCache(1<<20), "engineer")
	requests := func() int { n, _ := gw.Counts(); return n }
	listed := func() store.Document {
		t.Helper()
		docs, _, err := c.List(ctx, "rfc", store.ListOptions{IncludeDeleted: true})
		if err != nil || len(docs) != 1 {
			t.Fatalf("list: %v %v", docs, err)
		}
		return docs[0]
	}
	body := func(d store.Document, want string, wantRequests int) {
		t.Helper()
		before := requests()
		b, err := c.Body(ctx, &d)
		if err != nil || string(b) != want {
			t.Fatalf("body of v%d: %q %v, want %q", d.Version, b, err, want)
		}
		if n := requests() - before; n != wantRequests {
			t.Errorf("body of v%d took %d requests, want %d", d.Version, n, wantRequests)
		}
	}

	d := &store.Document{Kind: "rfc", ID: "0001", Number: 1, Title: "Cached", Slug: "cached", Status: "draft", Body: []byte("v1")}
	if err := c.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	v1 := listed()
	body(v1, "v1", 1)
	body(v1, "v1", 0)

	d.Body = []byte("v2")
	if err := c.Update(ctx, d); err != nil {
		t.Fatal(err)
	}
	v2 := listed()
	body(v2, "v2", 1)
	body(v1, "v1", 0) // the version listed before is still that version's body

	if err := c.Purge(ctx, "rfc", "0001"); err != nil {
		t.Fatal(err)
	}
	again := &store.Document{Kind: "rfc", ID: "0001", Number: 1, Title: "Cached", Slug: "cached", Status: "draft", Body: []byte("re-created")}
	if err := c.Create(ctx, again); err != nil {
		t.Fatal(err)
	}
	body(listed(), "re-created", 1)

	// Another caller's client shares the process's cache but none of its
	// entries: it reads the version itself.
	other, err := apigw.NewClient(gw.URL, world.Region, credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	shared := store.NewBodyCache(1 << 20)
	c.CacheBodies(shared, "engineer")
	other.CacheBodies(shared, "another engineer")
	cur := listed()
	body(cur, "re-created", 1)
	before := requests()
	if b, err := other.Body(ctx, &cur); err != nil || string(b) != "re-created" || requests()-before != 1 {
		t.Errorf("another caller's read: %q %v after %d requests, want its own request", b, err, requests()-before)
	}

	// A grant that keeps the history (body-at) back: the current body, as
	// before body-at was used.
	gw.Grant("GET/v1/rfc/documents", "GET/v1/rfc/documents/0001", "GET/v1/rfc/documents/0001/body")
	fresh := store.NewBodyCache(1 << 20)
	c.CacheBodies(fresh, "engineer")
	if b, err := c.Body(ctx, &cur); err != nil || string(b) != "re-created" {
		t.Errorf("body without body-at: %q %v", b, err)
	}
	if _, refused := gw.Counts(); refused != 1 {
		t.Errorf("refused %d, want 1 (body-at)", refused)
	}
}

// A client whose API was deployed before the lookup route (API Gateway
// refuses an undeclared resource), or whose grant leaves it out, still has
// every lookup: the server asks once, then finds documents by listing, as
// before.
func TestAPIWithoutLookupOrHistory(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	tn := newTenant(t, w, "oldapi", 434343434343)
	gw := clientGateway(t, w, tn)
	w.Infisical.SetSecret(tn.Project, tn.Environment, tn.SecretPath, tenantconfig.KeyAPIEndpoint, gw.URL)
	srv := w.Serve(t, tn, world.ServerOptions{})
	s := connect(t, srv.URL, tn.Token)
	mustCall(t, s, "blue_rfc_create", map[string]any{"title": "Before lookup", "problem": "p"})
	waitAccess(t, srv, tn, access.ReasonGranted)

	// Everything the API had before lookup (a glob's * spans slashes).
	gw.Grant("*/v1/*/documents*", "*/v1/*/numbers")
	for _, ref := range []string{"1", "Before lookup", "1"} {
		if got := mustCall(t, s, "blue_rfc_get", map[string]any{"title": ref}); got.Document.ID != "0001" || !strings.Contains(got.Document.Content, "p") {
			t.Fatalf("get %q: %+v", ref, got.Document)
		}
	}
	if _, refused := gw.Counts(); refused != 1 {
		t.Errorf("the gateway refused %d requests, want 1 (the first lookup; then the server lists)", refused)
	}
}

package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

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

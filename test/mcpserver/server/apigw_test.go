package server_test

import (
	"context"
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

// With API_ENDPOINT set, the tools go through the client's API Gateway with
// SigV4-signed requests made with the assumed client-role credentials.
func TestAPIGatewayMode(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	tn := newTenant(t, w, "gateway", 414141414141)
	// The client's side: its gateway serves the contract over its own
	// storage, with its own credentials.
	st := store.New(w.S3.Client("gateway-lambda", "x"), w.DDB.Client("gateway-lambda", "x"),
		store.Options{Bucket: tn.Bucket, Table: tn.Table, KMSKeyID: tn.KMSKeyID, Plural: blue.Plural})
	gw := apigwtest.New(t, w.STS, tn.ClientRole, world.Region, st)
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

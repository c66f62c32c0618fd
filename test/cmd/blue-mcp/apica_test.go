package bluemcp_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/superviber/blue-operator/api/contract"
	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/test/apigwtest"
	"github.com/superviber/blue-operator/test/testutil"
	"github.com/superviber/blue-operator/test/world"
)

// privateAPI is the client's API Gateway behind a custom domain whose
// certificate the client's private CA signs: TLS ends here, and the
// request goes on, Host and signature untouched, to the gateway.
func privateAPI(t *testing.T, gw *apigwtest.Gateway) (endpoint, caPEM string) {
	t.Helper()
	ca, err := testutil.NewCA("Acme private API CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueTLS("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(gw.URL)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL, string(ca.CertPEM)
}

// With the client's API under a private CA, the server reaches it trusting
// the CA it is given (spec.aws.apiCABundle, through the environment the
// operator sets) and nothing else: without it, the call is refused at the
// TLS handshake, nothing signed is sent, and the tool error says why.
func TestClientAPIUnderAPrivateCA(t *testing.T) {
	ctx := context.Background()
	w := world.Start(t)
	tn, err := w.AddTenant(ctx, "private-api", 404040404040)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(w.S3.Client("gateway-lambda", "x"), w.DDB.Client("gateway-lambda", "x"),
		store.Options{Bucket: tn.Bucket, Table: tn.Table, KMSKeyID: tn.KMSKeyID, Plural: blue.Plural})
	gw := apigwtest.New(t, w.STS, tn.ClientRole, world.Region, st)
	endpoint, caPEM := privateAPI(t, gw)
	w.UseAPI(tn, endpoint)

	call := func(t *testing.T, env []string) (*mcp.CallToolResult, error) {
		t.Helper()
		addr := freeAddr(t)
		start(t, append(tenantEnv(w, tn, addr), env...))
		waitReady(t, http.DefaultClient, "http://"+addr+"/readyz")
		c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
		s, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + addr + "/mcp", HTTPClient: world.BearerClient(tn.Token)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s.CallTool(ctx, &mcp.CallToolParams{Name: "blue_rfc_create", Arguments: map[string]any{"title": "Behind our CA", "problem": "p"}})
	}

	t.Run("without the CA", func(t *testing.T) {
		res, err := call(t, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !res.IsError || !strings.Contains(toolText(res), "certificate") {
			t.Fatalf("call without the API's CA = %q (error %v), want a tool error about the certificate", toolText(res), res.IsError)
		}
		if accepted, refused := gw.Counts(); accepted+refused != 0 {
			t.Errorf("the gateway saw %d requests through an untrusted TLS connection", accepted+refused)
		}
	})
	t.Run("with the CA", func(t *testing.T) {
		res, err := call(t, []string{contract.EnvAPICA + "=" + caPEM})
		if err != nil {
			t.Fatal(err)
		}
		if res.IsError {
			t.Fatalf("call with the API's CA: %s", toolText(res))
		}
		if accepted, _ := gw.Counts(); accepted == 0 {
			t.Error("the gateway never served the call")
		}
	})
}

func toolText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

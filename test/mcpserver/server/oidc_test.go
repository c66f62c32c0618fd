package server_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/superviber/blue-operator/mcpserver/server"
	"github.com/superviber/blue-operator/mcpserver/tools"
	"github.com/superviber/blue-operator/test/testutil"
)

// issuer is an OpenID provider on loopback: discovery document and JWKS,
// and a signer for tokens. It counts the requests it answers.
type issuer struct {
	srv *httptest.Server
	url string
	key *rsa.PrivateKey
	// extra keys published beside k1 (the JWKS of a careless provider).
	extra []jose.JSONWebKey

	discoveries, jwksFetches atomic.Int64
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	is := newIssuerUnstarted(t)
	is.srv.Start()
	return is
}

// newIssuerUnstarted is an issuer whose port is bound but not served yet:
// a request to it hangs until the client gives up, or until Start.
func newIssuerUnstarted(t *testing.T, extra ...jose.JSONWebKey) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{key: key, extra: extra}
	mux := http.NewServeMux()
	is.srv = httptest.NewUnstartedServer(mux)
	is.url = "http://" + is.srv.Listener.Addr().String()
	t.Cleanup(is.srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		is.discoveries.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": is.url, "jwks_uri": is.url + "/jwks",
			"authorization_endpoint": is.url + "/auth", "token_endpoint": is.url + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256", "HS256", "none"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		is.jwksFetches.Add(1)
		keys := append([]jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}, is.extra...)
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: keys})
	})
	return is
}

func (is *issuer) token(t *testing.T, key *rsa.PrivateKey, iss, aud string, exp time.Time) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{
		"iss": iss, "sub": "user-123", "aud": aud, "email": "dev@acme.com", "email_verified": true,
		"exp": exp.Unix(), "iat": time.Now().Add(-time.Minute).Unix(),
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestOIDCAuth(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	public := serveOIDC(t, server.Options{OIDCIssuer: is.srv.URL})
	waitReadyz(t, public)

	if n := is.discoveries.Load() + is.jwksFetches.Load(); n != 2 {
		t.Errorf("%d requests to the provider at start, want discovery and one JWKS fetch", n)
	}
	good := is.token(t, is.key, is.srv.URL, public, time.Now().Add(time.Hour))
	s := connect(t, public, good)
	if res, err := s.ListTools(context.Background(), nil); err != nil || len(res.Tools) < 40 {
		t.Fatalf("tools/list with a valid JWT: %v", err)
	}

	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tc := range []struct{ name, token string }{
		{"expired", is.token(t, is.key, is.srv.URL, public, time.Now().Add(-time.Hour))},
		{"another tenant's audience", is.token(t, is.key, is.srv.URL, "https://beta.mcp.superviber.com/mcp", time.Now().Add(time.Hour))},
		{"wrong issuer", is.token(t, is.key, "https://evil.example.com", public, time.Now().Add(time.Hour))},
		{"forged signature", is.token(t, other, is.srv.URL, public, time.Now().Add(time.Hour))},
		{"not a JWT", "blue_opaque"},
	} {
		resp, _ := listTools(t, public, tc.token)
		challenge := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(challenge, "resource_metadata=") {
			t.Errorf("%s: %d %q, want 401 pointing at the resource metadata", tc.name, resp.StatusCode, challenge)
		}
	}

	// The protected-resource metadata document (RFC 9728) names the issuer.
	resp, err := http.Get(strings.TrimSuffix(public, "/mcp") + "/.well-known/oauth-protected-resource")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var prm struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	if err := json.Unmarshal(b, &prm); err != nil || prm.Resource != public || len(prm.AuthorizationServers) != 1 || prm.AuthorizationServers[0] != is.srv.URL {
		t.Errorf("metadata %s: %v", b, err)
	}
	// A tool call under OIDC reaches the tool layer with the caller named.
	if _, e := call(t, s, "blue_rfc_list", nil); !strings.Contains(e, "no storage in this test") {
		t.Errorf("tool call: %q", e)
	}
}

// serveOIDC serves a tenant in OIDC auth mode with o (its PublicURL and
// OIDCAudience filled in) and returns the endpoint URL. Its discovery runs
// until the test ends.
func serveOIDC(t *testing.T, o server.Options) string {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	public := "http://" + hs.Listener.Addr().String() + "/mcp"
	o.PublicURL = public
	if o.Tenant == "" {
		o.Tenant = "oidc"
	}
	if o.OIDCAudience == "" {
		o.OIDCAudience = public
	}
	noStore := &tools.Service{Store: func(context.Context) (tools.Store, error) { return nil, errors.New("no storage in this test") }}
	srv, err := server.New(t.Context(), o, noStore)
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(hs.Close)
	return public
}

// readyz is the status and body of the endpoint's readiness probe.
func readyz(t *testing.T, public string) (int, string) {
	t.Helper()
	resp, err := http.Get(strings.TrimSuffix(public, "/mcp") + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitReadyz(t *testing.T, public string) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, "readyz ok", func() error {
		if code, body := readyz(t, public); code != http.StatusOK {
			return fmt.Errorf("readyz %d %q", code, body)
		}
		return nil
	})
}

// listTools posts tools/list with the bearer token and returns the answer
// and its body.
func listTools(t *testing.T, public, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, public, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

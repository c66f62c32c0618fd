package server_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/superviber/blue-operator/mcpserver/server"
	"github.com/superviber/blue-operator/mcpserver/tools"
)

// issuer is an OpenID provider on loopback: discovery document and JWKS,
// and a signer for tokens.
type issuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{key: key}
	mux := http.NewServeMux()
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/jwks",
			"authorization_endpoint": is.srv.URL + "/auth", "token_endpoint": is.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
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
		"iss": iss, "sub": "user-123", "aud": aud, "email": "dev@acme.com",
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
	hs := httptest.NewUnstartedServer(nil)
	public := "http://" + hs.Listener.Addr().String() + "/mcp"
	noStore := &tools.Service{Store: func(context.Context) (tools.Store, error) { return nil, errors.New("no storage in this test") }}
	srv, err := server.New(context.Background(), server.Options{
		Tenant: "oidc", PublicURL: public, OIDCIssuer: is.srv.URL, OIDCAudience: public,
	}, noStore)
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(hs.Close)

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
		req, _ := http.NewRequest(http.MethodPost, public, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+tc.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
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

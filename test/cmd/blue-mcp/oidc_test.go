package bluemcp_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/superviber/blue-operator/api/contract"
	"github.com/superviber/blue-operator/test/testutil"
	"github.com/superviber/blue-operator/test/world"
)

// TestOIDCProviderDownAtStart: the binary in OIDC mode starts although its
// identity provider refuses connections, stays alive and not ready, and
// serves once the provider comes up, without a restart.
func TestOIDCProviderDownAtStart(t *testing.T) {
	w := world.Start(t)
	tn, err := w.AddTenant(context.Background(), "oidcdown", 212121212121)
	if err != nil {
		t.Fatal(err)
	}
	idpAddr := freeAddr(t) // nothing listens there yet
	issuer := "http://" + idpAddr
	addr := freeAddr(t)
	public := "http://" + addr + "/mcp"
	p := start(t, append(tenantEnv(w, tn, addr),
		contract.EnvAuthMode+"=oidc", contract.EnvOIDCIssuer+"="+issuer, contract.EnvOIDCAudience+"="+public,
		contract.EnvOIDCAllowedEmailDomains+"=acme.com"))
	waitReady(t, http.DefaultClient, "http://"+addr+"/healthz")
	testutil.Eventually(t, 20*time.Second, 20*time.Millisecond, "a failed discovery in the log", func() error {
		if !strings.Contains(p.out.String(), `"event":"oidc_discovery_failed"`) {
			return fmt.Errorf("output:\n%s", p.out.String())
		}
		return nil
	})
	select {
	case err := <-p.exited:
		t.Fatalf("blue-mcp exited while its identity provider was down: %v", err)
	default:
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz %d while the provider is down", resp.StatusCode)
	}

	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	ln, err := net.Listen("tcp", idpAddr)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": issuer, "jwks_uri": issuer + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	idp := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = idp.Serve(ln) }()
	t.Cleanup(func() { _ = idp.Close() })

	// Backoff starts at 1s and doubles: the next attempts come within 30s.
	waitReady(t, http.DefaultClient, "http://"+addr+"/readyz")
	sig, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	post := func(email string) int {
		tok, err := jwt.Signed(sig).Claims(map[string]any{
			"iss": issuer, "aud": public, "sub": "u1", "email": email, "email_verified": true,
			"exp": time.Now().Add(time.Hour).Unix(),
		}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, public, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("dev@acme.com"); code != http.StatusOK {
		t.Errorf("a caller at the allowed domain: %d", code)
	}
	// The allow-list from the environment is in force.
	if code := post("dev@evil.com"); code != http.StatusUnauthorized {
		t.Errorf("a caller at another domain: %d, want 401", code)
	}
}

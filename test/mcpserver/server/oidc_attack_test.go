package server_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/superviber/blue-operator/mcpserver/server"
	"github.com/superviber/blue-operator/test/testutil"
)

// These tests attack the OIDC verifier as a caller who holds a token from
// the tenant's provider, or who can mint tokens of their own, would.

// claims are a good token's claims for the issuer and audience, with edits
// applied (a nil value deletes the claim).
func (is *issuer) claims(aud string, edits map[string]any) map[string]any {
	c := map[string]any{
		"iss": is.url, "sub": "user-123", "aud": aud,
		"email": "dev@acme.com", "email_verified": true, "groups": []string{"staff", "blue-users"},
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Add(-time.Minute).Unix(),
	}
	for k, v := range edits {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// mint signs claims with key under alg, naming kid ("" names none).
func mint(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// unsigned is a token with alg "none" and an empty signature.
func unsigned(header map[string]any, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

// expect posts tools/list with token and checks the status (and, for a
// refusal, that the answer says why).
func expect(t *testing.T, public, name, token string, code int, why string) {
	t.Helper()
	resp, body := listTools(t, public, token)
	if resp.StatusCode != code {
		t.Errorf("%s: %d %q, want %d", name, resp.StatusCode, strings.TrimSpace(body), code)
		return
	}
	if why != "" && !strings.Contains(body, why) {
		t.Errorf("%s: refused with %q, want it to say %q", name, strings.TrimSpace(body), why)
	}
}

// Point 1: a tenant's allow-lists narrow the callers its provider vouches
// for; a caller must pass every list that is set.
func TestOIDCAllowListsRefuseOtherCallers(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	var logs testutil.Buffer
	public := serveOIDC(t, server.Options{
		OIDCIssuer:              is.url,
		OIDCAllowedSubjects:     []string{"user-123", "user-456"},
		OIDCAllowedGroups:       []string{"blue-users"},
		OIDCAllowedEmailDomains: []string{"ACME.com"}, // the server compares domains in lower case
		Log:                     slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	waitReadyz(t, public)
	tok := func(edits map[string]any) string { return mint(t, jose.RS256, is.key, "k1", is.claims(public, edits)) }

	expect(t, public, "listed subject, group and domain", tok(nil), http.StatusOK, "")
	expect(t, public, "email domain in capitals", tok(map[string]any{"email": "Dev@ACME.COM"}), http.StatusOK, "")
	for _, tc := range []struct {
		name  string
		edits map[string]any
		why   string
	}{
		{"another subject", map[string]any{"sub": "user-999"}, "subject is not among this tenant's allowed subjects"},
		{"no listed group", map[string]any{"groups": []string{"staff", "blue-users-old"}}, "allowed groups"},
		{"no groups claim", map[string]any{"groups": nil}, "allowed groups"},
		{"a group as a look-alike string", map[string]any{"groups": "blue-users,admins"}, "allowed groups"},
		{"another email domain", map[string]any{"email": "dev@evil.com"}, "allowed email domains"},
		{"a subdomain", map[string]any{"email": "dev@eng.acme.com"}, "allowed email domains"},
		{"a look-alike domain", map[string]any{"email": "dev@acme.com.evil.com"}, "allowed email domains"},
		{"no email", map[string]any{"email": nil, "email_verified": nil}, "allowed email domains"},
	} {
		expect(t, public, tc.name, tok(tc.edits), http.StatusUnauthorized, tc.why)
	}
	// The reason reaches the log, for the operator who set the lists.
	if l := logs.String(); !strings.Contains(l, `"event":"auth_refused"`) || !strings.Contains(l, "subject is not among this tenant's allowed subjects") {
		t.Errorf("refusal reasons not in the log:\n%s", grepLines(l, "auth_refused"))
	}
	// The admitted caller is named by the verified email.
	s := connect(t, public, tok(map[string]any{"sub": "user-456"}))
	_, _ = call(t, s, "blue_rfc_list", nil)
	if l := logs.String(); !strings.Contains(l, `"caller":"dev@acme.com"`) {
		t.Errorf("tool call not audited under the verified email:\n%s", grepLines(l, "tool_call"))
	}
}

// Point 2: an email names the caller (audit log, AWS session) and passes
// the domain allow-list only when the provider says it verified it.
func TestOIDCUnverifiedEmailIsRefused(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	var logs testutil.Buffer
	open := serveOIDC(t, server.Options{OIDCIssuer: is.url, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	narrow := serveOIDC(t, server.Options{OIDCIssuer: is.url, OIDCAllowedEmailDomains: []string{"acme.com"}})
	waitReadyz(t, open)
	waitReadyz(t, narrow)
	tok := func(aud string, edits map[string]any) string {
		return mint(t, jose.RS256, is.key, "k1", is.claims(aud, edits))
	}

	for _, public := range []string{open, narrow} {
		expect(t, public, "email_verified false", tok(public, map[string]any{"email_verified": false}), http.StatusUnauthorized, "email_verified")
		expect(t, public, "no email_verified", tok(public, map[string]any{"email_verified": nil}), http.StatusUnauthorized, "email_verified")
		expect(t, public, `email_verified "false"`, tok(public, map[string]any{"email_verified": "false"}), http.StatusUnauthorized, "email_verified")
		expect(t, public, `email_verified "true" (as some providers send it)`, tok(public, map[string]any{"email_verified": "true"}), http.StatusOK, "")
	}
	// Without an email the subject names the caller, unless the domain
	// allow-list needs the email.
	noEmail := map[string]any{"email": nil, "email_verified": nil, "sub": "auth0|5f7c8e"}
	expect(t, narrow, "no email, domain list", tok(narrow, noEmail), http.StatusUnauthorized, "allowed email domains")
	s := connect(t, open, tok(open, noEmail))
	_, _ = call(t, s, "blue_rfc_list", nil)
	if l := logs.String(); !strings.Contains(l, `"caller":"auth0|5f7c8e"`) {
		t.Errorf("caller without email not named by subject:\n%s", grepLines(l, "tool_call"))
	}
}

// Point 3: only asymmetric signatures count. An HMAC token keyed with what
// the JWKS publishes (the RSA key's bytes, or a symmetric key a careless
// provider lists) and an unsigned token are refused; so is alg "none"
// however the header is dressed, even though this provider's discovery
// document advertises HS256 and none.
func TestOIDCRefusesSymmetricAndUnsignedTokens(t *testing.T) {
	t.Parallel()
	secret := []byte("a-shared-secret-the-provider-lists-in-its-jwks")
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	is := newIssuerUnstarted(t,
		jose.JSONWebKey{Key: secret, KeyID: "hmac", Algorithm: "HS256", Use: "sig"},
		jose.JSONWebKey{Key: &ecKey.PublicKey, KeyID: "e1", Algorithm: "ES256", Use: "sig"},
		jose.JSONWebKey{Key: edPub, KeyID: "d1", Algorithm: "EdDSA", Use: "sig"},
	)
	is.srv.Start()
	public := serveOIDC(t, server.Options{OIDCIssuer: is.url})
	waitReadyz(t, public)
	claims := is.claims(public, nil)

	// The asymmetric algorithms the JWKS has keys for work.
	expect(t, public, "RS256", mint(t, jose.RS256, is.key, "k1", claims), http.StatusOK, "")
	expect(t, public, "ES256", mint(t, jose.ES256, ecKey, "e1", claims), http.StatusOK, "")
	expect(t, public, "EdDSA", mint(t, jose.EdDSA, edKey, "d1", claims), http.StatusOK, "")

	der, err := x509.MarshalPKIXPublicKey(&is.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	jwk, _ := json.Marshal(jose.JSONWebKey{Key: &is.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"})
	for _, tc := range []struct{ name, token string }{
		{"HS256 with the JWKS's symmetric key", mint(t, jose.HS256, secret, "hmac", claims)},
		{"HS256 keyed with the RSA public key (DER)", mint(t, jose.HS256, der, "k1", claims)},
		{"HS256 keyed with the RSA public key (PEM)", mint(t, jose.HS256, pemKey, "k1", claims)},
		{"HS512 keyed with the RSA key's JWK", mint(t, jose.HS512, jwk, "k1", claims)},
		{"alg none", unsigned(map[string]any{"alg": "none", "typ": "JWT"}, claims)},
		{"alg none naming a key", unsigned(map[string]any{"alg": "none", "typ": "JWT", "kid": "k1"}, claims)},
		{"alg None", unsigned(map[string]any{"alg": "None", "kid": "k1"}, claims)},
		{"RS256 header, no signature", unsigned(map[string]any{"alg": "RS256", "kid": "k1"}, claims)},
	} {
		expect(t, public, tc.name, tc.token, http.StatusUnauthorized, "")
	}
}

// Point 4: nbf is honoured with the same 30s leeway as exp (go-oidc alone
// allows five minutes on nbf, and none on exp).
func TestOIDCNotBeforeAndExpiryWithLeeway(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	public := serveOIDC(t, server.Options{OIDCIssuer: is.url})
	waitReadyz(t, public)
	now := time.Now()
	tok := func(edits map[string]any) string { return mint(t, jose.RS256, is.key, "k1", is.claims(public, edits)) }

	expect(t, public, "nbf two minutes ahead", tok(map[string]any{"nbf": now.Add(2 * time.Minute).Unix()}), http.StatusUnauthorized, "not valid before")
	expect(t, public, "nbf 45s ahead", tok(map[string]any{"nbf": now.Add(45 * time.Second).Unix()}), http.StatusUnauthorized, "not valid before")
	expect(t, public, "nbf 10s ahead (within the leeway)", tok(map[string]any{"nbf": now.Add(10 * time.Second).Unix()}), http.StatusOK, "")
	expect(t, public, "nbf past", tok(map[string]any{"nbf": now.Add(-time.Minute).Unix()}), http.StatusOK, "")
	expect(t, public, "expired 10s ago (within the leeway)", tok(map[string]any{"exp": now.Add(-10 * time.Second).Unix()}), http.StatusOK, "")
	expect(t, public, "expired 2 minutes ago", tok(map[string]any{"exp": now.Add(-2 * time.Minute).Unix()}), http.StatusUnauthorized, "expired")
	expect(t, public, "no exp", tok(map[string]any{"exp": nil}), http.StatusUnauthorized, "no exp claim")
}

// Point 5: a flood of tokens with made-up key ids costs the provider at
// most one JWKS fetch per 10s, and good tokens keep working through it.
func TestOIDCKeyIDFloodIsBounded(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	public := serveOIDC(t, server.Options{OIDCIssuer: is.url})
	waitReadyz(t, public)
	start := time.Now()
	if n := is.jwksFetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches at start-up, want 1", n)
	}
	claims := is.claims(public, nil)
	flood := make([]string, 300)
	for i := range flood {
		flood[i] = mint(t, jose.RS256, is.key, fmt.Sprintf("kid-%d-%x", i, time.Now().UnixNano()), claims)
	}
	work := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 30 {
		wg.Go(func() {
			for tok := range work {
				resp, _ := listTools(t, public, tok)
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	for _, tok := range flood {
		work <- tok
	}
	close(work)
	wg.Wait()
	if codes[http.StatusUnauthorized] != len(flood) {
		t.Errorf("answers to made-up key ids: %v, want all %d refused", codes, len(flood))
	}
	// One fetch at start-up, and at most one per started 10s since.
	limit := int64(1 + 1 + time.Since(start)/(10*time.Second))
	if n := is.jwksFetches.Load(); n > limit {
		t.Errorf("%d JWKS fetches for %d unknown key ids in %s, want at most %d", n, len(flood), time.Since(start).Round(time.Millisecond), limit)
	}
	expect(t, public, "good token after the flood", mint(t, jose.RS256, is.key, "k1", claims), http.StatusOK, "")
}

// Point 6: a provider unreachable at start-up does not stop the server. It
// is not ready and /mcp answers 503 while discovery retries with backoff
// (each attempt bounded by the fetch timeout); once the provider answers,
// it serves, without a restart.
func TestOIDCProviderDownAtStartThenUp(t *testing.T) {
	t.Parallel()
	is := newIssuerUnstarted(t) // bound, not answering: requests hang
	var logs testutil.Buffer
	public := serveOIDC(t, server.Options{
		OIDCIssuer: is.url,
		OIDCTiming: server.OIDCTiming{FetchTimeout: 100 * time.Millisecond, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond},
		Log:        slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	base := strings.TrimSuffix(public, "/mcp")
	good := mint(t, jose.RS256, is.key, "k1", is.claims(public, nil))

	if code := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz %d while the provider is down: the process must live", code)
	}
	if code, body := readyz(t, public); code != http.StatusServiceUnavailable || body != "not ready\n" {
		t.Errorf("readyz %d %q while the provider is down, want 503 \"not ready\"", code, body)
	}
	resp, body := listTools(t, public, good)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "identity provider") {
		t.Errorf("/mcp while the provider is down: %d %q (Retry-After %q), want 503 naming the identity provider", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	// Attempts time out and are retried: a second attempt is only logged if
	// the first, hanging, gave up.
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, "a retried discovery", func() error {
		if !strings.Contains(logs.String(), `"attempt":2`) {
			return fmt.Errorf("log:\n%s", logs.String())
		}
		return nil
	})
	if l := logs.String(); !strings.Contains(l, `"event":"oidc_discovery_failed"`) || !strings.Contains(l, `"event":"not_ready"`) || !strings.Contains(l, "oidc provider "+is.url) {
		t.Errorf("the reason is not in the log:\n%s", l)
	}

	is.srv.Start()
	waitReadyz(t, public)
	expect(t, public, "good token once the provider answers", good, http.StatusOK, "")
	if l := logs.String(); !strings.Contains(l, `"event":"oidc_ready"`) || !strings.Contains(l, `"event":"ready"`) {
		t.Errorf("recovery not logged:\n%s", l)
	}
}

// A provider that names another issuer in its discovery document is not
// trusted: the server stays not ready.
func TestOIDCIssuerMismatchKeepsServerNotReady(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	var logs testutil.Buffer
	public := serveOIDC(t, server.Options{
		OIDCIssuer: is.url + "/", // the document says is.url, without the slash
		OIDCTiming: server.OIDCTiming{RetryMin: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond},
		Log:        slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, "a refused discovery", func() error {
		if !strings.Contains(logs.String(), "the provider calls itself") {
			return fmt.Errorf("log:\n%s", logs.String())
		}
		return nil
	})
	if code, _ := readyz(t, public); code != http.StatusServiceUnavailable {
		t.Errorf("readyz %d with a mismatched issuer", code)
	}
}

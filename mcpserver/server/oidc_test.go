package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func TestAdmit(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	good := claims{Subject: "u1", Expiry: now.Add(time.Hour), Email: "Dev@Acme.com", EmailVerified: true, Groups: []string{"staff", "blue"}}
	with := func(f func(*claims)) claims { c := good; f(&c); return c }
	open := allowList{}
	narrow := allowList{subjects: []string{"u1", "u2"}, groups: []string{"blue"}, emailDomains: []string{"acme.com"}}
	cases := []struct {
		name   string
		allow  allowList
		c      claims
		caller string // "" means refused
		why    string
	}{
		{"open: any caller the IdP vouches for", open, good, "Dev@Acme.com", ""},
		{"open: no email names the caller by subject", open, with(func(c *claims) { c.Email, c.EmailVerified = "", false }), "u1", ""},
		{"no subject", open, with(func(c *claims) { c.Subject = "" }), "", "no sub claim"},
		{"no exp", open, with(func(c *claims) { c.Expiry = time.Time{} }), "", "no exp claim"},
		{"expired beyond the leeway", open, with(func(c *claims) { c.Expiry = now.Add(-OIDCLeeway - time.Second) }), "", "expired"},
		{"expired within the leeway", open, with(func(c *claims) { c.Expiry = now.Add(-OIDCLeeway + time.Second) }), "Dev@Acme.com", ""},
		{"nbf beyond the leeway", open, with(func(c *claims) { c.NotBefore = now.Add(OIDCLeeway + time.Second) }), "", "not valid before"},
		{"nbf within the leeway", open, with(func(c *claims) { c.NotBefore = now.Add(OIDCLeeway - time.Second) }), "Dev@Acme.com", ""},
		{"nbf past", open, with(func(c *claims) { c.NotBefore = now.Add(-time.Minute) }), "Dev@Acme.com", ""},
		{"unverified email as the caller name", open, with(func(c *claims) { c.EmailVerified = false }), "", "email_verified"},
		{"narrow: all lists pass", narrow, good, "Dev@Acme.com", ""},
		{"narrow: subject not listed", narrow, with(func(c *claims) { c.Subject = "u3" }), "", "allowed subjects"},
		{"narrow: no listed group", narrow, with(func(c *claims) { c.Groups = []string{"staff"} }), "", "allowed groups"},
		{"narrow: no groups at all", narrow, with(func(c *claims) { c.Groups = nil }), "", "allowed groups"},
		{"narrow: group differs in case", narrow, with(func(c *claims) { c.Groups = []string{"Blue"} }), "", "allowed groups"},
		{"narrow: other domain", narrow, with(func(c *claims) { c.Email = "dev@evil.com" }), "", "allowed email domains"},
		{"narrow: subdomain is not the domain", narrow, with(func(c *claims) { c.Email = "dev@eng.acme.com" }), "", "allowed email domains"},
		{"narrow: look-alike domain", narrow, with(func(c *claims) { c.Email = "dev@acme.com.evil.com" }), "", "allowed email domains"},
		{"narrow: no email", narrow, with(func(c *claims) { c.Email, c.EmailVerified = "", false }), "", "allowed email domains"},
		{"narrow: unverified email at the domain", narrow, with(func(c *claims) { c.EmailVerified = false }), "", "email_verified"},
		{"subjects only", allowList{subjects: []string{"u1"}}, with(func(c *claims) { c.Email, c.EmailVerified = "", false }), "u1", ""},
		{"domain only, no @", allowList{emailDomains: []string{"acme.com"}}, with(func(c *claims) { c.Email = "acme.com" }), "", "allowed email domains"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			caller, err := tc.allow.admit(tc.c, now)
			if tc.caller != "" {
				if err != nil || caller != tc.caller {
					t.Fatalf("got %q, %v; want caller %q", caller, err, tc.caller)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("got %q, %v; want a refusal mentioning %q", caller, err, tc.why)
			}
		})
	}
}

func TestRawClaimsShapes(t *testing.T) {
	cases := []struct {
		json     string
		verified bool
		groups   []string
		bad      bool
	}{
		{`{"email_verified":true,"groups":["a","b"]}`, true, []string{"a", "b"}, false},
		{`{"email_verified":"true","groups":"a"}`, true, []string{"a"}, false},
		{`{"email_verified":false}`, false, nil, false},
		{`{"email_verified":"yes"}`, false, nil, false},
		{`{"email_verified":1}`, false, nil, false},
		{`{"groups":null}`, false, nil, false},
		{`{"groups":[1,2]}`, false, nil, true},
	}
	for _, tc := range cases {
		var r rawClaims
		if err := json.Unmarshal([]byte(tc.json), &r); err != nil {
			t.Fatal(err)
		}
		c, err := r.claims("s")
		if (err != nil) != tc.bad {
			t.Errorf("%s: err %v, want bad=%v", tc.json, err, tc.bad)
			continue
		}
		if c.EmailVerified != tc.verified || strings.Join(c.Groups, ",") != strings.Join(tc.groups, ",") {
			t.Errorf("%s: verified %v groups %q", tc.json, c.EmailVerified, c.Groups)
		}
	}
}

func TestUsableKeysAreAsymmetricSigningKeys(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &rsaKey.PublicKey, KeyID: "rsa", Algorithm: "RS256", Use: "sig"},
		{Key: &ecKey.PublicKey, KeyID: "ec"},
		{Key: edPub, KeyID: "ed", Algorithm: "EdDSA"},
		{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "hmac", Algorithm: "HS256"},
		{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct-no-alg"},
		{Key: &rsaKey.PublicKey, KeyID: "enc", Use: "enc"},
		{Key: &rsaKey.PublicKey, KeyID: "rsa-oaep", Algorithm: "RSA-OAEP"},
	}}
	b, _ := json.Marshal(set)
	var raw struct{ Keys []json.RawMessage }
	_ = json.Unmarshal(b, &raw)
	raw.Keys = append(raw.Keys, json.RawMessage(`{"kty":"OKP","crv":"X448","x":"AAAA","kid":"x448"}`), json.RawMessage(`{"kty":"weird"}`))
	var got []string
	for _, k := range usableKeys(raw.Keys) {
		got = append(got, k.KeyID)
	}
	if strings.Join(got, ",") != "rsa,ec,ed" {
		t.Errorf("usable keys %v, want rsa,ec,ed", got)
	}
}

func TestCheckEmailDomain(t *testing.T) {
	for _, d := range []string{"acme.com", "eng.acme.co.uk", "xn--bcher-kva.example"} {
		if err := CheckEmailDomain(d); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
	for _, d := range []string{"", "@acme.com", "dev@acme.com", "*.acme.com", "ACME.com", "acme", "https://acme.com", "acme.com ", "acme.com,evil.com"} {
		if CheckEmailDomain(d) == nil {
			t.Errorf("%q accepted", d)
		}
	}
}

// jwksServer serves the current key set and counts the fetches.
type jwksServer struct {
	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetches atomic.Int64
	srv     *httptest.Server
}

func newJWKSServer(t *testing.T, keys ...jose.JSONWebKey) *jwksServer {
	j := &jwksServer{keys: keys}
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		j.fetches.Add(1)
		j.mu.Lock()
		defer j.mu.Unlock()
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: j.keys})
	}))
	t.Cleanup(j.srv.Close)
	return j
}

func (j *jwksServer) set(keys ...jose.JSONWebKey) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.keys = keys
}

func signed(t *testing.T, key *rsa.PrivateKey, kid string) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := sig.Sign([]byte(`{"sub":"u1"}`))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := jws.CompactSerialize()
	return s
}

// A flood of tokens with key ids the set does not have costs the provider
// at most one JWKS fetch per period; after the period a rotated key is
// picked up; a known key id with a bad signature never refetches.
func TestKeySetRefetchesAtMostOncePerPeriod(t *testing.T) {
	old, _ := rsa.GenerateKey(rand.Reader, 2048)
	rotated, _ := rsa.GenerateKey(rand.Reader, 2048)
	j := newJWKSServer(t, jose.JSONWebKey{Key: &old.PublicKey, KeyID: "k1", Algorithm: "RS256"})
	clock := newClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	a := &oidcAuth{client: j.srv.Client(), timing: OIDCTiming{}.withDefaults()}
	ks := &keySet{url: j.srv.URL, fetch: a.getJSON, every: 10 * time.Second, now: clock.Now, sem: make(chan struct{}, 1)}
	ctx := context.Background()
	if err := ks.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.VerifySignature(ctx, signed(t, old, "k1")); err != nil {
		t.Fatalf("known key: %v", err)
	}

	// Within the period of the start-up fetch, made-up key ids fetch nothing.
	clock.Advance(time.Second)
	for range 10 {
		if _, err := ks.VerifySignature(ctx, signed(t, old, "made-up")); err == nil {
			t.Fatal("a made-up key id verified")
		}
	}
	if n := j.fetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches within the period of the first, want 1", n)
	}

	// The period passes and the provider rotates; a flood of made-up key ids
	// arrives at once.
	j.set(jose.JSONWebKey{Key: &rotated.PublicKey, KeyID: "k2", Algorithm: "RS256"})
	clock.Advance(10 * time.Second)
	flood := make([]string, 100)
	for i := range flood {
		flood[i] = signed(t, old, fmt.Sprintf("made-up-%d", i))
	}
	var wg sync.WaitGroup
	for _, tok := range flood {
		wg.Go(func() {
			if _, err := ks.VerifySignature(ctx, tok); err == nil {
				t.Error("a made-up key id verified")
			}
		})
	}
	wg.Wait()
	if n := j.fetches.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches after a flood of 100 unknown key ids within the period, want 2 (start-up and one refetch)", n)
	}
	// That one refetch already holds the rotated key.
	if _, err := ks.VerifySignature(ctx, signed(t, rotated, "k2")); err != nil {
		t.Fatalf("rotated key after the refetch: %v", err)
	}
	j.set(jose.JSONWebKey{Key: &old.PublicKey, KeyID: "k3", Algorithm: "RS256"})
	if _, err := ks.VerifySignature(ctx, signed(t, old, "k3")); err == nil {
		t.Fatal("a key published within the period verified without a fetch")
	}
	if n := j.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want still 2 within the period", n)
	}
	clock.Advance(10 * time.Second)
	if _, err := ks.VerifySignature(ctx, signed(t, old, "k3")); err != nil {
		t.Fatalf("a key published, once the period passed: %v", err)
	}
	if n := j.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}

	// A known key id with a forged signature: refetching cannot help.
	forger, _ := rsa.GenerateKey(rand.Reader, 2048)
	clock.Advance(time.Minute)
	if _, err := ks.VerifySignature(ctx, signed(t, forger, "k3")); err == nil {
		t.Fatal("forged signature verified")
	}
	if n := j.fetches.Load(); n != 3 {
		t.Errorf("a forged signature on a known key id refetched the key set (%d fetches)", n)
	}
}

// Even with a symmetric key in the set, an HMAC or unsigned token does not
// verify: the algorithm is refused before any key is tried.
func TestKeySetRefusesSymmetricAlgorithms(t *testing.T) {
	secret := []byte(strings.Repeat("0123456789abcdef", 4))
	ks := &keySet{keys: []jose.JSONWebKey{{Key: secret, KeyID: "hmac"}}, every: time.Hour, now: time.Now, sem: make(chan struct{}, 1),
		fetch: func(context.Context, string, any) error { t.Error("fetched"); return nil }}
	ks.last = time.Now()
	for _, alg := range []jose.SignatureAlgorithm{jose.HS256, jose.HS384, jose.HS512} {
		sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: secret}, (&jose.SignerOptions{}).WithHeader("kid", "hmac"))
		if err != nil {
			t.Fatal(err)
		}
		jws, err := sig.Sign([]byte(`{"sub":"u1"}`))
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := jws.CompactSerialize()
		if _, err := ks.VerifySignature(context.Background(), tok); err == nil || !strings.Contains(err.Error(), "unexpected signature algorithm") {
			t.Errorf("%s: %v, want the algorithm refused", alg, err)
		}
	}
	if _, err := ks.VerifySignature(context.Background(), "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1MSJ9."); err == nil {
		t.Error("alg none verified")
	}
}

// A failed fetch keeps the keys there were, and counts against the period.
func TestKeySetKeepsKeysWhenAFetchFails(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	j := newJWKSServer(t, jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256"})
	clock := newClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	a := &oidcAuth{client: j.srv.Client(), timing: OIDCTiming{}.withDefaults()}
	ks := &keySet{url: j.srv.URL, fetch: a.getJSON, every: 10 * time.Second, now: clock.Now, sem: make(chan struct{}, 1)}
	if err := ks.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	j.set() // an empty set: no usable key
	clock.Advance(time.Minute)
	if _, err := ks.VerifySignature(context.Background(), signed(t, key, "unknown")); err == nil || !strings.Contains(err.Error(), "no usable signing key") {
		t.Fatalf("empty set: %v", err)
	}
	if _, err := ks.VerifySignature(context.Background(), signed(t, key, "k1")); err != nil {
		t.Fatalf("the old key after a failed fetch: %v", err)
	}
}

// Requests to the provider are bounded in time and size.
func TestIdPRequestsAreBounded(t *testing.T) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"keys":"` + strings.Repeat("a", maxIdPDocument) + `"}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release)
	a := &oidcAuth{client: srv.Client(), timing: OIDCTiming{FetchTimeout: 200 * time.Millisecond}.withDefaults()}
	var v any
	done := make(chan error, 1)
	go func() { done <- a.getJSON(context.Background(), srv.URL+"/hang", &v) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a hanging provider answered")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a request to a hanging provider outlived its 200ms timeout by seconds")
	}
	if err := a.getJSON(context.Background(), srv.URL+"/huge", &v); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversize answer: %v", err)
	}
}

func TestOIDCTimingDefaults(t *testing.T) {
	d := OIDCTiming{}.withDefaults()
	if d.FetchTimeout != 10*time.Second || d.KeyRefetch != 10*time.Second || d.RetryMin != time.Second || d.RetryMax != time.Minute {
		t.Errorf("defaults %+v", d)
	}
	if d := (OIDCTiming{RetryMin: 2 * time.Minute}).withDefaults(); d.RetryMax != 2*time.Minute {
		t.Errorf("RetryMax below RetryMin: %+v", d)
	}
}

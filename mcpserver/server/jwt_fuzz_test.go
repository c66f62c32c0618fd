package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Bearer JWTs come from anyone who reaches the port (OIDC mode): no token
// panics the key set, only a token the provider's key signed verifies, and
// no run of tokens with unknown key ids fetches the key set more than once
// per period.
func FuzzJWT(f *testing.F) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	pub := jose.JSONWebKey{Key: &priv.PublicKey, KeyID: "k1", Algorithm: string(jose.ES256), Use: "sig"}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: "k1"}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	sign := func(payload string) string {
		jws, err := signer.Sign([]byte(payload))
		if err != nil {
			f.Fatal(err)
		}
		s, err := jws.CompactSerialize()
		if err != nil {
			f.Fatal(err)
		}
		return s
	}
	valid := sign(`{"iss":"https://idp","sub":"alice","aud":"blue","exp":4102444800}`)
	for _, s := range []string{
		valid, valid + "x", "", "a.b.c", "a.b", "....",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",                             // alg none
		"eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl", // HS256 with our kid
		"eyJhbGciOiJFUzI1NiIsImtpZCI6Im90aGVyIn0.e30.AAAA",                      // an unknown kid
	} {
		f.Add(s)
	}
	keyJSON, err := json.Marshal(pub)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var fetches atomic.Int32
		now := time.Unix(1_800_000_000, 0)
		k := &keySet{
			url: "https://idp/jwks", every: time.Minute, now: func() time.Time { return now }, sem: make(chan struct{}, 1),
			fetch: func(_ context.Context, _ string, v any) error {
				fetches.Add(1)
				return json.Unmarshal([]byte(`{"keys":[`+string(keyJSON)+`]}`), v)
			},
		}
		payload, err := k.VerifySignature(context.Background(), raw)
		if err == nil {
			// It verified: it must be a compact JWS our key signed.
			jws, perr := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256})
			if perr != nil {
				t.Fatalf("%q verified but does not parse as ES256: %v", raw, perr)
			}
			got, verr := jws.Verify(&pub)
			if verr != nil || string(got) != string(payload) {
				t.Fatalf("%q verified without our key's signature", raw)
			}
		}
		// Again, as a flood of tokens would: no second fetch in the period.
		_, _ = k.VerifySignature(context.Background(), raw)
		if n := fetches.Load(); n > 1 {
			t.Fatalf("%q: %d key set fetches within one period", raw, n)
		}
		// The claims of any payload parse without a panic.
		var rc rawClaims
		if json.Unmarshal(payload, &rc) == nil {
			_, _ = rc.claims("sub")
		}
	})
}

// The claims a provider sends come in many shapes: none panics, and
// email_verified is true only for true or "true".
func FuzzClaims(f *testing.F) {
	for _, s := range []string{`{}`, `{"email_verified":true,"groups":["a"]}`, `{"email_verified":"true","groups":"a"}`, `{"groups":1}`, `{"exp":1e400}`, `{"nbf":-1,"email_verified":"TRUE"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, js string) {
		var rc rawClaims
		if json.Unmarshal([]byte(js), &rc) != nil {
			return
		}
		c, err := rc.claims("alice")
		if err != nil {
			return
		}
		if v := strings.TrimSpace(string(rc.EmailVerified)); c.EmailVerified && v != "true" && v != `"true"` {
			t.Fatalf("email_verified %s read as true", v)
		}
	})
}

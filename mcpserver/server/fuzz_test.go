package server

import (
	"context"
	"strings"
	"testing"

	"github.com/superviber/blue-operator/api/contract"
)

// The session header comes from the client: no value panics, and only ids
// this tenant's key signed, in their one spelling, are valid.
func FuzzSessionID(f *testing.F) {
	s := newSessions(0, 0, 0, []byte(strings.Repeat("k", 32)), nil)
	id, _ := s.newID()
	for _, v := range []string{id, "", ".", strings.ToUpper(id), id + "0", "x.y"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if s.valid(v) && v != id {
			// Another valid id is only possible by forging the HMAC.
			r, m, _ := strings.Cut(v, ".")
			if len(r) != 32 || len(m) != 32 || strings.ToLower(v) != v {
				t.Fatalf("%q accepted", v)
			}
		}
	})
}

// Bearer tokens come from anyone who reaches the port: no token panics the
// verifier, and only the token itself matches its hash.
func FuzzBearerToken(f *testing.F) {
	const token = "blue_the-one-valid-token-0123456789abcdef"
	verify, err := tokenVerifier([]string{contract.TokenHash(token)})
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range []string{token, "", "Bearer " + token, token + " ", strings.ToUpper(token), "\x00"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		info, err := verify(context.Background(), v, nil)
		if (err == nil) != (v == token) {
			t.Fatalf("token %q: info %v, err %v", v, info, err)
		}
	})
}

// Host and Origin headers come from the client (a browser, in a DNS
// rebinding attack): the guard never panics and never admits a host that is
// neither the tenant's nor loopback.
func FuzzHostGuard(f *testing.F) {
	g := newHostGuard("https://acme.mcp.superviber.com/mcp")
	for _, h := range []string{"acme.mcp.superviber.com", "127.0.0.1:1", "[::1]", "evil.example", "acme.mcp.superviber.com.evil", ""} {
		f.Add(h, "https://acme.mcp.superviber.com")
	}
	f.Fuzz(func(t *testing.T, host, origin string) {
		if g.allowedHost(host) {
			h := hostOnly(host)
			if h != "acme.mcp.superviber.com" && !isLoopbackHost(h) {
				t.Fatalf("host %q admitted", host)
			}
		}
		_ = g.allowedOrigin(origin)
	})
}

package server

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/superviber/blue-operator/api/contract"
)

// tokenVerifier checks a bearer token against the SHA-256 hashes the
// operator gives the server. Every hash is compared, in constant time, so
// the answer's timing says nothing about which hash came close.
func tokenVerifier(hashes []string) (auth.TokenVerifier, error) {
	var sums [][]byte
	for _, h := range hashes {
		sum, err := contract.ParseTokenHash(h)
		if err != nil {
			return nil, fmt.Errorf("token hash %q: %w", abbreviate(h), err)
		}
		sums = append(sums, sum)
	}
	if len(sums) == 0 {
		return nil, fmt.Errorf("no token hashes: token auth needs at least one")
	}
	return func(_ context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		got := contract.TokenDigest(token)
		match := -1
		for i, want := range sums {
			if subtle.ConstantTimeCompare(got, want) == 1 {
				match = i
			}
		}
		if match < 0 {
			return nil, fmt.Errorf("%w: unknown token", auth.ErrInvalidToken)
		}
		// The caller is named by the token's hash prefix: stable, and safe to
		// log and to show in the client's CloudTrail.
		return &auth.TokenInfo{UserID: "token-" + hex.EncodeToString(sums[match][:4])}, nil
	}, nil
}

func abbreviate(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}

// challenge makes every 401 carry a WWW-Authenticate header (the SDK's
// middleware sets one only when there is resource metadata to point to).
func challenge(realm string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&challengeWriter{ResponseWriter: w, realm: realm}, r)
	})
}

type challengeWriter struct {
	http.ResponseWriter
	realm string
}

func (c *challengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		h := c.Header()
		if v := h.Get("WWW-Authenticate"); v == "" {
			h.Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q, error="invalid_token"`, c.realm))
		} else if !strings.Contains(v, "error=") {
			h.Set("WWW-Authenticate", v+`, error="invalid_token"`)
		}
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *challengeWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

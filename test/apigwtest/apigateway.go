// Package apigwtest is a client's API Gateway for tests: it checks each
// request's SigV4 signature (service execute-api) against the credentials
// the test STS issued, lets only the client's role through (as an IAM
// authorizer would), and serves the apigw contract over a real store.
package apigwtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/superviber/blue-operator/mcpserver/apigw"
	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/test/ststest"
)

// Gateway is a running test gateway.
type Gateway struct {
	URL      string
	mu       sync.Mutex
	accepted int
	refused  int
}

// Counts returns how many requests were let through and refused.
func (g *Gateway) Counts() (accepted, refused int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.accepted, g.refused
}

// New serves the contract over st for callers signing as role.
func New(tb testing.TB, sts *ststest.Server, role, region string, st *store.Store) *Gateway {
	g := &Gateway{}
	h := apigw.Handler(st)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := verify(r, sts, role, region); err != nil {
			g.mu.Lock()
			g.refused++
			g.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = fmt.Fprintf(w, `{"message":%q}`, err.Error())
			return
		}
		g.mu.Lock()
		g.accepted++
		g.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

// verify recomputes the SigV4 signature over the signed headers and body.
func verify(r *http.Request, sts *ststest.Server, role, region string) error {
	auth := r.Header.Get("Authorization")
	const prefix = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, prefix) {
		return fmt.Errorf("missing SigV4 Authorization")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, prefix), ", ") {
		k, v, _ := strings.Cut(part, "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[2] != region || scope[3] != "execute-api" {
		return fmt.Errorf("credential scope %q is not %s/execute-api", fields["Credential"], region)
	}
	id, ok := sts.Lookup(scope[0])
	if !ok || id.RoleARN != role {
		return fmt.Errorf("access key is not a session of %s", role)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("X-Amz-Date: %w", err)
	}
	check, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	check.Host = r.Host
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		if h != "host" {
			check.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	check.Header.Del("Authorization")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: id.AccessKeyID, SecretAccessKey: id.SecretAccessKey, SessionToken: id.SessionToken}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, check, hex.EncodeToString(sum[:]), "execute-api", region, when); err != nil {
		return err
	}
	want := check.Header.Get("Authorization")
	if want != auth {
		return fmt.Errorf("signature does not match")
	}
	return nil
}

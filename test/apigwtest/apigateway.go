// Package apigwtest is a client's API Gateway for tests and the local
// stack: it checks each
// request's SigV4 signature (service execute-api) against the credentials
// the test STS issued, lets only the client's role through (as an IAM
// authorizer would), and serves the apigw contract over a real store, or
// hands each request to a Lambda invoke URL as a REST API's Lambda proxy
// integration does.
package apigwtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/superviber/blue-operator/mcpserver/apigw"
	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/mcpserver/tools"
	"github.com/superviber/blue-operator/test/ststest"
)

// Gateway is a running test gateway. Like the client's REST API it declares
// only the contract's resources, for the stored kinds (anything else gets
// API Gateway's 403 "Missing Authentication Token"), and it enforces the
// client role's execute-api:Invoke grants (Grant).
type Gateway struct {
	URL      string
	srv      *httptest.Server
	mu       sync.Mutex
	accepted int
	refused  int
	grants   []string
}

// Close stops the gateway, waiting for the requests it is serving.
func (g *Gateway) Close() { g.srv.Close() }

// Grant replaces what the client role may invoke (everything by default)
// with these resources, written as the ends of execute-api ARNs after the
// stage: "GET/v1/*" is read-only, "*/v1/rfc/*" is every operation on RFCs.
// As in IAM, * matches any run of characters (slashes too) and ? one.
// Grant() with no resources restores the default.
func (g *Gateway) Grant(resources ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.grants = append([]string(nil), resources...)
}

// GrantNothing takes every grant away, as a role policy without
// execute-api:Invoke does: every request is refused with 403. Grant()
// restores the default.
func (g *Gateway) GrantNothing() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.grants = []string{}
}

func (g *Gateway) granted(method, path string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.grants == nil {
		return true
	}
	res := method + path
	for _, p := range g.grants {
		if globMatch(p, res) {
			return true
		}
	}
	return false
}

// globMatch is IAM's resource wildcard match.
func globMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if globMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && globMatch(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && globMatch(pattern[1:], s[1:])
}

// declared reports whether the REST API has this method on this resource.
func declared(method, path string) bool {
	_, kind, ok := apigw.RouteOf(method, path)
	return ok && slices.Contains(tools.StoredKinds(), kind)
}

// Counts returns how many requests were let through and refused.
func (g *Gateway) Counts() (accepted, refused int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.accepted, g.refused
}

// New serves the contract over st for callers signing as role, until the
// test ends.
func New(tb testing.TB, sts *ststest.Server, role, region string, st *store.Store) *Gateway {
	tb.Helper()
	return must(tb)(Start(sts, role, region, st))
}

// Start is New for callers without a testing.TB (the benchmarks): the
// gateway runs the data function's handler in-process, as many invocations
// at once as arrive (as Lambda scales), until Close.
func Start(sts *ststest.Server, role, region string, st *store.Store) (*Gateway, error) {
	return start(sts, role, region, apigw.Handler(st))
}

// NewLambda hands every request signed as role to the function behind
// invokeURL (the Lambda Invoke API, for example the Runtime Interface
// Emulator's /2015-03-31/functions/function/invocations) as a REST API's
// Lambda proxy integration does: the request becomes an
// events.APIGatewayProxyRequest, the function's
// events.APIGatewayProxyResponse becomes the answer, and anything else the
// function returns is a 502.
// The gateway runs until the test ends.
func NewLambda(tb testing.TB, sts *ststest.Server, role, region, invokeURL string) *Gateway {
	tb.Helper()
	return must(tb)(StartLambda(sts, role, region, invokeURL))
}

// StartLambda is NewLambda for callers without a testing.TB (the local
// stack): the gateway runs until Close.
func StartLambda(sts *ststest.Server, role, region, invokeURL string) (*Gateway, error) {
	return start(sts, role, region, lambdaProxy(role, invokeURL))
}

// must ends the test when a gateway could not start, and closes it when the
// test ends.
func must(tb testing.TB) func(*Gateway, error) *Gateway {
	return func(g *Gateway, err error) *Gateway {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(g.Close)
		return g
	}
}

func start(sts *ststest.Server, role, region string, h http.Handler) (*Gateway, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("test API Gateway: %w", err)
	}
	g := &Gateway{}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse := func(msg string) {
			g.mu.Lock()
			g.refused++
			g.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = fmt.Fprintf(w, `{"message":%q}`, msg)
		}
		if !declared(r.Method, r.URL.Path) {
			refuse("Missing Authentication Token")
			return
		}
		if err := verify(r, sts, role, region); err != nil {
			refuse(err.Error())
			return
		}
		if !g.granted(r.Method, r.URL.Path) {
			refuse("User: " + role + " is not authorized to perform: execute-api:Invoke on resource: " + r.Method + r.URL.Path)
			return
		}
		g.mu.Lock()
		g.accepted++
		g.mu.Unlock()
		h.ServeHTTP(w, r)
	})}}
	srv.Start()
	g.srv, g.URL = srv, srv.URL
	return g, nil
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

// lambdaProxy is the proxy integration (payload format 1.0).
func lambdaProxy(role, invokeURL string) http.Handler {
	hc := &http.Client{Timeout: 30 * time.Second}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ev := events.APIGatewayProxyRequest{
			Resource: "/{proxy+}", Path: r.URL.Path, HTTPMethod: r.Method,
			Headers: map[string]string{}, MultiValueHeaders: map[string][]string{},
			QueryStringParameters: map[string]string{}, MultiValueQueryStringParameters: map[string][]string{},
			PathParameters: map[string]string{"proxy": strings.TrimPrefix(r.URL.Path, "/")},
			RequestContext: events.APIGatewayProxyRequestContext{
				Stage: "test", HTTPMethod: r.Method, Path: r.URL.Path, ResourcePath: "/{proxy+}",
				RequestTimeEpoch: time.Now().UnixMilli(),
				Identity:         events.APIGatewayRequestIdentity{SourceIP: r.RemoteAddr, UserArn: role, UserAgent: r.UserAgent()},
			},
		}
		r.Header.Set("Host", r.Host)
		for k, vs := range r.Header {
			ev.Headers[k] = vs[len(vs)-1]
			ev.MultiValueHeaders[k] = vs
		}
		for k, vs := range r.URL.Query() {
			ev.QueryStringParameters[k] = vs[len(vs)-1]
			ev.MultiValueQueryStringParameters[k] = vs
		}
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
		payload, _ := json.Marshal(ev)
		resp, err := hc.Post(invokeURL, "application/json", bytes.NewReader(payload))
		if err != nil {
			badGateway(w, err)
			return
		}
		defer func() { _ = resp.Body.Close() }()
		var out events.APIGatewayProxyResponse
		raw, err := io.ReadAll(resp.Body)
		if err == nil {
			err = json.Unmarshal(raw, &out)
		}
		if err != nil || resp.StatusCode != http.StatusOK || out.StatusCode == 0 {
			badGateway(w, fmt.Errorf("invoke answered %d: %s", resp.StatusCode, raw))
			return
		}
		b := []byte(out.Body)
		if out.IsBase64Encoded {
			if b, err = base64.StdEncoding.DecodeString(out.Body); err != nil {
				badGateway(w, err)
				return
			}
		}
		for k, v := range out.Headers {
			w.Header().Set(k, v)
		}
		for k, vs := range out.MultiValueHeaders {
			w.Header()[http.CanonicalHeaderKey(k)] = vs
		}
		w.WriteHeader(out.StatusCode)
		_, _ = w.Write(b)
	})
}

// badGateway is API Gateway's answer to a function that failed or returned
// no proxy response.
func badGateway(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadGateway)
	_, _ = fmt.Fprintf(w, `{"message":"Internal server error","cause":%q}`, err.Error())
}

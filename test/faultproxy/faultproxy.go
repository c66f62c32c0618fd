// Package faultproxy is a fault-injecting HTTP reverse proxy for tests. It
// stands in front of a protocol test server (test/dynamotest, test/s3test)
// and fails chosen requests the ways the network and AWS fail them:
//
//   - applied, answer lost: the request is forwarded, so the target applies
//     it, and then the answer is replaced by a 500 or the connection is reset
//     (the ambiguous outcome a client's retry then runs into);
//   - refused without forwarding: a 500 or 503 in the request's protocol, or a
//     reset connection;
//   - throttled: DynamoDB's 400 ProvisionedThroughputExceededException or
//     ThrottlingException, as the SDK's retryer classifies them.
//
// Requests are selected per protocol: DynamoDB by the operation named in
// X-Amz-Target (and, when needed, by what the JSON body contains), S3 by
// method and path. Each injection applies to a given number of matching
// requests (or to all of them until removed). The proxy records what it did
// with every request, including the SDK's own attempt header, so a test can
// tell a retry from a new call. It is safe for concurrent use.
package faultproxy

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is what a matcher sees of a request. Body is the whole request
// body (already read; the target gets the same bytes).
type Request struct {
	Method string
	Path   string // the URL path, e.g. "/bucket/key"
	Query  url.Values
	Header http.Header
	Body   []byte
	// Op is the DynamoDB operation from X-Amz-Target ("PutItem"), "" for
	// requests of other protocols.
	Op string
}

// DynamoDB reports whether the request is a DynamoDB JSON API call.
func (r *Request) DynamoDB() bool { return r.Header.Get("X-Amz-Target") != "" }

// Fault is what an injection does to a matching request.
type Fault struct {
	// Forward sends the request to the target first, so that it is applied,
	// and then throws the target's answer away: the client gets the failure
	// below although the write happened.
	Forward bool
	// Reset fails by resetting the connection (TCP RST, no answer at all).
	// Otherwise the client gets Status with an error body in the request's
	// protocol (DynamoDB JSON with __type Code, or S3 XML with Code).
	Reset   bool
	Status  int    // default 500
	Code    string // default InternalServerError (DynamoDB) or InternalError (S3)
	Message string
}

// Faults as AWS and the network produce them.
var (
	// ApplyThen500 applies the request, then answers 500 InternalServerError.
	ApplyThen500 = Fault{Forward: true, Status: http.StatusInternalServerError}
	// ApplyThenReset applies the request, then resets the connection.
	ApplyThenReset = Fault{Forward: true, Reset: true}
	// ConnReset resets the connection without forwarding.
	ConnReset = Fault{Reset: true}
	// Internal answers 500 without forwarding.
	Internal = Fault{Status: http.StatusInternalServerError, Message: "We encountered an internal error. Please try again."}
	// Unavailable answers 503 without forwarding (S3's SlowDown, DynamoDB's
	// ServiceUnavailable).
	Unavailable = Fault{Status: http.StatusServiceUnavailable}
	// ProvisionedThroughputExceeded is DynamoDB's throttling of a table.
	ProvisionedThroughputExceeded = Fault{
		Status:  http.StatusBadRequest,
		Code:    "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
		Message: "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
	}
	// Throttling is DynamoDB's throttling of the account's request rate.
	Throttling = Fault{
		Status:  http.StatusBadRequest,
		Code:    "com.amazon.coral.availability#ThrottlingException",
		Message: "Rate of requests exceeds the allowed throughput.",
	}
)

// Match selects requests; it runs under the proxy's lock, so it must be
// quick and must not call the proxy.
type Match func(*Request) bool

// DynamoDBOp matches DynamoDB calls of the given operations ("PutItem", ...),
// or every DynamoDB call when none are given.
func DynamoDBOp(ops ...string) Match {
	return func(r *Request) bool {
		if !r.DynamoDB() {
			return false
		}
		if len(ops) == 0 {
			return true
		}
		for _, op := range ops {
			if r.Op == op {
				return true
			}
		}
		return false
	}
}

// S3 matches non-DynamoDB requests with this method ("" for any) whose path
// starts with pathPrefix (path-style: "/<bucket>/<key>").
func S3(method, pathPrefix string) Match {
	return func(r *Request) bool {
		return !r.DynamoDB() && (method == "" || r.Method == method) && strings.HasPrefix(r.Path, pathPrefix)
	}
}

// BodyContains matches requests whose body contains every one of subs.
func BodyContains(subs ...string) Match {
	return func(r *Request) bool {
		for _, s := range subs {
			if !bytes.Contains(r.Body, []byte(s)) {
				return false
			}
		}
		return true
	}
}

// And matches what both m and every one of others match.
func (m Match) And(others ...Match) Match {
	return func(r *Request) bool {
		if !m(r) {
			return false
		}
		for _, o := range others {
			if !o(r) {
				return false
			}
		}
		return true
	}
}

// Action is what the proxy did with a request.
type Action string

const (
	Forwarded         Action = "forwarded"           // passed through untouched
	AppliedThenFailed Action = "applied-then-failed" // forwarded, the answer replaced by an error
	AppliedThenReset  Action = "applied-then-reset"  // forwarded, then the connection reset
	Failed            Action = "failed"              // answered with an error, not forwarded
	ResetConnection   Action = "reset"               // connection reset, not forwarded
	Unreachable       Action = "unreachable"         // the target did not answer: 502
)

// Event is one request and what the proxy did with it.
type Event struct {
	At     time.Time
	Method string
	Path   string
	Op     string // DynamoDB operation, "" otherwise
	// Attempt is the SDK's amz-sdk-request header ("attempt=2; max=4"):
	// which attempt of one SDK call this was.
	Attempt  string
	Action   Action
	Fault    *Fault // the injected fault, nil when passed through
	Upstream int    // the target's status when forwarded, else 0
	Status   int    // what the client got; 0 for a reset
}

// Injected reports whether the proxy failed this request.
func (e Event) Injected() bool { return e.Fault != nil }

// Injection is one installed fault.
type Injection struct {
	p     *Proxy
	match Match
	fault Fault
	left  int // matching requests still to fail; < 0: unlimited
	hits  int
}

// Hits is how many requests this injection has failed.
func (in *Injection) Hits() int {
	in.p.mu.Lock()
	defer in.p.mu.Unlock()
	return in.hits
}

// Remove uninstalls the injection.
func (in *Injection) Remove() {
	in.p.mu.Lock()
	defer in.p.mu.Unlock()
	for i, x := range in.p.rules {
		if x == in {
			in.p.rules = append(in.p.rules[:i:i], in.p.rules[i+1:]...)
			return
		}
	}
}

// Proxy is a running fault-injecting reverse proxy.
type Proxy struct {
	target *url.URL
	client *http.Client
	srv    *http.Server
	url    string
	once   sync.Once

	mu     sync.Mutex
	rules  []*Injection // first match wins
	events []Event
}

// Start serves a proxy to target (a base URL such as "http://127.0.0.1:4567")
// on a free 127.0.0.1 port. The caller must Close it.
func Start(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: bad target %q", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		target: u,
		client: &http.Client{
			Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
			// The client follows redirects itself, if at all.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		url: "http://" + ln.Addr().String(),
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// New starts a proxy to target for a test and closes it in the test's cleanup.
func New(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p, err := Start(target)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	return p
}

// URL is the proxy's base URL, to give clients as their endpoint.
func (p *Proxy) URL() string { return p.url }

// Close stops the proxy and drops its connections.
func (p *Proxy) Close() error {
	var err error
	p.once.Do(func() {
		err = p.srv.Close()
		p.client.CloseIdleConnections()
	})
	return err
}

// Inject makes the next times requests matching m fail with f; times <= 0
// means every matching request until the injection is removed. Injections
// are consulted in the order they were installed; the first that matches and
// has requests left applies.
func (p *Proxy) Inject(m Match, f Fault, times int) *Injection {
	if times <= 0 {
		times = -1
	}
	in := &Injection{p: p, match: m, fault: f, left: times}
	p.mu.Lock()
	p.rules = append(p.rules, in)
	p.mu.Unlock()
	return in
}

// Clear removes every injection.
func (p *Proxy) Clear() {
	p.mu.Lock()
	p.rules = nil
	p.mu.Unlock()
}

// Events returns what the proxy did so far, in order.
func (p *Proxy) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.events...)
}

// ClearEvents forgets the recorded events.
func (p *Proxy) ClearEvents() {
	p.mu.Lock()
	p.events = nil
	p.mu.Unlock()
}

// pick returns the fault for r, if any, counting it against its injection.
func (p *Proxy) pick(r *Request) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, in := range p.rules {
		if in.left == 0 || !in.match(r) {
			continue
		}
		if in.left > 0 {
			in.left--
		}
		in.hits++
		f := in.fault
		return &f
	}
	return nil
}

func (p *Proxy) record(e Event) {
	p.mu.Lock()
	p.events = append(p.events, e)
	p.mu.Unlock()
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "faultproxy: reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	req := &Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header, Body: body}
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		req.Op = t[strings.LastIndexByte(t, '.')+1:]
	}
	ev := Event{At: time.Now(), Method: r.Method, Path: r.URL.Path, Op: req.Op, Attempt: r.Header.Get("Amz-Sdk-Request")}
	f := p.pick(req)
	ev.Fault = f

	if f != nil && !f.Forward {
		if f.Reset {
			ev.Action = ResetConnection
			p.record(ev)
			reset(w)
			return
		}
		ev.Action = Failed
		ev.Status = p.writeFault(w, req, f)
		p.record(ev)
		return
	}

	resp, respBody, err := p.forward(r, body)
	if err != nil {
		ev.Action = Unreachable
		ev.Status = http.StatusBadGateway
		p.record(ev)
		http.Error(w, "faultproxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	ev.Upstream = resp.StatusCode
	switch {
	case f == nil:
		ev.Action, ev.Status = Forwarded, resp.StatusCode
		p.record(ev)
		copyHeader(w.Header(), resp.Header)
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(respBody)
	case f.Reset:
		ev.Action = AppliedThenReset
		p.record(ev)
		reset(w)
	default:
		ev.Action = AppliedThenFailed
		ev.Status = p.writeFault(w, req, f)
		p.record(ev)
	}
}

// forward sends r (with body) to the target and reads the whole answer, so
// that the target has finished with the request when this returns.
func (p *Proxy) forward(r *http.Request, body []byte) (*http.Response, []byte, error) {
	u := *p.target
	u.Path = strings.TrimSuffix(u.Path, "/") + r.URL.Path
	u.RawPath = ""
	if r.URL.RawPath != "" {
		u.RawPath = strings.TrimSuffix(p.target.EscapedPath(), "/") + r.URL.RawPath
	}
	u.RawQuery = r.URL.RawQuery
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	out.Header = r.Header.Clone()
	removeHopHeaders(out.Header)
	out.Header.Del("Expect") // the body is already here
	out.ContentLength = int64(len(body))
	if len(body) == 0 {
		out.Body = http.NoBody
	}
	// Keep the Host the client signed (SigV4 signs it).
	out.Host = r.Host
	resp, err := p.client.Do(out)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	return resp, b, nil
}

// writeFault answers f in r's protocol and returns the status written.
func (p *Proxy) writeFault(w http.ResponseWriter, r *Request, f *Fault) int {
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	msg := f.Message
	if msg == "" {
		msg = "injected by faultproxy"
	}
	if r.DynamoDB() {
		code := f.Code
		if code == "" {
			code = "com.amazonaws.dynamodb.v20120810#InternalServerError"
			if status == http.StatusServiceUnavailable {
				code = "com.amazonaws.dynamodb.v20120810#ServiceUnavailable"
			}
		}
		b, _ := json.Marshal(map[string]string{"__type": code, "message": msg})
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Requestid", "faultproxy")
		w.WriteHeader(status)
		_, _ = w.Write(b)
		return status
	}
	code := f.Code
	if code == "" {
		code = "InternalError"
		if status == http.StatusServiceUnavailable {
			code = "SlowDown"
		}
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	_ = xml.NewEncoder(&b).Encode(struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		Resource  string
		RequestId string
	}{Code: code, Message: msg, Resource: r.Path, RequestId: "faultproxy"})
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Amz-Request-Id", "faultproxy")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
	return status
}

// reset closes the client's connection with a TCP RST and no answer.
func reset(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // close sends RST, not FIN
			}
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// Hop-by-hop headers (RFC 9110 section 7.6.1) are not forwarded.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopHeaders(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

func copyHeader(dst, src http.Header) {
	removeHopHeaders(src)
	for k, vs := range src {
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}

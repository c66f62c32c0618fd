// Package dynamotest runs a real implementation of the DynamoDB JSON API for
// tests: dynalite (npm package, pinned in the repo's package.json), in memory,
// as a child process on 127.0.0.1, behind a small recording reverse proxy.
//
// The proxy records every call (operation as an IAM action such as
// "dynamodb:PutItem", the access key id that signed it, table and index), so
// tests can check which credentials touched the table and which operations the
// server needs (the shipped IAM policy must cover exactly those). It can also
// inject faults into chosen calls.
//
// What dynalite does not have (read from its source, v4.0.0): TransactWriteItems,
// TransactGetItems, ExecuteStatement (PartiQL), ReturnValuesOnConditionCheckFailure
// (unknown request fields are silently dropped, so a failed condition never returns
// the item), streams and TTL expiry. It has GSIs (eventually consistent reads are in
// fact immediate; ConsistentRead on a GSI is rejected as in DynamoDB), condition and
// update expressions, Query pagination and PAY_PER_REQUEST billing.
package dynamotest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Region is the region the helper clients use; dynalite accepts any.
const Region = "us-east-1"

// Test credentials used by Client when none are given.
const (
	TestAccessKeyID     = "AKIDDYNALITETEST"
	TestSecretAccessKey = "dynalite-test-secret"
)

// launcher starts dynalite in this process's own node: port 0 gives a free port
// without a race (dynalite's CLI maps port 0 to 4567), the port is printed once
// listening, and the process exits when its stdin closes, so a test binary that
// dies without cleanup (SIGKILL, timeout) never leaves dynalite behind.
// No path option: dynalite then keeps everything in memory (memory-level).
const launcher = `
const dynalite = require(process.argv[1]);
const server = dynalite({createTableMs: 0, deleteTableMs: 0, updateTableMs: 0});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write('PORT ' + server.address().port + '\n');
});
process.stdin.on('data', () => {});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
`

// Call is one request seen by the proxy.
type Call struct {
	Op          string // IAM action, e.g. "dynamodb:PutItem"
	AccessKeyID string // from the SigV4 Authorization header; "" when unsigned
	Table       string // for a batch call, its tables comma-separated
	Index       string
	Status      int // HTTP status returned to the client
}

// Request is what a fault hook sees of a call.
type Request struct {
	Op   string // e.g. "PutItem" (no prefix)
	Body []byte // the JSON request body
}

// Fault is an injected failure. With Drop the connection is closed without an
// answer (a network failure); otherwise the proxy answers with Status and a
// DynamoDB JSON error of Type and Message instead of forwarding the call.
type Fault struct {
	Drop    bool
	Status  int
	Type    string // e.g. "com.amazonaws.dynamodb.v20120810#InternalServerError"
	Message string
}

// Server is a running dynalite with its recording proxy.
type Server struct {
	cmd       *exec.Cmd
	stdin     io.WriteCloser
	stderr    *lockedBuffer
	exited    chan struct{}
	direct    string // dynalite's own URL
	proxy     *http.Server
	listener  net.Listener
	endpoint  string
	closeOnce sync.Once
	closeErr  error

	mu    sync.Mutex
	calls []Call
	fault func(Request) *Fault
	sse   map[string]string // table → KMS key ARN, as SetTableEncryption says
}

// SetTableEncryption makes DescribeTable report the table encrypted with a
// customer managed KMS key (SSEDescription: ENABLED, KMS, keyARN), which
// dynalite does not model; "" reverts to DynamoDB's default, an AWS owned
// key, which DescribeTable reports with no SSEDescription.
func (s *Server) SetTableEncryption(table, keyARN string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sse == nil {
		s.sse = map[string]string{}
	}
	if keyARN == "" {
		delete(s.sse, table)
		return
	}
	s.sse[table] = keyARN
}

// describeTable forwards a DescribeTable and adds the SSEDescription
// SetTableEncryption gave the table.
func (s *Server) describeTable(next http.Handler, w http.ResponseWriter, r *http.Request, table string) int {
	s.mu.Lock()
	key, set := s.sse[table]
	s.mu.Unlock()
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if rec.Code == http.StatusOK && set {
		var out map[string]map[string]any
		if err := json.Unmarshal(body, &out); err == nil && out["Table"] != nil {
			out["Table"]["SSEDescription"] = map[string]string{"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": key}
			body, _ = json.Marshal(out)
		}
	}
	for k, vs := range rec.Header() {
		if k != "Content-Length" && k != "X-Amz-Crc32" {
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
	return rec.Code
}

// Start launches dynalite and the proxy and waits until dynalite answers.
// The caller must Close the server.
func Start(ctx context.Context) (*Server, error) {
	root, err := findNodeModules(searchStarts()...)
	if err != nil {
		return nil, err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("dynalite needs node on PATH: %w", err)
	}
	s := &Server{stderr: &lockedBuffer{}, exited: make(chan struct{})}
	// Not CommandContext: ctx bounds the start, not the server's life.
	s.cmd = exec.Command(node, "-e", launcher, filepath.Join(root, "node_modules", "dynalite"))
	s.cmd.SysProcAttr = procAttr()
	s.cmd.Stderr = s.stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dynalite: %w", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()

	portc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "PORT "); ok {
				portc <- p
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout) // keep the pipe drained
	}()
	var port string
	select {
	case port = <-portc:
	case <-s.exited:
		return nil, fmt.Errorf("dynalite exited before listening: %s", s.stderr.String())
	case <-ctx.Done():
		s.kill()
		return nil, fmt.Errorf("dynalite did not start: %w", ctx.Err())
	}
	s.direct = "http://127.0.0.1:" + port
	if err := s.waitReady(ctx); err != nil {
		s.kill()
		return nil, err
	}
	if err := s.startProxy(); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

// New starts a server for a test and closes it in the test's cleanup; it fails
// the test when dynalite cannot start.
func New(tb testing.TB) *Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Start(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// waitReady polls dynalite with ListTables until it answers.
func (s *Server) waitReady(ctx context.Context) error {
	backoff := 5 * time.Millisecond
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.direct, strings.NewReader("{}"))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
		req.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
		// dynalite checks only that a SigV4-looking header is present.
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+TestAccessKeyID+"/20000101/"+Region+"/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dynalite not answering (%v): %w; stderr: %s", err, ctx.Err(), s.stderr.String())
		case <-s.exited:
			return fmt.Errorf("dynalite exited: %s", s.stderr.String())
		case <-time.After(backoff):
		}
		if backoff < 100*time.Millisecond {
			backoff *= 2
		}
	}
}

func (s *Server) startProxy() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	target, _ := url.Parse(s.direct)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	s.listener = ln
	s.endpoint = "http://" + ln.Addr().String()
	s.proxy = &http.Server{Handler: s.handler(rp), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.proxy.Serve(ln) }()
	return nil
}

func (s *Server) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := r.Header.Get("X-Amz-Target")
		if i := strings.LastIndexByte(op, '.'); i >= 0 {
			op = op[i+1:]
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var names struct {
			TableName, IndexName string
			RequestItems         map[string]json.RawMessage // batch calls name their tables here
		}
		_ = json.Unmarshal(body, &names)
		if names.TableName == "" && len(names.RequestItems) > 0 {
			names.TableName = strings.Join(slices.Sorted(maps.Keys(names.RequestItems)), ",")
		}
		call := Call{Op: "dynamodb:" + op, AccessKeyID: AccessKeyID(r), Table: names.TableName, Index: names.IndexName}

		s.mu.Lock()
		hook := s.fault
		s.mu.Unlock()
		var f *Fault
		if hook != nil {
			f = hook(Request{Op: op, Body: body})
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		switch {
		case f != nil && f.Drop:
			call.Status = 0
			s.record(call)
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		case f != nil:
			st := f.Status
			if st == 0 {
				st = http.StatusInternalServerError
			}
			typ := f.Type
			if typ == "" {
				typ = "com.amazonaws.dynamodb.v20120810#InternalServerError"
			}
			b, _ := json.Marshal(map[string]string{"__type": typ, "message": f.Message})
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(st)
			_, _ = w.Write(b)
			call.Status = st
		case op == "DescribeTable":
			call.Status = s.describeTable(next, w, r, names.TableName)
		default:
			next.ServeHTTP(sw, r)
			call.Status = sw.status
		}
		s.record(call)
	})
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
}

// AccessKeyID returns the access key id that signed r (SigV4 header or
// presigned query), or "".
func AccessKeyID(r *http.Request) string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if a := r.Header.Get("Authorization"); a != "" {
		if _, rest, ok := strings.Cut(a, "Credential="); ok {
			cred = rest
		}
	}
	id, _, _ := strings.Cut(cred, "/")
	return strings.TrimSpace(id)
}

// Endpoint is the URL clients use (the recording proxy).
func (s *Server) Endpoint() string { return s.endpoint }

// DirectEndpoint is dynalite's own URL, bypassing recording and faults.
func (s *Server) DirectEndpoint() string { return s.direct }

// Client returns an aws-sdk-go-v2 DynamoDB client for the proxy, signed with
// the given static credentials (the test ones when accessKeyID is "").
func (s *Server) Client(accessKeyID, secret string) *dynamodb.Client {
	if accessKeyID == "" {
		accessKeyID, secret = TestAccessKeyID, TestSecretAccessKey
	}
	return dynamodb.New(dynamodb.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, secret, ""),
	})
}

// Calls returns a copy of the calls recorded so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Count is how many recorded calls on table were one of ops ("GetItem",
// "BatchGetItem": the operation names, without the IAM prefix).
func (s *Server) Count(table string, ops ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Table == table && slices.Contains(ops, strings.TrimPrefix(c.Op, "dynamodb:")) {
			n++
		}
	}
	return n
}

// ResetCalls forgets the recorded calls.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	s.calls = nil
	s.mu.Unlock()
}

// SetFault installs a hook consulted for every call; a non-nil Fault replaces
// the call's answer. nil removes the hook.
func (s *Server) SetFault(hook func(Request) *Fault) {
	s.mu.Lock()
	s.fault = hook
	s.mu.Unlock()
}

// Close stops the proxy and kills dynalite's process group. Everything it held
// was in memory, so nothing is left behind.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.proxy != nil {
			// Close, not Shutdown: Shutdown waits up to 5 s for connections
			// a client opened but never used.
			s.closeErr = s.proxy.Close()
		}
		s.kill()
	})
	return s.closeErr
}

func (s *Server) kill() {
	_ = s.stdin.Close()
	killGroup(s.cmd)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
	}
}

// searchStarts are the working directory (a package directory under test) and
// this source file's directory.
func searchStarts() []string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	return starts
}

// findNodeModules walks up from each start to the module root (the directory
// with go.mod) looking for node_modules/.bin/dynalite, and returns the
// directory holding node_modules.
func findNodeModules(starts ...string) (string, error) {
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, "node_modules", ".bin", "dynalite")); err == nil {
				return dir, nil
			}
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break // the repo root: stop here
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("node_modules/.bin/dynalite not found at the repo root: run `make node_modules` (npm ci) first")
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 { // keep the tail small; it is only for error messages
		b.buf.Reset()
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strconv.Quote(b.buf.String())
}

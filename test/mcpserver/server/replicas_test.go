package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/superviber/blue-operator/api/contract"
	"github.com/superviber/blue-operator/test/testutil"
	"github.com/superviber/blue-operator/test/world"
)

// Several replicas of a tenant's server behind a load balancer with no
// affinity: one client session's requests land on different processes, and
// processes are replaced under it (a rollout, a crash). These are the two
// faults ToolHive users reported with replicas > 1. The replicas here are
// real cmd/blue-mcp processes behind a round-robin reverse proxy; the session
// must keep working with no reconnect, with the session protocol (initialize,
// Mcp-Session-Id) and with the sessionless one (server/discover). See
// docs/sessions.md.

func TestReplicasShareOneClientSession(t *testing.T) {
	t.Parallel()
	bin := buildBlueMCP(t)
	w := world.Start(t)
	for i, tc := range []struct{ name, version string }{
		{"session protocol 2025-06-18", "2025-06-18"},
		{"sessionless protocol (default)", ""},
	} {
		tn := newTenant(t, w, fmt.Sprintf("replicas%d", i), 131313131313+i)
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			replicaJourney(t, bin, w, tn, tc.version)
		})
	}
}

func replicaJourney(t *testing.T, bin string, w *world.World, tn *world.Tenant, version string) {
	a := startReplica(t, bin, w, tn, "A")
	b := startReplica(t, bin, w, tn, "B")
	lb := newRoundRobin(t, a, b)

	c := mcp.NewClient(&mcp.Implementation{Name: "replicas", Version: "1"}, nil)
	s, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: lb.URL + "/mcp", HTTPClient: world.BearerClient(tn.Token)},
		&mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect through the balancer: %v", err)
	}
	defer func() { _ = s.Close() }()
	if version != "" && s.InitializeResult().ProtocolVersion != version {
		t.Fatalf("negotiated %q, want %q", s.InitializeResult().ProtocolVersion, version)
	}

	// (a) Requests alternate between A and B.
	rfc := mustCall(t, s, "blue_rfc_create", map[string]any{"title": "Replica safe sessions", "problem": "Requests land anywhere."})
	if rfc.Document.ID != "0001" {
		t.Fatalf("created %+v", rfc.Document)
	}
	if got := mustCall(t, s, "blue_rfc_get", map[string]any{"title": "0001"}); got.Document.Title != "Replica safe sessions" {
		t.Fatalf("get: %+v", got.Document)
	}
	if up := mustCall(t, s, "blue_rfc_update_status", map[string]any{"title": "0001", "status": "accepted"}); up.Document.Status != "accepted" {
		t.Fatalf("update: %+v", up.Document)
	}
	if l := mustCall(t, s, "blue_rfc_list", nil); len(l.Documents) != 1 || l.Documents[0].Status != "accepted" {
		t.Fatalf("list: %+v", l.Documents)
	}
	id := lb.sessionID(t)
	for _, r := range []*replica{a, b} {
		if n := lb.toolCalls(r); n < 1 {
			t.Errorf("replica %s served %d tool calls, want the calls spread over both (%v)", r.name, n, lb.log())
		}
		// Each replica counts the session, the one that did not see the
		// handshake by adopting its id.
		if n := r.activeSessions(t); n != 1 {
			t.Errorf("replica %s counts %v sessions, want 1 (session %s)", r.name, n, id)
		}
	}

	// (b) A is replaced by a fresh process: the balancer stops sending it
	// requests, it gets SIGTERM, B serves alone, then the new process joins.
	lb.remove(a)
	a.stop(t)
	if l := mustCall(t, s, "blue_rfc_list", nil); len(l.Documents) != 1 {
		t.Fatalf("list with B alone: %+v", l.Documents)
	}
	a2 := startReplica(t, bin, w, tn, "A2")
	lb.add(a2)
	mustCall(t, s, "blue_rfc_create", map[string]any{"title": "Survives restarts"})
	if got := mustCall(t, s, "blue_rfc_get", map[string]any{"title": "Survives restarts"}); got.Document.ID != "0002" {
		t.Fatalf("get after restart: %+v", got.Document)
	}
	// Then B too: no process that saw the handshake is left.
	lb.remove(b)
	b.stop(t)
	b2 := startReplica(t, bin, w, tn, "B2")
	lb.add(b2)
	mustCall(t, s, "blue_rfc_update_status", map[string]any{"title": "0002", "status": "accepted"})
	mustCall(t, s, "blue_status", nil)
	if l := mustCall(t, s, "blue_rfc_list", map[string]any{"status": "accepted"}); len(l.Documents) != 2 {
		t.Fatalf("list after both restarts: %+v", l.Documents)
	}
	for _, r := range []*replica{a2, b2} {
		if n := lb.toolCalls(r); n < 1 {
			t.Errorf("fresh replica %s served no tool calls (%v)", r.name, lb.log())
		}
		if n := r.activeSessions(t); n != 1 {
			t.Errorf("fresh replica %s counts %v sessions, want the client's adopted", r.name, n)
		}
	}
	if got := lb.sessionID(t); got != id {
		t.Errorf("session id changed from %s to %s: the client reconnected", id, got)
	}

	// Closing sends one DELETE; the replica that gets it frees the slot.
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	del := lb.deletes()
	if len(del) != 1 || del[0].status != http.StatusNoContent || del[0].session != id {
		t.Fatalf("DELETEs %+v, want one for session %s answered 204", del, id)
	}
	if n := del[0].replica.activeSessions(t); n != 0 {
		t.Errorf("replica %s still counts %v sessions after the DELETE", del[0].replica.name, n)
	}
	if e := lb.errors(); e != 0 {
		t.Errorf("the balancer failed %d requests", e)
	}
}

// buildBlueMCP builds cmd/blue-mcp once per test.
func buildBlueMCP(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	bin, err := testutil.BuildCommand(ctx, t.TempDir(), "blue-mcp")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// replica is one cmd/blue-mcp process.
type replica struct {
	name, base, metrics string
	cmd                 *exec.Cmd
	exited              chan struct{}
	stderr              *lineWriter
	stopOnce            sync.Once
}

// startReplica runs cmd/blue-mcp for the tenant, configured only through the
// environment the operator sets, and returns once it is ready.
func startReplica(t *testing.T, bin string, w *world.World, tn *world.Tenant, name string) *replica {
	t.Helper()
	r := &replica{name: name, exited: make(chan struct{})}
	addrs := make(chan [2]string, 1)
	r.stderr = &lineWriter{onLine: func(line string) {
		var l struct{ Event, Listen, Metrics string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Event == "start" {
			addrs <- [2]string{l.Listen, l.Metrics}
		}
	}}
	r.cmd = exec.Command(bin, "--shutdown-timeout=5s")
	r.cmd.Env = []string{
		"HOME=" + t.TempDir(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID=" + tn.HopKey.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + tn.HopKey.SecretAccessKey, "AWS_REGION=" + world.Region,
		"BLUE_STS_ENDPOINT=" + w.STSURL, "BLUE_S3_ENDPOINT=" + w.S3.Endpoint(), "BLUE_DYNAMODB_ENDPOINT=" + w.DDB.Endpoint(),
		"BLUE_TENANT=" + tn.Name, "BLUE_TIER=small", contract.EnvClientAccount + "=" + tn.Account, contract.EnvExternalID + "=" + tn.ExternalID, "BLUE_PUBLIC_URL=http://" + tn.Name + ".mcp.example/mcp",
		"BLUE_LISTEN_ADDR=127.0.0.1:0", "BLUE_METRICS_ADDR=127.0.0.1:0",
		"BLUE_AUTH_MODE=token", "BLUE_TOKEN_SHA256=" + strings.TrimSpace(contract.TokenHash(tn.Token)),
		// Every replica gets the tenant's session key, as from the operator's Secret.
		contract.EnvSessionKey + "=replicas-test-session-key-0123456789abcdef",
		"INFISICAL_SITE_URL=" + w.Infisical.URL(), "INFISICAL_PROJECT_ID=" + tn.Project, "INFISICAL_ENVIRONMENT=" + tn.Environment,
		"INFISICAL_SECRET_PATH=" + tn.SecretPath, "INFISICAL_AUTH_METHOD=universal",
		"INFISICAL_CLIENT_ID=" + tn.ClientID, "INFISICAL_CLIENT_SECRET=" + tn.ClientSecret,
	}
	r.cmd.Stderr = r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start replica %s: %v", name, err)
	}
	go func() { _ = r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() { r.stop(t) })
	select {
	case a := <-addrs:
		r.base, r.metrics = "http://"+a[0], "http://"+a[1]
	case <-r.exited:
		t.Fatalf("replica %s exited: %v\n%s", name, r.cmd.ProcessState, r.stderr)
	case <-time.After(10 * time.Second):
		t.Fatalf("replica %s did not start listening\n%s", name, r.stderr)
	}
	waitFor(t, "replica "+name+" ready", func() error {
		resp, err := http.Get(r.base + "/readyz")
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
	return r
}

// stop sends SIGTERM and waits for a clean exit.
func (r *replica) stop(t *testing.T) {
	r.stopOnce.Do(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
			if !r.cmd.ProcessState.Success() {
				t.Errorf("replica %s: %v after SIGTERM\n%s", r.name, r.cmd.ProcessState, r.stderr)
			}
		case <-time.After(10 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.exited
			t.Errorf("replica %s ignored SIGTERM for 10s\n%s", r.name, r.stderr)
		}
	})
}

func (r *replica) activeSessions(t *testing.T) float64 {
	t.Helper()
	resp, err := http.Get(r.metrics + "/metrics")
	if err != nil {
		t.Fatalf("replica %s metrics: %v", r.name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := parseMetrics(t, b)["blue_mcp_active_sessions"]
	if !ok {
		t.Fatalf("replica %s exposes no blue_mcp_active_sessions", r.name)
	}
	return v
}

// lineWriter keeps a process's output and calls onLine per complete line.
type lineWriter struct {
	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	onLine  func(string)
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.onLine(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
}

func (l *lineWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// roundRobin is a load balancer without affinity: each request goes to the
// next replica in turn. It records which replica served what.
type roundRobin struct {
	*httptest.Server
	mu       sync.Mutex
	replicas []*replica
	proxies  map[*replica]*httputil.ReverseProxy
	next     int
	served   []served
	failed   int
}

type served struct {
	replica *replica
	method  string // HTTP method, and the JSON-RPC method of a POST
	session string // Mcp-Session-Id sent
	status  int
}

func newRoundRobin(t *testing.T, rs ...*replica) *roundRobin {
	lb := &roundRobin{proxies: map[*replica]*httputil.ReverseProxy{}}
	for _, r := range rs {
		lb.add(r)
	}
	lb.Server = httptest.NewServer(http.HandlerFunc(lb.serve))
	t.Cleanup(lb.Close)
	return lb
}

func (lb *roundRobin) add(r *replica) {
	u, _ := url.Parse(r.base)
	p := httputil.NewSingleHostReverseProxy(u)
	p.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) {
		lb.mu.Lock()
		lb.failed++
		lb.mu.Unlock()
		w.WriteHeader(http.StatusBadGateway)
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.replicas = append(lb.replicas, r)
	lb.proxies[r] = p
}

func (lb *roundRobin) remove(r *replica) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.replicas = slices.DeleteFunc(lb.replicas, func(x *replica) bool { return x == r })
}

func (lb *roundRobin) serve(w http.ResponseWriter, req *http.Request) {
	method := req.Method
	if req.Method == http.MethodPost {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		var msg struct{ Method string }
		_ = json.Unmarshal(body, &msg)
		method += " " + msg.Method
	}
	lb.mu.Lock()
	r := lb.replicas[lb.next%len(lb.replicas)]
	lb.next++
	p := lb.proxies[r]
	lb.mu.Unlock()
	rec := &statusWriter{ResponseWriter: w}
	p.ServeHTTP(rec, req)
	lb.mu.Lock()
	lb.served = append(lb.served, served{replica: r, method: method, session: req.Header.Get("Mcp-Session-Id"), status: rec.code})
	lb.mu.Unlock()
}

func (lb *roundRobin) toolCalls(r *replica) int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	n := 0
	for _, s := range lb.served {
		if s.replica == r && s.method == "POST tools/call" && s.status == http.StatusOK {
			n++
		}
	}
	return n
}

// sessionID is the one Mcp-Session-Id every request after the handshake
// carried.
func (lb *roundRobin) sessionID(t *testing.T) string {
	t.Helper()
	lb.mu.Lock()
	defer lb.mu.Unlock()
	ids := map[string]bool{}
	for _, s := range lb.served {
		if s.method != "POST initialize" && s.method != "POST server/discover" {
			ids[s.session] = true
		}
	}
	if len(ids) != 1 || ids[""] {
		t.Fatalf("requests carried session ids %v, want one", ids)
	}
	for id := range ids {
		return id
	}
	return ""
}

func (lb *roundRobin) deletes() []served {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	var out []served
	for _, s := range lb.served {
		if s.method == http.MethodDelete {
			out = append(out, s)
		}
	}
	return out
}

func (lb *roundRobin) errors() int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.failed
}

func (lb *roundRobin) log() []string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	var out []string
	for _, s := range lb.served {
		out = append(out, fmt.Sprintf("%s:%s:%d", s.replica.name, s.method, s.status))
	}
	return out
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

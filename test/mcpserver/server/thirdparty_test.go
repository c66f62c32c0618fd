package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/superviber/blue-operator/test/world"
)

// The server must work with MCP clients other than the go-sdk's. This test
// drives it with the official TypeScript SDK (testdata/ts-client.mjs), as a
// Node-based client (Claude Desktop's bridge, IDE plugins, ToolHive) would.

// tsClientResult is the JSON line testdata/ts-client.mjs prints.
type tsClientResult struct {
	Error             string `json:"error"`
	Server            string `json:"server"`
	ProtocolVersion   string `json:"protocolVersion"`
	SessionID         string `json:"sessionId"`
	ToolCount         int    `json:"toolCount"`
	HasRFCCreate      bool   `json:"hasRfcCreate"`
	StructuredContent bool   `json:"structuredContent"`
	Created           struct{ ID, Status string }
	Got               struct{ ID, Title, Status string }
	Updated           struct{ ID, Status string }
	Listed            []struct{ ID, Status string }
	Found             []string
	Terminated        bool `json:"terminated"`
	Unauthorized      struct {
		Connected bool   `json:"connected"`
		Code      *int   `json:"code"`
		Message   string `json:"message"`
	} `json:"unauthorized"`
}

func TestTypeScriptSDKClient(t *testing.T) {
	t.Parallel()
	node, script := tsClient(t, "ts-client.mjs")
	w := world.Start(t)
	tn := newTenant(t, w, "typescript", 121212121212)
	srv := w.Serve(t, tn, world.ServerOptions{MaxSessions: 2})

	// The tool count the go-sdk client sees, to compare with.
	goTools, err := connect(t, srv.URL, tn.Token).ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(), "BLUE_URL="+srv.URL, "BLUE_TOKEN="+tn.Token, "BLUE_BAD_TOKEN=blue_not-this-tenants-token")
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("node client timed out: %v\nstdout: %s\nstderr: %s", ctx.Err(), stdout.String(), stderr.String())
	}
	var res tsClientResult
	if err := json.Unmarshal(lastLine(stdout.Bytes()), &res); err != nil {
		t.Fatalf("node client output %q (exit %v): %v\nstderr: %s", stdout.String(), runErr, err, stderr.String())
	}
	if res.Error != "" || runErr != nil {
		t.Fatalf("node client failed (exit %v): %s\nstderr: %s", runErr, res.Error, stderr.String())
	}

	if res.Server != "blue" || res.ProtocolVersion == "" {
		t.Errorf("initialize: server %q, protocol %q", res.Server, res.ProtocolVersion)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}\.[0-9a-f]{32}$`).MatchString(res.SessionID) {
		t.Errorf("session id %q: want the one the session layer issues on initialize", res.SessionID)
	}
	if res.ToolCount != len(goTools.Tools) || res.ToolCount < 30 || !res.HasRFCCreate {
		t.Errorf("tools/list: %d tools (blue_rfc_create: %v), the go-sdk client sees %d", res.ToolCount, res.HasRFCCreate, len(goTools.Tools))
	}
	if res.Created.ID != "0001" || res.Created.Status != "draft" {
		t.Errorf("created %+v, want RFC 0001 in draft", res.Created)
	}
	if res.StructuredContent {
		t.Errorf("blue_rfc_create sent structuredContent: results are one JSON text item, as Blue's were")
	}
	if res.Got.ID != "0001" || res.Got.Title != "Third party client" || res.Got.Status != "draft" {
		t.Errorf("got %+v", res.Got)
	}
	if res.Updated.ID != "0001" || res.Updated.Status != "accepted" {
		t.Errorf("updated %+v, want accepted", res.Updated)
	}
	if len(res.Listed) != 1 || res.Listed[0].ID != "0001" || res.Listed[0].Status != "accepted" {
		t.Errorf("listed %+v, want only 0001, accepted", res.Listed)
	}
	if len(res.Found) == 0 || res.Found[0] != "0001" {
		t.Errorf("search found %v, want 0001", res.Found)
	}
	if res.Unauthorized.Connected || res.Unauthorized.Code == nil || *res.Unauthorized.Code != http.StatusUnauthorized {
		t.Errorf("wrong token: %+v, want the client to report HTTP 401", res.Unauthorized)
	}

	// The server's side: the refusal was counted, and the TypeScript client's
	// DELETE freed its session slot (only the go-sdk session above is left).
	m := scrape(t, srv.Server.MetricsHandler())
	if m["blue_mcp_auth_failures_total"] < 1 {
		t.Errorf("auth failures %v, want the wrong token counted", m["blue_mcp_auth_failures_total"])
	}
	if !res.Terminated || m["blue_mcp_active_sessions"] != 1 {
		t.Errorf("terminated %v, active sessions %v: want the TypeScript session closed, the go-sdk one open", res.Terminated, m["blue_mcp_active_sessions"])
	}
	// The audit layer saw the TypeScript client's calls.
	if m[`blue_mcp_tool_calls_total{outcome="success",tool="blue_rfc_create"}`] != 1 {
		t.Errorf("metrics: %v", m)
	}
}

// tsClient finds node and a TypeScript client script in testdata, and
// checks the SDK is installed at the version package.json pins.
func tsClient(t *testing.T, name string) (node, script string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH (Node 20 or later is needed): %v", err)
	}
	script, err = filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	root := repoRoot(t)
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	b, err := os.ReadFile(filepath.Join(root, "package.json"))
	if err != nil || json.Unmarshal(b, &pkg) != nil {
		t.Fatalf("read %s/package.json: %v", root, err)
	}
	want := pkg.DevDependencies["@modelcontextprotocol/sdk"]
	var installed struct{ Version string }
	b, err = os.ReadFile(filepath.Join(root, "node_modules", "@modelcontextprotocol", "sdk", "package.json"))
	if err == nil {
		err = json.Unmarshal(b, &installed)
	}
	if err != nil || installed.Version != want {
		t.Fatalf("@modelcontextprotocol/sdk %s is not installed in %s/node_modules (found %q, %v): run `make node_modules`", want, root, installed.Version, err)
	}
	return node, script
}

// repoRoot walks up from the package directory to the directory holding
// package.json and go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if fileExists(filepath.Join(dir, "go.mod")) && fileExists(filepath.Join(dir, "package.json")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no repository root (go.mod and package.json) above the test's directory")
		}
		dir = parent
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}

// scrape reads unlabelled and labelled samples from a Prometheus handler,
// keyed by the sample's name with its labels as exposed.
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return parseMetrics(t, rec.Body.Bytes())
}

func parseMetrics(t *testing.T, b []byte) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

package bluemcp_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/superviber/blue-operator/api/contract"
	"github.com/superviber/blue-operator/test/testutil"
	"github.com/superviber/blue-operator/test/world"
)

// The tests run the blue-mcp binary, configured through the environment as
// the operator's Deployment configures it, against the loopback backends.

// version is stamped into the binary as make build stamps it.
const version = "v0.0.0-test"

// bin is cmd/blue-mcp, built once for the whole package.
var bin string

func TestMain(m *testing.M) {
	os.Exit(testutil.RunWithCommand(m, &bin, "blue-mcp", "-ldflags=-s -w -X main.version="+version))
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type proc struct {
	cmd    *exec.Cmd
	out    *testutil.Buffer
	exited chan error
	addr   string
}

// tenantEnv is the environment the operator would set, pointed at the world.
func tenantEnv(w *world.World, tn *world.Tenant, addr string) []string {
	return []string{
		contract.EnvTenant + "=" + tn.Name, contract.EnvTier + "=medium", contract.EnvPublicURL + "=http://" + addr + "/mcp",
		contract.EnvListenAddr + "=" + addr, contract.EnvMetricsAddr + "=127.0.0.1:0",
		contract.EnvAuthMode + "=token", contract.EnvTokenHashes + "=" + contract.TokenHash(tn.Token),
		"AWS_REGION=" + world.Region, contract.EnvClientAccount + "=" + tn.Account, contract.EnvExternalID + "=" + tn.ExternalID, "BLUE_STS_ENDPOINT=" + w.STSURL, "BLUE_S3_ENDPOINT=" + w.S3.Endpoint(), "BLUE_DYNAMODB_ENDPOINT=" + w.DDB.Endpoint(),
		// The hop role's credentials, as IRSA would provide them.
		"AWS_ACCESS_KEY_ID=" + tn.HopKey.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + tn.HopKey.SecretAccessKey,
		contract.EnvInfisicalSite + "=" + w.Infisical.URL(), contract.EnvInfisicalProj + "=" + tn.Project, contract.EnvInfisicalEnv + "=" + tn.Environment,
		contract.EnvInfisicalPath + "=" + tn.SecretPath, contract.EnvInfisicalMethod + "=universal",
		contract.EnvInfisicalCID + "=" + tn.ClientID, contract.EnvInfisicalSecret + "=" + tn.ClientSecret,
	}
}

func start(t *testing.T, envs []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var base []string
	for _, kv := range os.Environ() {
		// The machine's AWS settings must not leak into the server under test.
		if !strings.HasPrefix(kv, "AWS_") {
			base = append(base, kv)
		}
	}
	cmd.Env = append(base, envs...)
	p := &proc{cmd: cmd, out: &testutil.Buffer{}, exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
		}
		if t.Failed() {
			t.Logf("blue-mcp output:\n%s", p.out.String())
		}
	})
	return p
}

func waitReady(t *testing.T, client *http.Client, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBadSettingsAreNamed(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no tenant", nil, nil, "--tenant (BLUE_TENANT) is required"},
		{"bad tier", []string{contract.EnvTenant + "=a", contract.EnvTier + "=huge"}, nil, "--tier"},
		{"no region", []string{contract.EnvTenant + "=a"}, nil, "--region (AWS_REGION)"},
		{"no client account", []string{contract.EnvTenant + "=a", "AWS_REGION=eu-west-1"}, nil, "--client-account-id (BLUE_CLIENT_ACCOUNT_ID)"},
		{"bad client account", []string{contract.EnvTenant + "=a", "AWS_REGION=eu-west-1", contract.EnvClientAccount + "=2222"}, nil, "12-digit"},
		{"no hashes", []string{contract.EnvTenant + "=a", "AWS_REGION=eu-west-1", contract.EnvClientAccount + "=222222222222", contract.EnvPublicURL + "=https://a/mcp"}, nil, "--token-sha256"},
		{"bad sessions", []string{contract.EnvTenant + "=a", contract.EnvMaxSessions + "=lots"}, nil, "--max-sessions"},
		{"bad auth mode", []string{contract.EnvTenant + "=a", "AWS_REGION=eu-west-1", contract.EnvClientAccount + "=222222222222", contract.EnvPublicURL + "=https://a/mcp", contract.EnvAuthMode + "=basic"}, nil, "--auth-mode"},
		{"bad token hash", []string{contract.EnvTenant + "=a", "AWS_REGION=eu-west-1", contract.EnvClientAccount + "=222222222222", contract.EnvPublicURL + "=https://a/mcp", contract.EnvTokenHashes + "=md5:x",
			contract.EnvInfisicalProj + "=p", contract.EnvInfisicalID + "=i", contract.EnvInfisicalToken + "=/dev/null"}, nil, "token hash"},
		{"infisical", []string{contract.EnvTenant + "=a", "AWS_REGION=eu-west-1", contract.EnvClientAccount + "=222222222222", contract.EnvPublicURL + "=https://a/mcp", contract.EnvTokenHashes + "=sha256:00"}, nil, "infisical"},
		{"bad oidc email domain", []string{contract.EnvTenant + "=a", "AWS_REGION=eu-west-1", contract.EnvClientAccount + "=222222222222", contract.EnvPublicURL + "=https://a/mcp", contract.EnvAuthMode + "=oidc",
			contract.EnvOIDCIssuer + "=https://idp", contract.EnvOIDCAudience + "=a", contract.EnvOIDCAllowedEmailDomains + "=acme.com,@evil.com"}, nil, "--oidc-allowed-email-domains (" + contract.EnvOIDCAllowedEmailDomains + `): "@evil.com"`},
		{"oidc allow-list in token mode", []string{contract.EnvTenant + "=a", "AWS_REGION=eu-west-1", contract.EnvClientAccount + "=222222222222", contract.EnvPublicURL + "=https://a/mcp", contract.EnvTokenHashes + "=sha256:00"},
			[]string{"--oidc-allowed-groups", "blue"}, "--oidc-allowed-groups (" + contract.EnvOIDCAllowedGroups + ") applies only in oidc auth mode"},
		{"API CA with its key", []string{contract.EnvTenant + "=a", "AWS_REGION=eu-west-1", contract.EnvClientAccount + "=222222222222", contract.EnvPublicURL + "=https://a/mcp", contract.EnvTokenHashes + "=sha256:00",
			contract.EnvAPICA + "=-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"}, nil, "--api-ca-certificate (" + contract.EnvAPICA + `): holds a "PRIVATE KEY" block`},
		{"unknown flag", nil, []string{"--bogus"}, "bogus"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, tc.env...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("started with a bad setting:\n%s", out)
			}
			if !strings.Contains(strings.ToLower(string(out)), strings.ToLower(tc.want)) {
				t.Errorf("output %q does not name %q", out, tc.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	cmd := exec.Command(bin, "--version")
	cmd.Env = nil
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != version {
		t.Fatalf("--version: %q %v", out, err)
	}
}

// TestServesAndShutsDownGracefully: the binary becomes ready, serves a call,
// and on SIGTERM lets an in-flight call finish before it exits 0.
func TestServesAndShutsDownGracefully(t *testing.T) {
	w := world.Start(t)
	tn, err := w.AddTenant(context.Background(), "proc", 202020202020)
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	p := start(t, tenantEnv(w, tn, addr))
	waitReady(t, http.DefaultClient, "http://"+addr+"/readyz")

	c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	s, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: "http://" + addr + "/mcp", HTTPClient: world.BearerClient(tn.Token)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Hold STS so the first tool call (which must assume the client role)
	// is in flight when SIGTERM arrives.
	release := w.STS.Hold()
	done := make(chan error, 1)
	go func() {
		res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: "blue_rfc_create", Arguments: map[string]any{"title": "In flight"}})
		if err == nil && res.IsError {
			err = fmt.Errorf("tool error: %v", res.Content)
		}
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for w.STS.Held() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the call never reached STS")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// New connections are refused while the in-flight call waits.
	deadline = time.Now().Add(10 * time.Second)
	for {
		if _, err := http.Get("http://" + addr + "/healthz"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still accepting new requests after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("in-flight call: %v", err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
		p.exited <- nil
	case <-time.After(20 * time.Second):
		t.Fatal("did not exit after SIGTERM")
	}
	if !strings.Contains(p.out.String(), `"event":"stop"`) {
		t.Errorf("no stop log line")
	}
}

func TestTLSIsAtLeast13(t *testing.T) {
	w := world.Start(t)
	tn, err := w.AddTenant(context.Background(), "tls", 303030303030)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := selfSigned(t)
	addr := freeAddr(t)
	start(t, tenantEnv(w, tn, addr), "--tls-cert="+certFile, "--tls-key="+keyFile)
	tls13 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}}}
	waitReady(t, tls13, "https://"+addr+"/healthz")
	tls12 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12}}}
	if resp, err := tls12.Get("https://" + addr + "/healthz"); err == nil {
		_ = resp.Body.Close()
		t.Fatal("a TLS 1.2 client was served")
	}
}

// selfSigned writes testutil.SelfSignedTLS's certificate for 127.0.0.1 and
// its key as the files --tls-cert and --tls-key take.
func selfSigned(t *testing.T) (string, string) {
	t.Helper()
	certPEM, cert, err := testutil.SelfSignedTLS("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	_ = os.WriteFile(certFile, []byte(certPEM), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

func TestOnboardSubcommand(t *testing.T) {
	cmd := exec.Command(bin, "onboard", "--tenant=acme", "--hop-role-arn=arn:aws:iam::111111111111:role/blue-hop-acme",
		"--account-id=222222222222", "--region=eu-west-1", "--bucket=blue-acme-docs", "--table=blue-acme")
	cmd.Env = nil
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("onboard: %v\n%s", err, out)
	}
	for _, want := range []string{"sts:ExternalId", "arn:aws:iam::111111111111:role/blue-hop-acme", "BLUE_DYNAMODB_TABLE"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("onboard output lacks %q", want)
		}
	}
	bad := exec.Command(bin, "export")
	bad.Env = nil
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "bucket") {
		t.Errorf("export without --bucket: %v %s", err, out)
	}
	imp := exec.Command(bin, "import", "--bucket", "b", "--table", "t")
	imp.Env = nil
	if out, err := imp.CombinedOutput(); err == nil || !strings.Contains(string(out), "--kms-key-id is required") {
		t.Errorf("import without --kms-key-id: %v %s", err, out)
	}
}

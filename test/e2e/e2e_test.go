// Package e2e drives the journey a platform team and a client go through,
// on the local stack: kubectl apply two tenants → MCP calls → isolation →
// rotation → revocation → suspend → delete. Each step prints its time.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
	"github.com/superviber/blue-operator/test/localstack"
	"github.com/superviber/blue-operator/test/testutil"
	"github.com/superviber/blue-operator/test/world"
)

const stepTimeout = 90 * time.Second

func step(t *testing.T, name string, fn func()) {
	t.Helper()
	start := time.Now()
	fn()
	t.Logf("step %-48s %6.2fs", name, time.Since(start).Seconds())
}

func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	testutil.Eventually(t, stepTimeout, 100*time.Millisecond, what, cond)
}

// kubectlPath prefers the kubectl hack/setup-envtest.sh builds (same
// version as the API server) over one on PATH.
func kubectlPath() string {
	if p := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"); fileExists(p) {
		return p
	}
	return "kubectl"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func kubectl(t *testing.T, kubeconfig string, args ...string) string {
	t.Helper()
	cmd := exec.Command(kubectlPath(), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

type session struct {
	t *testing.T
	s *mcp.ClientSession
}

func connect(t *testing.T, url, token string) *session {
	t.Helper()
	return &session{t: t, s: world.Connect(t, url, token)}
}

// call returns the tool's JSON result, or its error text.
func (s *session) call(tool string, args map[string]any) (map[string]any, string) {
	s.t.Helper()
	text, isError, err := world.CallTool(context.Background(), s.s, tool, args)
	if err != nil {
		return nil, "protocol error: " + err.Error()
	}
	if isError {
		return nil, text
	}
	var out map[string]any
	_ = json.Unmarshal([]byte(text), &out)
	return out, ""
}

func (s *session) must(tool string, args map[string]any) map[string]any {
	s.t.Helper()
	out, e := s.call(tool, args)
	if e != "" {
		s.t.Fatalf("%s: %s", tool, e)
	}
	return out
}

// docs is a result's document list (absent when empty).
func docs(m map[string]any) []any {
	l, _ := m["documents"].([]any)
	return l
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestJourney(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test` or `make e2e`")
	}
	if _, err := exec.LookPath(kubectlPath()); err != nil {
		t.Fatal("no kubectl: run through make (hack/setup-envtest.sh builds it) or put one on PATH")
	}
	ctx := context.Background()
	root := repoRoot(t)
	var stack *localstack.Stack
	step(t, "start the local stack", func() {
		var err error
		stack, err = localstack.Start(ctx, localstack.Options{Root: root, StateDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stack.Stop)
	})
	kc := stack.Kubeconfig
	samples := filepath.Join(root, "config", "samples")

	step(t, "1. kubectl apply two BlueTenants; both Ready", func() {
		if err := stack.SeedFrom(ctx, samples); err != nil {
			t.Fatal(err)
		}
		kubectl(t, kc, "apply", "-f", filepath.Join(samples, "blue_v1alpha1_bluetenant.yaml"), "-f", filepath.Join(samples, "blue_v1alpha1_bluetenant_globex.yaml"))
		if err := stack.WaitReady(ctx, stepTimeout, "acme", "globex"); err != nil {
			t.Fatal(err)
		}
	})
	a, b := stack.Tenants["acme"], stack.Tenants["globex"]
	endpoint := func(name string) string {
		var url string
		waitFor(t, name+" endpoint", func() (err error) { url, err = stack.Endpoint(ctx, name); return err })
		return url
	}
	token := func(name string) string {
		tok, err := stack.Token(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	urlA, urlB, tokA, tokB := endpoint("acme"), endpoint("globex"), token("acme"), token("globex")

	sa := connect(t, urlA, tokA)
	var sb *session // globex is on the small tier: two sessions at most, so one is reused
	step(t, "2. A creates, lists, updates and searches documents", func() {
		sa.must("blue_rfc_create", map[string]any{"title": "Multi-region failover", "problem": "One region is a risk."})
		sa.must("blue_spike_create", map[string]any{"title": "Measure replication lag", "question": "How far behind?"})
		sa.must("blue_rfc_update_status", map[string]any{"title": "Multi-region failover", "status": "accepted"})
		if l := sa.must("blue_rfc_list", nil); len(docs(l)) != 1 {
			t.Fatalf("list: %v", l)
		}
		if f := sa.must("blue_search", map[string]any{"query": "replication"}); len(docs(f)) == 0 {
			t.Fatalf("search found nothing")
		}
		objs, err := stack.World.S3.Objects(a.Bucket, "")
		if err != nil || len(objs) == 0 {
			t.Fatalf("nothing in A's bucket: %v", err)
		}
		for _, w := range stack.World.S3.Writes() {
			if w.Bucket != a.Bucket || w.SSE != "aws:kms" || w.KMSKeyID != a.KMSKeyID {
				t.Errorf("write %+v: want only A's bucket, SSE-KMS with A's key", w)
			}
		}
		if objs, _ := stack.World.S3.Objects(b.Bucket, ""); len(objs) != 0 {
			t.Errorf("A's documents reached B's bucket: %d objects", len(objs))
		}
	})

	step(t, "3. isolation: A's token on B → 401; B sees nothing of A", func() {
		req, _ := http.NewRequest(http.MethodPost, urlB, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+tokA)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("A's token on B: %d", resp.StatusCode)
		}
		sb = connect(t, urlB, tokB)
		if l := sb.must("blue_rfc_list", nil); len(docs(l)) != 0 {
			t.Fatalf("B sees A's RFCs: %v", l)
		}
		var dep appsv1.Deployment
		if err := stack.Client.Get(ctx, client.ObjectKey{Namespace: controllers.NamespaceFor("acme"), Name: controllers.ServerName}, &dep); err != nil {
			t.Fatal(err)
		}
		for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
			if strings.Contains(e.Value, "globex") {
				t.Errorf("A's server has B's config: %s=%s", e.Name, e.Value)
			}
		}
	})

	step(t, "3b. IRSA: B's pod token cannot become A's hop role", func() {
		kube, err := kubernetes.NewForConfig(stack.Plane.Config)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := kube.CoreV1().ServiceAccounts(controllers.NamespaceFor("globex")).CreateToken(ctx, controllers.ServerName,
			&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{Audiences: []string{"sts.amazonaws.com"}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		stsc := sts.New(sts.Options{Region: world.Region, BaseEndpoint: aws.String(stack.World.STSURL), Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1})
		assume := func(role string) error {
			_, err := stsc.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
				RoleArn: aws.String(role), RoleSessionName: aws.String("e2e"), WebIdentityToken: aws.String(tr.Status.Token),
			})
			return err
		}
		if err := assume(a.HopRole); err == nil {
			t.Fatal("globex's service-account token assumed acme's hop role")
		}
		if err := assume(b.HopRole); err != nil {
			t.Fatalf("globex's own hop role: %v", err)
		}
	})

	// Both servers are added on A's endpoint: globex (small tier) allows two
	// sessions and the test holds one, while acme (medium) has room.
	step(t, "3c. claude mcp list: A's token Connected, B's 401", func() {
		claude := newClaudeCode(t, root)
		claude.run("mcp", "add", "--transport", "http", "blue-acme", urlA, "--header", "Authorization: Bearer "+tokA)
		claude.run("mcp", "add", "--transport", "http", "blue-wrong", urlA, "--header", "Authorization: Bearer "+tokB)
		out := claude.run("mcp", "list")
		if l := claude.line(out, "blue-acme"); !strings.Contains(l, urlA) || !strings.Contains(l, "✔ Connected") {
			t.Fatalf("blue-acme with A's token: want ✔ Connected to %s, got %q\n%s", urlA, l, out)
		}
		if l := claude.line(out, "blue-wrong"); strings.Contains(l, "Connected") || !strings.Contains(l, "✘") || !strings.Contains(l, "HTTP 401") {
			t.Fatalf("blue-wrong with B's token on A: want ✘ … HTTP 401, got %q\n%s", l, out)
		}
	})

	step(t, "4. A's ExternalId is the operator's: one in A's workspace is not used", func() {
		var bt bluev1.BlueTenant
		if err := stack.Client.Get(context.Background(), client.ObjectKey{Name: a.Name}, &bt); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(bt.Status.ExternalID, "blue-"+a.Name+"-") || len(bt.Status.ExternalID) < len("blue-"+a.Name+"-")+40 {
			t.Fatalf("status.externalID %q: want blue-<tenant>- and 256 random bits", bt.Status.ExternalID)
		}
		stack.World.Infisical.SetSecret(a.Project, a.Environment, a.SecretPath, "EXTERNAL_ID", "chosen-by-the-client")
		if _, e := sa.call("blue_rfc_create", map[string]any{"title": "After the workspace named an ExternalId"}); e != "" {
			t.Fatal(e)
		}
		n := 0
		for _, r := range stack.World.STS.Records() {
			if r.RoleARN == a.ClientRole && r.Action == "AssumeRole" {
				n++
				if r.ExternalID != bt.Status.ExternalID {
					t.Errorf("AssumeRole presented %q, want the issued %q", r.ExternalID, bt.Status.ExternalID)
				}
			}
		}
		if n == 0 {
			t.Error("no AssumeRole of A's role recorded")
		}
	})

	step(t, "5. revoke A's Infisical access; B unaffected; restore", func() {
		stack.World.Infisical.RevokeMembership(a.Project, a.IdentityID)
		waitFor(t, "access revoked", func() error {
			if _, e := sa.call("blue_rfc_list", nil); !strings.Contains(e, "access revoked by the client") {
				return fmt.Errorf("answer %q", e)
			}
			return nil
		})
		sb.must("blue_rfc_create", map[string]any{"title": "Globex keeps working"})
		stack.World.Infisical.RestoreMembership(a.Project, a.IdentityID)
		waitFor(t, "access restored", func() error {
			if _, e := sa.call("blue_rfc_list", nil); e != "" {
				return fmt.Errorf("%s", e)
			}
			return nil
		})
	})

	step(t, "6. suspend A: server stopped, condition says so; resume", func() {
		kubectl(t, kc, "patch", "bluetenant", "acme", "--type=merge", "-p", `{"spec":{"suspend":true}}`)
		waitFor(t, "suspended", func() error {
			var bt bluev1.BlueTenant
			if err := stack.Client.Get(ctx, client.ObjectKey{Name: "acme"}, &bt); err != nil {
				return err
			}
			c := meta.FindStatusCondition(bt.Status.Conditions, bluev1.ConditionReady)
			if c == nil || c.Reason != bluev1.ReasonSuspended {
				return fmt.Errorf("ready %+v", c)
			}
			var pods corev1.PodList
			if err := stack.Client.List(ctx, &pods, client.InNamespace(controllers.NamespaceFor("acme"))); err != nil {
				return err
			}
			if len(pods.Items) != 0 {
				return fmt.Errorf("%d pods still there", len(pods.Items))
			}
			return nil
		})
		kubectl(t, kc, "patch", "bluetenant", "acme", "--type=merge", "-p", `{"spec":{"suspend":false}}`)
		if err := stack.WaitReady(ctx, stepTimeout, "acme"); err != nil {
			t.Fatal(err)
		}
		s2 := connect(t, endpoint("acme"), tokA)
		if l := s2.must("blue_rfc_list", nil); len(docs(l)) < 2 {
			t.Fatalf("after resume: %v", l)
		}
	})

	step(t, "7. delete A: everything of A gone, A's data and B untouched", func() {
		before, _ := stack.World.S3.Objects(a.Bucket, "")
		kubectl(t, kc, "delete", "bluetenant", "acme", "--wait=false")
		waitFor(t, "A's namespace gone", func() error {
			var ns corev1.Namespace
			err := stack.Client.Get(ctx, client.ObjectKey{Name: controllers.NamespaceFor("acme")}, &ns)
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("namespace still there (%v, phase %s)", err, ns.Status.Phase)
		})
		after, err := stack.World.S3.Objects(a.Bucket, "")
		if err != nil || len(after) != len(before) {
			t.Errorf("A's bucket changed on delete: %d → %d objects (%v)", len(before), len(after), err)
		}
		if err := stack.WaitReady(ctx, stepTimeout, "globex"); err != nil {
			t.Fatal(err)
		}
		if l := sb.must("blue_rfc_list", nil); len(docs(l)) != 1 {
			t.Fatalf("globex after A's deletion: %v", l)
		}
	})

	step(t, "8. tear down: no stray processes or files", func() {
		stateDir := stack.StateDir()
		stack.Stop()
		out, _ := exec.Command("pgrep", "-af", stateDir).Output()
		if len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("processes left running:\n%s", out)
		}
		if _, err := os.Stat(stateDir); !os.IsNotExist(err) {
			t.Errorf("state dir %s left behind (%v)", stateDir, err)
		}
	})
}

// claudeCode runs the Claude Code CLI pinned in package-lock.json (the
// package's bin is a native executable: no Node at run time) as a fresh user:
// HOME and the XDG dirs in a temporary directory, which is also the working
// directory (so `mcp add` writes there and no .mcp.json of the repo is read).
// The environment is built from scratch, so no ANTHROPIC_*, CLAUDE_* or proxy
// setting of the caller leaks in; no API key is needed for `mcp add` and
// `mcp list`. CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC turns off its own
// network traffic (telemetry, error reports, update checks): with it, the only
// connections it makes are to the MCP servers.
type claudeCode struct {
	t        *testing.T
	bin, dir string
	env      []string
}

func newClaudeCode(t *testing.T, root string) *claudeCode {
	t.Helper()
	bin := filepath.Join(findNodeModules(t, "claude"), ".bin", "claude")
	home := t.TempDir()
	c := &claudeCode{t: t, bin: bin, dir: home, env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"XDG_STATE_HOME=" + filepath.Join(home, ".local", "state"),
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"DISABLE_AUTOUPDATER=1",
		"DISABLE_TELEMETRY=1",
		"DISABLE_ERROR_REPORTING=1",
		"NO_COLOR=1",
	}}
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	b, err := os.ReadFile(filepath.Join(root, "package.json"))
	if err != nil || json.Unmarshal(b, &pkg) != nil {
		t.Fatalf("read %s/package.json: %v", root, err)
	}
	want := pkg.DevDependencies["@anthropic-ai/claude-code"]
	if v := c.run("--version"); want == "" || !strings.HasPrefix(v, want+" ") {
		t.Fatalf("%s --version is %q, package.json pins %q: run `make node_modules`", bin, strings.TrimSpace(v), want)
	}
	return c
}

// run runs one claude command (at most a minute, then it is killed) and
// returns its output. Errors name only the subcommand: the arguments hold
// tokens.
func (c *claudeCode) run(args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Dir, cmd.Env, cmd.WaitDelay = c.dir, c.env, 5*time.Second
	out, err := cmd.CombinedOutput()
	what := strings.Join(args[:min(2, len(args))], " ")
	if ctx.Err() != nil {
		c.t.Fatalf("claude %s: no answer within a minute, killed:\n%s", what, out)
	}
	if err != nil {
		c.t.Fatalf("claude %s: %v\n%s", what, err, out)
	}
	return string(out)
}

// line is the line of `claude mcp list` output about one server.
func (c *claudeCode) line(out, name string) string {
	c.t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), name+":") {
			return l
		}
	}
	c.t.Fatalf("claude mcp list says nothing of %s:\n%s", name, out)
	return ""
}

// findNodeModules walks up from the package directory to the repo root (the
// directory with go.mod) looking for node_modules/.bin/<bin>, and returns
// that node_modules directory.
func findNodeModules(t *testing.T, bin string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		nm := filepath.Join(dir, "node_modules")
		if _, err := os.Stat(filepath.Join(nm, ".bin", bin)); err == nil {
			return nm
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	t.Fatalf("node_modules/.bin/%s not found up to the repo root: run `make node_modules` (npm ci)", bin)
	return ""
}

// Package e2e drives the journey a platform team and a client go through,
// on the local stack (a real node, the operator installed from
// config/default, Traefik in front of the tenants): kubectl apply two
// tenants → MCP calls through the ingress controller → isolation →
// rotation → revocation → suspend → delete. Tenant A's server reads and
// writes its client's storage directly; tenant B's goes through its
// client's API Gateway and data Lambda (under the emulator), and the
// journey is the same for both. Each step prints its time.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
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

	"github.com/superviber/blue-operator/api/contract"
	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
	"github.com/superviber/blue-operator/test/localstack"
	"github.com/superviber/blue-operator/test/node"
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

// party is one tenant's side of the journey: A (acme) reads and writes its
// client's bucket and table directly, B (globex) goes through its client's
// API Gateway and data Lambda. The journey is the same for both.
type party struct {
	name              string
	w                 *world.Tenant
	s                 *session
	rfc, spike, query string // what it writes and searches for
}

func TestJourney(t *testing.T) {
	if err := node.RequireEnv(); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath(kubectlPath()); err != nil {
		t.Fatal("no kubectl: run through make (hack/setup-envtest.sh builds it) or put one on PATH")
	}
	ctx := context.Background()
	root := repoRoot(t)
	var stack *localstack.Stack
	step(t, "start the local stack, with B's API Gateway and Lambda", func() {
		var err error
		// The stack's own log (its local entries' proxy errors) and the
		// pods' logs are shown when the journey fails, before teardown
		// removes them.
		stackLog := &testutil.Buffer{}
		stack, err = localstack.Start(ctx, localstack.Options{Root: root, StateDir: t.TempDir(), ThroughAPI: []string{"globex"},
			Log: slog.New(slog.NewTextHandler(stackLog, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := stack.Stop(); err != nil {
				t.Error(err)
			}
		})
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("local stack log:\n%s", stackLog.String())
				logPodTails(t, stack.Node.PodLogsDir())
			}
		})
	})
	kc := stack.Kubeconfig
	samples := filepath.Join(root, "config", "samples")

	step(t, "1. kubectl apply two BlueTenants; both Ready", func() {
		// The samples, each pointed at its client's Infisical in the
		// local internet.
		tenants, err := stack.WriteTenants(ctx, samples)
		if err != nil {
			t.Fatal(err)
		}
		kubectl(t, kc, "apply", "-f", tenants)
		if err := stack.WaitReady(ctx, stepTimeout, "acme", "globex"); err != nil {
			t.Fatal(err)
		}
	})
	a, b := stack.Tenants["acme"], stack.Tenants["globex"]
	api := stack.APIs["globex"]
	if api == nil || stack.APIs["acme"] != nil {
		t.Fatalf("want globex, and only globex, seeded in API mode: %v", stack.APIs)
	}
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

	// globex is on the small tier: two sessions at most, so the test holds
	// one and reuses it.
	pa := &party{name: "acme", w: a, s: connect(t, urlA, tokA), rfc: "Multi-region failover", spike: "Measure replication lag", query: "replication"}
	pb := &party{name: "globex", w: b, s: connect(t, urlB, tokB), rfc: "Warehouse sync", spike: "Measure inventory drift", query: "inventory"}
	both := []*party{pa, pb}

	// clientSession: the key is a session of the tenant's client role.
	clientSession := func(key string, tn *world.Tenant) bool {
		id, ok := stack.World.STS.Lookup(key)
		return ok && id.RoleARN == tn.ClientRole
	}
	lambdaKey := api.LambdaKey.AccessKeyID
	if id, ok := stack.World.STS.Lookup(lambdaKey); !ok || id.RoleARN != api.LambdaRole || id.RoleARN == b.ClientRole {
		t.Fatalf("B's Lambda signs as %+v, want its own role %s", id, api.LambdaRole)
	}
	// onlyTheLambda: B's bucket and table were only ever touched by B's
	// data Lambda (with its own role's key), and no session of B's client
	// role made a single S3 or DynamoDB call: its policy holds only
	// execute-api:Invoke, and B's server never needs more.
	onlyTheLambda := func() {
		t.Helper()
		var s3Calls, ddbCalls int
		for _, c := range stack.World.S3.Calls() {
			if clientSession(c.AccessKeyID, b) {
				t.Errorf("S3 %s on %s/%s signed by a session of B's client role", c.Op, c.Bucket, c.Key)
			}
			if c.Bucket == b.Bucket {
				s3Calls++
				if c.AccessKeyID != lambdaKey {
					t.Errorf("S3 %s on B's bucket signed by %q, not B's Lambda", c.Op, c.AccessKeyID)
				}
			}
		}
		for _, c := range stack.World.DDB.Calls() {
			if clientSession(c.AccessKeyID, b) {
				t.Errorf("DynamoDB %s on %q signed by a session of B's client role", c.Op, c.Table)
			}
			if c.Table == b.Table {
				switch c.AccessKeyID {
				case lambdaKey:
					ddbCalls++
				case "admin": // the client's onboarding made the table
				default:
					t.Errorf("DynamoDB %s on B's table signed by %q, not B's Lambda", c.Op, c.AccessKeyID)
				}
			}
		}
		if s3Calls == 0 || ddbCalls == 0 {
			t.Errorf("B's Lambda made %d S3 calls on B's bucket and %d DynamoDB calls on B's table", s3Calls, ddbCalls)
		}
	}
	// throughTheLambda: every request B's gateway let through was one
	// invocation of B's Lambda under the emulator.
	throughTheLambda := func() {
		t.Helper()
		waitFor(t, "an invocation of B's Lambda per request its gateway let through", func() error {
			accepted, _ := api.Gateway.Counts()
			if n := api.Lambda.Invocations(); n != accepted {
				return fmt.Errorf("%d invocations for %d requests", n, accepted)
			}
			return nil
		})
	}

	step(t, "2. A, and B through its API, create, list, update and search documents", func() {
		before, _ := api.Gateway.Counts()
		for _, p := range both {
			p.s.must("blue_rfc_create", map[string]any{"title": p.rfc, "problem": "One region is a risk."})
			p.s.must("blue_spike_create", map[string]any{"title": p.spike, "question": "How far behind?"})
			p.s.must("blue_rfc_update_status", map[string]any{"title": p.rfc, "status": "accepted"})
			if l := p.s.must("blue_rfc_list", nil); len(docs(l)) != 1 {
				t.Fatalf("%s list: %v", p.name, l)
			}
			if f := p.s.must("blue_search", map[string]any{"query": p.query}); len(docs(f)) == 0 {
				t.Fatalf("%s: search found nothing", p.name)
			}
			if objs, err := stack.World.S3.Objects(p.w.Bucket, ""); err != nil || len(objs) == 0 {
				t.Fatalf("nothing in %s's bucket: %v", p.name, err)
			}
		}
		// A's server wrote A's bucket with a session of A's client role;
		// B's Lambda wrote B's bucket; each object SSE-KMS under the key of
		// the bucket's owner.
		for _, w := range stack.World.S3.Writes() {
			switch {
			case w.Bucket == a.Bucket && clientSession(w.AccessKeyID, a) && w.SSE == "aws:kms" && w.KMSKeyID == a.KMSKeyID:
			case w.Bucket == b.Bucket && w.AccessKeyID == lambdaKey && w.SSE == "aws:kms" && w.KMSKeyID == b.KMSKeyID:
			default:
				t.Errorf("write %+v: want A's bucket by A's client role or B's bucket by B's Lambda, SSE-KMS under its owner's key", w)
			}
		}
		if after, refused := api.Gateway.Counts(); after <= before || refused != 0 {
			t.Errorf("B's gateway let %d more requests through and refused %d", after-before, refused)
		}
		throughTheLambda()
		onlyTheLambda()
	})

	step(t, "3. isolation: A's token on B → 401; neither sees the other's documents", func() {
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
		for _, p := range both {
			l := docs(p.s.must("blue_rfc_list", nil))
			if len(l) != 1 || fmt.Sprint(l[0].(map[string]any)["title"]) != p.rfc {
				t.Fatalf("%s's RFCs: want only %q, got %v", p.name, p.rfc, l)
			}
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

	step(t, "4. the ExternalId is the operator's: one in A's or B's workspace is not used", func() {
		for _, p := range both {
			var bt bluev1.BlueTenant
			if err := stack.Client.Get(context.Background(), client.ObjectKey{Name: p.name}, &bt); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(bt.Status.ExternalID, "blue-"+p.name+"-") || len(bt.Status.ExternalID) < len("blue-"+p.name+"-")+40 {
				t.Fatalf("%s: status.externalID %q: want blue-<tenant>- and 256 random bits", p.name, bt.Status.ExternalID)
			}
			stack.World.Infisical.SetSecret(p.w.Project, p.w.Environment, p.w.SecretPath, "EXTERNAL_ID", "chosen-by-the-client")
			if _, e := p.s.call("blue_rfc_create", map[string]any{"title": "After the workspace named an ExternalId"}); e != "" {
				t.Fatalf("%s: %s", p.name, e)
			}
			n := 0
			for _, r := range stack.World.STS.Records() {
				if r.RoleARN == p.w.ClientRole && r.Action == "AssumeRole" {
					n++
					if r.ExternalID != bt.Status.ExternalID {
						t.Errorf("%s: AssumeRole presented %q, want the issued %q", p.name, r.ExternalID, bt.Status.ExternalID)
					}
				}
			}
			if n == 0 {
				t.Errorf("no AssumeRole of %s's role recorded", p.name)
			}
		}
	})

	// clientAccess waits for a tenant's ClientAccess condition, and checks
	// that kubectl get bt shows it in its Access column (the first time each
	// tenant has the reason: kubectl takes a while on 2 cores).
	shown := map[string]bool{}
	clientAccess := func(name string, status metav1.ConditionStatus, reason string) {
		t.Helper()
		waitFor(t, name+" ClientAccess="+string(status)+"/"+reason, func() error {
			var bt bluev1.BlueTenant
			if err := stack.Client.Get(ctx, client.ObjectKey{Name: name}, &bt); err != nil {
				return err
			}
			c := meta.FindStatusCondition(bt.Status.Conditions, bluev1.ConditionClientAccess)
			if c == nil || c.Status != status || c.Reason != reason {
				return fmt.Errorf("ClientAccess %+v", c)
			}
			return nil
		})
		if shown[name+"/"+reason] {
			return
		}
		shown[name+"/"+reason] = true
		if out := kubectl(t, kc, "get", "bluetenant", name); !strings.Contains(out, reason) {
			t.Errorf("kubectl get bt %s does not show %s:\n%s", name, reason, out)
		}
	}
	// accessReport is a tenant server's own report, from /access on the
	// metrics port of one of its pods, where the operator reads it, read
	// from the metrics namespace (the tenant's NetworkPolicy lets no one
	// else in).
	scraper, err := stack.MetricsClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	accessReport := func(name string) (contract.AccessReport, error) {
		var rep contract.AccessReport
		var pods corev1.PodList
		if err := stack.Client.List(ctx, &pods, client.InNamespace(controllers.NamespaceFor(name))); err != nil {
			return rep, err
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.Status.PodIP == "" || p.DeletionTimestamp != nil {
				continue
			}
			resp, err := scraper.Get("http://" + node.PodAddr(p, contract.PortMetrics) + contract.AccessPath)
			if err != nil {
				return rep, err
			}
			defer func() { _ = resp.Body.Close() }()
			if resp.StatusCode != http.StatusOK {
				return rep, fmt.Errorf("GET %s: HTTP %d", contract.AccessPath, resp.StatusCode)
			}
			return rep, json.NewDecoder(resp.Body).Decode(&rep)
		}
		return rep, fmt.Errorf("no pod of %s serves its metrics port", name)
	}

	step(t, "4b. ClientAccess: A checked its storage, B its API; both AccessGranted", func() {
		for name, mode := range map[string]string{"acme": contract.AccessModeDirect, "globex": contract.AccessModeAPI} {
			clientAccess(name, metav1.ConditionTrue, contract.AccessGranted)
			waitFor(t, name+"'s report: AccessGranted in mode "+mode, func() error {
				rep, err := accessReport(name)
				if err != nil {
					return err
				}
				if rep.Status != contract.AccessTrue || rep.Reason != contract.AccessGranted || rep.Mode != mode {
					return fmt.Errorf("report %+v", rep)
				}
				return nil
			})
		}
	})

	step(t, "5. revoke A's Infisical access, B unaffected; then B's, A restored; restore", func() {
		stack.World.Infisical.RevokeMembership(a.Project, a.IdentityID)
		waitFor(t, "A's access revoked", func() error {
			if _, e := pa.s.call("blue_rfc_list", nil); !strings.Contains(e, "access revoked by the client") {
				return fmt.Errorf("answer %q", e)
			}
			return nil
		})
		clientAccess("acme", metav1.ConditionFalse, contract.AccessRevoked)
		pb.s.must("blue_rfc_create", map[string]any{"title": "Globex keeps working"})
		clientAccess("globex", metav1.ConditionTrue, contract.AccessGranted)

		stack.World.Infisical.RevokeMembership(b.Project, b.IdentityID)
		stack.World.Infisical.RestoreMembership(a.Project, a.IdentityID)
		waitFor(t, "B's access revoked", func() error {
			if _, e := pb.s.call("blue_rfc_list", nil); !strings.Contains(e, "access revoked by the client") {
				return fmt.Errorf("answer %q", e)
			}
			return nil
		})
		waitFor(t, "A's access restored", func() error {
			if _, e := pa.s.call("blue_rfc_list", nil); e != "" {
				return fmt.Errorf("%s", e)
			}
			return nil
		})
		clientAccess("globex", metav1.ConditionFalse, contract.AccessRevoked)
		clientAccess("acme", metav1.ConditionTrue, contract.AccessGranted)
		pa.s.must("blue_rfc_create", map[string]any{"title": "Acme keeps working"})

		stack.World.Infisical.RestoreMembership(b.Project, b.IdentityID)
		waitFor(t, "B's access restored", func() error {
			if _, e := pb.s.call("blue_rfc_list", nil); e != "" {
				return fmt.Errorf("%s", e)
			}
			return nil
		})
		clientAccess("globex", metav1.ConditionTrue, contract.AccessGranted)
	})

	step(t, "5b. the client removes its role's trust policy: refused at once (A, then B); restore", func() {
		// The sessions issued before are dropped: the next call is refused
		// too, not served for the rest of the hour.
		refused := func(p *party) {
			t.Helper()
			clientAccess(p.name, metav1.ConditionFalse, contract.AccessAssumeRoleDenied)
			if _, e := p.s.call("blue_rfc_list", nil); !strings.Contains(e, "refused sts:AssumeRole") {
				t.Errorf("%s after the trust policy went: %q", p.name, e)
			}
		}
		served := func(p *party) {
			t.Helper()
			clientAccess(p.name, metav1.ConditionTrue, contract.AccessGranted)
			if _, e := p.s.call("blue_rfc_list", nil); e != "" {
				t.Errorf("%s with its trust policy: %s", p.name, e)
			}
		}
		trust := func(tn *world.Tenant, principals ...string) {
			t.Helper()
			if err := stack.World.STS.SetTrust(tn.ClientRole, principals...); err != nil {
				t.Fatal(err)
			}
		}
		trust(a)
		refused(pa)
		served(pb)
		trust(a, a.HopRole)
		trust(b)
		refused(pb)
		served(pa)
		trust(b, b.HopRole)
		served(pb)
	})

	step(t, "5c. B's client narrows its API's grant: writes refused; nothing: APIRefused; restore", func() {
		bWrites := func() (n int) {
			for _, w := range stack.World.S3.Writes() {
				if w.Bucket == b.Bucket {
					n++
				}
			}
			return n
		}
		writes := bWrites()
		_, refusedBefore := api.Gateway.Counts()
		// Read-only: B reads, every write tool names the refused request.
		api.Gateway.Grant("GET/v1/*")
		if _, e := pb.s.call("blue_rfc_create", map[string]any{"title": "Not under a read-only grant"}); !strings.Contains(e, "refused the signed POST request (HTTP 403)") || !strings.Contains(e, "execute-api:Invoke") {
			t.Errorf("a write under a read-only grant: %q", e)
		}
		if l := pb.s.must("blue_rfc_list", nil); len(docs(l)) == 0 {
			t.Errorf("B reads nothing under a read-only grant")
		}
		// Nothing: the access check's signed read is refused too.
		api.Gateway.GrantNothing()
		clientAccess("globex", metav1.ConditionFalse, contract.AccessAPIRefused)
		if rep, err := accessReport("globex"); err != nil || rep.Reason != contract.AccessAPIRefused || rep.Mode != contract.AccessModeAPI {
			t.Errorf("B's report under no grant: %+v %v", rep, err)
		}
		if _, e := pb.s.call("blue_rfc_create", map[string]any{"title": "Not under no grant"}); !strings.Contains(e, "refused the signed") || !strings.Contains(e, "(HTTP 403)") {
			t.Errorf("a write under no grant: %q", e)
		}
		clientAccess("acme", metav1.ConditionTrue, contract.AccessGranted)
		if n := bWrites(); n != writes {
			t.Errorf("%d writes reached B's bucket while its API refused them", n-writes)
		}
		if _, refused := api.Gateway.Counts(); refused <= refusedBefore {
			t.Errorf("B's gateway refused nothing")
		}
		api.Gateway.Grant()
		clientAccess("globex", metav1.ConditionTrue, contract.AccessGranted)
		pb.s.must("blue_rfc_create", map[string]any{"title": "Granted again"})
	})

	step(t, "6. suspend A and B: servers stopped, conditions say so; resume", func() {
		for _, p := range both {
			kubectl(t, kc, "patch", "bluetenant", p.name, "--type=merge", "-p", `{"spec":{"suspend":true}}`)
		}
		for _, p := range both {
			waitFor(t, p.name+" suspended", func() error {
				var bt bluev1.BlueTenant
				if err := stack.Client.Get(ctx, client.ObjectKey{Name: p.name}, &bt); err != nil {
					return err
				}
				c := meta.FindStatusCondition(bt.Status.Conditions, bluev1.ConditionReady)
				if c == nil || c.Reason != bluev1.ReasonSuspended {
					return fmt.Errorf("ready %+v", c)
				}
				var pods corev1.PodList
				if err := stack.Client.List(ctx, &pods, client.InNamespace(controllers.NamespaceFor(p.name))); err != nil {
					return err
				}
				if len(pods.Items) != 0 {
					return fmt.Errorf("%d pods still there", len(pods.Items))
				}
				return nil
			})
		}
		for _, p := range both {
			kubectl(t, kc, "patch", "bluetenant", p.name, "--type=merge", "-p", `{"spec":{"suspend":false}}`)
		}
		if err := stack.WaitReady(ctx, stepTimeout, "acme", "globex"); err != nil {
			t.Fatal(err)
		}
		for _, p := range both {
			tok := tokA
			if p == pb {
				tok = tokB
			}
			p.s = connect(t, endpoint(p.name), tok)
			if l := p.s.must("blue_rfc_list", nil); len(docs(l)) < 3 {
				t.Fatalf("%s after resume: %v", p.name, l)
			}
		}
	})

	step(t, "7. delete A: everything of A gone, A's data and B untouched", func() {
		before, _ := stack.World.S3.Objects(a.Bucket, "")
		bDocs := len(docs(pb.s.must("blue_rfc_list", nil)))
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
		if l := pb.s.must("blue_rfc_list", nil); len(docs(l)) != bDocs {
			t.Fatalf("globex after A's deletion: %d RFCs, had %d: %v", len(docs(l)), bDocs, l)
		}
		// All along, B's data went through B's API and Lambda only.
		throughTheLambda()
		onlyTheLambda()
	})

	step(t, "8. tear down: no stray processes or files, nothing of the node left", func() {
		stateDir := stack.StateDir()
		// B's emulator and function run from the state dir: the check
		// after Stop covers them.
		out, _ := exec.Command("pgrep", "-af", stateDir).Output()
		var emulator, function bool
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Fields(l); len(f) >= 2 {
				emulator = emulator || filepath.Base(f[1]) == "aws-lambda-rie"
				function = function || f[1] == filepath.Join(stateDir, "bin", "lambda", "bootstrap")
			}
		}
		if !emulator || !function {
			t.Errorf("before the teardown: emulator running %v, B's function running %v:\n%s", emulator, function, out)
		}
		// Stop checks the node left no process, mount, network namespace,
		// cgroup or nftables rule, and that the NetworkPolicy engine
		// never failed a sync.
		if err := stack.Stop(); err != nil {
			t.Errorf("tear down: %v", err)
		}
		out, _ = exec.Command("pgrep", "-af", stateDir).Output()
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

// logPodTails logs the last lines of every container log under dir (the
// node's pod logs: the operator's, Traefik's, the tenants' servers'), and
// the last of the earlier lines that mention an error, which a busy log
// (Traefik's at debug level) would otherwise push out of the tail.
func logPodTails(t *testing.T, dir string) {
	const tail = 40
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		rel, _ := filepath.Rel(dir, path)
		if len(lines) > tail {
			var errs []string
			for _, l := range lines[:len(lines)-tail] {
				if strings.Contains(strings.ToLower(l), "error") {
					errs = append(errs, l)
				}
			}
			if len(errs) > tail {
				errs = errs[len(errs)-tail:]
			}
			if len(errs) > 0 {
				t.Logf("%s (last %d earlier lines that mention an error):\n%s", rel, len(errs), strings.Join(errs, "\n"))
			}
			lines = lines[len(lines)-tail:]
		}
		t.Logf("%s (last %d lines):\n%s", rel, len(lines), strings.Join(lines, "\n"))
		return nil
	})
}

package manager_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/hack/manifests"
	"github.com/superviber/blue-operator/test/controlplane"
	"github.com/superviber/blue-operator/test/testutil"
)

// The tests run the manager binary as the operator process, against a real
// API server.

// version is stamped into the binary as make build stamps it.
const version = "v0.0.0-test"

// bin is cmd/manager, built once for the whole package.
var bin string

func TestMain(m *testing.M) {
	// envtest logs through controller-runtime; the operator's own logs are
	// its processes' output.
	ctrllog.SetLogger(logr.Discard())
	os.Exit(testutil.RunWithCommand(m, &bin, "manager", "-ldflags=-s -w -X main.version="+version))
}

func runManager(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func TestBadFlagsStopStartupNamingTheFlag(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--ingress-cidr=10.0.0.0/99"}, "--ingress-cidr"},
		{[]string{"--ingress-annotation=novalue"}, "--ingress-annotation"},
		{[]string{"--hop-role-arn-template=arn:aws:iam::1:role/fixed"}, "{tenant}"},
		{[]string{"--max-concurrent-reconciles=0"}, "--max-concurrent-reconciles"},
		{[]string{"--leader-elect-lease-duration=5s", "--leader-elect-renew-deadline=5s"}, "--leader-elect-lease-duration"},
		{[]string{"--leader-elect-renew-deadline=1s", "--leader-elect-retry-period=1s"}, "--leader-elect-renew-deadline"},
		{[]string{"--no-such-flag"}, "no-such-flag"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			var stderr bytes.Buffer
			cmd := runManager(context.Background(), nil, tc.args...)
			cmd.Stderr = &stderr
			err := cmd.Run()
			if err == nil {
				t.Fatal("started with a bad flag")
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q does not name %q", stderr.String(), tc.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	out, err := runManager(context.Background(), nil, "--version").Output()
	if err != nil || strings.TrimSpace(string(out)) != version {
		t.Fatalf("--version: %q, %v", out, err)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	testutil.Eventually(t, 60*time.Second, 100*time.Millisecond, what, cond)
}

func get(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// startPlane runs a control plane (etcd and kube-apiserver) with the CRD,
// the namespace blue-system and exactly the RBAC config/rbac installs
// (generated from the reconciler's markers), and returns an admin client and
// a kubeconfig for the operator's ServiceAccount, so a missing permission
// fails the test as it would fail in a cluster.
func startPlane(t *testing.T) (*controlplane.Plane, client.Client, string) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run the tests with `make test`")
	}
	plane, err := controlplane.Start(controlplane.Options{
		CRDDirs: []string{filepath.Join("..", "..", "..", "config", "crd", "bases")},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plane.Stop() })
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = bluev1.AddToScheme(scheme)
	k8s, err := client.New(plane.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "blue-system"}}); err != nil {
		t.Fatal(err)
	}
	rbac, err := manifests.Render(filepath.Join("..", "..", "..", "config", "rbac"))
	if err != nil {
		t.Fatal(err)
	}
	if err := manifests.Apply(ctx, k8s, rbac, false); err != nil {
		t.Fatal(err)
	}
	kcPath, err := plane.Kubeconfig("operator.kubeconfig", "system:serviceaccount:blue-system:blue-operator",
		"system:serviceaccounts", "system:serviceaccounts:blue-system", "system:authenticated")
	if err != nil {
		t.Fatal(err)
	}
	return plane, k8s, kcPath
}

// TestOperatorProcess starts the operator binary with leader election on a
// real API server: it takes the lease, serves probes and metrics, and
// reconciles a tenant.
func TestOperatorProcess(t *testing.T) {
	_, k8s, kcPath := startPlane(t)
	ctx := context.Background()

	metrics, probes := freePort(t), freePort(t)
	runCtx, cancel := context.WithCancel(ctx)
	var logs bytes.Buffer
	cmd := runManager(runCtx, nil,
		"--kubeconfig="+kcPath,
		"--metrics-bind-address="+metrics,
		"--health-probe-bind-address="+probes,
		"--leader-elect",
		"--leader-election-namespace=blue-system",
		"--hop-role-arn-template=arn:aws:iam::111111111111:role/blue-hop-{tenant}",
		"--max-concurrent-reconciles=2",
	)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("operator output:\n%s", logs.String())
		}
	})

	waitFor(t, "readyz", func() error {
		code, body, err := get("http://" + probes + "/readyz")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("%d %q %v", code, body, err)
		}
		return nil
	})
	if code, _, err := get("http://" + probes + "/healthz"); err != nil || code != http.StatusOK {
		t.Errorf("healthz: %d %v", code, err)
	}
	waitFor(t, "leader lease", func() error {
		var lease coordinationv1.Lease
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: "blue-system", Name: "blue-operator.blue.superviber.com"}, &lease); err != nil {
			return err
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
			return fmt.Errorf("no holder")
		}
		return nil
	})

	bt := &bluev1.BlueTenant{
		ObjectMeta: metav1.ObjectMeta{Name: "proc"},
		Spec: bluev1.BlueTenantSpec{
			Endpoint: bluev1.EndpointSpec{Host: "proc.mcp.example.com"},
			AWS:      bluev1.AWSSpec{Region: "eu-west-1", AccountID: "222222222222"},
			Infisical: bluev1.InfisicalSpec{ProjectID: "p", Auth: bluev1.InfisicalAuth{
				Kubernetes: &bluev1.InfisicalKubernetesAuth{IdentityID: "id"}}},
		},
	}
	if err := k8s.Create(ctx, bt); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "tenant reconciled", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(bt), bt); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(bt.Status.Conditions, bluev1.ConditionReady); c == nil {
			return fmt.Errorf("no Ready condition yet")
		}
		return nil
	})
	var dep appsv1.Deployment
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: "blue-proc", Name: "blue-mcp"}, &dep); err != nil {
		t.Errorf("the operator's ServiceAccount could not create the server Deployment: %v", err)
	}
	if c := meta.FindStatusCondition(bt.Status.Conditions, bluev1.ConditionDegraded); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("degraded under least-privilege RBAC: %+v", c)
	}
	waitFor(t, "reconcile metrics", func() error {
		_, body, err := get("http://" + metrics + "/metrics")
		if err != nil {
			return err
		}
		if !strings.Contains(body, `controller_runtime_reconcile_total{controller="bluetenant",result="success"}`) {
			return fmt.Errorf("no reconcile metric for bluetenant")
		}
		if !strings.Contains(body, `blue_operator_tenant_condition{condition="Ready",reason="DeploymentUnavailable",status="False",tenant="proc"} 1`) {
			return fmt.Errorf("no tenant condition metric")
		}
		return nil
	})

	// SIGTERM: a clean stop that releases the lease for the next replica.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Errorf("operator exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("operator did not stop within 30s of SIGTERM")
	}
	var lease coordinationv1.Lease
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: "blue-system", Name: "blue-operator.blue.superviber.com"}, &lease); err != nil {
		t.Fatal(err)
	}
	if lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "" {
		t.Errorf("lease still held by %q after shutdown", *lease.Spec.HolderIdentity)
	}
}

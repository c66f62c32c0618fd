// Package argocd_test checks config/argocd: the Argo CD health check for
// BlueTenant runs in the Lua interpreter Argo CD embeds (gopher-lua) against
// tenants the real reconciler brought into each state on a real control plane,
// the ignoreDifferences rules hold against the API server's defaulting, and
// the Application, ApplicationSet and sync waves are what config/argocd's
// README promises.
package argocd_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
	"github.com/superviber/blue-operator/test/controlplane"
	"github.com/superviber/blue-operator/test/testutil"
)

// repoRoot is the repository root seen from this package.
var repoRoot = filepath.Join("..", "..")

// wait bounds every wait for a condition.
const wait = 60 * time.Second

var (
	k8s    client.Client // uncached, for assertions
	scheme = runtime.NewScheme()
	// The operator runs with the settings test/controllers/suite_test.go uses.
	opts = controllers.Options{
		DefaultImage:            "blue-mcp:test",
		HopRoleARNTemplate:      "arn:aws:iam::111111111111:role/blue-hop-{tenant}",
		IngressClassName:        "alb",
		IngressAnnotations:      map[string]string{"alb.ingress.kubernetes.io/group.name": "blue"},
		IngressNamespace:        "ingress-system",
		MetricsNamespace:        "monitoring",
		MaxConcurrentReconciles: 4,
	}
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: these tests run the operator on a real control plane; run them with `make test` or\n"+
			"  KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh kube-controller-manager) go test ./test/argocd/")
		return 1
	}
	level := zapcore.Level(10) // errors surface through test failures
	if os.Getenv("TEST_VERBOSE") != "" {
		level = -2
	}
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true), zap.Level(level)))
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := bluev1.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	plane, err := controlplane.Start(controlplane.Options{
		CRDDirs:     []string{filepath.Join(repoRoot, "config", "crd", "bases")},
		Controllers: controlplane.DefaultControllers,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = plane.Stop() }()
	if k8s, err = client.New(plane.Config, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}

	// The operator in-process, as cmd/manager runs it.
	mgr, err := controllers.NewManager(plane.Config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	}, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped:", err)
		}
	}()
	code := m.Run()
	cancel()
	<-done
	return code
}

// eventually polls cond until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	testutil.Eventually(t, timeout, 100*time.Millisecond, what, cond)
}

// markPodsRunning plays the kubelet's status half for a namespace.
func markPodsRunning(ctx context.Context, ns string) error {
	return controlplane.MarkPodsRunning(ctx, k8s, ns, "argocd-test-node")
}

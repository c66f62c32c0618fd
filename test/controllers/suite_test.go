package controllers_test

import (
	"context"
	"fmt"
	"github.com/superviber/blue-operator/controllers"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/test/controlplane"
	"github.com/superviber/blue-operator/test/testutil"
)

// The integration tests run the reconciler against a real kube-apiserver and
// etcd (envtest) plus a real kube-controller-manager for the controllers the
// operator relies on: garbage collection, namespace deletion, Deployments,
// ReplicaSets and quota accounting. Binaries come from hack/setup-envtest.sh
// (`make test` sets KUBEBUILDER_ASSETS).

var (
	k8s      client.Client // uncached, for assertions
	adminCfg *rest.Config  // the admin's configuration k8s uses, for clients of other users
	testOpts = controllers.Options{
		DefaultImage:            "blue-mcp:test",
		HopRoleARNTemplate:      "arn:aws:iam::111111111111:role/blue-hop-{tenant}",
		IngressClassName:        "alb",
		IngressAnnotations:      map[string]string{"alb.ingress.kubernetes.io/group.name": "blue"},
		IngressNamespace:        "ingress-system",
		MetricsNamespace:        "monitoring",
		OperatorNamespace:       "blue-system",
		AccessInterval:          300 * time.Millisecond,
		PodPortsAnnotation:      testPortsAnnotation,
		MaxConcurrentReconciles: 4,
	}
	testScheme = runtime.NewScheme()
)

// testPortsAnnotation is where the tests put a pod's metrics address: pods
// here run nowhere, so a test server stands in for their metrics port.
const testPortsAnnotation = "test.blue.superviber.com/ports"

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run the tests with `make test` (it builds the control plane with hack/setup-envtest.sh)")
		return 1
	}
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true), zap.Level(zapLevel())))
	_ = clientgoscheme.AddToScheme(testScheme)
	_ = bluev1.AddToScheme(testScheme)
	_ = apiextensionsv1.AddToScheme(testScheme)

	plane, err := controlplane.Start(controlplane.Options{
		CRDDirs:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		Controllers: controlplane.DefaultControllers,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = plane.Stop() }()
	cfg := plane.Config
	adminCfg = cfg

	if k8s, err = client.New(cfg, client.Options{Scheme: testScheme}); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done, err := startManager(ctx, cfg, testOpts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start manager:", err)
		return 1
	}
	code := m.Run()
	cancel()
	<-done
	return code
}

func zapLevel() zapcore.Level {
	if os.Getenv("TEST_VERBOSE") != "" {
		return -2
	}
	return 10 // errors only surface through test failures
}

// startManager runs the operator in-process, as cmd/manager does.
func startManager(ctx context.Context, cfg *rest.Config, opts controllers.Options) (<-chan struct{}, error) {
	mgr, err := controllers.NewManager(cfg, ctrl.Options{
		Scheme:                 testScheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	}, opts)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped:", err)
		}
	}()
	return done, nil
}

// eventually polls cond until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	testutil.Eventually(t, timeout, 100*time.Millisecond, what, cond)
}

// newTenant is a valid BlueTenant; tests change what they need.
func newTenant(name string) *bluev1.BlueTenant {
	return &bluev1.BlueTenant{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: bluev1.BlueTenantSpec{
			DisplayName: "Test " + name,
			Tier:        bluev1.TierSmall,
			Endpoint:    bluev1.EndpointSpec{Host: name + ".mcp.example.com", TLSSecretName: name + "-tls"},
			AWS:         bluev1.AWSSpec{Region: "eu-west-1", AccountID: "222222222222"},
			Infisical: bluev1.InfisicalSpec{
				ProjectID: "proj-" + name,
				Auth:      bluev1.InfisicalAuth{Kubernetes: &bluev1.InfisicalKubernetesAuth{IdentityID: "id-" + name}},
			},
		},
	}
}

func createTenant(t *testing.T, bt *bluev1.BlueTenant) *bluev1.BlueTenant {
	t.Helper()
	if err := k8s.Create(context.Background(), bt); err != nil {
		t.Fatalf("create BlueTenant %s: %v", bt.Name, err)
	}
	t.Cleanup(func() {
		_ = k8s.Delete(context.Background(), bt)
	})
	return bt
}

func getTenant(t *testing.T, name string) *bluev1.BlueTenant {
	t.Helper()
	var bt bluev1.BlueTenant
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, &bt); err != nil {
		t.Fatalf("get BlueTenant %s: %v", name, err)
	}
	return &bt
}

// markPodsRunning plays the kubelet's status half for a namespace.
func markPodsRunning(ctx context.Context, ns string) error {
	return controlplane.MarkPodsRunning(ctx, k8s, ns, "test-node")
}

// runUntilReady plays the kubelet for a tenant until the BlueTenant reports
// Ready: pods the ReplicaSet controller makes later (a rollout, a scale-up)
// are started too.
func runUntilReady(t *testing.T, name string) *bluev1.BlueTenant {
	t.Helper()
	var bt *bluev1.BlueTenant
	eventually(t, wait, name+" Ready=True", func() error {
		if err := markPodsRunning(context.Background(), controllers.NamespaceFor(name)); err != nil {
			return err
		}
		bt = getTenant(t, name)
		c := meta.FindStatusCondition(bt.Status.Conditions, bluev1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != bluev1.ReasonAvailable || bt.Status.ObservedGeneration != bt.Generation {
			return fmt.Errorf("ready condition %+v", c)
		}
		return nil
	})
	return bt
}

// finishTerminatingPods is the kubelet's half of pod deletion: once a pod is
// marked for deletion and its containers have stopped, the kubelet removes it.
func finishTerminatingPods(ctx context.Context, ns string) error {
	var pods corev1.PodList
	if err := k8s.List(ctx, &pods, client.InNamespace(ns)); err != nil {
		return err
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp.IsZero() {
			continue
		}
		if err := k8s.Delete(ctx, p, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

package manifests

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// TestInstallAndSamplesApply renders config/default and config/samples and
// applies them to a real API server that has nothing installed, so broken
// YAML, a CRD the API server refuses, or a sample that fails validation fail
// CI.
func TestInstallAndSamplesApply(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run the tests with `make test`")
	}
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = bluev1.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root := filepath.Join("..", "..", "config")

	install, err := Render(filepath.Join(root, "default"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, o := range install {
		kinds[o.GetKind()]++
		ns := o.GetNamespace()
		if ns == "" || ns == "blue-system" {
			continue
		}
		// The one exception: the Role that reads the API server's own
		// EndpointSlice in default, and its binding.
		if ns == "default" && o.GetName() == "blue-operator" && (o.GetKind() == "Role" || o.GetKind() == "RoleBinding") {
			if o.GetKind() == "Role" {
				rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
				want := []any{map[string]any{"apiGroups": []any{"discovery.k8s.io"}, "resources": []any{"endpointslices"}, "verbs": []any{"get", "list", "watch"}}}
				if !reflect.DeepEqual(rules, want) {
					t.Errorf("Role default/blue-operator grants %v, want only reading EndpointSlices", rules)
				}
			}
			continue
		}
		t.Errorf("%s %s installs into %q, want blue-system", o.GetKind(), o.GetName(), ns)
	}
	for _, k := range []string{"CustomResourceDefinition", "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "Service"} {
		if kinds[k] == 0 {
			t.Errorf("config/default has no %s", k)
		}
	}
	if err := Apply(ctx, c, install, false); err != nil {
		t.Fatal(err)
	}
	// Applying again is a no-op, as Argo CD and `kubectl apply` will do.
	if err := Apply(ctx, c, install, false); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	var dep appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: "blue-system", Name: "blue-operator"}, &dep); err != nil {
		t.Fatal(err)
	}
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != "ghcr.io/superviber/blue-operator:latest" {
		t.Errorf("operator image %q", got)
	}

	// The ServiceMonitors parse and name the ports the Services expose.
	sm, err := os.ReadFile(filepath.Join(root, "prometheus", "servicemonitor.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(sm), "kind: ServiceMonitor"); n != 2 || !strings.Contains(string(sm), "port: metrics") {
		t.Errorf("servicemonitor.yaml: %d ServiceMonitors", n)
	}

	samples, err := Render(filepath.Join(root, "samples"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(ctx, c, samples, false); err != nil {
		t.Fatalf("samples refused: %v", err)
	}
	var bt bluev1.BlueTenant
	if err := c.Get(ctx, client.ObjectKey{Name: "acme"}, &bt); err != nil {
		t.Fatal(err)
	}
	if bt.Spec.Tier != bluev1.TierMedium {
		t.Errorf("sample tier %q", bt.Spec.Tier)
	}
}

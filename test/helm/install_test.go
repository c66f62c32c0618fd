package helm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	releasecommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/hack/manifests"
	"github.com/superviber/blue-operator/test/controlplane"
	"github.com/superviber/blue-operator/test/testutil"
)

const (
	crdName = "bluetenants.blue.superviber.com"
	// wait bounds every wait for a condition.
	wait = 60 * time.Second
)

// cluster is a control plane (etcd and kube-apiserver) and what the Helm SDK
// needs to act on it.
type cluster struct {
	plane      *controlplane.Plane
	k8s        client.Client
	kubeconfig string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, or\n" +
			"  KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh) go test ./test/helm/")
	}
	plane, err := controlplane.Start(controlplane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plane.Stop() })
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, bluev1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	k8s, err := client.New(plane.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	// Helm acts as a cluster admin, as `helm install` by a platform engineer.
	kubeconfig, err := plane.Kubeconfig("helm.kubeconfig", "platform-engineer", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{plane: plane, k8s: k8s, kubeconfig: kubeconfig}
}

// helm is the SDK's configuration for releases in namespace, as `helm -n
// namespace` with the cluster's kubeconfig.
func (c *cluster) helm(t *testing.T, namespace string) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &c.kubeconfig
	flags.Namespace = &namespace
	cfg := action.NewConfiguration(discardLogs())
	if err := cfg.Init(flags, namespace, "secret"); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (c *cluster) install(t *testing.T, namespace string, ch *chartv2.Chart, vals map[string]any, takeOwnership bool) *releasev1.Release {
	t.Helper()
	inst := action.NewInstall(c.helm(t, namespace))
	inst.ReleaseName = releaseName
	inst.Namespace = namespace
	inst.CreateNamespace = true
	// Taking over objects kubectl apply --server-side wrote means taking
	// over its fields too: helm install --take-ownership --force-conflicts.
	inst.TakeOwnership, inst.ForceConflicts = takeOwnership, takeOwnership
	// No kubelet runs the operator's pods: wait for nothing but hooks (there
	// are none); the tests wait for what they check.
	inst.WaitStrategy = kube.HookOnlyStrategy
	inst.Timeout = wait
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	rel, err := inst.RunWithContext(ctx, ch, vals)
	if err != nil {
		t.Fatalf("helm install -n %s: %v", namespace, err)
	}
	return rel.(*releasev1.Release)
}

func (c *cluster) upgrade(t *testing.T, namespace string, ch *chartv2.Chart, vals map[string]any) *releasev1.Release {
	t.Helper()
	up := action.NewUpgrade(c.helm(t, namespace))
	up.Namespace = namespace
	up.WaitStrategy = kube.HookOnlyStrategy
	up.Timeout = wait
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	rel, err := up.RunWithContext(ctx, releaseName, ch, vals)
	if err != nil {
		t.Fatalf("helm upgrade -n %s: %v", namespace, err)
	}
	return rel.(*releasev1.Release)
}

func (c *cluster) uninstall(t *testing.T, namespace string) string {
	t.Helper()
	un := action.NewUninstall(c.helm(t, namespace))
	un.WaitStrategy = kube.HookOnlyStrategy
	un.Timeout = wait
	resp, err := un.Run(releaseName)
	if err != nil {
		t.Fatalf("helm uninstall -n %s: %v", namespace, err)
	}
	return resp.Info
}

func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	testutil.Eventually(t, wait, 100*time.Millisecond, what, cond)
}

// gone waits until obj no longer exists.
func (c *cluster) gone(t *testing.T, obj client.Object) {
	t.Helper()
	eventually(t, fmt.Sprintf("%T %s deleted", obj, obj.GetName()), func() error {
		err := c.k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return errors.New("still there")
	})
}

func (c *cluster) deployment(t *testing.T, namespace string) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	if err := c.k8s.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: "blue-operator"}, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// asOperator is a client acting as the operator's ServiceAccount in
// namespace (impersonated, as the API server sees the pod's token).
func (c *cluster) asOperator(t *testing.T, namespace string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(c.plane.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":blue-operator",
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
	k, err := client.New(cfg, client.Options{Scheme: c.k8s.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// withPrinterColumn is a copy of the chart whose CRD has one more printer
// column, as the next release of the chart would have.
func withPrinterColumn(t *testing.T, ch *chartv2.Chart) *chartv2.Chart {
	t.Helper()
	next := *ch
	meta := *ch.Metadata
	meta.Version = "0.1.1-next"
	next.Metadata = &meta
	next.Templates = nil
	changed := false
	for _, tpl := range ch.Templates {
		tpl := *tpl
		if tpl.Name == "templates/crd.yaml" {
			const at = "  - additionalPrinterColumns:\n"
			if !strings.Contains(string(tpl.Data), at) {
				t.Fatalf("templates/crd.yaml has no %q", at)
			}
			tpl.Data = []byte(strings.Replace(string(tpl.Data), at, at+
				"    - jsonPath: .spec.suspend\n      name: Suspended\n      type: boolean\n", 1))
			changed = true
		}
		next.Templates = append(next.Templates, &tpl)
	}
	if !changed {
		t.Fatal("the chart has no templates/crd.yaml")
	}
	return &next
}

func printerColumns(crd *apiextensionsv1.CustomResourceDefinition) []string {
	var names []string
	for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
		names = append(names, c.Name)
	}
	return names
}

// TestInstallUpgradeUninstall drives the chart through its life on a real
// API server with the Helm SDK, in a namespace other than config/'s:
// install (the CRD served, RBAC and the admission policy bound to that
// namespace's ServiceAccount and enforced for it), an upgrade to changed
// values (seen on the live Deployment), an upgrade whose CRD has a new
// printer column (seen on the live CRD: the CRD is a template, not under
// crds/), uninstall (everything gone but the kept CRD and the BlueTenants),
// install again (the kept CRD adopted), and uninstall with crds.keep=false.
// Then a cluster installed with kubectl apply -k config/default is taken over
// by helm install --take-ownership.
func TestInstallUpgradeUninstall(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	ch := loadChart(t)
	const ns = "platform-blue"
	start := time.Now()
	step := func(name string) {
		t.Logf("%-52s %6.1fs", name, time.Since(start).Seconds())
		start = time.Now()
	}

	// Install.
	rel := c.install(t, ns, ch, nil, false)
	if rel.Info.Status != releasecommon.StatusDeployed {
		t.Fatalf("release status %q", rel.Info.Status)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	eventually(t, "the CRD is established", func() error {
		if err := c.k8s.Get(ctx, client.ObjectKey{Name: crdName}, &crd); err != nil {
			return err
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return nil
			}
		}
		return errors.New("not established")
	})
	if crd.Annotations["helm.sh/resource-policy"] != "keep" || crd.Annotations["meta.helm.sh/release-namespace"] != ns {
		t.Errorf("CRD annotations %v", crd.Annotations)
	}
	d := c.deployment(t, ns)
	if *d.Spec.Replicas != 2 || d.Spec.Template.Spec.Containers[0].Image != "ghcr.io/superviber/blue-operator:latest" {
		t.Errorf("Deployment: %d replicas, image %s", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
	}
	if args := d.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--leader-elect") || !slices.Contains(args, "--zap-log-level=info") {
		t.Errorf("Deployment args %q", args)
	}
	var crb rbacv1.ClusterRoleBinding
	if err := c.k8s.Get(ctx, client.ObjectKey{Name: "blue-operator"}, &crb); err != nil {
		t.Fatal(err)
	}
	if len(crb.Subjects) != 1 || crb.Subjects[0].Namespace != ns {
		t.Errorf("ClusterRoleBinding subjects %+v", crb.Subjects)
	}
	var vap admissionregistrationv1.ValidatingAdmissionPolicy
	if err := c.k8s.Get(ctx, client.ObjectKey{Name: "blue-operator-reach"}, &vap); err != nil {
		t.Fatal(err)
	}
	if want := "'system:serviceaccount:" + ns + ":blue-operator'"; !strings.Contains(vap.Spec.MatchConditions[0].Expression, want) {
		t.Errorf("the policy matches %q, want %s", vap.Spec.MatchConditions[0].Expression, want)
	}
	step("install")

	// The policy confines this namespace's ServiceAccount, whose RBAC allows
	// Deployments anywhere; its leader-election Lease in its own namespace
	// is admitted. Server-side dry runs: admission runs, nothing is stored.
	op := c.asOperator(t, ns)
	eventually(t, "the admission policy refuses the operator a Deployment in kube-system", func() error {
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "not-ours"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "x", Image: "x"}}},
				},
			},
		}
		err := op.Create(ctx, dep, client.DryRunAll)
		if err == nil {
			return errors.New("admitted")
		}
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "is not labelled app.kubernetes.io/managed-by=blue-operator") {
			return fmt.Errorf("refused, but not by the policy: %v", err)
		}
		return nil
	})
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "blue-operator.blue.superviber.com"}}
	if err := op.Create(ctx, lease, client.DryRunAll); err != nil {
		t.Errorf("the operator may not create its Lease in %s: %v", ns, err)
	}
	step("the admission policy holds for " + ns)

	// A BlueTenant, which must outlive the release.
	samples, err := manifests.Render(filepath.Join(repoRoot, "config", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	if err := manifests.Apply(ctx, c.k8s, samples, false); err != nil {
		t.Fatal(err)
	}

	// Upgrade to changed values.
	rel = c.upgrade(t, ns, ch, map[string]any{
		"replicaCount": 1,
		"log":          map[string]any{"level": "debug"},
		"tenants":      map[string]any{"ingress": map[string]any{"className": "nginx"}},
	})
	if rel.Version != 2 {
		t.Errorf("release revision %d after the upgrade", rel.Version)
	}
	eventually(t, "the live Deployment has the upgraded values", func() error {
		d := c.deployment(t, ns)
		args := d.Spec.Template.Spec.Containers[0].Args
		if *d.Spec.Replicas != 1 || !slices.Contains(args, "--zap-log-level=debug") || !slices.Contains(args, "--ingress-class=nginx") ||
			slices.Contains(args, "--zap-log-level=info") || slices.Contains(args, "--ingress-class=alb") {
			return fmt.Errorf("%d replicas, args %q", *d.Spec.Replicas, args)
		}
		return nil
	})
	step("upgrade to changed values")

	// Upgrade to a chart whose CRD changed.
	if cols := printerColumns(&crd); slices.Contains(cols, "Suspended") {
		t.Fatalf("the CRD already has a Suspended column: %v", cols)
	}
	c.upgrade(t, ns, withPrinterColumn(t, ch), nil)
	eventually(t, "the live CRD has the new printer column", func() error {
		if err := c.k8s.Get(ctx, client.ObjectKey{Name: crdName}, &crd); err != nil {
			return err
		}
		if cols := printerColumns(&crd); !slices.Contains(cols, "Suspended") {
			return fmt.Errorf("columns %v", cols)
		}
		return nil
	})
	// Back to the chart as it is.
	c.upgrade(t, ns, ch, nil)
	step("upgrade with a changed CRD")

	// Uninstall: all gone but the CRD and the tenants.
	info := c.uninstall(t, ns)
	for _, o := range []client.Object{
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "blue-operator"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "blue-operator"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "blue-operator-metrics"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "blue-operator"}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "blue-operator"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "blue-operator-leader-election"}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "blue-operator-leader-election"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "blue-operator-bluetenant-viewer"}},
		&admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "blue-operator-reach"}},
		&admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "blue-operator-reach"}},
	} {
		c.gone(t, o)
	}
	var secrets corev1.SecretList
	if err := c.k8s.List(ctx, &secrets, client.InNamespace(ns), client.MatchingLabels{"owner": "helm"}); err != nil {
		t.Fatal(err)
	}
	if len(secrets.Items) != 0 {
		t.Errorf("release records left after uninstall: %d", len(secrets.Items))
	}
	if err := c.k8s.Get(ctx, client.ObjectKey{Name: crdName}, &crd); err != nil || crd.DeletionTimestamp != nil {
		t.Fatalf("the CRD did not survive helm uninstall: %v (uninstall said %q)", err, info)
	}
	var tenants bluev1.BlueTenantList
	if err := c.k8s.List(ctx, &tenants); err != nil || len(tenants.Items) != 2 {
		t.Fatalf("BlueTenants after uninstall: %d, %v", len(tenants.Items), err)
	}
	step("uninstall keeps the CRD and the tenants")

	// Install again: the kept CRD is adopted; then without keep, uninstall
	// deletes it.
	c.install(t, ns, ch, map[string]any{"crds": map[string]any{"keep": false}}, false)
	c.uninstall(t, ns)
	c.gone(t, &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: crdName}})
	step("install again, uninstall with crds.keep=false")

	// A cluster installed with kubectl apply -k config/default moves to the
	// chart with --take-ownership --force-conflicts (README, Installing the
	// operator): without --force-conflicts the server-side apply of the
	// admission policy conflicts with kubectl's field manager.
	install, err := manifests.Render(filepath.Join(repoRoot, "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	if err := manifests.Apply(ctx, c.k8s, install, false); err != nil {
		t.Fatal(err)
	}
	c.install(t, "blue-system", ch, nil, true)
	d = c.deployment(t, "blue-system")
	if d.Annotations["meta.helm.sh/release-name"] != releaseName || d.Labels["app.kubernetes.io/managed-by"] != "Helm" {
		t.Errorf("the kustomize-installed Deployment was not taken over: labels %v annotations %v", d.Labels, d.Annotations)
	}
	step("take over a kustomize install")
}

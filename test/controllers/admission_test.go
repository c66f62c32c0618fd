package controllers_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
	"github.com/superviber/blue-operator/hack/manifests"
)

// TestOperatorConfinedToItsNamespacesAndKinds installs the operator's
// ServiceAccount, RBAC and ValidatingAdmissionPolicy from config/default (the
// install), then acts as that ServiceAccount on the real API server: what the
// policy refuses is refused with its message although RBAC allows it (a
// SubjectAccessReview says so for every case), what the operator really
// writes is admitted, and other users are not affected.
func TestOperatorConfinedToItsNamespacesAndKinds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	start := time.Now()

	// The install's RBAC and admission objects; not the CRD (the suite has
	// it) nor the operator Deployment (the suite runs the operator in-process).
	install, err := manifests.Render(filepath.Join("..", "..", "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	var policy, binding, saNamespace, saName string
	var matches []string // the policy's matchConditions
	for _, o := range install {
		switch o.GetKind() {
		case "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			objs = append(objs, o)
		case "ValidatingAdmissionPolicyBinding":
			objs = append(objs, o)
			binding = o.GetName()
		case "ValidatingAdmissionPolicy":
			objs = append(objs, o)
			policy = o.GetName()
			conds, _, _ := unstructured.NestedSlice(o.Object, "spec", "matchConditions")
			for _, c := range conds {
				expr, _ := c.(map[string]any)["expression"].(string)
				matches = append(matches, expr)
			}
		case "Deployment":
			// The operator's ServiceAccount is the one its Deployment runs as.
			saNamespace = o.GetNamespace()
			saName, _, _ = unstructured.NestedString(o.Object, "spec", "template", "spec", "serviceAccountName")
		}
	}
	if policy == "" || binding == "" || saName == "" {
		t.Fatalf("config/default lacks the ValidatingAdmissionPolicy (%q), its binding (%q) or an operator Deployment with a ServiceAccount (%q)", policy, binding, saName)
	}
	if err := manifests.Apply(ctx, k8s, objs, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := len(objs) - 1; i >= 0; i-- {
			_ = k8s.Delete(ctx, objs[i])
		}
	})

	operator := "system:serviceaccount:" + saNamespace + ":" + saName
	if !strings.Contains(strings.Join(matches, " "), "'"+operator+"'") {
		t.Fatalf("policy %s matches %q, not the operator's ServiceAccount %s", policy, matches, operator)
	}
	groups := []string{"system:serviceaccounts", "system:serviceaccounts:" + saNamespace, "system:authenticated"}
	op := clientAs(t, operator, groups)

	// The operator reads the API server's own EndpointSlice (in default)
	// and no other namespace's, nor all of them at once.
	eventually(t, wait, "the install's RBAC for EndpointSlices", func() error {
		for _, c := range []struct {
			ns   string
			want bool
		}{{"default", true}, {"kube-system", false}, {saNamespace, false}, {"", false}} {
			for _, verb := range []string{"get", "list", "watch"} {
				ra := authorizationv1.ResourceAttributes{Namespace: c.ns, Verb: verb, Group: "discovery.k8s.io", Resource: "endpointslices"}
				if got := rbacAllows(t, operator, groups, ra); got != c.want {
					return fmt.Errorf("%s endpointslices in namespace %q: allowed %v, want %v", verb, c.ns, got, c.want)
				}
			}
		}
		return nil
	})

	// Namespaces for the cases: one the platform labelled as the
	// operator's, one it did not, and a tenant the operator (here running as
	// the admin) has made its namespace and objects for.
	managed := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "reach-managed", Labels: map[string]string{controllers.LabelManagedBy: controllers.ManagedByValue}}}
	unlabelled := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "reach-unlabelled"}}
	for _, ns := range []*corev1.Namespace{managed, unlabelled} {
		if err := k8s.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(ctx, ns) })
	}
	bt := newTenant("reach")
	bt.Spec.Tier = bluev1.TierEnterprise // two replicas, so a PodDisruptionBudget too
	createTenant(t, bt)
	// RBAC widened as a mistake would: the operator may also write ConfigMaps.
	widened := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "reach-widened"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create"}}},
	}
	widenedBinding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "reach-widened"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: widened.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: saNamespace, Name: saName}},
	}
	for _, o := range []client.Object{widened, widenedBinding} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(ctx, o) })
	}

	// The API server loads a new policy asynchronously: poll until the
	// operator's Deployment in kube-system is refused by it (a dry run, so
	// nothing is made while the policy is not yet in force).
	wantPolicy := fmt.Sprintf("ValidatingAdmissionPolicy '%s'", policy)
	notLabelled := func(ns string) string {
		return "namespace " + ns + " is not labelled app.kubernetes.io/managed-by=blue-operator"
	}
	eventually(t, wait, "policy "+policy+" in force", func() error {
		err := op.Create(ctx, deployment("kube-system", "reach-probe"), client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), wantPolicy) || !strings.Contains(err.Error(), notLabelled("kube-system")) {
			return fmt.Errorf("not refused by the policy yet: %v", err)
		}
		return nil
	})
	t.Logf("policy in force %v after the test started", time.Since(start).Round(time.Millisecond))

	const notOwnedKind = "its ServiceAccount writes only what a BlueTenant owns"
	const notOwnedNamespace = "only namespaces labelled app.kubernetes.io/managed-by=blue-operator, and cannot add or remove that label"
	labelPatch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"`+controllers.LabelManagedBy+`":"`+controllers.ManagedByValue+`"}}}`))
	ra := func(verb, group, resource, ns string) authorizationv1.ResourceAttributes {
		return authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource, Namespace: ns}
	}

	refused := []struct {
		name string
		rbac authorizationv1.ResourceAttributes // what RBAC allows, checked first
		do   func(c client.Client) error
		want string
	}{
		{"a Deployment in kube-system", ra("create", "apps", "deployments", "kube-system"),
			createAndClean(t, deployment("kube-system", "reach-attack")), notLabelled("kube-system")},
		{"a Secret in an unlabelled namespace", ra("create", "", "secrets", unlabelled.Name),
			createAndClean(t, secret(unlabelled.Name, "reach-attack")), notLabelled(unlabelled.Name)},
		{"a Deployment in its own namespace (rewriting itself)", ra("create", "apps", "deployments", saNamespace),
			createAndClean(t, deployment(saNamespace, "reach-attack")), notLabelled(saNamespace)},
		{"a ConfigMap in a managed namespace, RBAC widened", ra("create", "", "configmaps", managed.Name),
			createAndClean(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: managed.Name, Name: "reach-attack"}}), notOwnedKind},
		{"an event about a pod in default", ra("create", "events.k8s.io", "events", "default"),
			createAndClean(t, event("default", corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "x"})), notLabelled("default")},
		{"a namespace without the label", ra("create", "", "namespaces", ""),
			createAndClean(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "reach-made-unlabelled"}}), notOwnedNamespace},
		{"the label added to kube-system", ra("patch", "", "namespaces", ""),
			func(c client.Client) error {
				t.Cleanup(func() { // should the policy fail: kube-system is not the operator's
					_ = k8s.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
						client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"`+controllers.LabelManagedBy+`":null}}}`)))
				})
				return c.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}}, labelPatch)
			}, notOwnedNamespace},
	}
	for _, tc := range refused {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			if !rbacAllows(t, operator, groups, tc.rbac) {
				t.Fatalf("RBAC does not allow %+v: the case would not prove the policy", tc.rbac)
			}
			err := tc.do(op)
			if err == nil {
				t.Fatal("admitted")
			}
			if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), wantPolicy) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("refused, but not by the policy with %q: %v", tc.want, err)
			}
			t.Logf("%v", err)
		})
	}

	// The API server exempts admission policies and their bindings from
	// admission policies, so what keeps the operator from lifting its own
	// fence is RBAC: the installed roles grant nothing on them.
	t.Run("refused: lifting its own policy (by RBAC)", func(t *testing.T) {
		for _, resource := range []string{"validatingadmissionpolicies", "validatingadmissionpolicybindings"} {
			for _, verb := range []string{"create", "update", "patch", "delete"} {
				if rbacAllows(t, operator, groups, ra(verb, "admissionregistration.k8s.io", resource, "")) {
					t.Errorf("RBAC lets the operator %s %s", verb, resource)
				}
			}
		}
		b := &unstructured.Unstructured{}
		b.SetAPIVersion("admissionregistration.k8s.io/v1")
		b.SetKind("ValidatingAdmissionPolicyBinding")
		b.SetName(binding)
		if err := op.Delete(ctx, b, client.DryRunAll); !apierrors.IsForbidden(err) {
			t.Errorf("deleting binding %s as the operator: %v, want forbidden", binding, err)
		}
	})

	// What the operator writes is admitted. Allowed objects other than the
	// Deployment are dry runs: only admission is being asked.
	dry := func(o client.Object) func(client.Client) error {
		return func(c client.Client) error { return c.Create(ctx, o, client.DryRunAll) }
	}
	allowed := []struct {
		name string
		do   func(c client.Client) error
	}{
		{"a Deployment in a managed namespace", createAndClean(t, deployment(managed.Name, "reach-allowed"))},
		{"a Secret in a managed namespace", dry(secret(managed.Name, "reach-allowed"))},
		{"a namespace with the label", dry(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "blue-reach-new", Labels: map[string]string{controllers.LabelManagedBy: controllers.ManagedByValue}}})},
		{"its leader-election lease in its own namespace", dry(&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: saNamespace, Name: "reach-lease"}})},
		{"an event about a BlueTenant in default", dry(event("default", corev1.ObjectReference{Kind: "BlueTenant", APIVersion: bluev1.GroupVersion.String(), Name: bt.Name}))},
	}
	for _, tc := range allowed {
		t.Run("allowed: "+tc.name, func(t *testing.T) {
			if err := tc.do(op); err != nil {
				t.Fatal(err)
			}
		})
	}

	// Every object the operator made for the tenant, applied again as its
	// ServiceAccount the way the reconciler applies it, and the tenant's
	// status: a policy that forgot a kind would stop every tenant.
	tenantNS := controllers.NamespaceFor(bt.Name)
	kinds := []struct{ apiVersion, kind, ns, name string }{
		{"v1", "Namespace", "", tenantNS},
		{"v1", "ServiceAccount", tenantNS, controllers.ServerName},
		{"v1", "Service", tenantNS, controllers.ServerName},
		{"v1", "ResourceQuota", tenantNS, controllers.ServerName},
		{"v1", "LimitRange", tenantNS, controllers.ServerName},
		{"networking.k8s.io/v1", "NetworkPolicy", tenantNS, controllers.ServerName},
		{"networking.k8s.io/v1", "Ingress", tenantNS, controllers.ServerName},
		{"policy/v1", "PodDisruptionBudget", tenantNS, controllers.ServerName},
		{"apps/v1", "Deployment", tenantNS, controllers.ServerName},
	}
	for _, k := range kinds {
		t.Run("allowed: reapply the tenant's "+k.kind, func(t *testing.T) {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion(k.apiVersion)
			u.SetKind(k.kind)
			eventually(t, wait, "the operator made "+k.kind+" "+k.name, func() error {
				return k8s.Get(ctx, client.ObjectKey{Namespace: k.ns, Name: k.name}, u)
			})
			if err := op.Apply(ctx, client.ApplyConfigurationFromUnstructured(asApplied(u)),
				client.FieldOwner(controllers.FieldManager), client.ForceOwnership, client.DryRunAll); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("allowed: deleting the tenant's PodDisruptionBudget", func(t *testing.T) {
		// As the reconciler does when a tenant drops to one replica.
		pdb := &unstructured.Unstructured{}
		pdb.SetAPIVersion("policy/v1")
		pdb.SetKind("PodDisruptionBudget")
		pdb.SetNamespace(tenantNS)
		pdb.SetName(controllers.ServerName)
		if err := op.Delete(ctx, pdb, client.DryRunAll); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("allowed: the tenant's status", func(t *testing.T) {
		cur := getTenant(t, bt.Name)
		base := cur.DeepCopy()
		cur.Status.Endpoint = "https://reach.example.com/mcp"
		if err := op.Status().Patch(ctx, cur, client.MergeFrom(base), client.DryRunAll); err != nil {
			t.Fatal(err)
		}
	})

	// Nobody else is matched: the admin, and another ServiceAccount with the
	// operator's ClusterRole.
	t.Run("others unaffected", func(t *testing.T) {
		other := "system:serviceaccount:" + saNamespace + ":reach-other"
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "reach-other"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "blue-operator"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: saNamespace, Name: "reach-other"}},
		}
		if err := k8s.Create(ctx, binding); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(ctx, binding) })
		if err := createAndClean(t, deployment("kube-system", "reach-admin"))(k8s); err != nil {
			t.Errorf("the admin's Deployment in kube-system: %v", err)
		}
		otherClient := clientAs(t, other, groups)
		// RBAC bindings, like policies, take a moment to reach the authorizer.
		eventually(t, wait, "another ServiceAccount's Deployment in kube-system", func() error {
			return otherClient.Create(ctx, deployment("kube-system", "reach-other"), client.DryRunAll)
		})
	})
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}

// clientAs is an uncached client impersonating a user, as the admin may.
func clientAs(t *testing.T, user string, groups []string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(adminCfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	c, err := client.New(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rbacAllows asks the API server's authorizer whether user may do ra.
func rbacAllows(t *testing.T, user string, groups []string, ra authorizationv1.ResourceAttributes) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user, Groups: groups, ResourceAttributes: &ra,
	}}
	if err := k8s.Create(context.Background(), sar); err != nil {
		t.Fatal(err)
	}
	return sar.Status.Allowed
}

// createAndClean creates o as the given client; the admin deletes whatever
// was made when the test ends.
func createAndClean(t *testing.T, o client.Object) func(client.Client) error {
	return func(c client.Client) error {
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), o.DeepCopyObject().(client.Object)) })
		return c.Create(context.Background(), o.DeepCopyObject().(client.Object))
	}
}

// asApplied is an object as read, made into what an apply sends.
func asApplied(u *unstructured.Unstructured) *unstructured.Unstructured {
	a := u.DeepCopy()
	delete(a.Object, "status")
	for _, f := range []string{"resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"} {
		unstructured.RemoveNestedField(a.Object, "metadata", f)
	}
	return a
}

func deployment(ns, name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "attacker:latest"}}},
			},
		},
	}
}

func secret(ns, name string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: map[string]string{"k": "v"}}
}

func event(ns string, regarding corev1.ObjectReference) *eventsv1.Event {
	return &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Namespace: ns, Name: "reach-" + strings.ToLower(regarding.Kind)},
		EventTime:           metav1.NewMicroTime(time.Now()),
		ReportingController: controllers.EventSource,
		ReportingInstance:   "reach-test",
		Action:              "Reconcile",
		Reason:              "Test",
		Type:                corev1.EventTypeNormal,
		Regarding:           regarding,
		Note:                "admission test",
	}
}

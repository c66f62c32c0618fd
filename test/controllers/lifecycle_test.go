package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/superviber/blue-operator/api/contract"
	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
)

func patchTenant(t *testing.T, name string, mutate func(*bluev1.BlueTenant)) {
	t.Helper()
	eventually(t, wait, "update "+name, func() error {
		bt := getTenant(t, name)
		mutate(bt)
		return k8s.Update(context.Background(), bt)
	})
}

func getDeployment(t *testing.T, tenant string) *appsv1.Deployment {
	t.Helper()
	var dep appsv1.Deployment
	getObj(t, &dep, controllers.NamespaceFor(tenant), controllers.ServerName)
	return &dep
}

func replicaSets(ctx context.Context, ns string) ([]appsv1.ReplicaSet, error) {
	var l appsv1.ReplicaSetList
	err := k8s.List(ctx, &l, client.InNamespace(ns))
	return l.Items, err
}

func TestTierChangeResizesAndRollsPods(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	createTenant(t, newTenant("tiered"))
	ns := controllers.NamespaceFor("tiered")
	runUntilReady(t, "tiered")
	before := getDeployment(t, "tiered").Spec.Template.Annotations[controllers.AnnotationConfig]
	var quota corev1.ResourceQuota
	getObj(t, &quota, ns, controllers.ServerName)
	smallPods := quota.Spec.Hard[corev1.ResourcePods]

	patchTenant(t, "tiered", func(bt *bluev1.BlueTenant) { bt.Spec.Tier = bluev1.TierEnterprise })

	eventually(t, wait, "enterprise deployment", func() error {
		dep := getDeployment(t, "tiered")
		c := dep.Spec.Template.Spec.Containers[0]
		if *dep.Spec.Replicas != 2 || c.Resources.Limits.Memory().String() != "512Mi" || envOf(c)[contract.EnvMaxSessions].Value != "0" {
			return fmt.Errorf("replicas %d, limits %v, env %v", *dep.Spec.Replicas, c.Resources.Limits, c.Env)
		}
		if dep.Spec.Template.Annotations[controllers.AnnotationConfig] == before {
			return fmt.Errorf("config hash unchanged")
		}
		return nil
	})
	eventually(t, wait, "enterprise quota", func() error {
		if err := k8s.Get(ctx, key(ns, controllers.ServerName), &quota); err != nil {
			return err
		}
		pods := quota.Spec.Hard[corev1.ResourcePods]
		if pods.Cmp(smallPods) <= 0 || pods.Value() != 3 {
			return fmt.Errorf("quota pods %s (small had %s)", pods.String(), smallPods.String())
		}
		return nil
	})
	var pdb policyv1.PodDisruptionBudget
	getObj(t, &pdb, ns, controllers.ServerName)
	// The pods roll: the deployment controller makes a second ReplicaSet.
	eventually(t, wait, "new ReplicaSet", func() error {
		rs, err := replicaSets(ctx, ns)
		if err != nil || len(rs) < 2 {
			return fmt.Errorf("%d replica sets (%v)", len(rs), err)
		}
		return nil
	})
	runUntilReady(t, "tiered")

	// Back to one replica: the budget goes away.
	patchTenant(t, "tiered", func(bt *bluev1.BlueTenant) { bt.Spec.Tier = bluev1.TierMedium })
	eventually(t, wait, "PDB removed", func() error {
		err := k8s.Get(ctx, key(ns, controllers.ServerName), &policyv1.PodDisruptionBudget{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("PDB still there: %v", err)
	})
}

func TestDriftIsRepaired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	createTenant(t, newTenant("drift"))
	ns := controllers.NamespaceFor("drift")

	var np networkingv1.NetworkPolicy
	getObj(t, &np, ns, controllers.ServerName)
	oldUID := np.UID
	if err := k8s.Delete(ctx, &np); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, "network policy recreated", func() error {
		var again networkingv1.NetworkPolicy
		if err := k8s.Get(ctx, key(ns, controllers.ServerName), &again); err != nil {
			return err
		}
		if again.UID == oldUID {
			return fmt.Errorf("still the old object")
		}
		return nil
	})

	// Someone edits the Deployment by hand: image and security context.
	eventually(t, wait, "hand edit of the deployment", func() error {
		dep := getDeployment(t, "drift")
		dep.Spec.Template.Spec.Containers[0].Image = "evil:latest"
		dep.Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = ptr.To(false)
		dep.ManagedFields = nil
		return k8s.Update(ctx, dep, client.FieldOwner("kubectl-edit"))
	})
	eventually(t, wait, "deployment reverted", func() error {
		d := getDeployment(t, "drift")
		c := d.Spec.Template.Spec.Containers[0]
		if c.Image != "blue-mcp:test" || !*c.SecurityContext.ReadOnlyRootFilesystem {
			return fmt.Errorf("image %q, readOnlyRootFilesystem %v", c.Image, *c.SecurityContext.ReadOnlyRootFilesystem)
		}
		return nil
	})

	// Someone widens the network policy: reverted too.
	eventually(t, wait, "hand edit of the network policy", func() error {
		getObj(t, &np, ns, controllers.ServerName)
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{})
		return k8s.Update(ctx, &np, client.FieldOwner("kubectl-edit"))
	})
	eventually(t, wait, "network policy reverted", func() error {
		var again networkingv1.NetworkPolicy
		if err := k8s.Get(ctx, key(ns, controllers.ServerName), &again); err != nil {
			return err
		}
		if len(again.Spec.Ingress) != 2 {
			return fmt.Errorf("%d ingress rules", len(again.Spec.Ingress))
		}
		return nil
	})
}

func TestSuspendScalesToZeroAndBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	createTenant(t, newTenant("pause"))
	ns := controllers.NamespaceFor("pause")
	runUntilReady(t, "pause")
	var secret corev1.Secret
	getObj(t, &secret, ns, controllers.TokenSecretName)

	patchTenant(t, "pause", func(bt *bluev1.BlueTenant) { bt.Spec.Suspend = true })
	bt := waitCondition(t, "pause", bluev1.ConditionReady, metav1.ConditionFalse, bluev1.ReasonSuspended)
	if !strings.Contains(condition(bt, bluev1.ConditionReady).Message, "suspend") {
		t.Errorf("message %q", condition(bt, bluev1.ConditionReady).Message)
	}
	if *getDeployment(t, "pause").Spec.Replicas != 0 {
		t.Errorf("suspended tenant still has replicas")
	}
	// Nothing was deleted.
	var again corev1.Secret
	getObj(t, &again, ns, controllers.TokenSecretName)
	if again.UID != secret.UID || string(again.Data["token"]) != string(secret.Data["token"]) {
		t.Errorf("token secret changed by suspend")
	}
	eventually(t, wait, "Suspended event", func() error { return hasEvent(ctx, bt, bluev1.ReasonSuspended) })

	patchTenant(t, "pause", func(bt *bluev1.BlueTenant) { bt.Spec.Suspend = false })
	eventually(t, wait, "scaled back", func() error {
		if r := *getDeployment(t, "pause").Spec.Replicas; r != 1 {
			return fmt.Errorf("replicas %d", r)
		}
		return nil
	})
	runUntilReady(t, "pause")
}

func hasEvent(ctx context.Context, bt *bluev1.BlueTenant, reason string) error {
	var l eventsv1.EventList
	if err := k8s.List(ctx, &l, client.InNamespace(metav1.NamespaceDefault)); err != nil {
		return err
	}
	for _, e := range l.Items {
		if e.Regarding.UID == bt.UID && e.Reason == reason {
			return nil
		}
	}
	return fmt.Errorf("no %s event for %s among %d events", reason, bt.Name, len(l.Items))
}

func TestForeignNamespaceIsNeverAdopted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	foreign := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: controllers.NamespaceFor("taken"), Labels: map[string]string{"team": "someone-else"}}}
	if err := k8s.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, foreign) })
	createTenant(t, newTenant("taken"))

	bt := waitCondition(t, "taken", bluev1.ConditionDegraded, metav1.ConditionTrue, bluev1.ReasonNamespaceConflict)
	if c := condition(bt, bluev1.ConditionReady); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("ready: %+v", c)
	}
	if msg := condition(bt, bluev1.ConditionDegraded).Message; !strings.Contains(msg, "blue-taken") {
		t.Errorf("message %q does not name the namespace", msg)
	}
	eventually(t, wait, "conflict event", func() error { return hasEvent(ctx, bt, bluev1.ReasonNamespaceConflict) })
	var ns corev1.Namespace
	if err := k8s.Get(ctx, key("", foreign.Name), &ns); err != nil {
		t.Fatal(err)
	}
	if len(ns.OwnerReferences) != 0 || ns.Labels[controllers.LabelManagedBy] != "" {
		t.Errorf("foreign namespace was adopted: %v %v", ns.OwnerReferences, ns.Labels)
	}
	for _, obj := range []client.Object{&appsv1.Deployment{}, &corev1.ServiceAccount{}, &corev1.Secret{}} {
		if err := k8s.Get(ctx, key(foreign.Name, controllers.ServerName), obj); !apierrors.IsNotFound(err) {
			t.Errorf("%T written into a foreign namespace: %v", obj, err)
		}
	}
}

// TestOwnNamespaceLateInTheCacheIsNoConflict is a reconcile whose cache has
// not seen the tenant's namespace yet: the reconcile before made it just as
// the API server went away, and the watch event comes only once the
// operator's watches are back. Found through the API reader, the namespace
// is the tenant's own: no NamespaceConflict (which is never retried and asks
// a person to delete the namespace, taking the token and ExternalId along).
func TestOwnNamespaceLateInTheCacheIsNoConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	createTenant(t, newTenant("late-cache"))
	waitCondition(t, "late-cache", bluev1.ConditionDegraded, metav1.ConditionFalse, bluev1.ReasonAsExpected)

	api, err := client.NewWithWatch(adminCfg, client.Options{Scheme: testScheme})
	if err != nil {
		t.Fatal(err)
	}
	// Reads as a cache that holds every object but the namespace; the
	// tenants are listed whole (the host index is the cache's).
	lagging := interceptor.NewClient(api, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*corev1.Namespace); ok {
				return apierrors.NewNotFound(corev1.Resource("namespaces"), k.Name)
			}
			return c.Get(ctx, k, obj, opts...)
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if _, ok := list.(*bluev1.BlueTenantList); ok {
				return c.List(ctx, list)
			}
			return c.List(ctx, list, opts...)
		},
	})
	r := &controllers.BlueTenantReconciler{Client: lagging, APIReader: api, Options: testOpts}
	if _, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: key("", "late-cache")}); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	if c := condition(getTenant(t, "late-cache"), bluev1.ConditionDegraded); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("the tenant's own namespace, missing from the cache, made it Degraded: %+v", c)
	}
}

func TestTokenSecretIsNeverOverwritten(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	createTenant(t, newTenant("rotate"))
	ns := controllers.NamespaceFor("rotate")
	var secret corev1.Secret
	getObj(t, &secret, ns, controllers.TokenSecretName)
	first := string(secret.Data["token"])
	var session corev1.Secret
	getObj(t, &session, ns, contract.SessionSecretName)
	sessionKey := string(session.Data[contract.SessionSecretKey])
	if len(sessionKey) < 32 {
		t.Fatalf("session key of %d characters", len(sessionKey))
	}
	// The ExternalId is issued once, shown in status and given to the pod.
	var ext corev1.Secret
	getObj(t, &ext, ns, contract.ExternalIDSecretName)
	externalID := string(ext.Data[contract.ExternalIDSecretKey])
	if !strings.HasPrefix(externalID, "blue-rotate-") || len(externalID) != len("blue-rotate-")+43 {
		t.Fatalf("issued ExternalId %q: want blue-rotate- and 256 random bits", externalID)
	}
	eventually(t, wait, "status.externalID", func() error {
		if got := getTenant(t, "rotate").Status.ExternalID; got != externalID {
			return fmt.Errorf("status.externalID %q, want %q", got, externalID)
		}
		return nil
	})
	if ref := envOf(getDeployment(t, "rotate").Spec.Template.Spec.Containers[0])[contract.EnvExternalID].ValueFrom; ref == nil || ref.SecretKeyRef == nil ||
		ref.SecretKeyRef.Name != contract.ExternalIDSecretName || ref.SecretKeyRef.Key != contract.ExternalIDSecretKey {
		t.Errorf("%s is not taken from the ExternalId Secret: %+v", contract.EnvExternalID, ref)
	}

	// Rotation: the platform team adds a second token.
	secret.Data["token-2"] = []byte("blue_second-token-for-rotation-0123456789")
	if err := k8s.Update(ctx, &secret); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, "both hashes served", func() error {
		got := envOf(getDeployment(t, "rotate").Spec.Template.Spec.Containers[0])[contract.EnvTokenHashes].Value
		if !strings.Contains(got, contract.TokenHash(first)) || !strings.Contains(got, contract.TokenHash("blue_second-token-for-rotation-0123456789")) {
			return fmt.Errorf("hashes %q", got)
		}
		return nil
	})
	// A spec change reconciles again; the tokens stay.
	patchTenant(t, "rotate", func(bt *bluev1.BlueTenant) { bt.Spec.DisplayName = "Renamed" })
	waitCondition(t, "rotate", bluev1.ConditionDegraded, metav1.ConditionFalse, bluev1.ReasonAsExpected)
	getObj(t, &secret, ns, controllers.TokenSecretName)
	if string(secret.Data["token"]) != first || len(secret.Data) != 2 {
		t.Errorf("token secret was rewritten: %d keys", len(secret.Data))
	}
	// The session key stays too: rewriting it would end every session.
	getObj(t, &session, ns, contract.SessionSecretName)
	if string(session.Data[contract.SessionSecretKey]) != sessionKey {
		t.Error("session key was rewritten")
	}
	// And the ExternalId: the client's trust policy names it.
	getObj(t, &ext, ns, contract.ExternalIDSecretName)
	if string(ext.Data[contract.ExternalIDSecretKey]) != externalID || getTenant(t, "rotate").Status.ExternalID != externalID {
		t.Error("ExternalId was reissued")
	}
}

func TestTwoTenantsNeverShareObjects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := createTenant(t, newTenant("alpha"))
	b := createTenant(t, newTenant("beta"))
	var sa, sb corev1.Secret
	getObj(t, &sa, controllers.NamespaceFor("alpha"), controllers.TokenSecretName)
	getObj(t, &sb, controllers.NamespaceFor("beta"), controllers.TokenSecretName)
	if string(sa.Data["token"]) == string(sb.Data["token"]) {
		t.Fatal("two tenants got the same token")
	}
	eventually(t, wait, "ExternalIds issued", func() error {
		a, b = getTenant(t, a.Name), getTenant(t, b.Name)
		if a.Status.ExternalID == "" || b.Status.ExternalID == "" {
			return fmt.Errorf("status.externalID %q, %q", a.Status.ExternalID, b.Status.ExternalID)
		}
		return nil
	})
	if a.Status.ExternalID == b.Status.ExternalID {
		t.Fatal("two tenants got the same ExternalId")
	}
	for _, tc := range []struct {
		bt    *bluev1.BlueTenant
		other string
	}{{a, "beta"}, {b, "alpha"}} {
		ns := controllers.NamespaceFor(tc.bt.Name)
		dep := getDeployment(t, tc.bt.Name)
		env := envOf(dep.Spec.Template.Spec.Containers[0])
		if env[contract.EnvTenant].Value != tc.bt.Name || env[contract.EnvInfisicalProj].Value != "proj-"+tc.bt.Name {
			t.Errorf("%s's server is configured for %v", tc.bt.Name, env)
		}
		var mine corev1.Secret
		getObj(t, &mine, ns, controllers.TokenSecretName)
		if env[contract.EnvTokenHashes].Value != contract.TokenHash(string(mine.Data["token"])) {
			t.Errorf("%s's server accepts tokens other than its own", tc.bt.Name)
		}
		// Everything in the namespace belongs to this tenant alone.
		for _, l := range []client.ObjectList{&corev1.ServiceAccountList{}, &corev1.SecretList{}, &appsv1.DeploymentList{}, &corev1.ServiceList{}, &networkingv1.NetworkPolicyList{}} {
			if err := k8s.List(ctx, l, client.InNamespace(ns), client.MatchingLabels{controllers.LabelManagedBy: controllers.ManagedByValue}); err != nil {
				t.Fatal(err)
			}
			items, err := metaItems(l)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) == 0 {
				t.Errorf("no %T in %s", l, ns)
			}
			for _, o := range items {
				if ref := metav1.GetControllerOf(o); ref == nil || ref.UID != tc.bt.UID {
					t.Errorf("%s/%s is not controlled by %s", ns, o.GetName(), tc.bt.Name)
				}
			}
		}
		// The network policy admits nothing from the other tenant.
		var np networkingv1.NetworkPolicy
		getObj(t, &np, ns, controllers.ServerName)
		for _, rule := range np.Spec.Ingress {
			for _, peer := range rule.From {
				if peer.NamespaceSelector != nil && peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == controllers.NamespaceFor(tc.other) {
					t.Errorf("%s admits traffic from %s", ns, tc.other)
				}
				if peer.NamespaceSelector != nil && len(peer.NamespaceSelector.MatchLabels) == 0 {
					t.Errorf("%s admits traffic from every namespace", ns)
				}
			}
		}
	}

	// Deleting one leaves the other alone.
	if err := k8s.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, "alpha namespace gone", func() error { return gone(ctx, &corev1.Namespace{}, "", controllers.NamespaceFor("alpha")) })
	var still corev1.Secret
	getObj(t, &still, controllers.NamespaceFor("beta"), controllers.TokenSecretName)
	if still.UID != sb.UID {
		t.Errorf("beta's token secret was replaced")
	}
	waitCondition(t, "beta", bluev1.ConditionDegraded, metav1.ConditionFalse, bluev1.ReasonAsExpected)
}

func gone(ctx context.Context, obj client.Object, ns, name string) error {
	err := k8s.Get(ctx, key(ns, name), obj)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%T %s/%s still exists (deletionTimestamp %v)", obj, ns, name, obj.GetDeletionTimestamp())
}

func metaItems(l client.ObjectList) ([]client.Object, error) {
	objs, err := meta.ExtractList(l)
	if err != nil {
		return nil, err
	}
	out := make([]client.Object, 0, len(objs))
	for _, o := range objs {
		co, ok := o.(client.Object)
		if !ok {
			return nil, fmt.Errorf("%T is not a client.Object", o)
		}
		out = append(out, co)
	}
	return out, nil
}

func TestDeletingTenantGarbageCollectsEverything(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bt := createTenant(t, newTenant("leaving"))
	ns := controllers.NamespaceFor("leaving")
	var dep appsv1.Deployment
	getObj(t, &dep, ns, controllers.ServerName)
	eventually(t, wait, "pods running", func() error { return markPodsRunning(ctx, ns) })

	if err := k8s.Delete(ctx, bt); err != nil {
		t.Fatal(err)
	}
	// The real garbage collector and namespace controller remove it all.
	eventually(t, 2*wait, "namespace gone", func() error {
		if err := finishTerminatingPods(ctx, ns); err != nil {
			return err
		}
		return gone(ctx, &corev1.Namespace{}, "", ns)
	})
	for _, obj := range []client.Object{&appsv1.Deployment{}, &corev1.Secret{}, &corev1.Pod{}} {
		if err := gone(ctx, obj, ns, controllers.ServerName); err != nil {
			t.Error(err)
		}
	}
}

// Attack: a second BlueTenant names another client's endpoint host. It is
// refused and gets no namespace or Ingress; once the owner is gone it starts.
func TestEndpointHostIsNeverShared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner := createTenant(t, newTenant("hostowner"))
	waitCondition(t, "hostowner", bluev1.ConditionDegraded, metav1.ConditionFalse, bluev1.ReasonAsExpected)
	thief := newTenant("hostthief")
	thief.Spec.Endpoint.Host = owner.Spec.Endpoint.Host
	createTenant(t, thief)

	bt := waitCondition(t, "hostthief", bluev1.ConditionDegraded, metav1.ConditionTrue, bluev1.ReasonHostConflict)
	if msg := condition(bt, bluev1.ConditionDegraded).Message; !strings.Contains(msg, "belongs to BlueTenant hostowner") {
		t.Errorf("message %q", msg)
	}
	if c := condition(bt, bluev1.ConditionReady); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("ready: %+v", c)
	}
	var ns corev1.Namespace
	if err := k8s.Get(ctx, key("", controllers.NamespaceFor("hostthief")), &ns); !apierrors.IsNotFound(err) {
		t.Errorf("the refused tenant got a namespace: %v", err)
	}
	var ings networkingv1.IngressList
	if err := k8s.List(ctx, &ings); err != nil {
		t.Fatal(err)
	}
	for _, ing := range ings.Items {
		if ing.Namespace != controllers.NamespaceFor("hostowner") && len(ing.Spec.Rules) > 0 && ing.Spec.Rules[0].Host == owner.Spec.Endpoint.Host {
			t.Errorf("Ingress %s/%s serves the owner's host", ing.Namespace, ing.Name)
		}
	}

	// The owner goes; the host is free and the waiting tenant starts.
	if err := k8s.Delete(ctx, owner); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, "hostthief", bluev1.ConditionDegraded, metav1.ConditionFalse, bluev1.ReasonAsExpected)
	var ing networkingv1.Ingress
	getObj(t, &ing, controllers.NamespaceFor("hostthief"), controllers.ServerName)
	if ing.Spec.Rules[0].Host != owner.Spec.Endpoint.Host {
		t.Errorf("ingress host %q", ing.Spec.Rules[0].Host)
	}
}

// Tokens that travel: the projected token the pod presents to Infisical
// must be no use to the Kubernetes API server. The real API server accepts
// it only for its own audience.
func TestInfisicalTokenIsRefusedByTheAPIServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	createTenant(t, newTenant("audience"))
	ns := controllers.NamespaceFor("audience")
	dep := &appsv1.Deployment{}
	eventually(t, wait, "the server Deployment", func() error { return k8s.Get(ctx, key(ns, controllers.ServerName), dep) })
	aud := ""
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Name == "infisical-token" {
			aud = v.Projected.Sources[0].ServiceAccountToken.Audience
		}
	}
	if aud != contract.InfisicalAudience {
		t.Fatalf("the pod's Infisical token is for %q, want %q", aud, contract.InfisicalAudience)
	}
	sa := &corev1.ServiceAccount{}
	getObj(t, sa, ns, controllers.ServerName)
	seconds := int64(600)
	tr := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{Audiences: []string{aud}, ExpirationSeconds: &seconds}}
	if err := k8s.SubResource("token").Create(ctx, sa, tr); err != nil {
		t.Fatal(err)
	}
	review := func(audiences []string) bool {
		t.Helper()
		rv := &authv1.TokenReview{Spec: authv1.TokenReviewSpec{Token: tr.Status.Token, Audiences: audiences}}
		if err := k8s.Create(ctx, rv); err != nil {
			t.Fatal(err)
		}
		return rv.Status.Authenticated
	}
	if review(nil) {
		t.Error("the API server accepts the token meant for Infisical")
	}
	if !review([]string{aud}) {
		t.Error("the token is not valid even for Infisical's audience: the test proves nothing")
	}
}

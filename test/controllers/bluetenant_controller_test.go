package controllers_test

import (
	"context"
	"fmt"
	"github.com/superviber/blue-operator/api/contract"
	"github.com/superviber/blue-operator/controllers"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

const wait = 60 * time.Second

func key(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}

func condition(bt *bluev1.BlueTenant, typ string) *metav1.Condition {
	return meta.FindStatusCondition(bt.Status.Conditions, typ)
}

// waitCondition waits until the tenant's condition has the status and reason.
func waitCondition(t *testing.T, name, typ string, status metav1.ConditionStatus, reason string) *bluev1.BlueTenant {
	t.Helper()
	var bt *bluev1.BlueTenant
	eventually(t, wait, fmt.Sprintf("%s %s=%s/%s", name, typ, status, reason), func() error {
		bt = getTenant(t, name)
		c := condition(bt, typ)
		if c == nil || c.Status != status || c.Reason != reason {
			return fmt.Errorf("condition is %+v", c)
		}
		if bt.Status.ObservedGeneration != bt.Generation {
			return fmt.Errorf("observedGeneration %d, generation %d", bt.Status.ObservedGeneration, bt.Generation)
		}
		return nil
	})
	return bt
}

func getObj(t *testing.T, obj client.Object, ns, name string) {
	t.Helper()
	eventually(t, wait, fmt.Sprintf("%T %s/%s", obj, ns, name), func() error {
		return k8s.Get(context.Background(), key(ns, name), obj)
	})
}

func assertOwned(t *testing.T, obj client.Object, bt *bluev1.BlueTenant) {
	t.Helper()
	ref := metav1.GetControllerOf(obj)
	if ref == nil || ref.UID != bt.UID || ref.Kind != "BlueTenant" || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Errorf("%T %s: controller reference %+v, want BlueTenant %s (%s) blocking deletion", obj, obj.GetName(), ref, bt.Name, bt.UID)
	}
	if obj.GetLabels()[controllers.LabelManagedBy] != controllers.ManagedByValue || obj.GetLabels()[controllers.LabelTenant] != bt.Name {
		t.Errorf("%T %s: labels %v", obj, obj.GetName(), obj.GetLabels())
	}
	for _, mf := range obj.GetManagedFields() {
		if mf.Operation == metav1.ManagedFieldsOperationApply && mf.Manager != controllers.FieldManager {
			t.Errorf("%T %s: applied by %q, want %q", obj, obj.GetName(), mf.Manager, controllers.FieldManager)
		}
	}
}

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

func TestCreateTenantBuildsEveryObject(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bt := createTenant(t, newTenant("acme"))
	ns := controllers.NamespaceFor("acme")

	var nsObj corev1.Namespace
	getObj(t, &nsObj, "", ns)
	bt = getTenant(t, "acme")
	assertOwned(t, &nsObj, bt)
	if nsObj.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace PSA labels: %v", nsObj.Labels)
	}

	var sa corev1.ServiceAccount
	getObj(t, &sa, ns, controllers.ServerName)
	assertOwned(t, &sa, bt)
	if got := sa.Annotations[controllers.AnnotationIRSA]; got != "arn:aws:iam::111111111111:role/blue-hop-acme" {
		t.Errorf("IRSA annotation %q", got)
	}
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("service account automounts its token")
	}

	var secret corev1.Secret
	getObj(t, &secret, ns, controllers.TokenSecretName)
	assertOwned(t, &secret, bt)
	token := string(secret.Data["token"])
	if !strings.HasPrefix(token, "blue_") || len(token) < 40 {
		t.Errorf("token %q does not look generated", token)
	}

	var dep appsv1.Deployment
	getObj(t, &dep, ns, controllers.ServerName)
	assertOwned(t, &dep, bt)
	if *dep.Spec.Replicas != 1 {
		t.Errorf("replicas %d, want 1", *dep.Spec.Replicas)
	}
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("containers: %d, want exactly 1 (no sidecars)", len(pod.Containers))
	}
	c := pod.Containers[0]
	env := envOf(c)
	if got := env[contract.EnvTokenHashes].Value; got != contract.TokenHash(token) {
		t.Errorf("server gets token hashes %q, want the hash of the Secret's token", got)
	}
	for _, e := range c.Env {
		if strings.Contains(e.Value, token) {
			t.Errorf("raw token reaches the pod in %s", e.Name)
		}
	}
	if env[contract.EnvMaxSessions].Value != "2" || env[contract.EnvTenant].Value != "acme" || env[contract.EnvPublicURL].Value != "https://acme.mcp.example.com/mcp" {
		t.Errorf("env: %v", c.Env)
	}
	if c.Image != "blue-mcp:test" || c.Resources.Limits.Memory().String() != "128Mi" {
		t.Errorf("image %q, limits %v", c.Image, c.Resources.Limits)
	}
	sc := c.SecurityContext
	if !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !*sc.RunAsNonRoot || sc.Capabilities.Drop[0] != "ALL" ||
		sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || *pod.AutomountServiceAccountToken {
		t.Errorf("container is not hardened: %+v", sc)
	}
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("probes: %+v %+v", c.ReadinessProbe, c.LivenessProbe)
	}
	if dep.Spec.Template.Annotations[controllers.AnnotationConfig] == "" {
		t.Errorf("no config-hash annotation")
	}

	var svc corev1.Service
	getObj(t, &svc, ns, controllers.ServerName)
	assertOwned(t, &svc, bt)
	var ing networkingv1.Ingress
	getObj(t, &ing, ns, controllers.ServerName)
	assertOwned(t, &ing, bt)
	if ing.Spec.Rules[0].Host != "acme.mcp.example.com" || *ing.Spec.IngressClassName != "alb" ||
		ing.Spec.TLS[0].SecretName != "acme-tls" || ing.Annotations["alb.ingress.kubernetes.io/group.name"] != "blue" {
		t.Errorf("ingress: %+v %v", ing.Spec, ing.Annotations)
	}
	var np networkingv1.NetworkPolicy
	getObj(t, &np, ns, controllers.ServerName)
	assertOwned(t, &np, bt)
	if len(np.Spec.PolicyTypes) != 2 || len(np.Spec.PodSelector.MatchLabels) != 0 {
		t.Errorf("network policy does not default-deny the namespace: %+v", np.Spec)
	}
	var rq corev1.ResourceQuota
	getObj(t, &rq, ns, controllers.ServerName)
	assertOwned(t, &rq, bt)
	var lr corev1.LimitRange
	getObj(t, &lr, ns, controllers.ServerName)
	assertOwned(t, &lr, bt)
	if err := k8s.Get(ctx, key(ns, controllers.ServerName), &policyv1.PodDisruptionBudget{}); !apierrors.IsNotFound(err) {
		t.Errorf("one replica but a PodDisruptionBudget: %v", err)
	}

	bt = waitCondition(t, "acme", bluev1.ConditionReady, metav1.ConditionFalse, bluev1.ReasonDeploymentUnavailable)
	if bt.Status.Namespace != ns || bt.Status.Endpoint != "https://acme.mcp.example.com/mcp" {
		t.Errorf("status: %+v", bt.Status)
	}

	// The real ReplicaSet controller made the pod (so it passed Pod Security
	// "restricted" admission and the quota); play its kubelet.
	bt = runUntilReady(t, "acme")
	if bt.Status.ReadyReplicas != 1 {
		t.Errorf("readyReplicas %d", bt.Status.ReadyReplicas)
	}
	waitCondition(t, "acme", bluev1.ConditionProgressing, metav1.ConditionFalse, bluev1.ReasonAvailable)
	if c := condition(bt, bluev1.ConditionDegraded); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("degraded: %+v", c)
	}
	// One event for the new tenant: its namespace and its token.
	eventually(t, wait, "TokenCreated event", func() error { return hasEvent(ctx, bt, "TokenCreated") })
	if err := hasEvent(ctx, bt, "Created"); err == nil {
		t.Error("a separate Created event for the namespace")
	}
	// Secrets never reach the status.
	if strings.Contains(fmt.Sprintf("%+v", bt.Status), token) {
		t.Errorf("token in status")
	}
}

// Every tenant's policy denies the API server's addresses on every port;
// when the API server gets a new address (a managed control plane's
// upgrade), the policies follow without any tenant changing.
func TestNetworkPolicyFollowsTheAPIServersAddresses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	createTenant(t, newTenant("apifollow"))
	ns := controllers.NamespaceFor("apifollow")
	httpsExcept := func() ([]string, error) {
		var np networkingv1.NetworkPolicy
		if err := k8s.Get(ctx, key(ns, controllers.ServerName), &np); err != nil {
			return nil, err
		}
		for _, r := range np.Spec.Egress {
			if len(r.Ports) == 1 && r.Ports[0].Port.IntVal == 443 && len(r.To) > 0 && r.To[0].IPBlock != nil {
				return r.To[0].IPBlock.Except, nil
			}
		}
		return nil, fmt.Errorf("no HTTPS egress rule with an IPv4 block: %+v", np.Spec.Egress)
	}
	// The address the API server publishes for itself.
	var own discoveryv1.EndpointSlice
	if err := k8s.Get(ctx, key("default", "kubernetes"), &own); err != nil {
		t.Fatal(err)
	}
	if len(own.Endpoints) == 0 || len(own.Endpoints[0].Addresses) == 0 {
		t.Fatalf("the API server publishes no address: %+v", own)
	}
	ownAddr := own.Endpoints[0].Addresses[0] + "/32"
	eventually(t, wait, "the policy denies the API server's address", func() error {
		except, err := httpsExcept()
		if err != nil {
			return err
		}
		if !slices.Contains(except, ownAddr) || !slices.Contains(except, "169.254.0.0/16") {
			return fmt.Errorf("except %v lacks the API server (%s) or link-local", except, ownAddr)
		}
		return nil
	})
	// A slice labelled for the Service by anyone else is not the API
	// server's, and changes nothing. Made first: the cache sees both in
	// order, so had it been trusted it would be in the policy that
	// follows the API server's change.
	other := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes-other", Namespace: "default",
			Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.66.66.66"}}},
	}
	if err := k8s.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), other) })
	// The API server gains an address (as when a managed control plane
	// adds one during an upgrade) and loses it again at once: the API
	// server puts its own slice back within its endpoint interval, so the
	// address may be gone from the cache before any reconcile runs. The
	// policy keeps it for an hour anyway (controllers TestAPIServerMemory).
	setEndpoints := func(eps func([]discoveryv1.Endpoint) []discoveryv1.Endpoint) {
		t.Helper()
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := k8s.Get(ctx, key("default", "kubernetes"), &own); err != nil {
				return err
			}
			own.Endpoints = eps(own.Endpoints)
			return k8s.Update(ctx, &own)
		}); err != nil {
			t.Fatal(err)
		}
	}
	setEndpoints(func(eps []discoveryv1.Endpoint) []discoveryv1.Endpoint {
		return append(eps, discoveryv1.Endpoint{Addresses: []string{"10.20.30.40"}})
	})
	setEndpoints(func(eps []discoveryv1.Endpoint) []discoveryv1.Endpoint {
		return slices.DeleteFunc(eps, func(e discoveryv1.Endpoint) bool { return slices.Contains(e.Addresses, "10.20.30.40") })
	})
	eventually(t, wait, "the policy follows the API server's new address", func() error {
		except, err := httpsExcept()
		if err != nil {
			return err
		}
		if !slices.Contains(except, "10.20.30.40/32") {
			return fmt.Errorf("except %v lacks 10.20.30.40/32", except)
		}
		return nil
	})
	if except, err := httpsExcept(); err != nil || slices.Contains(except, "10.66.66.66/32") {
		t.Errorf("except %v (%v): a slice the API server did not write was trusted", except, err)
	}
}

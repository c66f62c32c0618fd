package controllers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// The pod cache keeps what the access poller reads and nothing else.
func TestPodAddressOnly(t *testing.T) {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "blue-acme", Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"x": "y"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "server", Image: "blue-mcp", Env: []corev1.EnvVar{{Name: "BLUE_TENANT", Value: "acme"}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.7", ContainerStatuses: []corev1.ContainerStatus{{Name: "server"}}},
	}
	out, err := podAddressOnly(p)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.Pod)
	if got.Name != "p" || got.Namespace != "blue-acme" || got.Labels["a"] != "b" || got.Annotations["x"] != "y" ||
		got.Status.Phase != corev1.PodRunning || got.Status.PodIP != "10.0.0.7" {
		t.Errorf("lost what the poller reads: %+v", got)
	}
	if len(got.Spec.Containers) != 0 || len(got.Status.ContainerStatuses) != 0 || len(got.ManagedFields) != 0 {
		t.Errorf("kept more than needed: %+v", got)
	}
	if o, _ := podAddressOnly("not a pod"); o != "not a pod" {
		t.Error("other objects must pass through")
	}
}

// Metadata-only objects keep what maps an event to its tenant and what the
// reconciler checks; everything else cached loses its managed fields.
func TestSlimForCache(t *testing.T) {
	del := metav1.Now()
	m := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: "blue-mcp", Namespace: "blue-acme", UID: "u", ResourceVersion: "7", Generation: 3, DeletionTimestamp: &del,
		OwnerReferences: []metav1.OwnerReference{{Name: "acme", UID: "t"}},
		Labels:          map[string]string{"a": "b"}, Annotations: map[string]string{"deployment.kubernetes.io/revision": "4"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "x"}},
	}}
	out, err := slimForCache(m)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*metav1.PartialObjectMetadata)
	if got.Name != "blue-mcp" || got.Namespace != "blue-acme" || got.UID != "u" || got.ResourceVersion != "7" || got.Generation != 3 ||
		got.DeletionTimestamp == nil || len(got.OwnerReferences) != 1 {
		t.Errorf("lost what is read: %+v", got.ObjectMeta)
	}
	if got.Labels != nil || got.Annotations != nil || got.ManagedFields != nil {
		t.Errorf("kept more than needed: %+v", got.ObjectMeta)
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "blue-acme", Labels: map[string]string{"a": "b"}, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "x"}}}, Data: map[string][]byte{"k": []byte("v")}}
	out, err = slimForCache(s)
	if err != nil {
		t.Fatal(err)
	}
	if sec := out.(*corev1.Secret); sec.ManagedFields != nil || sec.Labels != nil || sec.Name != "s" || sec.Namespace != "blue-acme" || string(sec.Data["k"]) != "v" {
		t.Errorf("secret: %+v", sec)
	}
	bt := &bluev1.BlueTenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Labels: map[string]string{"a": "b"}, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "x"}}}}
	out, err = slimForCache(bt)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(*bluev1.BlueTenant); got.ManagedFields != nil || got.Labels["a"] != "b" {
		t.Errorf("other typed objects lose only managed fields: %+v", got.ObjectMeta)
	}
}

// A tenant that keeps failing is retried at least every maxRetryDelay, so
// it recovers within that of its cause going away (an API server restart).
func TestRetryBackoffIsCapped(t *testing.T) {
	rl := controllerOptions(Options{MaxConcurrentReconciles: 1}).RateLimiter
	req := reconcile.Request{}
	req.Name = "failing"
	var last time.Duration
	for range 40 {
		last = rl.When(req)
	}
	if last > maxRetryDelay || last < maxRetryDelay/2 {
		t.Errorf("after 40 failures the next retry waits %v, want about %v", last, maxRetryDelay)
	}
	rl.Forget(req)
	if d := rl.When(req); d > time.Second {
		t.Errorf("after success the first retry waits %v", d)
	}
}

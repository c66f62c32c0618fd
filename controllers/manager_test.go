package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

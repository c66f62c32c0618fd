package kubelet

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "a", "B": "b"}
	for in, want := range map[string]string{
		"plain":         "plain",
		"$(A)-$(B)":     "a-b",
		"$(MISSING)":    "$(MISSING)",
		"$$(A)":         "$(A)",
		"$(A":           "$(A",
		"cost: $5 $":    "cost: $5 $",
		"x$(A)y$(B)$$z": "xayb$z",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResourceValue(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "a", Resources: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("100M")},
		}},
		{Name: "nolimits"},
	}}}
	a, none := &pod.Spec.Containers[0], &pod.Spec.Containers[1]
	for _, tc := range []struct {
		c       *corev1.Container
		ref     corev1.ResourceFieldSelector
		want    string
		wantErr bool
	}{
		{c: a, ref: corev1.ResourceFieldSelector{Resource: "limits.memory"}, want: "268435456"},
		{c: a, ref: corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}, want: "256"},
		{c: a, ref: corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1G")}, want: "1"},
		{c: a, ref: corev1.ResourceFieldSelector{Resource: "limits.cpu"}, want: "1"}, // rounded up
		{c: a, ref: corev1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: resource.MustParse("1m")}, want: "500"},
		{c: a, ref: corev1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")}, want: "250"},
		{c: a, ref: corev1.ResourceFieldSelector{Resource: "requests.memory"}, want: "100000000"},
		// Unset limits are the node's allocatable.
		{c: none, ref: corev1.ResourceFieldSelector{Resource: "limits.cpu"}, want: "8"},
		{c: none, ref: corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Gi")}, want: "32"},
		// Another container by name.
		{c: none, ref: corev1.ResourceFieldSelector{ContainerName: "a", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}, want: "256"},
		{c: a, ref: corev1.ResourceFieldSelector{Resource: "limits.nvidia.com/gpu"}, wantErr: true},
		{c: a, ref: corev1.ResourceFieldSelector{ContainerName: "nope", Resource: "limits.cpu"}, wantErr: true},
	} {
		got, err := resourceValue(pod, tc.c, &tc.ref)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s %s /%s: got %q, %v; want %q (error %v)", tc.c.Name, tc.ref.Resource, tc.ref.Divisor.String(), got, err, tc.want, tc.wantErr)
		}
	}
}

func TestFieldValue(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u", Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{NodeName: "n", ServiceAccountName: "sa"},
	}
	for path, want := range map[string]string{
		"metadata.name": "p", "metadata.namespace": "ns", "metadata.uid": "u", "metadata.labels['app']": "x",
		"spec.nodeName": "n", "spec.serviceAccountName": "sa", "status.podIP": "127.0.0.1", "status.hostIP": "127.0.0.1",
	} {
		if got, err := fieldValue(pod, path); err != nil || got != want {
			t.Errorf("fieldValue(%s) = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := fieldValue(pod, "spec.nope"); err == nil {
		t.Error("unknown field path: no error")
	}
}

func TestRewriter(t *testing.T) {
	rw := newRewriter(map[int32]string{8080: "127.0.0.1:40001"}, []mountDir{
		{mountPath: "/var/run/secrets", dir: "/state/u/a"},
		{mountPath: "/var/run/secrets/infisical", dir: "/state/u/b"},
	})
	for in, want := range map[string]string{
		":8080":                            "127.0.0.1:40001",
		"0.0.0.0:8080":                     "127.0.0.1:40001",
		"[::]:8080":                        "127.0.0.1:40001",
		":9090":                            ":9090", // not a declared port
		"localhost:8080":                   "localhost:8080",
		"/var/run/secrets/infisical/token": "/state/u/b/token", // longest mount wins
		"/var/run/secrets/token":           "/state/u/a/token",
		"/var/run/secrets":                 "/state/u/a",
		"/var/run/secretsX/token":          "/var/run/secretsX/token",
		"https://example.com":              "https://example.com",
	} {
		if got := rw.value(in); got != want {
			t.Errorf("rewrite %q = %q, want %q", in, got, want)
		}
	}
}

func TestEndpoint(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
		PortsAnnotation: "http=127.0.0.1:41234,metrics=127.0.0.1:41235,7000=127.0.0.1:41236",
	}}}
	for name, want := range map[string]string{"http": "127.0.0.1:41234", "metrics": "127.0.0.1:41235", "7000": "127.0.0.1:41236"} {
		if got, ok := Endpoint(pod, name); !ok || got != want {
			t.Errorf("Endpoint(%s) = %q, %v; want %q", name, got, ok, want)
		}
	}
	if _, ok := Endpoint(pod, "grpc"); ok {
		t.Error("Endpoint(grpc) found")
	}
	if _, ok := Endpoint(&corev1.Pod{}, "http"); ok {
		t.Error("Endpoint on a pod without the annotation found")
	}
}

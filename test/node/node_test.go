package node_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/superviber/blue-operator/test/controlplane"
	"github.com/superviber/blue-operator/test/node"
)

// One node for the package: it takes seconds to start.
var (
	n     *node.Node
	k8s   client.Client
	plane *controlplane.Plane
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if err := node.RequireEnv(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	plane, err = controlplane.Start(controlplane.Options{
		AdvertiseAddress: node.APIServerIP,
		// Pods are scheduled (once the node lifecycle controller lifts
		// the not-ready taint the kubelet registers with), Services get
		// EndpointSlices, namespaces go when a test ends, and get their
		// default ServiceAccount and the cluster's CA, which the API
		// server's admission gives every pod.
		Controllers:             controlplane.NodeControllers,
		ServiceAccountAdmission: true,
		Scheduler:               true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer plane.Stop()
	// BLUE_NODE_DIR keeps the node's state and logs after the run, to debug it.
	n, err = node.Start(ctx, node.Options{Plane: plane, NetworkPolicy: true, Dir: os.Getenv("BLUE_NODE_DIR")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	k8s = n.Client()
	code := m.Run()
	// The policy engine never failed, and the node left nothing behind.
	if err := n.StopAndCheck(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	return code
}

// namespace creates a namespace for one test and removes it after.
func namespace(t *testing.T, name string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Delete the pods at once (no grace), so the node stops them
		// before the namespace controller gets to them.
		_ = k8s.DeleteAllOf(context.Background(), &corev1.Pod{}, client.InNamespace(name), client.GracePeriodSeconds(0))
		_ = k8s.Delete(context.Background(), ns)
	})
	return name
}

// probe runs a netcheck pod for one test.
func probe(t *testing.T, p node.Probe) *corev1.Pod {
	t.Helper()
	pod, err := n.RunProbe(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

func answer(from *corev1.Pod, addr string) (string, error) {
	return n.Answer(context.Background(), from, addr)
}

// eventually polls until check passes (a policy takes effect when the
// engine has seen it).
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		last = check()
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("%s: %v", what, last)
	}
}

func TestPodRunsWithItsSecurityContext(t *testing.T) {
	ns := namespace(t, "secctx")
	pod := probe(t, node.Probe{Namespace: ns, Name: "locked", SecurityContext: &corev1.SecurityContext{
		RunAsUser: ptr.To[int64](65532), RunAsGroup: ptr.To[int64](65532), RunAsNonRoot: ptr.To(true),
		AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
		Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}})
	pid, err := n.ContainerPID(context.Background(), pod, "netcheck")
	if err != nil {
		t.Fatal(err)
	}
	p, err := node.ProcessOf(pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range p.LockDownFaults() {
		t.Error(f)
	}
}

// What a node relies on from the control plane for a pod that talks to the
// API server, as most workloads do: its namespace's default ServiceAccount
// (the controller-manager makes it), a token for it and the cluster's CA
// (ConfigMap kube-root-ca.crt, which the controller-manager publishes in
// every namespace) in the container, and a token the API server accepts.
// With them, a client in the pod reaches the API server as an in-cluster
// client does: through the kubernetes Service (kube-proxy), verifying the
// server's certificate against the mounted CA by the Service's name.
func TestPodGetsItsServiceAccountTokenAndTheClustersCA(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := namespace(t, "sa-token")
	pod := probe(t, node.Probe{Namespace: ns, Name: "workload", ServiceAccountToken: true})
	if pod.Spec.ServiceAccountName != "default" {
		t.Errorf("admitted with ServiceAccount %q, want the namespace's default", pod.Spec.ServiceAccountName)
	}
	var root corev1.ConfigMap
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "kube-root-ca.crt"}, &root); err != nil {
		t.Fatalf("the cluster's CA was not published in %s: %v", ns, err)
	}
	pid, err := n.ContainerPID(ctx, pod, "netcheck")
	if err != nil {
		t.Fatal(err)
	}
	dir := fmt.Sprintf("/proc/%d/root/var/run/secrets/kubernetes.io/serviceaccount", pid)
	ca, err := os.ReadFile(dir + "/ca.crt")
	if err != nil {
		t.Fatalf("no CA in the container: %v", err)
	}
	if string(ca) != string(plane.Config.CAData) || root.Data["ca.crt"] != string(ca) {
		t.Error("the container's ca.crt is not the API server's CA")
	}
	token, err := os.ReadFile(dir + "/token")
	if err != nil {
		t.Fatalf("no token in the container: %v", err)
	}
	review := &authv1.TokenReview{Spec: authv1.TokenReviewSpec{Token: string(token)}}
	if err := k8s.Create(ctx, review); err != nil {
		t.Fatal(err)
	}
	want := "system:serviceaccount:" + ns + ":default"
	if !review.Status.Authenticated || review.Status.User.Username != want {
		t.Errorf("the container's token: authenticated %v as %q, want %s", review.Status.Authenticated, review.Status.User.Username, want)
	}

	// In-cluster: from the pod's network namespace, to the Service's
	// address as KUBERNETES_SERVICE_HOST gives it, TLS verified by name.
	if who, err := whoAmIInCluster(ctx, pod, ca, token); err != nil {
		t.Errorf("in-cluster client: %v", err)
	} else if who != want {
		t.Errorf("in-cluster client authenticated as %q, want %s", who, want)
	}

	// A pod naming a ServiceAccount that does not exist is refused, as by
	// a cluster's API server.
	ghost := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ghost"},
		Spec:       corev1.PodSpec{ServiceAccountName: "nobody", Containers: []corev1.Container{{Name: "c", Image: node.NetcheckImage}}},
	}
	if err := k8s.Create(ctx, ghost); !apierrors.IsForbidden(err) {
		t.Errorf("a pod of a ServiceAccount that does not exist: %v, want forbidden", err)
	}
}

// whoAmIInCluster asks the API server who the token is (a
// SelfSubjectReview, which every authenticated user may make) from inside
// the pod's network namespace, as its in-cluster client would: at the
// kubernetes Service's address, trusting only the pod's ca.crt, verifying
// the certificate for kubernetes.default.svc.
func whoAmIInCluster(ctx context.Context, pod *corev1.Pod, ca []byte, token []byte) (string, error) {
	hc, err := n.HTTPClient(ctx, pod)
	if err != nil {
		return "", err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		return "", errors.New("the pod's ca.crt holds no certificate")
	}
	hc.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots, ServerName: "kubernetes.default.svc"}
	body := strings.NewReader(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"https://"+net.JoinHostPort(controlplane.KubernetesServiceIP, "443")+"/apis/authentication.k8s.io/v1/selfsubjectreviews", body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var review authv1.SelfSubjectReview
	if err := json.NewDecoder(resp.Body).Decode(&review); err != nil || resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("SelfSubjectReview: HTTP %d (%v)", resp.StatusCode, err)
	}
	return review.Status.UserInfo.Username, nil
}

func TestServiceLeadsToItsPods(t *testing.T) {
	ns := namespace(t, "svc")
	target := probe(t, node.Probe{Namespace: ns, Name: "target"})
	from := probe(t, node.Probe{Namespace: ns, Name: "client"})
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "target", Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "target"},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if err := k8s.Create(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	if got, err := answer(from, node.PodAddr(target, 8080)); err != nil || !strings.HasPrefix(got, "netcheck target ") {
		t.Fatalf("client -> target's pod address: %q, %v", got, err)
	}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(svc), svc); err != nil {
		t.Fatal(err)
	}
	// kube-proxy programs the Service once kube-controller-manager has
	// written its EndpointSlice.
	eventually(t, "client -> target's Service", func() error {
		got, err := answer(from, net.JoinHostPort(svc.Spec.ClusterIP, "80"))
		if err != nil {
			return err
		}
		if !strings.HasPrefix(got, "netcheck target ") {
			return fmt.Errorf("answered %q", got)
		}
		return nil
	})
}

func TestNetworkPolicyDropsThenAdmits(t *testing.T) {
	a := namespace(t, "policy-a")
	b := namespace(t, "policy-b")
	server := probe(t, node.Probe{Namespace: a, Name: "server"})
	other := probe(t, node.Probe{Namespace: b, Name: "other"})
	if got, err := answer(other, node.PodAddr(server, 8080)); err != nil {
		t.Fatalf("before any policy, b -> a: %q, %v", got, err)
	}
	ctx := context.Background()
	deny := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny", Namespace: a},
		Spec: networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		},
	}
	if err := k8s.Create(ctx, deny); err != nil {
		t.Fatal(err)
	}
	eventually(t, "default deny drops b -> a", func() error {
		got, err := answer(other, node.PodAddr(server, 8080))
		if err == nil {
			return fmt.Errorf("answered %q", got)
		}
		if !errors.Is(err, node.ErrDropped) {
			return fmt.Errorf("not dropped but %w", err)
		}
		return nil
	})
	allow := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "allow-b", Namespace: a},
		Spec: networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": b}},
			}}}},
		},
	}
	if err := k8s.Create(ctx, allow); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	eventually(t, "allow policy admits b -> a", func() error {
		got, err := answer(other, node.PodAddr(server, 8080))
		if err != nil {
			return err
		}
		if !strings.HasPrefix(got, "netcheck server ") {
			return fmt.Errorf("answered %q", got)
		}
		return nil
	})
}

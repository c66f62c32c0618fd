package isolation_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/superviber/blue-operator/api/contract"
	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
	"github.com/superviber/blue-operator/test/controlplane"
	"github.com/superviber/blue-operator/test/node"
	"github.com/superviber/blue-operator/test/ststest"
	"github.com/superviber/blue-operator/test/testutil"
	"github.com/superviber/blue-operator/test/world"
)

// The client's side of tenant delta: its self-hosted Infisical (HTTPS under
// a certificate of its own CA), and the AWS it reaches through STS, S3 and
// DynamoDB. Each listens on this machine and is exposed in the node's
// network at an internet address of its own, on 443, as the cloud's
// endpoints are.
var (
	clients     *world.World
	delta       *world.Tenant
	infisicalCA string
)

// The addresses of the client's systems in the node's network.
const (
	stsIP       = "203.0.113.10"
	s3IP        = "203.0.113.11"
	dynamoIP    = "203.0.113.12"
	infisicalIP = "203.0.113.13"
)

// startClientWorld runs the client's systems: STS checks the pod's IRSA
// token, and Infisical its Kubernetes token, with the API server, as AWS's
// OIDC provider for EKS and Infisical's Kubernetes auth do.
func startClientWorld(plane *controlplane.Plane) (stop func(), err error) {
	kube, err := kubernetes.NewForConfig(plane.Config)
	if err != nil {
		return nil, err
	}
	caPEM, cert, err := testutil.SelfSignedTLS(infisicalIP)
	if err != nil {
		return nil, err
	}
	infisicalCA = caPEM
	w, stop, err := world.NewWith(world.Options{
		STS:           ststest.Options{VerifyWebIdentity: world.TokenReview(kube, "sts.amazonaws.com")},
		InfisicalCert: &cert,
	})
	if err != nil {
		return nil, fmt.Errorf("the client's systems: %w", err)
	}
	w.Infisical.SetKubernetesVerifier(world.TokenReview(kube, contract.InfisicalAudience))
	clients = w
	return stop, nil
}

// exposeClientWorld puts the client's systems in the node's network and
// points the operator's AWS endpoints at them (plain HTTP on 443: the
// pods' SDK trusts only the public CAs; Infisical keeps its TLS).
func exposeClientWorld(ctx context.Context) error {
	for _, e := range []struct {
		ip, url string
		opt     *string
	}{
		{stsIP, clients.STSURL, &opts.AWSEndpoints.STS},
		{s3IP, clients.S3.Endpoint(), &opts.AWSEndpoints.S3},
		{dynamoIP, clients.DDB.Endpoint(), &opts.AWSEndpoints.DynamoDB},
		{infisicalIP, clients.Infisical.URL(), nil},
	} {
		u, err := url.Parse(e.url)
		if err != nil {
			return err
		}
		at, err := n.Expose(ctx, e.ip, u.Host)
		if err != nil {
			return err
		}
		if e.opt != nil {
			*e.opt = "http://" + at
		}
	}
	return nil
}

// createDelta seeds delta's client account, as its onboarding would, and
// applies its BlueTenant: the shipped image, the client's Infisical by
// address with its CA.
func createDelta(ctx context.Context) error {
	bt := tenant("delta")
	bt.Spec.Image = serverImageRef
	bt.Spec.AWS.AccountID = "333333333333"
	bt.Spec.Infisical.SiteURL = "https://" + infisicalIP
	bt.Spec.Infisical.CABundle = infisicalCA
	bt.Spec.Infisical.SecretPath = "/blue"
	var err error
	delta, err = clients.AddTenantWith(ctx, world.TenantOptions{
		Name:              "delta",
		Account:           333333333333,
		HopRole:           strings.ReplaceAll(opts.HopRoleARNTemplate, "{tenant}", "delta"),
		Project:           bt.Spec.Infisical.ProjectID,
		Environment:       "prod",
		SecretPath:        bt.Spec.Infisical.SecretPath,
		IdentityID:        bt.Spec.Infisical.Auth.Kubernetes.IdentityID,
		KubernetesSubject: "system:serviceaccount:" + controllers.NamespaceFor("delta") + ":" + controllers.ServerName,
	})
	if err != nil {
		return fmt.Errorf("seed delta: %w", err)
	}
	if err := k8s.Create(ctx, bt); err != nil {
		return fmt.Errorf("create tenant delta: %w", err)
	}
	return nil
}

// A tenant's life on the node, with the shipped server: it logs in to the
// client's self-hosted Infisical over TLS with the client's CA, trades the
// pod's IRSA token at STS, assumes the client's role with the issued
// ExternalId, and writes and reads a document in the client's bucket and
// table; each system is reached at an internet address through the node's
// network and the tenant's NetworkPolicy, and the client reaches the server
// from the ingress namespace, as through the ingress controller. Suspended,
// its server stops on the node; deleted, its namespace goes with everything
// in it. The client's documents stay in the client's account throughout.
func TestTenantJourneyOnTheNode(t *testing.T) {
	t.Parallel()
	// Each phase has a deadline of its own (within), so a slow one is
	// named; the whole is bounded too.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	within := func(d time.Duration) context.Context {
		c, cancel := context.WithTimeout(ctx, d)
		t.Cleanup(cancel)
		return c
	}
	var bt bluev1.BlueTenant
	if err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		err := k8s.Get(ctx, types.NamespacedName{Name: "delta"}, &bt)
		return err == nil && bt.Status.ExternalID != "", nil
	}); err != nil {
		t.Fatalf("delta's ExternalId was never issued: %v", err)
	}
	// The client writes the issued ExternalId into its role's trust policy.
	if err := clients.TrustExternalID(delta, bt.Status.ExternalID); err != nil {
		t.Fatal(err)
	}
	pod, err := waitTenantPod(ctx, "delta")
	if err != nil {
		t.Fatalf("delta's server never became Ready (its Infisical settings unread): %v", err)
	}
	if logins := clients.Infisical.Counts().Logins; logins == 0 {
		t.Error("the server is Ready without a login at the client's Infisical")
	}
	var tokens corev1.Secret
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: controllers.NamespaceFor("delta"), Name: controllers.TokenSecretName}, &tokens); err != nil {
		t.Fatal(err)
	}

	s := connectFrom(t, probes[ingressNS], pod, "delta.mcp.example.com", string(tokens.Data["token"]))
	var created struct {
		Document struct {
			Number int    `json:"number"`
			Title  string `json:"title"`
		} `json:"document"`
	}
	world.MustCall(t, s, "blue_rfc_create", map[string]any{"title": "Proven on the node"}, &created)
	var got struct {
		Document struct {
			Title string `json:"title"`
		} `json:"document"`
	}
	world.MustCall(t, s, "blue_rfc_get", map[string]any{"title": "Proven on the node"}, &got)
	if got.Document.Title != "Proven on the node" {
		t.Errorf("blue_rfc_get: title %q", got.Document.Title)
	}

	// It is in the client's bucket, put there with the client role's
	// session, which the pod's web identity led to.
	objs, err := clients.S3.Objects(delta.Bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Errorf("nothing in the client's bucket %s", delta.Bucket)
	}
	if n := clients.STS.RoleCalls(delta.ClientRole); n == 0 {
		t.Error("the client's role was never assumed")
	}
	if n := clients.STS.Calls("AssumeRoleWithWebIdentity"); n == 0 {
		t.Error("the pod's IRSA token was never presented to STS")
	}
	if err := waitTenant(ctx, "delta", func(bt *bluev1.BlueTenant) bool {
		return meta.IsStatusConditionTrue(bt.Status.Conditions, bluev1.ConditionReady)
	}); err != nil {
		t.Fatalf("delta never Ready: %v", err)
	}
	// The client revokes Superviber's Infisical access: within a refresh
	// (--tenant-infisical-refresh=1s here, the server's 30 s otherwise) the
	// server fails closed and says why, and the kubelet's readiness probe
	// (every 5 s, two failures) takes it out of service; restored, it
	// serves again.
	if env := envOf(pod, controllers.ServerName); env[contract.EnvInfisicalRefresh] != "1s" || env[contract.EnvAccessCheckInterval] != "1s" {
		t.Fatalf("delta's server runs with %s=%q and %s=%q, want the operator's 1s", contract.EnvInfisicalRefresh, env[contract.EnvInfisicalRefresh],
			contract.EnvAccessCheckInterval, env[contract.EnvAccessCheckInterval])
	}
	clients.Infisical.RevokeMembership(delta.Project, delta.IdentityID)
	if err := eventuallyCall(within(10*time.Second), s, func(text string, isError bool) bool {
		return isError && strings.Contains(text, "access revoked by the client")
	}); err != nil {
		t.Fatalf("revoked, the server still served after 10 s (a 1 s refresh): %v", err)
	}
	if err := waitTenant(within(time.Minute), "delta", func(bt *bluev1.BlueTenant) bool {
		c := meta.FindStatusCondition(bt.Status.Conditions, bluev1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == bluev1.ReasonDeploymentUnavailable
	}); err != nil {
		t.Fatalf("revoked, delta did not go unavailable: %v", err)
	}
	clients.Infisical.RestoreMembership(delta.Project, delta.IdentityID)
	if err := eventuallyCall(within(10*time.Second), s, func(_ string, isError bool) bool { return !isError }); err != nil {
		t.Fatalf("restored, the server did not serve again within 10 s: %v", err)
	}
	if err := waitTenant(within(time.Minute), "delta", func(bt *bluev1.BlueTenant) bool {
		return meta.IsStatusConditionTrue(bt.Status.Conditions, bluev1.ConditionReady)
	}); err != nil {
		t.Fatalf("restored, delta never Ready again: %v", err)
	}
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}, pod); err != nil {
		t.Fatal(err)
	}
	if restarts, err := restartsOf(pod, controllers.ServerName); err != nil || restarts != 0 {
		t.Errorf("the server restarted %d times through the revocation (%v); it must fail closed, not crash", restarts, err)
	}
	pid, err := n.ContainerPID(ctx, pod, controllers.ServerName)
	if err != nil {
		t.Fatal(err)
	}

	// Suspended: the server stops on the node, nothing else goes.
	if err := patchTenant(ctx, "delta", func(bt *bluev1.BlueTenant) { bt.Spec.Suspend = true }); err != nil {
		t.Fatal(err)
	}
	if err := waitTenant(within(time.Minute), "delta", func(bt *bluev1.BlueTenant) bool {
		c := meta.FindStatusCondition(bt.Status.Conditions, bluev1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == bluev1.ReasonSuspended
	}); err != nil {
		t.Fatalf("delta never Suspended: %v", err)
	}
	if err := waitGone(within(time.Minute), pid); err != nil {
		t.Errorf("the suspended tenant's server still runs on the node: %v", err)
	}
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: controllers.NamespaceFor("delta"), Name: controllers.TokenSecretName}, &corev1.Secret{}); err != nil {
		t.Errorf("suspending lost the token Secret: %v", err)
	}

	// Deleted: the namespace goes, with its pods, Secrets and policy.
	if err := k8s.Delete(ctx, &bt); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextCancel(within(2*time.Minute), 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		err := k8s.Get(ctx, types.NamespacedName{Name: controllers.NamespaceFor("delta")}, &corev1.Namespace{})
		return apierrors.IsNotFound(err), nil
	}); err != nil {
		t.Fatalf("delta's namespace never went: %v", err)
	}
	after, err := clients.S3.Objects(delta.Bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(objs) {
		t.Errorf("the client's bucket held %d objects, %d after the tenant was deleted: the documents are the client's", len(objs), len(after))
	}
}

// eventuallyCall calls blue_rfc_list until its answer is ok.
func eventuallyCall(ctx context.Context, s *mcp.ClientSession, ok func(text string, isError bool) bool) error {
	var last string
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		text, isError, err := world.CallTool(ctx, s, "blue_rfc_list", nil)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = text
		return ok(text, isError), nil
	})
	if err != nil {
		return fmt.Errorf("%w; last answer: %.200s", err, last)
	}
	return nil
}

// restartsOf is the restart count of the pod's container named name.
func restartsOf(pod *corev1.Pod, name string) (int32, error) {
	for _, c := range pod.Status.ContainerStatuses {
		if c.Name == name {
			return c.RestartCount, nil
		}
	}
	return 0, fmt.Errorf("pod %s/%s reports no container %s", pod.Namespace, pod.Name, name)
}

// envOf is the plain values of a container's environment in the pod spec.
func envOf(pod *corev1.Pod, name string) map[string]string {
	out := map[string]string{}
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			for _, e := range c.Env {
				out[e.Name] = e.Value
			}
		}
	}
	return out
}

// waitTenant polls the BlueTenant until ok.
func waitTenant(ctx context.Context, name string, ok func(*bluev1.BlueTenant) bool) error {
	return wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var bt bluev1.BlueTenant
		if err := k8s.Get(ctx, types.NamespacedName{Name: name}, &bt); err != nil {
			return false, nil
		}
		return ok(&bt), nil
	})
}

// patchTenant changes a BlueTenant's spec, retrying on conflicts.
func patchTenant(ctx context.Context, name string, change func(*bluev1.BlueTenant)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var bt bluev1.BlueTenant
		if err := k8s.Get(ctx, types.NamespacedName{Name: name}, &bt); err != nil {
			return err
		}
		change(&bt)
		return k8s.Update(ctx, &bt)
	})
}

// waitGone waits for the process pid to end: its /proc entry gone, or
// taken by a process started later (pids are reused).
func waitGone(ctx context.Context, pid int) error {
	started := func() (string, error) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return "", err
		}
		// Field 22, the start time, counted after the command's ")".
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 20 {
			return "", fmt.Errorf("/proc/%d/stat: %q", pid, b)
		}
		return f[19], nil
	}
	first, err := started()
	if err != nil {
		return nil
	}
	return wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(context.Context) (bool, error) {
		now, err := started()
		return os.IsNotExist(err) || (err == nil && now != first), nil
	})
}

// connectFrom opens an MCP session to pod's server from inside the network
// namespace of from, naming host as the ingress controller would.
func connectFrom(t *testing.T, from, pod *corev1.Pod, host, token string) *mcp.ClientSession {
	t.Helper()
	netns, err := n.HTTPClient(context.Background(), from)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 20 * time.Second, Transport: hostHeader{host: host, next: world.BearerTransport(token, netns.Transport)}}
	c := mcp.NewClient(&mcp.Implementation{Name: "isolation-test", Version: "1"}, nil)
	endpoint := "http://" + node.PodAddr(pod, contract.PortHTTP) + "/mcp"
	s, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc}, nil)
	if err != nil {
		t.Fatalf("connect %s: %v", endpoint, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// hostHeader sends every request with the tenant's public host, as the
// ingress controller passes it on.
type hostHeader struct {
	host string
	next http.RoundTripper
}

func (h hostHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Host = h.host
	return h.next.RoundTrip(r)
}

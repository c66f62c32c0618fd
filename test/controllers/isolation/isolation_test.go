// Package isolation_test attacks the isolation the operator promises, on a
// real node (test/node): the operator runs in-process against a real control
// plane, writes two tenants' namespaces, NetworkPolicies, quotas and
// Deployments, and the node runs their pods as real containers, with
// kube-network-policies enforcing the policies. Two tenants' pods run the
// netcheck probe in place of the server (an image with no configuration to
// fetch), with everything else exactly as the operator wrote it; two run the
// shipped server image, one of them against its client's systems exposed
// in the node's network (clientdata_test.go). Every connection is attempted
// from inside a pod's network namespace and asserted answered or dropped,
// and every security setting is read from the running process.
package isolation_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/superviber/blue-operator/api/contract"
	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
	"github.com/superviber/blue-operator/test/controlplane"
	"github.com/superviber/blue-operator/test/node"
)

// The namespaces the operator's NetworkPolicy names.
const (
	ingressNS  = "ingress-system"
	metricsNS  = "monitoring"
	operatorNS = "blue-system"
	// elsewhereNS is any other namespace: no policy of its own, so what
	// its pod can reach shows what a tenant's policy takes away.
	elsewhereNS = "elsewhere"
	// metadataIP is the cloud's instance metadata address.
	metadataIP = "169.254.169.254"
	// dnsAnswer is what the DNS stand-in answers for every name.
	dnsAnswer = "10.77.1.5"
)

var (
	n      *node.Node
	k8s    client.Client
	apiURL *url.URL
	// tenant pods by tenant, probe pods by namespace
	tenantPod = map[string]*corev1.Pod{}
	probes    = map[string]*corev1.Pod{}
	opts      = controllers.Options{
		DefaultImage:            node.NetcheckImage,
		HopRoleARNTemplate:      "arn:aws:iam::111111111111:role/blue-hop-{tenant}",
		IngressClassName:        "traefik",
		IngressNamespace:        ingressNS,
		MetricsNamespace:        metricsNS,
		OperatorNamespace:       operatorNS,
		MaxConcurrentReconciles: 2,
		// A client's revocation reaches delta's server within a second.
		InfisicalRefresh:    time.Second,
		AccessCheckInterval: time.Second,
	}
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if err := node.RequireEnv(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The operator's log only when asked: failures say what they need.
	level := zapcore.Level(10)
	if os.Getenv("TEST_VERBOSE") != "" {
		level = -2
	}
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true), zap.Level(level)))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	plane, err := controlplane.Start(controlplane.Options{
		CRDDirs:                 []string{filepath.Join("..", "..", "..", "config", "crd", "bases")},
		AdvertiseAddress:        node.APIServerIP,
		Controllers:             controlplane.NodeControllers,
		ServiceAccountAdmission: true,
		Scheduler:               true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer plane.Stop()
	if apiURL, err = url.Parse(plane.Config.Host); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	serverImage, cleanup, err := buildServerImage(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cleanup()
	stopWorld, err := startClientWorld(plane)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopWorld()
	n, err = node.Start(ctx, node.Options{Plane: plane, NetworkPolicy: true, Images: []string{serverImage}, Dir: os.Getenv("BLUE_NODE_DIR")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := exposeClientWorld(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = n.Stop()
		return 1
	}
	code := func() int {
		if err := setup(ctx, plane); err != nil {
			fmt.Fprintln(os.Stderr, "setup:", err)
			return 1
		}
		return m.Run()
	}()
	// The policy engine never failed, and the node left nothing behind.
	if err := n.StopAndCheck(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	return code
}

// setup runs the operator, creates the two tenants and the peers, and waits
// for every pod to be Ready.
func setup(ctx context.Context, plane *controlplane.Plane) error {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = bluev1.AddToScheme(scheme)
	var err error
	if k8s, err = client.New(plane.Config, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	mgr, err := controllers.NewManager(plane.Config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	}, opts)
	if err != nil {
		return err
	}
	go func() { _ = mgr.Start(ctx) }()
	for _, ns := range []string{ingressNS, metricsNS, operatorNS, elsewhereNS} {
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	for _, name := range []string{"alpha", "bravo"} {
		if err := k8s.Create(ctx, tenant(name)); err != nil {
			return fmt.Errorf("create tenant %s: %w", name, err)
		}
	}
	// charlie runs the server image as shipped.
	charlie := tenant("charlie")
	charlie.Spec.Image = serverImageRef
	if err := k8s.Create(ctx, charlie); err != nil {
		return fmt.Errorf("create tenant charlie: %w", err)
	}
	// delta runs it against its client's systems.
	if err := createDelta(ctx); err != nil {
		return err
	}
	for _, ns := range []string{ingressNS, metricsNS, operatorNS, elsewhereNS} {
		p, err := n.RunProbe(ctx, node.Probe{Namespace: ns, Name: "probe", Ports: []int32{contract.PortHTTP, contract.PortMetrics}})
		if err != nil {
			return err
		}
		probes[ns] = p
	}
	// DNS: a probe in kube-system on port 53 (TCP, and UDP answering every
	// name with dnsAnswer), standing in for CoreDNS behind the kube-dns
	// Service at the address the kubelet gives pods.
	dns, err := n.RunProbe(ctx, node.Probe{Namespace: metav1.NamespaceSystem, Name: "dns", Ports: []int32{53}, Root: true, DNSAnswer: dnsAnswer})
	if err != nil {
		return err
	}
	probes["dns"] = dns
	if err := k8s.Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: metav1.NamespaceSystem},
		Spec: corev1.ServiceSpec{
			ClusterIP: node.DNSServiceIP,
			Selector:  map[string]string{"app": "dns"},
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
			},
		},
	}); err != nil {
		return err
	}
	for _, name := range []string{"alpha", "bravo"} {
		pod, err := waitTenantPod(ctx, name)
		if err != nil {
			return err
		}
		tenantPod[name] = pod
	}
	return nil
}

// serverImage is the server image as `make image` builds it, with this
// suite's version; serverImageRef is how pods name it.
var (
	serverImage    = node.ImageSpec{Command: "blue-mcp", Image: "blue-mcp", Version: "isolation-test"}
	serverImageRef = serverImage.Ref()
)

// buildServerImage builds cmd/blue-mcp and its image as `make image` does
// into a temporary directory; cleanup removes it.
func buildServerImage(ctx context.Context) (archive string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "blue-mcp-image-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	spec := serverImage
	spec.Dir = dir
	archive, err = node.BuildImage(ctx, spec)
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return archive, cleanup, nil
}

func tenant(name string) *bluev1.BlueTenant {
	return &bluev1.BlueTenant{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: bluev1.BlueTenantSpec{
			DisplayName: "Tenant " + name,
			Tier:        bluev1.TierSmall,
			Endpoint:    bluev1.EndpointSpec{Host: name + ".mcp.example.com", TLSSecretName: name + "-tls"},
			AWS:         bluev1.AWSSpec{Region: "eu-west-1", AccountID: "222222222222"},
			Infisical: bluev1.InfisicalSpec{
				ProjectID: "proj-" + name,
				Auth:      bluev1.InfisicalAuth{Kubernetes: &bluev1.InfisicalKubernetesAuth{IdentityID: "id-" + name}},
			},
		},
	}
}

// waitTenantPod waits for the tenant's server pod, as the operator's
// Deployment made it, to be Ready on the node.
func waitTenantPod(ctx context.Context, name string) (*corev1.Pod, error) {
	return waitPod(ctx, name, func(p *corev1.Pod) bool {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	})
}

// waitPod waits for a pod of the tenant's namespace, not being deleted, for
// which ok holds.
func waitPod(ctx context.Context, name string, ok func(*corev1.Pod) bool) (*corev1.Pod, error) {
	var pod *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		var pods corev1.PodList
		if err := k8s.List(ctx, &pods, client.InNamespace(controllers.NamespaceFor(name))); err != nil {
			return false, nil
		}
		for i := range pods.Items {
			if p := &pods.Items[i]; p.DeletionTimestamp.IsZero() && ok(p) {
				pod = p
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("tenant %s's pod: %w", name, err)
	}
	return pod, nil
}

// mustReach and mustNotReach attempt a connection from inside a pod's
// network namespace and assert its fate: answered (by the expected probe,
// when wantAnswer is set), or dropped. Policies are in place before the
// pods start (the operator writes the NetworkPolicy before the Deployment),
// so one attempt tells; a drop must be a drop (no answer at all), not a
// reset or an error of the rig.
func mustReach(t *testing.T, what string, from *corev1.Pod, addr, wantAnswer string) {
	t.Helper()
	got, err := n.Answer(context.Background(), from, addr)
	if err != nil {
		t.Errorf("%s: %s -> %s: %v; it must be answered", what, from.Namespace, addr, err)
		return
	}
	if wantAnswer != "" && !strings.HasPrefix(got, wantAnswer) {
		t.Errorf("%s: %s -> %s answered %q, want %q", what, from.Namespace, addr, got, wantAnswer)
	}
}

func mustNotReach(t *testing.T, what string, from *corev1.Pod, addr string) {
	t.Helper()
	got, err := n.Answer(context.Background(), from, addr)
	switch {
	case err == nil:
		t.Errorf("%s: %s -> %s was answered (%q); it must be dropped", what, from.Namespace, addr, got)
	case !errors.Is(err, node.ErrDropped):
		t.Errorf("%s: %s -> %s: %v; want it dropped", what, from.Namespace, addr, err)
	}
}

func answerOf(pod *corev1.Pod, port int32) string {
	return fmt.Sprintf("netcheck %s %d", pod.Name, port)
}

func TestTenantCannotReachAnotherTenant(t *testing.T) {
	t.Parallel()
	alpha, bravo := tenantPod["alpha"], tenantPod["bravo"]
	for _, port := range []int32{contract.PortHTTP, contract.PortMetrics} {
		mustNotReach(t, "tenant to tenant", bravo, node.PodAddr(alpha, port))
		mustNotReach(t, "tenant to tenant", alpha, node.PodAddr(bravo, port))
	}
	// The path itself works: the ingress controller's namespace gets through.
	mustReach(t, "ingress to tenant", probes[ingressNS], node.PodAddr(alpha, contract.PortHTTP), answerOf(alpha, contract.PortHTTP))
}

func TestIngressNamespaceReachesOnlyTheMCPPort(t *testing.T) {
	t.Parallel()
	alpha := tenantPod["alpha"]
	mustReach(t, "ingress to the MCP port", probes[ingressNS], node.PodAddr(alpha, contract.PortHTTP), answerOf(alpha, contract.PortHTTP))
	mustNotReach(t, "ingress to the metrics port", probes[ingressNS], node.PodAddr(alpha, contract.PortMetrics))
}

func TestMetricsAndOperatorNamespacesReachOnlyTheMetricsPort(t *testing.T) {
	t.Parallel()
	alpha := tenantPod["alpha"]
	for _, ns := range []string{metricsNS, operatorNS} {
		mustReach(t, ns+" to the metrics port", probes[ns], node.PodAddr(alpha, contract.PortMetrics), answerOf(alpha, contract.PortMetrics))
		mustNotReach(t, ns+" to the MCP port", probes[ns], node.PodAddr(alpha, contract.PortHTTP))
	}
}

func TestOtherNamespacesReachNothing(t *testing.T) {
	t.Parallel()
	alpha := tenantPod["alpha"]
	for _, port := range []int32{contract.PortHTTP, contract.PortMetrics} {
		mustNotReach(t, "another namespace to a tenant", probes[elsewhereNS], node.PodAddr(alpha, port))
	}
}

// The cloud's metadata address hands out the node's credentials: a tenant's
// pod must never reach it, at any port. A listener beyond the node stands in
// for it; a pod without a policy reaches it, so the path is there.
func TestTenantCannotReachTheMetadataAddress(t *testing.T) {
	t.Parallel()
	for _, port := range []string{"80", "443"} {
		addr := net.JoinHostPort(metadataIP, port)
		l, err := n.ListenOnNetwork(context.Background(), addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		go serveHello(l)
		mustReach(t, "unrestricted pod to metadata", probes[elsewhereNS], addr, "")
		mustNotReach(t, "tenant to metadata", tenantPod["alpha"], addr)
	}
}

// The API server holds every tenant's secrets: a tenant's pod reaches it
// neither through the kubernetes Service nor at its address, not even at
// 443, where a cloud's API endpoint listens and the tenants' egress to
// their AWS accounts is allowed.
func TestTenantCannotReachTheAPIServer(t *testing.T) {
	t.Parallel()
	var svc corev1.Service
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "kubernetes"}, &svc); err != nil {
		t.Fatal(err)
	}
	addrs := []string{
		net.JoinHostPort(svc.Spec.ClusterIP, "443"),
		net.JoinHostPort(node.APIServerIP, apiURL.Port()),
		net.JoinHostPort(node.APIServerIP, "443"),
	}
	for _, addr := range addrs {
		mustReach(t, "unrestricted pod to the API server", probes[elsewhereNS], addr, "")
		mustNotReach(t, "tenant to the API server", tenantPod["alpha"], addr)
	}
}

func TestTenantReachesDNS(t *testing.T) {
	t.Parallel()
	dns := probes["dns"]
	mustReach(t, "tenant to DNS", tenantPod["alpha"], node.PodAddr(dns, 53), answerOf(dns, 53))
}

// A tenant's pod resolves names as its server does (STS, S3, DynamoDB and
// Infisical are all names): through the nameserver the kubelet wrote into
// its resolv.conf, the kube-dns Service, over UDP through kube-proxy and
// the NetworkPolicy's DNS rule.
func TestTenantResolvesNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, server, err := n.Resolver(ctx, tenantPod["alpha"])
	if err != nil {
		t.Fatal(err)
	}
	if server != node.DNSServiceIP {
		t.Errorf("the pod's nameserver is %s, want the kubelet's clusterDNS %s", server, node.DNSServiceIP)
	}
	// kube-proxy programs the Service once its EndpointSlice is written.
	var addrs []string
	var lookupErr error
	if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		addrs, lookupErr = r.LookupHost(lctx, "sts.eu-west-1.amazonaws.com.")
		return lookupErr == nil, nil
	}); err != nil {
		t.Fatalf("resolve from the tenant's pod: %v (%v)", lookupErr, err)
	}
	if !slices.Equal(addrs, []string{dnsAnswer}) {
		t.Errorf("resolved %v, want [%s]", addrs, dnsAnswer)
	}
}

// serveHello accepts connections and writes a line, standing in for a
// server the pods must not reach.
func serveHello(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		_, _ = c.Write([]byte("hello\n"))
		_ = c.Close()
	}
}

// The server's container runs as the operator wrote it: read from the
// kernel, not from the pod spec.
func TestTenantPodRunsWithTheOperatorsSecurityContext(t *testing.T) {
	t.Parallel()
	assertLockedDown(t, tenantPod["alpha"])
}

// The image `make image` builds, run on the node under the operator's pod
// spec: the real server starts as a container with the same lock-down, and,
// with no Infisical it can reach, stays up and says it is not ready rather
// than crashing.
func TestShippedServerImageRunsOnTheNode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pod, err := waitPod(ctx, "charlie", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := pod.Status.ContainerStatuses[0].ImageID; got == "" {
		t.Error("no image ID reported")
	}
	if pod.Spec.Containers[0].Image != serverImageRef {
		t.Fatalf("pod runs %s, want %s", pod.Spec.Containers[0].Image, serverImageRef)
	}
	assertLockedDown(t, pod)
	pid, err := n.ContainerPID(ctx, pod, controllers.ServerName)
	if err != nil {
		t.Fatal(err)
	}
	if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil || !strings.HasPrefix(string(cmd), "/blue-mcp") {
		t.Errorf("the container runs %q (%v), want the image's /blue-mcp", cmd, err)
	}
	// The ingress controller's namespace reaches it: alive, not ready.
	hc, err := n.HTTPClient(ctx, probes[ingressNS])
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := hc.Get("http://" + node.PodAddr(pod, contract.PortHTTP) + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	if code, body := get("/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 503 || body != "not ready" {
		t.Errorf("/readyz without its Infisical: %d %q, want 503 \"not ready\"", code, body)
	}
	var fresh corev1.Pod
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), &fresh); err != nil {
		t.Fatal(err)
	}
	if rc := fresh.Status.ContainerStatuses[0].RestartCount; rc != 0 {
		t.Errorf("the server restarted %d times without its Infisical; it must wait, not crash", rc)
	}
}

// assertLockedDown checks, from /proc, that the pod's server container runs
// as the operator's Deployment says: uid and gid 65532, no capabilities in
// any set, no_new_privs, the runtime's seccomp filter, a read-only root,
// only the projected tokens mounted, and the tier's limits in its cgroup.
func assertLockedDown(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	pid, err := n.ContainerPID(context.Background(), pod, controllers.ServerName)
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
	// Only the projected tokens the operator asked for, and the files
	// the runtime always provides; no service-account token of ours.
	want := []string{"/etc/hostname", "/etc/hosts", "/etc/resolv.conf",
		"/var/run/secrets/eks.amazonaws.com/serviceaccount", "/var/run/secrets/infisical"}
	got := slices.Clone(p.Mounts)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("mounts %v, want %v", got, want)
	}
	// Limits from the tier (small: 128Mi, half a CPU), in the kernel.
	c := pod.Spec.Containers[0]
	if lim := c.Resources.Limits.Memory().Value(); p.MemoryLimit != lim {
		t.Errorf("memory limit %d bytes, want %d (the tier's)", p.MemoryLimit, lim)
	}
	if cpu := c.Resources.Limits.Cpu().MilliValue(); p.CPUPeriod == 0 || p.CPUQuota*1000/p.CPUPeriod != cpu {
		t.Errorf("CPU quota %d/%d, want %dm (the tier's)", p.CPUQuota, p.CPUPeriod, cpu)
	}
}

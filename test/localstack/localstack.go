// Package localstack brings the whole system up on one machine with no cloud:
// a real control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler built from their Go modules), a real node (test/node:
// containerd, runc, the CNI bridge, the kubelet, kube-proxy and the
// NetworkPolicy engine), the operator installed from config/default as its
// image, Traefik as the ingress controller, and every client-side system
// (STS, Infisical, S3, DynamoDB) seeded per client account.
//
// The client-side systems run on this machine and are reached from the pods
// as a cloud's public endpoints are: at internet addresses in the node's
// network (node.InternetPrefix), on 443. The client's own systems, its
// Infisical and its API Gateway's domain, serve HTTPS with certificates the
// local internet's CA signs (Internet), a private CA that each BlueTenant
// names (spec.infisical.caBundle, spec.aws.apiCABundle); the server image
// is exactly make image's and trusts the public CAs besides, which no local
// server can show, so the stand-ins for AWS's own STS, S3 and DynamoDB are
// plain HTTP. The operator's AWS endpoint flags and the tenants' Infisical
// site URL point there. Clients reach their tenant from
// this machine through Traefik's NodePort, one local port per tenant
// standing in for the tenant's DNS name (Endpoint).
//
// A tenant named in Options.ThroughAPI is seeded in API mode, as a client
// that keeps every access behind its own API Gateway: its data Lambda
// (cmd/blue-data-lambda, built for this machine) runs under the Lambda
// Runtime Interface Emulator with its own role's key, behind the test API
// Gateway (apigwtest) that verifies SigV4 and lets only the client role's
// sessions invoke it; the tenant's Infisical folder holds API_ENDPOINT
// instead of the bucket, table and key names.
//
// IRSA is real: a pod's AWS credentials come from AssumeRoleWithWebIdentity
// with its projected service-account token, which the test STS verifies
// with a TokenReview on the API server before it hands out the tenant's hop
// role; Infisical Kubernetes auth verifies the pod's token the same way.
// The node needs root (network namespaces, cgroups, mounts).
// cmd-like use: test/cmd/local-stack (make run-local); tests: test/e2e (make e2e).
package localstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/superviber/blue-operator/api/contract"
	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
	"github.com/superviber/blue-operator/hack/manifests"
	"github.com/superviber/blue-operator/test/apigwtest"
	"github.com/superviber/blue-operator/test/controlplane"
	"github.com/superviber/blue-operator/test/lambdarie"
	"github.com/superviber/blue-operator/test/node"
	"github.com/superviber/blue-operator/test/ststest"
	"github.com/superviber/blue-operator/test/world"
)

// ImageVersion tags the operator and server images the stack builds.
const ImageVersion = "local"

// The images the stack builds (as make image does) and the node runs.
var (
	operatorImage = node.ImageSpec{Command: "manager", Image: "blue-operator", Version: ImageVersion}
	serverImage   = node.ImageSpec{Command: "blue-mcp", Image: "blue-mcp", Version: ImageVersion}
)

// HopRoleTemplate is the operator's hop-role template in the local stack.
const HopRoleTemplate = "arn:aws:iam::111111111111:role/blue-hop-{tenant}"

// The namespaces around the tenants, as the operator's flags name them.
const (
	IngressNamespace  = "ingress-system"
	MetricsNamespace  = "monitoring"
	OperatorNamespace = "blue-system"
)

// Options configure a stack.
type Options struct {
	// Root is the repository root (config/, cmd/).
	Root string
	// StateDir holds kubeconfig, logs, binaries, images and the node's
	// state; emptied at start and removed by Stop.
	StateDir string
	// Samples is the kustomize directory of BlueTenants applied at start;
	// empty applies none.
	Samples string
	// ThroughAPI names the BlueTenants whose clients are seeded in API
	// mode (see the package comment); the others are direct.
	ThroughAPI []string
	Log        *slog.Logger
}

// Stack is a running local system.
type Stack struct {
	o          Options
	Plane      *controlplane.Plane
	Node       *node.Node
	Kubeconfig string
	Client     client.Client
	World      *world.World
	// Internet is where the client-side systems are in the node's
	// network, and the CA that signs them.
	Internet *Internet
	// Tenants are the seeded client accounts, by BlueTenant name.
	Tenants map[string]*world.Tenant
	// APIs are the API-mode clients' gateways and Lambdas, by BlueTenant
	// name (Options.ThroughAPI).
	APIs    map[string]*API
	Applied []string
	ingress *ingress
	// monitor is a pod in the metrics namespace, from which MetricsClient
	// reads what a Prometheus scraper may.
	monitor *corev1.Pod
	stops   []func() error
	bin     string
}

// API is a client's data path in API mode: its API Gateway in front of its
// data Lambda under the emulator.
type API struct {
	Gateway *apigwtest.Gateway
	Lambda  *lambdarie.Emulator
	// URL is the gateway's address as the client's Infisical gives it to
	// the tenant's server: in the node's network, over HTTPS.
	URL string
	// LambdaRole is the function's own role; LambdaKey the key it signs its
	// S3 and DynamoDB calls with (not a session of the client role, which
	// may only invoke the API).
	LambdaRole string
	LambdaKey  ststest.AccessKey
	// Log is the file the emulator and the function print to.
	Log string
}

// startPhase is one step of Start, named in its error.
type startPhase struct {
	name string
	run  func(context.Context) error
}

// Start brings everything up and applies the samples.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if err := node.RequireEnv(); err != nil {
		return nil, err
	}
	s := &Stack{o: o, Tenants: map[string]*world.Tenant{}, APIs: map[string]*API{}, bin: filepath.Join(o.StateDir, "bin")}
	if err := os.RemoveAll(o.StateDir); err != nil {
		return nil, err
	}
	// What started is stopped when a later step fails.
	fail := func(err error) (*Stack, error) { return nil, errors.Join(err, s.Stop()) }
	var images []string
	phases := []startPhase{
		{"control plane", s.startPlane},
		{"client-side systems", s.startWorld},
		{"images", func(ctx context.Context) (err error) { images, err = s.buildImages(ctx); return err }},
		{"node", func(ctx context.Context) error { return s.startNode(ctx, images) }},
		{"client-side systems in the node's network", func(ctx context.Context) error { return s.Internet.expose(ctx, s.Node, s.World) }},
		{"namespaces", s.createNamespaces},
		{"operator", s.installOperator},
		{"ingress controller", s.startIngress},
	}
	if len(o.ThroughAPI) > 0 {
		phases = append(phases, startPhase{"data Lambda", func(ctx context.Context) error {
			return buildLambda(ctx, filepath.Join(s.bin, "lambda", "bootstrap"))
		}})
	}
	for _, p := range phases {
		if err := p.run(ctx); err != nil {
			return fail(fmt.Errorf("local stack: %s: %w", p.name, err))
		}
	}
	if o.Samples != "" {
		names, err := s.Apply(ctx, o.Samples)
		if err != nil {
			return fail(err)
		}
		s.Applied = names
	}
	return s, nil
}

func (s *Stack) startPlane(context.Context) (err error) {
	s.Plane, err = controlplane.Start(controlplane.Options{
		CRDDirs:                 []string{filepath.Join(s.o.Root, "config", "crd", "bases")},
		AdvertiseAddress:        node.APIServerIP,
		Controllers:             controlplane.NodeControllers,
		ServiceAccountAdmission: true,
		Scheduler:               true,
		Dir:                     s.o.StateDir,
	})
	if err != nil {
		return err
	}
	s.stops = append(s.stops, s.Plane.Stop)
	if s.Kubeconfig, err = s.Plane.Kubeconfig("kubeconfig", "local-admin", "system:masters"); err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = bluev1.AddToScheme(scheme)
	s.Client, err = client.New(s.Plane.Config, client.Options{Scheme: scheme})
	return err
}

// startWorld runs the client-side systems. STS and Infisical verify pod
// tokens against the API server, as AWS's OIDC provider for EKS and
// Infisical's Kubernetes auth do.
func (s *Stack) startWorld(context.Context) error {
	kube, err := kubernetes.NewForConfig(s.Plane.Config)
	if err != nil {
		return err
	}
	w, stop, err := world.New(ststest.Options{VerifyWebIdentity: world.TokenReview(kube, "sts.amazonaws.com")})
	if err != nil {
		return err
	}
	s.World = w
	s.stops = append(s.stops, func() error { stop(); return nil })
	// As Infisical does for an identity whose allowed audience is set: the
	// review asks for the audience the operator gives the pod's token.
	w.Infisical.SetKubernetesVerifier(world.TokenReview(kube, contract.InfisicalAudience))
	s.Internet, err = newInternet()
	return err
}

// buildImages builds the operator and server images as make image does.
func (s *Stack) buildImages(ctx context.Context) ([]string, error) {
	op, mcp := operatorImage, serverImage
	op.Dir, mcp.Dir = filepath.Join(s.bin, "images"), filepath.Join(s.bin, "images")
	var archives []string
	for _, spec := range []node.ImageSpec{op, mcp} {
		a, err := node.BuildImage(ctx, spec)
		if err != nil {
			return nil, err
		}
		archives = append(archives, a)
	}
	return archives, nil
}

func (s *Stack) startNode(ctx context.Context, images []string) (err error) {
	s.Node, err = node.Start(ctx, node.Options{
		Plane: s.Plane, NetworkPolicy: true, Images: images, Dir: filepath.Join(s.o.StateDir, "node"),
	})
	if err != nil {
		return err
	}
	s.stops = append(s.stops, func() error { return s.Node.StopAndCheck(context.Background()) })
	return nil
}

// createNamespaces makes the namespaces the operator's NetworkPolicies
// name (its own comes with config/default), and a pod in the metrics
// namespace to read what a scraper may.
func (s *Stack) createNamespaces(ctx context.Context) error {
	for _, ns := range []string{IngressNamespace, MetricsNamespace} {
		if err := s.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	p, err := s.Node.RunProbe(ctx, node.Probe{Namespace: MetricsNamespace, Name: "scraper"})
	if err != nil {
		return err
	}
	s.monitor = p
	return nil
}

// MetricsClient is an HTTP client whose connections come from a pod in the
// metrics namespace, through the tenants' NetworkPolicies, as a Prometheus
// scraper's do; address pods by IP (node.PodAddr).
func (s *Stack) MetricsClient(ctx context.Context) (*http.Client, error) {
	return s.Node.HTTPClient(ctx, s.monitor)
}

// Apply seeds a client account for every BlueTenant in a kustomize
// directory (or file directory), then applies them as the local world has
// them (LocalTenants). It returns their names.
func (s *Stack) Apply(ctx context.Context, dir string) ([]string, error) {
	tenants, err := s.LocalTenants(ctx, dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, bt := range tenants {
		names = append(names, bt.GetName())
	}
	return names, manifests.Apply(ctx, s.Client, tenants, false)
}

// LocalTenants seeds the client accounts of the BlueTenants in dir and
// returns those BlueTenants as the local world has them: each client's
// Infisical at its address in the node's network (spec.infisical.siteURL),
// and the CA of the client's own systems, its Infisical's and, for a
// client whose data is behind its API, its API Gateway domain's, given as
// a client with a private CA gives it (spec.infisical.caBundle,
// spec.aws.apiCABundle). The caller applies them,
// e.g. with kubectl (WriteTenants).
func (s *Stack) LocalTenants(ctx context.Context, dir string) ([]*unstructured.Unstructured, error) {
	objs, err := manifests.Render(dir)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() != "BlueTenant" {
			continue
		}
		var bt bluev1.BlueTenant
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &bt); err != nil {
			return nil, fmt.Errorf("%s: %w", o.GetName(), err)
		}
		if err := s.Seed(ctx, &bt); err != nil {
			return nil, err
		}
		for _, f := range []struct {
			value string
			path  []string
		}{
			{s.Internet.InfisicalURL, []string{"spec", "infisical", "siteURL"}},
			{string(s.Internet.CAPEM), []string{"spec", "infisical", "caBundle"}},
		} {
			if err := unstructured.SetNestedField(o.Object, f.value, f.path...); err != nil {
				return nil, fmt.Errorf("%s: %w", o.GetName(), err)
			}
		}
		if slices.Contains(s.o.ThroughAPI, bt.Name) {
			if err := unstructured.SetNestedField(o.Object, string(s.Internet.CAPEM), "spec", "aws", "apiCABundle"); err != nil {
				return nil, fmt.Errorf("%s: %w", o.GetName(), err)
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// WriteTenants writes LocalTenants(dir) into one manifest in the state
// directory, for kubectl apply -f, and returns its path.
func (s *Stack) WriteTenants(ctx context.Context, dir string) (string, error) {
	tenants, err := s.LocalTenants(ctx, dir)
	if err != nil {
		return "", err
	}
	var b []byte
	for _, t := range tenants {
		y, err := yaml.Marshal(t.Object)
		if err != nil {
			return "", err
		}
		b = append(append(b, "---\n"...), y...)
	}
	path := filepath.Join(s.o.StateDir, "tenants.yaml")
	return path, os.WriteFile(path, b, 0o600)
}

// Seed creates the client account a BlueTenant points at, as the client's
// onboarding would.
func (s *Stack) Seed(ctx context.Context, bt *bluev1.BlueTenant) error {
	if _, done := s.Tenants[bt.Name]; done {
		return nil
	}
	inf := bt.Spec.Infisical
	if inf.Auth.Kubernetes == nil {
		return fmt.Errorf("%s: the local stack seeds Infisical Kubernetes auth only", bt.Name)
	}
	account, err := strconv.Atoi(bt.Spec.AWS.AccountID)
	if err != nil {
		return fmt.Errorf("%s: spec.aws.accountId %q: %w", bt.Name, bt.Spec.AWS.AccountID, err)
	}
	t, err := s.World.AddTenantWith(ctx, world.TenantOptions{
		Name:              bt.Name,
		Account:           account,
		HopRole:           strings.ReplaceAll(HopRoleTemplate, "{tenant}", bt.Name),
		Project:           inf.ProjectID,
		Environment:       or(inf.Environment, "prod"),
		SecretPath:        or(inf.SecretPath, "/"),
		IdentityID:        inf.Auth.Kubernetes.IdentityID,
		KubernetesSubject: "system:serviceaccount:" + controllers.NamespaceFor(bt.Name) + ":" + controllers.ServerName,
	})
	if err != nil {
		return fmt.Errorf("seed %s: %w", bt.Name, err)
	}
	s.Tenants[bt.Name] = t
	if slices.Contains(s.o.ThroughAPI, bt.Name) {
		if err := s.seedAPI(ctx, t); err != nil {
			return fmt.Errorf("seed %s's API: %w", bt.Name, err)
		}
	}
	return nil
}

// buildLambda builds cmd/blue-data-lambda as make lambda does, for this
// machine's architecture (the emulator runs it as a local process), without
// -trimpath: it only rewrites file names in the binary, and would compile
// the standard library and the AWS SDK once more on a cold machine.
func buildLambda(ctx context.Context, out string) error {
	if goruntime.GOOS != "linux" {
		return fmt.Errorf("through an API: the Lambda emulator runs on Linux only, not %s", goruntime.GOOS)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-ldflags", "-s -w", "-o", out,
		"github.com/superviber/blue-operator/cmd/blue-data-lambda")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goruntime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build cmd/blue-data-lambda: %w\n%s", err, b)
	}
	return nil
}

// seedAPI puts the client in API mode: its data Lambda under the emulator
// with a key of its own role, the client's API Gateway in front of it for
// the client role's sessions, exposed in the node's network over HTTPS, and
// API_ENDPOINT in the client's Infisical folder in place of the bucket,
// table and key names.
func (s *Stack) seedAPI(ctx context.Context, t *world.Tenant) error {
	rie, err := lambdarie.Setup(ctx, s.o.Root)
	if err != nil {
		return err
	}
	a := &API{
		LambdaRole: "arn:aws:iam::" + t.Account + ":role/BlueDataLambda-" + t.Name,
		Log:        filepath.Join(s.o.StateDir, "lambda-"+t.Name+".log"),
	}
	a.LambdaKey = s.World.STS.NewAccessKey(a.LambdaRole)
	dir := filepath.Join(s.o.StateDir, "lambda", t.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	log, err := os.Create(a.Log)
	if err != nil {
		return err
	}
	a.Lambda, err = lambdarie.Start(ctx, lambdarie.Options{
		Bootstrap: filepath.Join(s.bin, "lambda", "bootstrap"), Dir: dir, Log: log, RIE: rie,
		Env: []string{
			"BLUE_BUCKET=" + t.Bucket, "BLUE_TABLE=" + t.Table, "BLUE_KMS_KEY_ARN=" + t.KMSKeyID, "BLUE_ACCOUNT_ID=" + t.Account,
			"AWS_REGION=" + world.Region, "AWS_ACCESS_KEY_ID=" + a.LambdaKey.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + a.LambdaKey.SecretAccessKey,
			"AWS_ENDPOINT_URL_S3=" + s.World.S3.Endpoint(), "AWS_ENDPOINT_URL_DYNAMODB=" + s.World.DDB.Endpoint(),
			"AWS_EC2_METADATA_DISABLED=true",
		},
	})
	if err != nil {
		_ = log.Close()
		return err
	}
	s.stops = append(s.stops, func() error { err := a.Lambda.Stop(); _ = log.Close(); return err })
	if a.Gateway, err = apigwtest.StartLambda(s.World.STS, t.ClientRole, world.Region, a.Lambda.InvokeURL); err != nil {
		return err
	}
	s.stops = append(s.stops, func() error { a.Gateway.Close(); return nil })
	if a.URL, err = s.Internet.exposeAPI(ctx, s.Node, t.Name, a.Gateway.URL); err != nil {
		return err
	}
	s.World.UseAPI(t, a.URL)
	s.APIs[t.Name] = a
	return nil
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// WaitReady waits until every named tenant is Ready. When the operator has
// issued a tenant's ExternalId (status.externalID), the seeded client role
// is made to trust it, as the client does with the value the platform team
// hands over at onboarding; when a tenant's endpoint names a TLS Secret,
// it is issued from the local internet's CA, as cert-manager would.
func (s *Stack) WaitReady(ctx context.Context, timeout time.Duration, names ...string) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for _, n := range names {
			var bt bluev1.BlueTenant
			if err := s.Client.Get(ctx, client.ObjectKey{Name: n}, &bt); err != nil {
				last = err.Error()
				return false, nil
			}
			if t := s.Tenants[n]; t != nil && bt.Status.ExternalID != "" && t.ExternalID != bt.Status.ExternalID {
				if err := s.World.TrustExternalID(t, bt.Status.ExternalID); err != nil {
					return false, fmt.Errorf("%s: trust the issued ExternalId: %w", n, err)
				}
				t.ExternalID = bt.Status.ExternalID
			}
			if err := s.issueTLS(ctx, &bt); err != nil {
				return false, err
			}
			c := meta.FindStatusCondition(bt.Status.Conditions, bluev1.ConditionReady)
			if c == nil || c.Status != metav1.ConditionTrue || bt.Status.ObservedGeneration != bt.Generation {
				last = fmt.Sprintf("%s: %+v", n, c)
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("tenants not ready (%s): %w", last, err)
	}
	return nil
}

// issueTLS creates the tenant's endpoint certificate Secret once its
// namespace exists, signed by the local internet's CA for its host.
func (s *Stack) issueTLS(ctx context.Context, bt *bluev1.BlueTenant) error {
	name := bt.Spec.Endpoint.TLSSecretName
	if name == "" {
		return nil
	}
	ns := controllers.NamespaceFor(bt.Name)
	var existing corev1.Secret
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &existing)
	if !apierrors.IsNotFound(err) {
		return client.IgnoreNotFound(err)
	}
	crt, key, err := s.Internet.Issue(bt.Spec.Endpoint.Host)
	if err != nil {
		return err
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
	}
	if err := s.Client.Create(ctx, sec); err != nil && !apierrors.IsAlreadyExists(err) && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: TLS Secret %s: %w", bt.Name, name, err)
	}
	return nil
}

// Token is the tenant's API token from the Secret the operator generated.
func (s *Stack) Token(ctx context.Context, tenant string) (string, error) {
	var sec corev1.Secret
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: controllers.NamespaceFor(tenant), Name: controllers.TokenSecretName}, &sec); err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(sec.Data["token"]))
	if tok == "" {
		return "", errors.New("token secret has no token")
	}
	return tok, nil
}

// StateDir is where the stack keeps its files.
func (s *Stack) StateDir() string { return s.o.StateDir }

// Stop tears everything down in reverse order and removes the state dir. It
// returns what went wrong, including anything the node left behind or a
// sync error of the NetworkPolicy engine.
func (s *Stack) Stop() error {
	var errs []error
	for i := len(s.stops) - 1; i >= 0; i-- {
		errs = append(errs, s.stops[i]())
	}
	s.stops = nil
	errs = append(errs, os.RemoveAll(s.o.StateDir))
	return errors.Join(errs...)
}

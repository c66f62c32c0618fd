// Package localstack brings the whole system up on one machine with no cloud
// and no container runtime: a real control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler built from their Go modules), the
// operator binary, a kubelet stand-in that runs each tenant pod's blue-mcp
// container as a local process, and every client-side system on loopback
// (STS, Infisical, S3, DynamoDB) seeded per client account.
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
// cmd-like use: test/cmd/local-stack (make run-local); tests: test/e2e (make e2e).
package localstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/superviber/blue-operator/api/contract"
	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
	"github.com/superviber/blue-operator/hack/manifests"
	"github.com/superviber/blue-operator/test/apigwtest"
	"github.com/superviber/blue-operator/test/controlplane"
	"github.com/superviber/blue-operator/test/kubelet"
	"github.com/superviber/blue-operator/test/lambdarie"
	"github.com/superviber/blue-operator/test/ststest"
	"github.com/superviber/blue-operator/test/testutil"
	"github.com/superviber/blue-operator/test/world"
)

// Image is the server image the operator is told to use; the kubelet
// stand-in runs the locally built blue-mcp for it.
const Image = "blue-mcp:local"

// HopRoleTemplate is the operator's hop-role template in the local stack.
const HopRoleTemplate = "arn:aws:iam::111111111111:role/blue-hop-{tenant}"

// Options configure a stack.
type Options struct {
	// Root is the repository root (config/, cmd/).
	Root string
	// StateDir holds kubeconfig, logs, binaries and pod files; emptied at
	// start and removed by Stop.
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
	Kubeconfig string
	Client     client.Client
	World      *world.World
	// Tenants are the seeded client accounts, by BlueTenant name.
	Tenants map[string]*world.Tenant
	// APIs are the API-mode clients' gateways and Lambdas, by BlueTenant
	// name (Options.ThroughAPI).
	APIs    map[string]*API
	Applied []string
	stops   []func()
	bin     string
}

// API is a client's data path in API mode: its API Gateway in front of its
// data Lambda under the emulator.
type API struct {
	Gateway *apigwtest.Gateway
	Lambda  *lambdarie.Emulator
	// LambdaRole is the function's own role; LambdaKey the key it signs its
	// S3 and DynamoDB calls with (not a session of the client role, which
	// may only invoke the API).
	LambdaRole string
	LambdaKey  ststest.AccessKey
	// Log is the file the emulator and the function print to.
	Log string
}

// Start brings everything up and applies the samples.
func Start(ctx context.Context, o Options) (s *Stack, err error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s = &Stack{o: o, Tenants: map[string]*world.Tenant{}, APIs: map[string]*API{}}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if err := os.RemoveAll(o.StateDir); err != nil {
		return nil, err
	}
	s.Plane, err = controlplane.Start(controlplane.Options{
		CRDDirs:     []string{filepath.Join(o.Root, "config", "crd", "bases")},
		Controllers: controlplane.DefaultControllers,
		Scheduler:   true,
		Dir:         o.StateDir,
	})
	if err != nil {
		return nil, err
	}
	s.stops = append(s.stops, func() { _ = s.Plane.Stop() })
	if s.Kubeconfig, err = s.Plane.Kubeconfig("kubeconfig", "local-admin", "system:masters"); err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = bluev1.AddToScheme(scheme)
	if s.Client, err = client.New(s.Plane.Config, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}

	// Client-side systems. STS and Infisical verify pod tokens against the
	// API server, as AWS's OIDC provider for EKS and Infisical's Kubernetes
	// auth do.
	kube, err := kubernetes.NewForConfig(s.Plane.Config)
	if err != nil {
		return nil, err
	}
	var stopWorld func()
	s.World, stopWorld, err = world.New(ststest.Options{VerifyWebIdentity: world.TokenReview(kube, "sts.amazonaws.com")})
	if err != nil {
		return nil, err
	}
	s.stops = append(s.stops, stopWorld)
	// As Infisical does for an identity whose allowed audience is set: the
	// review asks for the audience the operator gives the pod's token.
	s.World.Infisical.SetKubernetesVerifier(world.TokenReview(kube, contract.InfisicalAudience))

	bin := filepath.Join(o.StateDir, "bin")
	s.bin = bin
	for _, cmd := range []string{"manager", "blue-mcp"} {
		if _, err := testutil.BuildCommand(ctx, bin, cmd); err != nil {
			return nil, err
		}
	}
	if len(o.ThroughAPI) > 0 {
		if err := buildLambda(ctx, filepath.Join(bin, "lambda", "bootstrap")); err != nil {
			return nil, err
		}
	}
	if err := s.startOperator(filepath.Join(bin, "manager")); err != nil {
		return nil, err
	}
	kctx, cancel := context.WithCancel(context.Background())
	kdone := make(chan error, 1)
	go func() {
		kdone <- kubelet.Run(kctx, kubelet.Options{
			Config:   s.Plane.Config,
			NodeName: "local-node",
			Binary: func(image string) (string, error) {
				if image != Image {
					return "", fmt.Errorf("no local program for image %q (the local stack runs %s)", image, Image)
				}
				return filepath.Join(bin, "blue-mcp"), nil
			},
			ExtraEnv: s.podEnv,
			StateDir: filepath.Join(o.StateDir, "pods"),
			Log:      o.Log.With("component", "kubelet"),
		})
	}()
	s.stops = append(s.stops, func() { cancel(); <-kdone })

	if o.Samples != "" {
		names, err := s.Apply(ctx, o.Samples)
		if err != nil {
			return nil, err
		}
		s.Applied = names
	}
	return s, nil
}

// podEnv is what this machine's network gives a pod: the client-side
// systems' loopback addresses in place of AWS's and Infisical's public ones.
func (s *Stack) podEnv(*corev1.Pod) map[string]string {
	return map[string]string{
		"INFISICAL_SITE_URL":        s.World.Infisical.URL(),
		"BLUE_STS_ENDPOINT":         s.World.STSURL,
		"BLUE_S3_ENDPOINT":          s.World.S3.Endpoint(),
		"BLUE_DYNAMODB_ENDPOINT":    s.World.DDB.Endpoint(),
		"AWS_EC2_METADATA_DISABLED": "true",
		// The settings refresh and the client-access check every second,
		// and the operator reads the report twice as often: a change on the
		// client's side shows in the BlueTenant within about 1.5 s.
		"BLUE_INFISICAL_REFRESH":     "1s",
		"BLUE_ACCESS_CHECK_INTERVAL": "1s",
	}
}

func (s *Stack) startOperator(bin string) error {
	log, err := os.Create(filepath.Join(s.o.StateDir, "operator.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin,
		"--kubeconfig="+s.Kubeconfig,
		"--metrics-bind-address=127.0.0.1:0",
		"--health-probe-bind-address=127.0.0.1:0",
		"--default-image="+Image,
		"--hop-role-arn-template="+HopRoleTemplate,
		"--ingress-namespace=ingress-system",
		// Pods are processes on loopback ports, not pod IPs.
		"--pod-ports-annotation="+kubelet.PortsAnnotation,
		"--client-access-interval=500ms",
	)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start operator: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = log.Close(); close(done) }()
	s.stops = append(s.stops, func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return nil
}

// Apply seeds a client account for every BlueTenant in a kustomize
// directory (or file directory), then applies them. It returns their names.
func (s *Stack) Apply(ctx context.Context, dir string) ([]string, error) {
	objs, err := manifests.Render(dir)
	if err != nil {
		return nil, err
	}
	var names []string
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
		names = append(names, bt.Name)
	}
	return names, manifests.Apply(ctx, s.Client, objs, false)
}

// SeedFrom seeds the client accounts of the BlueTenants in dir without
// applying them (the caller applies them, e.g. with kubectl).
func (s *Stack) SeedFrom(ctx context.Context, dir string) error {
	objs, err := manifests.Render(dir)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if o.GetKind() != "BlueTenant" {
			continue
		}
		var bt bluev1.BlueTenant
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &bt); err != nil {
			return fmt.Errorf("%s: %w", o.GetName(), err)
		}
		if err := s.Seed(ctx, &bt); err != nil {
			return err
		}
	}
	return nil
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
// the client role's sessions, and API_ENDPOINT in the client's Infisical
// folder in place of the bucket, table and key names.
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
	s.stops = append(s.stops, func() { _ = a.Lambda.Stop(); _ = log.Close() })
	if a.Gateway, err = apigwtest.StartLambda(s.World.STS, t.ClientRole, world.Region, a.Lambda.InvokeURL); err != nil {
		return err
	}
	s.stops = append(s.stops, a.Gateway.Close)
	s.World.UseAPI(t, a.Gateway.URL)
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
// hands over at onboarding.
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

// Endpoint is the local MCP URL of a tenant: one of its ready pods.
func (s *Stack) Endpoint(ctx context.Context, tenant string) (string, error) {
	var pods corev1.PodList
	if err := s.Client.List(ctx, &pods, client.InNamespace(controllers.NamespaceFor(tenant))); err != nil {
		return "", err
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || !podReady(p) {
			continue
		}
		if addr, ok := kubelet.Endpoint(p, "http"); ok {
			return "http://" + addr + "/mcp", nil
		}
	}
	return "", fmt.Errorf("%s has no ready pod", tenant)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
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

// Stop tears everything down in reverse order and removes the state dir.
func (s *Stack) Stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
	_ = os.RemoveAll(s.o.StateDir)
}

// Command manager runs the blue-operator: it reconciles BlueTenants into one
// isolated MCP server per client.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "blue-operator:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	opts := controllers.DefaultOptions()
	var (
		metricsAddr, probeAddr, leaderNS string
		pprofAddr                        string
		leaderElect, showVersion         bool
		qps                              float64
		burst                            int
		annotations, cidrs, deniedCIDRs  stringList
		syncPeriod                       time.Duration
		leaseDuration, renewDeadline     time.Duration
		retryPeriod                      time.Duration
	)
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint; 0 disables it")
	fs.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fs.BoolVar(&leaderElect, "leader-elect", false, "elect a leader so only one replica reconciles")
	fs.StringVar(&pprofAddr, "pprof-bind-address", "", "serve Go's pprof profiles here, e.g. 127.0.0.1:6060 (empty: off); for measuring memory and CPU, never on a public address")
	fs.StringVar(&leaderNS, "leader-election-namespace", "", "namespace of the leader-election Lease (default: the pod's namespace)")
	// controller-runtime's defaults: a standby takes over at most a lease
	// duration after the leader stopped renewing (killed without releasing).
	fs.DurationVar(&leaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long a standby waits after the leader's last renewal before taking the lease")
	fs.DurationVar(&renewDeadline, "leader-elect-renew-deadline", 10*time.Second, "how long the leader keeps trying to renew before it stops (and exits)")
	fs.DurationVar(&retryPeriod, "leader-elect-retry-period", 2*time.Second, "how often replicas try to acquire or renew the lease")
	fs.Float64Var(&qps, "kube-api-qps", 50, "client-side rate limit on API server requests per second")
	fs.IntVar(&burst, "kube-api-burst", 100, "client-side burst of API server requests")
	fs.DurationVar(&syncPeriod, "sync-period", 10*time.Hour, "how often every tenant is reconciled even without changes")
	fs.IntVar(&opts.MaxConcurrentReconciles, "max-concurrent-reconciles", opts.MaxConcurrentReconciles, "tenants reconciled in parallel")
	fs.StringVar(&opts.DefaultImage, "default-image", opts.DefaultImage, "blue-mcp server image for tenants that name none")
	fs.StringVar(&opts.HopRoleARNTemplate, "hop-role-arn-template", "", "IRSA hop role for tenants without spec.aws.hopRoleArn; {tenant} is replaced by the tenant name")
	fs.StringVar(&opts.IngressClassName, "ingress-class", opts.IngressClassName, "IngressClass of tenant Ingresses")
	fs.Var(&annotations, "ingress-annotation", "key=value annotation for every tenant Ingress (repeatable)")
	fs.StringVar(&opts.IngressNamespace, "ingress-namespace", opts.IngressNamespace, "namespace of the ingress controller, the only one allowed to reach the MCP port")
	fs.Var(&cidrs, "ingress-cidr", "CIDR also allowed to reach the MCP port, e.g. the VPC for an ALB in IP mode (repeatable)")
	fs.Var(&deniedCIDRs, "egress-denied-cidr", "CIDR tenant pods may not reach on any port, besides link-local and the API server's addresses, which are always denied (repeatable)")
	fs.StringVar(&opts.MetricsNamespace, "metrics-namespace", opts.MetricsNamespace, "namespace of the Prometheus scraper, the only one allowed to reach the metrics port")
	fs.StringVar(&opts.OperatorNamespace, "operator-namespace", podNamespace(opts.OperatorNamespace), "namespace the operator runs in, allowed to reach tenants' metrics port for their client-access report (default: the pod's namespace)")
	fs.DurationVar(&opts.AccessInterval, "client-access-interval", opts.AccessInterval, "how often each tenant server's client-access report is read into the ClientAccess condition")
	fs.StringVar(&opts.AWSEndpoints.STS, "aws-sts-endpoint", "", "STS URL every tenant pod uses instead of AWS's regional endpoint, on port 443, e.g. a VPC interface endpoint; {region} is the tenant's region (empty: AWS's)")
	fs.StringVar(&opts.AWSEndpoints.S3, "aws-s3-endpoint", "", "S3 URL every tenant pod uses, path-style, on port 443; {region} is the tenant's region (empty: AWS's regional endpoint)")
	fs.StringVar(&opts.AWSEndpoints.DynamoDB, "aws-dynamodb-endpoint", "", "DynamoDB URL every tenant pod uses, on port 443; {region} is the tenant's region (empty: AWS's regional endpoint)")
	fs.DurationVar(&opts.InfisicalRefresh, "tenant-infisical-refresh", 0, "how often every tenant's server re-reads its Infisical settings, so how soon a client's revocation or rotation takes effect (0: the server's 30s)")
	fs.DurationVar(&opts.AccessCheckInterval, "tenant-access-check-interval", 0, "how often every tenant's server checks the client's side for the ClientAccess condition (0: the server's 30s)")
	fs.BoolVar(&showVersion, "version", false, "print the version and exit")
	// --kubeconfig (also KUBECONFIG or in-cluster config) as every controller has it.
	config.RegisterFlags(fs)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if showVersion {
		fmt.Println(version)
		return nil
	}
	var err error
	if opts.IngressAnnotations, err = controllers.ParseAnnotations(annotations); err != nil {
		return err
	}
	opts.IngressCIDRs = cidrs
	opts.EgressDeniedCIDRs = deniedCIDRs
	if err := opts.Validate(); err != nil {
		return err
	}
	if err := validateLease(leaseDuration, renewDeadline, retryPeriod); err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	// Nearly all of the operator's heap is caches that live as long as it
	// does, so Go's default of letting the heap grow 100% past the live data
	// between collections mostly buys RSS; 35 cuts that headroom to a third for a
	// little GC CPU on a process that is idle most of the time (measured by
	// make bench-operator). GOGC in the environment wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := bluev1.AddToScheme(scheme); err != nil {
		return err
	}

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = float32(qps), burst
	cfg.UserAgent = "blue-operator/" + version

	mgr, err := controllers.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         cache.Options{SyncPeriod: &syncPeriod},
		Metrics:                       metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:        probeAddr,
		PprofBindAddress:              pprofAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              "blue-operator.blue.superviber.com",
		LeaderElectionNamespace:       leaderNS,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &leaseDuration,
		RenewDeadline:                 &renewDeadline,
		RetryPeriod:                   &retryPeriod,
	}, opts)
	if err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return fmt.Errorf("cache not synced")
		}
		return nil
	}); err != nil {
		return err
	}
	log.Info("starting", "version", version, "maxConcurrentReconciles", opts.MaxConcurrentReconciles)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// validateLease refuses lease timings client-go's leader election would
// refuse only once the manager starts: the lease must outlast the renew
// deadline, which must outlast a retry (with client-go's 1.2 jitter).
func validateLease(lease, renew, retry time.Duration) error {
	switch {
	case retry <= 0:
		return fmt.Errorf("--leader-elect-retry-period must be positive, got %s", retry)
	case renew*5 <= retry*6:
		return fmt.Errorf("--leader-elect-renew-deadline (%s) must be more than 1.2 times --leader-elect-retry-period (%s)", renew, retry)
	case lease <= renew:
		return fmt.Errorf("--leader-elect-lease-duration (%s) must be more than --leader-elect-renew-deadline (%s)", lease, renew)
	}
	return nil
}

// defaultGCPercent is the operator's GOGC unless the environment sets one.
const defaultGCPercent = 35

// podNamespace is the namespace of the pod the operator runs in, from its
// service account mount, or def outside a pod.
func podNamespace(def string) string {
	b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if ns := strings.TrimSpace(string(b)); err == nil && ns != "" {
		return ns
	}
	return def
}

// Command bench-operator measures how the blue-operator converges N
// BlueTenants against a fresh envtest API server: wall time, API writes per
// tenant, the operator's memory and whether it writes anything once idle.
//
// The machine it runs on may be shared and noisy, so the operator's time is
// reported as a ratio against a baseline measured in the same run: the same
// objects written directly with server-side apply, at the same concurrency and
// client rate limits, with nothing but the writes themselves.
//
// Run it with `make bench-operator`; BENCH_ARGS="-n 20 -idle 10s" is a quick
// run. Missed targets are reported, not failed: it exits non-zero only when
// a phase could not be measured (the report is still printed).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
)

// hopRoleTemplate gives every benchmark tenant an IRSA role, so reconciles run
// to the end instead of stopping at HopRoleUnset.
const hopRoleTemplate = "arn:aws:iam::111111111111:role/blue-hop-{tenant}"

// Targets the report marks PASS or FAIL.
const (
	targetRatio    = 1.0 // operator time / baseline time, at N=1000
	targetRSSMiB   = 64  // operator RSS once converged, at N=1000
	targetWrites   = 1.0 // operator writes per tenant over the baseline's, at most
	targetIdleWrit = 0   // API writes while idle
)

var scheme = runtime.NewScheme()

func main() {
	// A closed output pipe (`| head`) must not kill the benchmark before it
	// stops its API servers and operator: writes just fail instead.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-operator:", err)
		os.Exit(1)
	}
}

// settings are the command-line flags.
type settings struct {
	sizes       []int
	concurrency int
	qps         float64
	burst       int
	idle        time.Duration
	timeout     time.Duration
	jsonOut     bool
	// heapProfile, when set, is where the operator's heap profile is
	// written after the idle window (file-N.pb.gz per N).
	heapProfile string
}

func parseFlags(args []string) (settings, error) {
	s := settings{}
	var sizes string
	fs := flag.NewFlagSet("bench-operator", flag.ContinueOnError)
	fs.StringVar(&sizes, "n", "100,1000", "comma-separated tenant counts to measure")
	fs.IntVar(&s.concurrency, "concurrency", controllers.DefaultOptions().MaxConcurrentReconciles,
		"operator --max-concurrent-reconciles, and the baseline's (and tenant creation's) parallelism")
	// cmd/manager's defaults; its flags live in package main and cannot be imported.
	fs.Float64Var(&s.qps, "qps", 50, "client QPS of the operator (--kube-api-qps), the baseline and tenant creation")
	fs.IntVar(&s.burst, "burst", 100, "client burst of the operator (--kube-api-burst), the baseline and tenant creation")
	fs.DurationVar(&s.idle, "idle", 60*time.Second, "how long to watch the converged operator for writes")
	fs.DurationVar(&s.timeout, "timeout", 20*time.Minute, "longest wait for the operator to converge, per N")
	fs.BoolVar(&s.jsonOut, "json", false, "print the results as JSON instead of a table")
	fs.StringVar(&s.heapProfile, "heapprofile", "", "write the operator's heap profile after the idle window to this path (with -N before the extension), for go tool pprof")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return s, fmt.Errorf("-n %q: want positive integers separated by commas", sizes)
		}
		s.sizes = append(s.sizes, n)
	}
	switch {
	case s.concurrency < 1:
		return s, fmt.Errorf("-concurrency must be at least 1, got %d", s.concurrency)
	case s.qps <= 0 || s.burst < 1:
		return s, fmt.Errorf("-qps and -burst must be positive")
	case s.idle < 0:
		return s, fmt.Errorf("-idle must not be negative")
	}
	return s, nil
}

// bench is what every phase needs.
type bench struct {
	settings
	root       string // module root: CRDs and cmd/manager live there
	managerBin string
	tmp        string
	// opts are the operator's options as the flags given to the manager make
	// them, so the baseline writes byte-for-byte the same objects.
	opts controllers.Options
}

func run(ctx context.Context, args []string) error {
	s, err := parseFlags(args)
	if err != nil {
		return err
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return errors.New("KUBEBUILDER_ASSETS is not set: run `make bench-operator` or KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh) go run ./hack/bench-operator")
	}
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("register client-go types: %w", err)
	}
	if err := bluev1.AddToScheme(scheme); err != nil {
		return fmt.Errorf("register BlueTenant: %w", err)
	}
	// Only errors: informer and client chatter would bury the progress lines.
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	klogQuiet()

	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "bench-operator-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	b := &bench{settings: s, root: root, tmp: tmp, managerBin: filepath.Join(tmp, "manager")}
	b.opts = controllers.DefaultOptions()
	b.opts.HopRoleARNTemplate = hopRoleTemplate
	b.opts.MaxConcurrentReconciles = s.concurrency

	progress("building the manager")
	build := exec.CommandContext(ctx, "go", "build", "-o", b.managerBin, "./cmd/manager")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/manager: %w\n%s", err, out)
	}

	var results []result
	for _, n := range s.sizes {
		r := b.measure(ctx, n)
		results = append(results, r)
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: %w", ctx.Err())
		}
	}
	if s.jsonOut {
		if err := printJSON(os.Stdout, results); err != nil {
			return err
		}
	} else {
		printReport(os.Stdout, b.settings, results)
	}
	// Missed targets are figures like any other; a phase that could not be
	// measured is not.
	for _, r := range results {
		if !r.ok() {
			return fmt.Errorf("N=%d: %s", r.N, strings.Join(r.Errors, "; "))
		}
	}
	return nil
}

// measure runs both phases for n tenants, each against its own fresh API
// server so neither inherits the other's etcd contents or caches.
func (b *bench) measure(ctx context.Context, n int) result {
	r := result{N: n}
	progress("N=%d: baseline", n)
	base, err := b.runBaseline(ctx, n)
	r.Baseline = base
	if err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("baseline: %v", err))
		progress("N=%d: baseline failed: %v", n, err)
	}
	if ctx.Err() != nil {
		return r
	}
	progress("N=%d: operator", n)
	op, err := b.runOperator(ctx, n)
	r.Operator = op
	if err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("operator: %v", err))
		progress("N=%d: operator failed: %v", n, err)
	}
	return r
}

// moduleRoot is the directory of the main module's go.mod, so the benchmark
// finds the CRDs and cmd/manager from wherever it is run inside the repo.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the blue-operator repository")
	}
	return filepath.Dir(gomod), nil
}

// klogQuiet keeps only client-go's klog errors: its info lines (throttling
// notices and the like) would bury the progress lines.
func klogQuiet() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("stderrthreshold", "ERROR")
	klog.SetOutput(nopWriter{})
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// progress prints a timestamped line to stderr; stdout is only the report.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

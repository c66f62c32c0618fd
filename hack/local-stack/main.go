// Command local-stack runs blue-operator on this machine with no cloud and no
// container runtime: a real control plane (etcd, kube-apiserver,
// kube-controller-manager built from their Go modules), the CRDs, the
// operator as its own process, and the sample tenants from config/samples.
// It prints how to reach it and runs until Ctrl-C, then tears everything down.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/hack/controlplane"
	"github.com/superviber/blue-operator/hack/manifests"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "local-stack:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		stateDir      = flag.String("state-dir", filepath.Join(os.TempDir(), fmt.Sprintf("blue-local-%d", os.Getuid())), "kubeconfig, logs and binaries of this run (emptied at start)")
		samples       = flag.String("samples", "config/samples", "kustomize directory of BlueTenants to apply")
		exitWhenReady = flag.Bool("exit-when-ready", false, "tear down as soon as the tenants are reconciled (for smoke tests)")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()

	if err := os.RemoveAll(*stateDir); err != nil {
		return err
	}
	plane, err := controlplane.Start(controlplane.Options{
		CRDDirs:     []string{"config/crd/bases"},
		Controllers: controlplane.DefaultControllers,
		Dir:         *stateDir,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := plane.Stop(); err != nil {
			log.Error("stop control plane", "err", err)
		}
		_ = os.RemoveAll(*stateDir)
		log.Info("stopped; nothing left behind", "state_dir", *stateDir)
	}()
	log.Info("control plane up", "seconds", time.Since(start).Seconds())

	admin, err := plane.Kubeconfig("kubeconfig", "local-admin", "system:masters")
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = bluev1.AddToScheme(scheme)
	k8s, err := client.New(plane.Config, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}

	operator, err := startOperator(ctx, *stateDir, admin)
	if err != nil {
		return err
	}
	defer operator.stop()

	objs, err := manifests.Render(*samples)
	if err != nil {
		return err
	}
	if err := manifests.Apply(ctx, k8s, objs, false); err != nil {
		return err
	}
	var tenants []string
	for _, o := range objs {
		if o.GetKind() == "BlueTenant" {
			tenants = append(tenants, o.GetName())
		}
	}
	if err := waitReconciled(ctx, k8s, tenants); err != nil {
		return err
	}
	log.Info("tenants reconciled", "tenants", tenants, "seconds", time.Since(start).Seconds())

	fmt.Printf(`
blue-operator local stack is up (%.1fs).

  export KUBECONFIG=%s
  kubectl get bluetenants
  kubectl describe bluetenant %s
  kubectl get all,networkpolicy,ingress,resourcequota -n blue-%s

Operator log: %s
The MCP server pods stay Pending until the local kubelet runner exists (issue 5).
Ctrl-C stops everything.
`, time.Since(start).Seconds(), admin, tenants[0], tenants[0], filepath.Join(*stateDir, "operator.log"))
	if *exitWhenReady {
		return nil
	}
	<-ctx.Done()
	return nil
}

type process struct {
	cmd  *exec.Cmd
	done chan error
}

func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// startOperator builds cmd/manager and runs it against the local API server.
func startOperator(ctx context.Context, dir, kubeconfig string) (*process, error) {
	bin := filepath.Join(dir, "bin", "manager")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/manager")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("build operator: %w", err)
	}
	logFile, err := os.Create(filepath.Join(dir, "operator.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--kubeconfig="+kubeconfig,
		"--metrics-bind-address=127.0.0.1:0",
		"--health-probe-bind-address=127.0.0.1:0",
		"--hop-role-arn-template=arn:aws:iam::111111111111:role/blue-hop-{tenant}",
		"--ingress-namespace=ingress-system",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start operator: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); _ = logFile.Close() }()
	return p, nil
}

// waitReconciled waits until every tenant has a Ready condition for its
// current generation.
func waitReconciled(ctx context.Context, k8s client.Client, names []string) error {
	if len(names) == 0 {
		return errors.New("no BlueTenant in the samples")
	}
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, n := range names {
			var bt bluev1.BlueTenant
			if err := k8s.Get(ctx, client.ObjectKey{Name: n}, &bt); err != nil {
				return false, nil
			}
			if bt.Status.ObservedGeneration != bt.Generation || meta.FindStatusCondition(bt.Status.Conditions, bluev1.ConditionReady) == nil {
				return false, nil
			}
		}
		return true, nil
	})
}

// Command local-stack runs blue-operator on this machine with no cloud and no
// container runtime (see test/localstack): the control plane, the operator,
// tenant pods as local processes, and each client's STS, Infisical, S3 and
// DynamoDB on loopback, with the tenants from config/samples. It prints how
// to reach every tenant and runs until Ctrl-C, then removes everything.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/superviber/blue-operator/test/localstack"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "local-stack:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		stateDir      = flag.String("state-dir", filepath.Join(os.TempDir(), fmt.Sprintf("blue-local-%d", os.Getuid())), "kubeconfig, logs, binaries and pod files of this run (emptied at start, removed at exit)")
		samples       = flag.String("samples", "config/samples", "kustomize directory of BlueTenants to apply")
		exitWhenReady = flag.Bool("exit-when-ready", false, "tear down as soon as the tenants are Ready (smoke test)")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	stack, err := localstack.Start(ctx, localstack.Options{Root: root, StateDir: *stateDir, Samples: *samples, Log: log})
	if err != nil {
		return err
	}
	defer func() {
		stack.Stop()
		fmt.Println("stopped; processes ended and", *stateDir, "removed")
	}()
	if err := stack.WaitReady(ctx, 2*time.Minute, stack.Applied...); err != nil {
		return err
	}
	fmt.Printf("\nblue-operator local stack is up (%.1fs)\n\n  export KUBECONFIG=%s\n  kubectl get bluetenants\n\n", time.Since(start).Seconds(), stack.Kubeconfig)
	for _, name := range stack.Applied {
		url, err := stack.Endpoint(ctx, name)
		if err != nil {
			return err
		}
		token, err := stack.Token(ctx, name)
		if err != nil {
			return err
		}
		fmt.Printf("tenant %s\n  endpoint: %s\n  claude mcp add --transport http blue-%s %s --header \"Authorization: Bearer %s\"\n", name, url, name, url, token)
		fmt.Printf("  .mcp.json: {\"mcpServers\": {\"blue-%s\": {\"type\": \"http\", \"url\": %q, \"headers\": {\"Authorization\": \"Bearer %s\"}}}}\n\n", name, url, token)
	}
	fmt.Println("Logs: operator.log, kube-*.log and pods/ under", *stateDir, "\nCtrl-C stops everything.")
	if *exitWhenReady {
		return nil
	}
	<-ctx.Done()
	return nil
}

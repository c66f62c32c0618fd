// Command local-stack runs blue-operator on this machine with no cloud (see
// test/localstack): the control plane, a real node in a network namespace of
// its own (containerd, runc, the kubelet, kube-proxy, kube-network-policies),
// the operator and Traefik as pods on it, and each client's STS, Infisical,
// S3 and DynamoDB, reached by the pods at internet addresses over HTTPS,
// with the tenants from config/samples. It needs root. The clients
// named by -through-api (globex) keep their data behind their own API
// Gateway and data Lambda, which runs under the Lambda Runtime Interface
// Emulator. It prints how to reach every tenant and runs until Ctrl-C, then
// removes everything.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
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
		throughAPI    = flag.String("through-api", defaultThroughAPI(), "comma-separated BlueTenants whose clients serve their data through their API Gateway and data Lambda (API_ENDPOINT) instead of direct S3 and DynamoDB access; empty for none (the Lambda emulator runs on Linux only)")
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
	var apis []string
	for n := range strings.SplitSeq(*throughAPI, ",") {
		if n = strings.TrimSpace(n); n != "" {
			apis = append(apis, n)
		}
	}
	stack, err := localstack.Start(ctx, localstack.Options{Root: root, StateDir: *stateDir, Samples: *samples, ThroughAPI: apis, Log: log})
	if err != nil {
		return err
	}
	defer func() {
		if err := stack.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "local-stack: stop:", err)
			return
		}
		fmt.Println("stopped; processes ended, the node removed and", *stateDir, "removed")
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
		fmt.Printf("  .mcp.json: {\"mcpServers\": {\"blue-%s\": {\"type\": \"http\", \"url\": %q, \"headers\": {\"Authorization\": \"Bearer %s\"}}}}\n", name, url, token)
		if api := stack.APIs[name]; api != nil {
			fmt.Printf("  data: through the client's API Gateway %s and its Lambda under the emulator (log: %s)\n", api.URL, api.Log)
		} else if t := stack.Tenants[name]; t != nil {
			fmt.Printf("  data: direct, bucket %s and table %s\n", t.Bucket, t.Table)
		}
		fmt.Println()
	}
	fmt.Printf("Logs: kube-*.log and lambda-*.log under %s, the node's under node/, every pod's (the operator's, Traefik's, the tenants') under %s\nCtrl-C stops everything.\n", *stateDir, stack.Node.PodLogsDir())
	if *exitWhenReady {
		return nil
	}
	<-ctx.Done()
	return nil
}

// defaultThroughAPI is globex where the Lambda emulator runs.
func defaultThroughAPI() string {
	if runtime.GOOS == "linux" {
		return "globex"
	}
	return ""
}

package lambdarie

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/superviber/blue-operator/test/testutil"
)

func TestStartReportsAnEarlyExit(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses a shell script")
	}
	script := filepath.Join(t.TempDir(), "rie")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'cannot bind the runtime API' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Options{Bootstrap: script, RIE: script})
	if err == nil || !strings.Contains(err.Error(), "exited before it listened") || !strings.Contains(err.Error(), "cannot bind the runtime API") {
		t.Fatalf("Start with an emulator that exits: %v", err)
	}
	if _, err := Start(context.Background(), Options{Bootstrap: filepath.Join(t.TempDir(), "missing"), RIE: script}); err == nil {
		t.Fatal("Start with a missing bootstrap succeeded")
	}
}

// The client's data Lambda under the emulator: concurrent invocations are
// all answered (one at a time), and Stop ends the emulator and the
// function's process.
func TestInvokeConcurrentlyAndStop(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("aws-lambda-rie runs on Linux")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root := filepath.Join("..", "..")
	dir := t.TempDir()
	bootstrap := filepath.Join(dir, "bootstrap")
	// make lambda's flags but -trimpath, which only rewrites file names in
	// the binary and would compile the standard library and the AWS SDK
	// once more on a cold machine.
	build := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-ldflags", "-s -w", "-o", bootstrap, "../../cmd/blue-data-lambda")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rie, err := Setup(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	var logs testutil.Buffer
	e, err := Start(ctx, Options{Bootstrap: bootstrap, RIE: rie, Log: &logs, Env: []string{
		"BLUE_BUCKET=b", "BLUE_TABLE=t", "BLUE_KMS_KEY_ARN=arn:aws:kms:eu-west-1:111111111111:key/k", "BLUE_ACCOUNT_ID=111111111111",
		"AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=AKIATEST", "AWS_SECRET_ACCESS_KEY=secret",
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Stop() }()

	// A path outside the contract: the function answers 404 itself,
	// without touching storage.
	ev, _ := json.Marshal(events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/nowhere", Resource: "/{proxy+}"})
	const n = 4
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			resp, err := http.Post(e.InvokeURL, "application/json", bytes.NewReader(ev))
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = resp.Body.Close() }()
			raw, _ := io.ReadAll(resp.Body)
			var out events.APIGatewayProxyResponse
			if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.StatusCode != http.StatusNotFound {
				errs <- fmt.Errorf("invoke: HTTP %d %s", resp.StatusCode, raw)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := e.Invocations(); got != n {
		t.Errorf("Invocations() = %d, want %d", got, n)
	}
	fn := childrenOf(e.cmd.Process.Pid)
	if len(fn) != 1 {
		t.Fatalf("the emulator runs %d processes, want the function's:\n%s", len(fn), logs.String())
	}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.exited:
	default:
		t.Error("the emulator still runs after Stop")
	}
	if running(fn[0]) {
		t.Errorf("the function's process %d still runs after Stop", fn[0])
	}
	if c := strings.Count(logs.String(), "END RequestId:"); c != n {
		t.Errorf("%d END lines for %d invocations:\n%s", c, n, logs.String())
	}
	if err := e.Stop(); err != nil {
		t.Errorf("a second Stop: %v", err)
	}
}

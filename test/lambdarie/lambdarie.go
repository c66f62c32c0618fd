// Package lambdarie runs a Lambda function's bootstrap under the AWS Lambda
// Runtime Interface Emulator (aws-lambda-rie, built from its Go module by
// hack/setup-lambda-rie.sh), for tests and the local stack alike: it takes no
// testing.TB. Start returns once the emulator listens; Stop ends the
// emulator and the function it started.
//
// The emulator is one execution environment: it answers a second invocation
// that arrives while one runs with HTTP 400 where Lambda would run it in
// another environment. InvokeURL is therefore a small front that hands the
// emulator one invocation at a time and queues the others.
package lambdarie

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// InvokePath is the Lambda Invoke API path of the emulator's one function.
const InvokePath = "/2015-03-31/functions/function/invocations"

// Options configure Start.
type Options struct {
	// Bootstrap is the function's executable: a provided.al2023 bootstrap
	// built for this machine's OS and architecture.
	Bootstrap string
	// Env is the function's environment (its settings, AWS_REGION, the
	// role's credentials, endpoints). It is added to a minimal one: PATH,
	// HOME (Dir), no shared AWS config or credentials files, the function
	// name blue-data-lambda and a 30 s timeout; Env may override those.
	Env []string
	// Dir is the emulator's working directory and HOME; the bootstrap's
	// directory when empty.
	Dir string
	// Log receives what the emulator and the function print (START, END
	// and REPORT lines per invocation, the function's own log); nil
	// discards it.
	Log io.Writer
	// RIE is the aws-lambda-rie executable. When empty, Setup finds or
	// builds it for the module the working directory belongs to.
	RIE string
}

// Emulator is a running emulator.
type Emulator struct {
	// InvokeURL is where to POST an event to invoke the function; the
	// answer is the function's result (the Lambda Invoke API).
	InvokeURL string

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	tail    *tailBuffer
	front   *http.Server
	ln      net.Listener
	served  chan struct{}

	one         sync.Mutex // one invocation at a time
	mu          sync.Mutex
	invocations int
	stopOnce    sync.Once
	stopErr     error
}

// Setup runs hack/setup-lambda-rie.sh of the repository at root (it builds
// the emulator once and caches it) and returns the aws-lambda-rie path.
func Setup(ctx context.Context, root string) (string, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(root, "hack", "setup-lambda-rie.sh")).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("hack/setup-lambda-rie.sh: %w\n%s", err, ee.Stderr)
		}
		return "", fmt.Errorf("hack/setup-lambda-rie.sh: %w", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "aws-lambda-rie"), nil
}

// moduleRoot is the nearest directory up from the working directory that
// holds a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: set Options.RIE")
		}
		dir = parent
	}
}

// Start runs o.Bootstrap under the emulator and returns once the emulator
// accepts connections. ctx bounds the wait (30 s when it has no deadline),
// not the emulator's life: Stop ends it. An emulator that exits before it
// listens is an error that quotes the end of its output.
func Start(ctx context.Context, o Options) (*Emulator, error) {
	if o.Bootstrap == "" {
		return nil, errors.New("lambdarie: Options.Bootstrap is empty")
	}
	if fi, err := os.Stat(o.Bootstrap); err != nil {
		return nil, fmt.Errorf("lambdarie: bootstrap: %w", err)
	} else if fi.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("lambdarie: bootstrap %s is not executable", o.Bootstrap)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	if o.RIE == "" {
		root, err := moduleRoot()
		if err != nil {
			return nil, err
		}
		if o.RIE, err = Setup(ctx, root); err != nil {
			return nil, err
		}
	}
	if o.Dir == "" {
		o.Dir = filepath.Dir(o.Bootstrap)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	e := &Emulator{exited: make(chan struct{}), tail: &tailBuffer{max: 8 << 10}, served: make(chan struct{})}
	var out io.Writer = e.tail
	if o.Log != nil {
		out = io.MultiWriter(o.Log, e.tail)
	}
	cmd := exec.Command(o.RIE, "--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr, o.Bootstrap)
	cmd.Dir = o.Dir
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + o.Dir,
		"AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=30", "AWS_LAMBDA_FUNCTION_NAME=blue-data-lambda",
	}, o.Env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start aws-lambda-rie: %w", err)
	}
	e.cmd = cmd
	go func() { e.waitErr = cmd.Wait(); close(e.exited) }()

	for {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			_ = conn.Close()
			break
		}
		select {
		case <-e.exited:
			return nil, fmt.Errorf("aws-lambda-rie exited before it listened (%v):\n%s", e.waitErr, e.tail.String())
		case <-ctx.Done():
			_ = e.Stop()
			return nil, fmt.Errorf("aws-lambda-rie did not listen on %s: %w\n%s", addr, ctx.Err(), e.tail.String())
		case <-time.After(20 * time.Millisecond):
		}
	}

	if e.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		_ = e.Stop()
		return nil, err
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: addr})
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		_, _ = fmt.Fprintf(out, "lambdarie: invoke: %v\n", err)
		w.WriteHeader(http.StatusBadGateway)
	}
	e.front = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.one.Lock()
		defer e.one.Unlock()
		sw := &statusWriter{ResponseWriter: w}
		proxy.ServeHTTP(sw, r)
		if r.URL.Path == InvokePath && sw.status == http.StatusOK {
			e.mu.Lock()
			e.invocations++
			e.mu.Unlock()
		}
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { defer close(e.served); _ = e.front.Serve(e.ln) }()
	e.InvokeURL = "http://" + e.ln.Addr().String() + InvokePath
	return e, nil
}

// Invocations is how many invocations the emulator has run: answered with
// HTTP 200, as the Invoke API answers a function's result (or its error).
func (e *Emulator) Invocations() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.invocations
}

// Output is the end of what the emulator and the function printed (the
// last 8 KiB).
func (e *Emulator) Output() string { return e.tail.String() }

// Stop ends the emulator (SIGTERM, then SIGKILL after 3 s) and the
// function's process, which the emulator runs in a process group of its
// own, and waits until both are gone. It is safe to call more than once.
func (e *Emulator) Stop() error {
	e.stopOnce.Do(func() {
		if e.front != nil {
			_ = e.front.Close()
			<-e.served
		}
		// The emulator starts the function lazily, in its own group: note
		// it before the emulator goes and it is reparented.
		children := childrenOf(e.cmd.Process.Pid)
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(3 * time.Second):
			_ = killGroup(e.cmd.Process.Pid)
			_ = e.cmd.Process.Kill()
			<-e.exited
		}
		for _, pid := range children {
			_ = killGroup(pid)
		}
		deadline := time.Now().Add(5 * time.Second)
		for _, pid := range children {
			for running(pid) {
				if time.Now().After(deadline) {
					e.stopErr = fmt.Errorf("the function's process %d outlived the emulator", pid)
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
	return e.stopErr
}

// Close is Stop.
func (e *Emulator) Close() error { return e.Stop() }

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String(), nil
}

// statusWriter notes the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

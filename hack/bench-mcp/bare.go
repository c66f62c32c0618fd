package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Tools of the bare server.
const (
	noopTool = "noop"
	// payloadTool answers with a fixed result, blue_rfc_get's own, so the
	// cost of carrying that result can be told apart from the server's.
	payloadTool = "payload"
)

// noopIn has the shape of blue_rfc_get's input, so the SDK's schema
// validation and decoding cost the same on both sides.
type noopIn struct {
	Title string `json:"title" jsonschema:"ignored"`
}

// bareHandler is the baseline: a go-sdk server with one no-op tool behind
// the streamable HTTP handler with blue-mcp's transport settings (stateless,
// JSON responses, same body cap, no localhost protection) and nothing else:
// no auth, no session accounting, no audit, no store. With a payload it also
// serves payloadTool.
func bareHandler(payload *mcp.CallToolResult) http.Handler {
	srv := mcp.NewServer(&mcp.Implementation{Name: "bare", Version: "1"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: noopTool, Description: "Does nothing."},
		func(context.Context, *mcp.CallToolRequest, noopIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil, nil
		})
	if payload != nil {
		mcp.AddTool(srv, &mcp.Tool{Name: payloadTool, Description: "Answers with a fixed result."},
			func(context.Context, *mcp.CallToolRequest, noopIn) (*mcp.CallToolResult, any, error) {
				res := *payload // the SDK may set fields on what it is given
				return &res, nil, nil
			})
	}
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{
		Stateless:                  true,
		JSONResponse:               true,
		MaxRequestBodyBytes:        1 << 20,
		DisableLocalhostProtection: true,
	})
}

// serveBare serves the baseline on a fresh loopback port, with blue-mcp's
// http.Server settings, until stop is called.
func serveBare(payload *mcp.CallToolResult) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("bare server: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", bareHandler(payload))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = hs.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/mcp", func() { _ = hs.Close() }, nil
}

// serveBareProcess is the -serve-bare mode: the baseline as its own process,
// so that under load it competes for the CPUs as blue-mcp does. With a
// payload file (a CallToolResult as JSON) it also serves payloadTool. It
// prints its URL and exits when its stdin closes (the parent went away).
func serveBareProcess(ctx context.Context, payloadFile string) error {
	var payload *mcp.CallToolResult
	if payloadFile != "" {
		b, err := os.ReadFile(payloadFile)
		if err != nil {
			return fmt.Errorf("bare process: %w", err)
		}
		payload = &mcp.CallToolResult{}
		if err := json.Unmarshal(b, payload); err != nil {
			return fmt.Errorf("bare process: payload %s: %w", payloadFile, err)
		}
		if payload.StructuredContent != nil {
			// Served as blue-mcp serves it: already encoded.
			sc, err := json.Marshal(payload.StructuredContent)
			if err != nil {
				return fmt.Errorf("bare process: payload %s: %w", payloadFile, err)
			}
			payload.StructuredContent = json.RawMessage(sc)
		}
	}
	url, stop, err := serveBare(payload)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Printf("URL %s\n", url)
	eof := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(eof) }()
	select {
	case <-ctx.Done():
	case <-eof:
	}
	return nil
}

// startBareProcess runs this program again in -serve-bare mode, serving
// payload (when not nil) as payloadTool; the payload goes through a file in
// dir.
func startBareProcess(ctx context.Context, dir string, payload *mcp.CallToolResult) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bare process: find own executable: %w", err)
	}
	args := []string{"-serve-bare"}
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("bare process: encode payload: %w", err)
		}
		f := filepath.Join(dir, "bare-payload.json")
		if err := os.WriteFile(f, b, 0o600); err != nil {
			return nil, fmt.Errorf("bare process: %w", err)
		}
		args = append(args, "-bare-payload", f)
	}
	cmd := exec.Command(self, args...)
	cmd.SysProcAttr = childProcAttr()
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bare process: %w", err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("bare process: %w", err)
	}
	p, err := startProc(cmd)
	if err != nil {
		return nil, fmt.Errorf("bare process: %w", err)
	}
	p.stdin = stdin
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "URL "); ok {
				urlc <- u
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case p.url = <-urlc:
		return p, nil
	case <-p.done:
		return nil, errors.New("bare process exited before serving")
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, errors.New("bare process did not print its URL within 30s")
	case <-ctx.Done():
		p.stop()
		return nil, fmt.Errorf("bare process: %w", ctx.Err())
	}
}

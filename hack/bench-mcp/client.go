package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/superviber/blue-operator/test/world"
)

// client is the one go-sdk client implementation every target is driven by.
var client = mcp.NewClient(&mcp.Implementation{Name: "bench-mcp", Version: "1"}, nil)

// connect opens a session over its own HTTP transport, as a separate MCP
// client (one process per user) would have: sessions then never compete for
// a shared pool's two idle connections per host, which would measure TCP
// set-up rather than the server. The standalone SSE stream is off for every
// target alike: the servers are stateless and answer its GET with 405.
func connect(ctx context.Context, url, token string) (*mcp.ClientSession, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // loopback only
	tr.MaxIdleConnsPerHost = 4
	hc := &http.Client{Transport: world.BearerTransport(token, tr), Timeout: 30 * time.Second}
	s, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc, DisableStandaloneSSE: true, MaxRetries: -1}, nil)
	if err != nil {
		tr.CloseIdleConnections()
		return nil, fmt.Errorf("connect %s: %w", url, err)
	}
	return s, nil
}

// callTool runs a tool and returns its text, or an error for a protocol
// error or a tool error.
func callTool(ctx context.Context, s *mcp.ClientSession, tool string, args map[string]any) (string, error) {
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return "", fmt.Errorf("%s: %w", tool, err)
	}
	text := ""
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text += tc.Text
		}
	}
	if res.IsError {
		return "", fmt.Errorf("%s: tool error: %s", tool, text)
	}
	return text, nil
}

// rfcGetArgs and noopArgs are the same request but for the tool name, so
// both targets parse the same bytes.
var (
	rfcGetArgs = map[string]any{"title": docRef}
	noopArgs   = map[string]any{"title": docRef}
)

// rfcGet is one blue_rfc_get by number.
func rfcGet(s *mcp.ClientSession) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := callTool(ctx, s, "blue_rfc_get", rfcGetArgs)
		return err
	}
}

// noop is one call of the bare server's no-op tool.
func noop(s *mcp.ClientSession) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := callTool(ctx, s, noopTool, noopArgs)
		return err
	}
}

// payload is one call of the bare server's fixed-result tool.
func payload(s *mcp.ClientSession) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := callTool(ctx, s, payloadTool, noopArgs)
		return err
	}
}

// closeSessions closes sessions concurrently (each close is an HTTP DELETE).
func closeSessions(ss []*mcp.ClientSession) {
	done := make(chan struct{}, len(ss))
	for _, s := range ss {
		go func() {
			defer func() { done <- struct{}{} }()
			if s != nil {
				_ = s.Close()
			}
		}()
	}
	for range ss {
		<-done
	}
}

// connectMany opens n sessions concurrently.
func connectMany(ctx context.Context, n int, url, token string) ([]*mcp.ClientSession, error) {
	ss := make([]*mcp.ClientSession, n)
	errs := make([]error, n)
	done := make(chan struct{}, n)
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			ss[i], errs[i] = connect(ctx, url, token)
		}()
	}
	for range n {
		<-done
	}
	if err := errors.Join(errs...); err != nil {
		closeSessions(ss)
		return nil, fmt.Errorf("open %d sessions: %w", n, err)
	}
	return ss, nil
}

package world

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Connect opens a go-sdk MCP client session with a bearer token; it is
// closed when the test ends.
func Connect(tb testing.TB, url, token string) *mcp.ClientSession {
	tb.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "blue-test", Version: "1"}, nil)
	s, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: BearerClient(token)}, nil)
	if err != nil {
		tb.Fatalf("connect %s: %v", url, err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// CallTool runs a tool and returns its text answer (the result's JSON, or a
// tool error's message) and whether it was a tool error. err is a protocol
// error.
func CallTool(ctx context.Context, s *mcp.ClientSession, tool string, args map[string]any) (text string, isError bool, err error) {
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return "", false, err
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String(), res.IsError, nil
}

// MustCall runs a tool that must succeed and decodes its JSON result into
// out. A protocol error, a tool error, a result that is not JSON or a status
// other than success fails tb.
func MustCall(tb testing.TB, s *mcp.ClientSession, tool string, args map[string]any, out any) {
	tb.Helper()
	text, isError, err := CallTool(context.Background(), s, tool, args)
	if err != nil {
		tb.Fatalf("%s: %v", tool, err)
	}
	if isError {
		tb.Fatalf("%s(%v): %s", tool, args, text)
	}
	var r struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(text), &r); err != nil {
		tb.Fatalf("%s: %q: %v", tool, text, err)
	}
	if r.Status != "success" {
		tb.Fatalf("%s(%v): %s: %s", tool, args, r.Status, r.Message)
	}
	if err := json.Unmarshal([]byte(text), out); err != nil {
		tb.Fatalf("%s: %q: %v", tool, text, err)
	}
}

package server_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/superviber/blue-operator/test/world"
)

// unanswering is a server that accepts connections and never answers, as
// a storage endpoint behind a broken network path does.
func unanswering(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// A client bucket that never answers makes a tool call fail with a clear
// error, instead of holding the call (and its session slot) until the
// client gives up: each request is given up after its attempt timeout and
// retried, and the whole call after its deadline. The server keeps serving.
func TestUnansweringStorageHitsTheDeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		attempt, perCall time.Duration
		want             string
	}{
		{"each request times out and is retried", 200 * time.Millisecond, 20 * time.Second, "exceeded maximum number of attempts"},
		{"the call's deadline passes first", 20 * time.Second, time.Second, "did not finish within 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := world.Start(t)
			tn := newTenant(t, w, "hung", 191919191919)
			srv := w.Serve(t, tn, world.ServerOptions{S3Endpoint: unanswering(t), AttemptTimeout: tc.attempt, CallTimeout: tc.perCall})
			s := connect(t, srv.URL, tn.Token)

			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			text, isErr, err := world.CallTool(ctx, s, "blue_rfc_create", map[string]any{"title": "Into the void"})
			if err != nil || ctx.Err() != nil {
				t.Fatalf("the call did not come back with a tool error: %v %v", err, ctx.Err())
			}
			if !isErr || !strings.Contains(text, tc.want) {
				t.Fatalf("answer %q: want a tool error saying %q", text, tc.want)
			}
			// Metadata in DynamoDB still answers; the server is up.
			if _, e := call(t, s, "blue_rfc_list", nil); e != "" {
				t.Fatalf("list after the hung write: %s", e)
			}
		})
	}
}

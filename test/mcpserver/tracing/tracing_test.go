// Package tracing_test runs a tenant's server, wired as cmd/blue-mcp wires
// it, with its traces exported to an in-process OTLP/HTTP receiver.
//
// Tracing is process-wide, so these tests do not run in parallel.
package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/superviber/blue-operator/mcpserver/tracing"
	"github.com/superviber/blue-operator/test/world"
)

// receiver is an OTLP/HTTP trace receiver: it decodes every export request.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests int
	spans    []*tracepb.Span
	resource []*commonpb.KeyValue
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		var exp collectortrace.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &exp)
		}
		r.mu.Lock()
		r.requests++
		for _, rs := range exp.GetResourceSpans() {
			r.resource = append(r.resource, rs.GetResource().GetAttributes()...)
			for _, ss := range rs.GetScopeSpans() {
				r.spans = append(r.spans, ss.GetSpans()...)
			}
		}
		r.mu.Unlock()
		if err != nil || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("export %s %s (%s): %v", req.Method, req.URL.Path, req.Header.Get("Content-Type"), err)
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) snapshot() (int, []*tracepb.Span) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, append([]*tracepb.Span(nil), r.spans...)
}

const (
	traceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentID = "00f067aa0ba902b7"
	// Values of the call's arguments: none may appear in any span.
	title    = "Zebra-unique-title-7781"
	question = "Secret-question-body-9932?"
	timeBox  = "3 fortnights"
)

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.GetAttributes() {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// createSpike calls blue_spike_create with the trace context in _meta.
func createSpike(t *testing.T, s *mcp.ClientSession) {
	t.Helper()
	res, err := s.CallTool(context.Background(), &mcp.CallToolParams{
		Meta:      mcp.Meta{"traceparent": "00-" + traceID + "-" + parentID + "-01", "tracestate": "vendor=blue"},
		Name:      "blue_spike_create",
		Arguments: map[string]any{"title": title, "question": question, "time_box": timeBox},
	})
	if err != nil || res.IsError {
		t.Fatalf("blue_spike_create: %v %+v", err, res)
	}
}

func TestToolCallTrace(t *testing.T) {
	recv := newReceiver(t)
	ctx := context.Background()
	shutdown, err := tracing.Setup(ctx, tracing.Options{Endpoint: recv.URL + "/v1/traces", Tenant: "acme", Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = shutdown(ctx) })

	w := world.Start(t)
	tn, err := w.AddTenant(ctx, "acme", 222222222222)
	if err != nil {
		t.Fatal(err)
	}
	srv := w.Serve(t, tn, world.ServerOptions{})
	createSpike(t, world.Connect(t, srv.URL, tn.Token))
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	_, spans := recv.snapshot()
	byID := map[string]*tracepb.Span{}
	var tool *tracepb.Span
	infisical := 0
	for _, s := range spans {
		byID[hexID(s.GetSpanId())] = s
		if s.GetName() == "tools/call blue_spike_create" {
			tool = s
		}
		if strings.HasPrefix(s.GetName(), "Infisical ") {
			infisical++
		}
	}
	if tool == nil {
		t.Fatalf("no tool span among %d spans", len(spans))
	}
	if got := hexID(tool.GetTraceId()); got != traceID {
		t.Errorf("tool span trace id %s, want the client's %s", got, traceID)
	}
	if got := hexID(tool.GetParentSpanId()); got != parentID {
		t.Errorf("tool span parent %s, want the client's span %s", got, parentID)
	}
	if tool.GetKind() != tracepb.Span_SPAN_KIND_SERVER || tool.GetTraceState() != "vendor=blue" {
		t.Errorf("tool span kind %v, trace state %q", tool.GetKind(), tool.GetTraceState())
	}
	for k, want := range map[string]string{"gen_ai.tool.name": "blue_spike_create", "blue.tenant": "acme", "blue.outcome": "success"} {
		if got := attr(tool, k); got != want {
			t.Errorf("tool span %s = %q, want %q", k, got, want)
		}
	}

	// The AWS calls the tool made are its descendants, named by operation.
	under := func(s *tracepb.Span) bool {
		for p := byID[hexID(s.GetParentSpanId())]; p != nil; p = byID[hexID(p.GetParentSpanId())] {
			if p == tool {
				return true
			}
		}
		return false
	}
	aws := map[string]bool{}
	for _, s := range spans {
		if under(s) {
			if attr(s, "rpc.system") == "aws-api" && s.GetKind() == tracepb.Span_SPAN_KIND_CLIENT {
				aws[s.GetName()] = true
			}
			if hexID(s.GetTraceId()) != traceID {
				t.Errorf("span %s outside the client's trace", s.GetName())
			}
		}
	}
	if !aws["S3.PutObject"] || !hasPrefix(aws, "DynamoDB.") {
		t.Errorf("AWS spans under the tool call: %v; want S3.PutObject and DynamoDB operations", aws)
	}
	t.Logf("%d spans; AWS spans under the tool call: %v", len(spans), aws)
	if infisical == 0 {
		t.Error("no span of the Infisical requests")
	}

	// No span carries the arguments or the document's content.
	for _, s := range spans {
		texts := []string{s.GetName(), s.GetStatus().GetMessage()}
		for _, kv := range s.GetAttributes() {
			texts = append(texts, kv.String())
		}
		for _, e := range s.GetEvents() {
			texts = append(texts, e.String())
		}
		for _, l := range s.GetLinks() {
			texts = append(texts, l.String())
		}
		for _, txt := range texts {
			for _, secret := range []string{title, question, timeBox, "Zebra", "zebra-unique", tn.Token} {
				if strings.Contains(txt, secret) {
					t.Errorf("span %q carries %q: %s", s.GetName(), secret, txt)
				}
			}
		}
	}
}

func hasPrefix(set map[string]bool, prefix string) bool {
	for k := range set {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

func TestNoEndpointNoExport(t *testing.T) {
	recv := newReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	ctx := context.Background()
	// A provider exporting to the receiver exists; the settings that follow
	// name no endpoint, so nothing may reach it.
	earlier, err := tracing.Setup(ctx, tracing.Options{Endpoint: recv.URL + "/v1/traces", Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	shutdown, err := tracing.Setup(ctx, tracing.Options{Tenant: "acme", Sync: true, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if tracing.Enabled() {
		t.Fatal("tracing is on without an endpoint")
	}
	w := world.Start(t)
	tn, err := w.AddTenant(ctx, "acme", 222222222222)
	if err != nil {
		t.Fatal(err)
	}
	srv := w.Serve(t, tn, world.ServerOptions{})
	createSpike(t, world.Connect(t, srv.URL, tn.Token))
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := earlier(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := recv.snapshot(); n != 0 {
		t.Fatalf("%d export requests reached the receiver with no endpoint configured", n)
	}
}

package tracing

import (
	"context"
	"testing"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.opentelemetry.io/otel/trace"
)

// Off, the helpers on every call's path allocate nothing.
func TestOffAllocatesNothing(t *testing.T) {
	shutdown, err := Setup(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = shutdown(context.Background()) }()
	if Enabled() {
		t.Fatal("on without an endpoint")
	}
	ctx := context.Background()
	meta := map[string]any{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	allocs := testing.AllocsPerRun(100, func() {
		c := ExtractMeta(ctx, meta)
		c, span := Start(c, "tools/call blue_status", trace.SpanKindServer)
		if span.IsRecording() || c != ctx {
			t.Fatal("a span while off")
		}
		span.End()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per call while off", allocs)
	}
}

func TestEndpointFrom(t *testing.T) {
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}
	get := func(k string) string { return env[k] }
	if got := EndpointFrom("", get); got != "http://collector:4318/v1/traces" {
		t.Errorf("generic endpoint: %q", got)
	}
	env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "http://traces:4318/custom"
	if got := EndpointFrom("", get); got != "http://traces:4318/custom" {
		t.Errorf("traces endpoint: %q", got)
	}
	if got := EndpointFrom("http://flag/v1/traces", get); got != "http://flag/v1/traces" {
		t.Errorf("flag: %q", got)
	}
	if got := EndpointFrom("", func(string) string { return "" }); got != "" {
		t.Errorf("none: %q", got)
	}
}

// Off, an SDK operation's stack is left as it is.
func TestAWSMiddlewareOff(t *testing.T) {
	stack := middleware.NewStack("op", smithyhttp.NewStackRequest)
	if err := AWSMiddleware(stack); err != nil {
		t.Fatal(err)
	}
	if ids := stack.Initialize.List(); len(ids) != 0 {
		t.Fatalf("middleware added while off: %v", ids)
	}
}

// Package tracing is the server's OpenTelemetry tracing: a span per tool
// call, and a child span per AWS operation and per Infisical request, named
// by operation only. No span carries a tool's arguments, its result or a
// document's content.
//
// Tracing is off unless an OTLP endpoint is configured; off, every helper
// here returns at once without allocating, so the hot path costs nothing.
package tracing

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Name is the instrumentation scope of every span.
const Name = "github.com/superviber/blue-operator/mcpserver"

// Options configure Setup.
type Options struct {
	// Endpoint is the OTLP/HTTP traces URL (e.g. http://collector:4318/v1/traces).
	// Empty: taken from the environment (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
	// or OTEL_EXPORTER_OTLP_ENDPOINT plus /v1/traces); still empty: off.
	Endpoint string
	// Getenv reads the environment (os.Getenv when nil).
	Getenv func(string) string
	// Service and Tenant name the resource (service.name, blue.tenant).
	Service, Tenant, Version string
	// Sync exports each span as it ends (tests); otherwise in batches.
	Sync bool
}

// EndpointFrom is the traces endpoint Options would use.
func EndpointFrom(endpoint string, getenv func(string) string) string {
	if endpoint != "" || getenv == nil {
		return endpoint
	}
	if e := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); e != "" {
		return e
	}
	if e := getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); e != "" {
		return strings.TrimSuffix(e, "/") + "/v1/traces"
	}
	return ""
}

var (
	active atomic.Pointer[trace.Tracer] // nil: off
	prop   = propagation.TraceContext{}
)

// Setup turns tracing on when an endpoint is configured, and off otherwise.
// Shutdown flushes the spans not yet exported and turns tracing off.
func Setup(ctx context.Context, o Options) (shutdown func(context.Context) error, err error) {
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	endpoint := EndpointFrom(o.Endpoint, o.Getenv)
	if endpoint == "" {
		active.Store(nil)
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, err
	}
	if o.Service == "" {
		o.Service = "blue-mcp"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", o.Service)}
	if o.Version != "" {
		attrs = append(attrs, attribute.String("service.version", o.Version))
	}
	if o.Tenant != "" {
		attrs = append(attrs, attribute.String("blue.tenant", o.Tenant))
	}
	export := sdktrace.WithBatcher(exp)
	if o.Sync {
		export = sdktrace.WithSyncer(exp)
	}
	tp := sdktrace.NewTracerProvider(export, sdktrace.WithResource(resource.NewSchemaless(attrs...)))
	t := tp.Tracer(Name)
	active.Store(&t)
	return func(ctx context.Context) error {
		active.CompareAndSwap(&t, nil)
		return tp.Shutdown(ctx)
	}, nil
}

// Enabled reports whether spans are being recorded.
func Enabled() bool { return active.Load() != nil }

var noopSpan trace.Span = noop.Span{}

// Start starts a span when tracing is on; off, it returns ctx and a span
// that does nothing.
func Start(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	t := active.Load()
	if t == nil {
		return ctx, noopSpan
	}
	return (*t).Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// Fail marks a span as failed with a short reason; never pass text that
// could carry a document's content.
func Fail(span trace.Span, reason string) {
	span.SetStatus(codes.Error, reason)
}

// ExtractMeta puts the W3C trace context an MCP client sent in a request's
// _meta (traceparent, tracestate) into ctx, when tracing is on.
func ExtractMeta(ctx context.Context, meta map[string]any) context.Context {
	if active.Load() == nil || meta == nil {
		return ctx
	}
	tp, _ := meta["traceparent"].(string)
	if tp == "" {
		return ctx
	}
	c := propagation.MapCarrier{"traceparent": tp}
	if ts, _ := meta["tracestate"].(string); ts != "" {
		c["tracestate"] = ts
	}
	return prop.Extract(ctx, c)
}

// AWSMiddleware adds a client span per AWS operation, named
// "<service>.<Operation>" (for example "S3.GetObject"), to an SDK client's
// stack; use it in aws.Config.APIOptions. The SDK builds the stack for each
// operation: off, it adds nothing to it.
func AWSMiddleware(stack *middleware.Stack) error {
	if active.Load() == nil {
		return nil
	}
	return stack.Initialize.Add(awsSpan, middleware.After)
}

var awsSpan = middleware.InitializeMiddlewareFunc("BlueTracing",
	func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		service, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
		ctx, span := Start(ctx, service+"."+op, trace.SpanKindClient,
			attribute.String("rpc.system", "aws-api"), attribute.String("rpc.service", service),
			attribute.String("rpc.method", op), attribute.String("cloud.region", awsmiddleware.GetRegion(ctx)))
		defer span.End()
		out, md, err := next.HandleInitialize(ctx, in)
		if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok {
			span.SetAttributes(attribute.String("aws.request_id", id))
		}
		if err != nil {
			Fail(span, awsErrorCode(err))
		}
		return out, md, err
	})

// awsErrorCode is the AWS error code of err (never its message, which may
// name a key).
func awsErrorCode(err error) string {
	var api interface{ ErrorCode() string }
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "canceled"
	}
	return "error"
}

// Transport wraps an HTTP transport so that each request it sends while
// tracing is on is a client span named "<name> <METHOD>" (the path, which
// may carry identifiers, is left out), carrying the status code.
func Transport(name string, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{name: name, next: next}
}

type transport struct {
	name string
	next http.RoundTripper
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if active.Load() == nil {
		return t.next.RoundTrip(r)
	}
	ctx, span := Start(r.Context(), t.name+" "+r.Method, trace.SpanKindClient,
		attribute.String("http.request.method", r.Method), attribute.String("server.address", r.URL.Hostname()))
	defer span.End()
	res, err := t.next.RoundTrip(r.WithContext(ctx))
	if err != nil {
		Fail(span, "transport error")
		return res, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", res.StatusCode))
	if res.StatusCode >= 500 {
		Fail(span, http.StatusText(res.StatusCode))
	}
	return res, nil
}

// CloseIdleConnections passes through, so http.Client.CloseIdleConnections works.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Package server is the tenant's MCP endpoint over HTTP: authentication,
// tier session limits, request caps, health, metrics and the audit log
// around the go-sdk streamable HTTP transport. One process serves one tenant.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/superviber/blue-operator/mcpserver/access"
	"github.com/superviber/blue-operator/mcpserver/tools"
	"github.com/superviber/blue-operator/mcpserver/tracing"
)

// Options configure a Server.
type Options struct {
	Tenant  string
	Version string
	// PublicURL is the endpoint clients use, e.g. https://acme.mcp.superviber.com/mcp.
	PublicURL string
	// MaxSessions is the tier's concurrent-session limit; 0 is unlimited.
	MaxSessions int
	// SessionIdle ends a session nobody used for this long, so a client that
	// vanished without DELETE frees its slot (default 5m).
	SessionIdle time.Duration
	// SessionEvictAfter is how long a session must have been unused before a
	// new one may take its slot on a full tier (default 30s).
	SessionEvictAfter time.Duration
	// SessionKey signs session ids, so that every replica can tell the ids
	// this tenant's servers issued from made-up ones; without it only this
	// process's ids verify.
	SessionKey []byte
	// MaxBodyBytes caps request bodies (default 1 MiB).
	MaxBodyBytes int64

	// TokenHashes ("sha256:<hex>") enable token auth; OIDCIssuer enables
	// OIDC auth instead.
	TokenHashes  []string
	OIDCIssuer   string
	OIDCAudience string
	// OIDCAllowedSubjects, OIDCAllowedGroups (the token's groups claim) and
	// OIDCAllowedEmailDomains narrow the callers the provider vouches for:
	// each list that is set must admit the caller; empty lists admit anyone.
	OIDCAllowedSubjects     []string
	OIDCAllowedGroups       []string
	OIDCAllowedEmailDomains []string
	// OIDCTiming bounds the requests to the provider (zero: the defaults).
	OIDCTiming OIDCTiming
	// HTTPClient reaches the OIDC provider (tests: a loopback issuer);
	// default: a client with OIDCTiming.FetchTimeout.
	HTTPClient *http.Client

	// Ready reports whether the tenant can be served (config loaded, access
	// not revoked); /readyz fails with its error, and, in OIDC mode, while
	// the provider has not been discovered.
	Ready func() error

	Log      *slog.Logger
	Registry *prometheus.Registry
}

// Server serves one tenant.
type Server struct {
	o        Options
	mcp      *mcp.Server
	handler  http.Handler
	metrics  *metrics
	sessions *sessions
	notReady atomic.Value // string: the last readiness failure logged, "" when ready
}

type metrics struct {
	calls    *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	sessions prometheus.Gauge
	authFail prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "blue_mcp_tool_calls_total", Help: "MCP tool calls by tool and outcome (success, blocked, rfc_required, error).",
		}, []string{"tool", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "blue_mcp_tool_duration_seconds", Help: "MCP tool call latency.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"tool"}),
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "blue_mcp_active_sessions", Help: "MCP sessions seen by this process within the idle timeout."}),
		authFail: prometheus.NewCounter(prometheus.CounterOpts{Name: "blue_mcp_auth_failures_total", Help: "Requests refused for a missing or invalid bearer token."}),
	}
	reg.MustRegister(m.calls, m.latency, m.sessions, m.authFail)
	return m
}

// New builds the server; tool handlers come from svc.
func New(ctx context.Context, o Options, svc *tools.Service) (*Server, error) {
	if o.Tenant == "" {
		return nil, fmt.Errorf("tenant name is empty")
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.SessionIdle == 0 {
		o.SessionIdle = 5 * time.Minute
	}
	if o.SessionEvictAfter == 0 {
		o.SessionEvictAfter = 30 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Ready == nil {
		o.Ready = func() error { return nil }
	}
	s := &Server{o: o, metrics: newMetrics(o.Registry)}
	s.sessions = newSessions(o.MaxSessions, o.SessionIdle, o.SessionEvictAfter, o.SessionKey, func(n int) { s.metrics.sessions.Set(float64(n)) })

	s.mcp = mcp.NewServer(&mcp.Implementation{Name: "blue", Title: "Blue (hosted for " + o.Tenant + ")", Version: o.Version}, &mcp.ServerOptions{
		Instructions: "Blue keeps this team's RFCs, spikes, ADRs, decisions, PRDs, post-mortems, runbooks, audits and dialogues. " +
			"Start with blue_status and blue_next. Documents are also resources at blue://docs/<kind plural>/<id>.",
	})
	if err := tools.Register(s.mcp, svc); err != nil {
		return nil, fmt.Errorf("register tools: %w", err)
	}
	s.mcp.AddReceivingMiddleware(s.audit)

	verifier, bearerOpts, gate, err := s.authenticator(ctx)
	if err != nil {
		return nil, err
	}
	streamable := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp }, &mcp.StreamableHTTPOptions{
		Stateless:           true,
		JSONResponse:        true,
		MaxRequestBodyBytes: o.MaxBodyBytes,
		// Behind an ingress the Host header is the tenant's public name;
		// hostGuard checks Host and Origin instead.
		DisableLocalhostProtection: true,
	})
	var mcpHandler http.Handler = s.sessions.handler(streamable)
	mcpHandler = auth.RequireBearerToken(noteRefusals(verifier), bearerOpts)(mcpHandler)
	mcpHandler = gate(s.countAuthFailures(challenge("blue-"+o.Tenant, mcpHandler)))
	mcpHandler = capBody(o.MaxBodyBytes, mcpHandler)
	mcpHandler = newHostGuard(o.PublicURL).handler(mcpHandler)

	mux := http.NewServeMux()
	mux.Handle("/mcp", mcpHandler)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.readyz)
	if o.OIDCIssuer != "" {
		mux.Handle("GET /.well-known/oauth-protected-resource", auth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
			Resource:               o.PublicURL,
			AuthorizationServers:   []string{o.OIDCIssuer},
			BearerMethodsSupported: []string{"header"},
			ResourceName:           "Blue MCP for " + o.Tenant,
		}))
	}
	s.handler = mux
	return s, nil
}

// authenticator is the token verifier, the bearer middleware's options and
// a gate in front of both (OIDC: 503 until the provider has been reached).
// In OIDC mode it starts the provider's discovery, in the background for as
// long as ctx lives: an unreachable provider makes the server not ready,
// never stops it.
func (s *Server) authenticator(ctx context.Context) (auth.TokenVerifier, *auth.RequireBearerTokenOptions, func(http.Handler) http.Handler, error) {
	if s.o.OIDCIssuer != "" {
		a, err := newOIDCAuth(s.o)
		if err != nil {
			return nil, nil, nil, err
		}
		go a.run(ctx)
		tenantReady := s.o.Ready
		s.o.Ready = func() error {
			if err := a.ready(); err != nil {
				return err
			}
			return tenantReady()
		}
		return a.verify, &auth.RequireBearerTokenOptions{
			ResourceMetadataURL: strings.TrimSuffix(s.o.PublicURL, "/mcp") + "/.well-known/oauth-protected-resource",
			ClockSkew:           OIDCLeeway,
		}, a.gate, nil
	}
	if len(s.o.OIDCAllowedSubjects)+len(s.o.OIDCAllowedGroups)+len(s.o.OIDCAllowedEmailDomains) > 0 {
		return nil, nil, nil, errors.New("the OIDC allow-lists apply only to OIDC auth")
	}
	v, err := tokenVerifier(s.o.TokenHashes)
	if err != nil {
		return nil, nil, nil, err
	}
	return v, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true}, func(h http.Handler) http.Handler { return h }, nil
}

// Handler serves /mcp, /healthz, /readyz (and the OIDC metadata document).
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves Prometheus metrics, for a separate port.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.o.Registry, promhttp.HandlerOpts{Registry: s.o.Registry})
}

// MetricsMux is the metrics port: /metrics, and the client-access report at
// access.Path (for the operator; the tenant's NetworkPolicy admits only the
// operator's and the metrics namespaces to this port).
func (s *Server) MetricsMux(report http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.MetricsHandler())
	if report != nil {
		mux.Handle(access.Path, report)
	}
	return mux
}

// readyz answers the unauthenticated probe with a status word only: why the
// tenant cannot be served (revoked access, a broken setting) is for the
// logs and metrics, not for whoever can reach the port.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	err := s.o.Ready()
	why := ""
	if err != nil {
		why = err.Error()
	}
	if prev, _ := s.notReady.Swap(why).(string); prev != why {
		if why != "" {
			s.o.Log.Warn("not ready", "event", "not_ready", "tenant", s.o.Tenant, "reason", why)
		} else {
			s.o.Log.Info("ready", "event", "ready", "tenant", s.o.Tenant)
		}
	}
	if err != nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// capBody refuses oversize bodies before anything reads them.
func capBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			http.Error(w, fmt.Sprintf("request body exceeds %d bytes", limit), http.StatusRequestEntityTooLarge)
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) countAuthFailures(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		why := new(string)
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), refusalKey{}, why)))
		if rec.code == http.StatusUnauthorized {
			s.metrics.authFail.Inc()
			attrs := []any{"event", "auth_refused", "tenant", s.o.Tenant, "remote", r.RemoteAddr}
			if *why != "" {
				attrs = append(attrs, "reason", *why)
			}
			s.o.Log.Warn("auth refused", attrs...)
		}
	})
}

type refusalKey struct{}

// noteRefusals records why the verifier refused a token, for the
// auth_refused log line (the bearer middleware keeps it to the response).
func noteRefusals(v auth.TokenVerifier) auth.TokenVerifier {
	return func(ctx context.Context, token string, r *http.Request) (*auth.TokenInfo, error) {
		ti, err := v(ctx, token, r)
		if why, ok := ctx.Value(refusalKey{}).(*string); ok && err != nil {
			*why = err.Error()
			if len(*why) > 300 {
				*why = strings.ToValidUTF8((*why)[:300], "") + "…"
			}
		}
		return ti, err
	}
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// audit writes one structured line per tool call: who, what, which
// document, the outcome and latency, and the AWS request id. Never
// arguments, content, tokens or secrets.
func (s *Server) audit(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if read, isRead := req.(*mcp.ReadResourceRequest); isRead {
			return s.auditRead(ctx, next, method, read)
		}
		call, isCall := req.(*mcp.CallToolRequest)
		if !isCall {
			return next(ctx, method, req)
		}
		ctx, caller, info := callContext(ctx, call.Extra)
		tool := ""
		if call.Params != nil {
			tool = call.Params.Name
		}
		if !s.knownTool(tool) {
			tool = "unknown" // bound the metric's label values
		}
		var meta map[string]any
		if call.Params != nil {
			meta = call.Params.Meta
		}
		ctx, span := s.startSpan(ctx, meta, "tools/call", tool)
		defer span.End()
		start := time.Now()
		res, err := next(ctx, method, req)
		elapsed := time.Since(start)
		outcome := "success"
		if r, isResult := res.(*mcp.CallToolResult); isResult && r != nil && r.IsError {
			outcome = "error"
		} else if info.Status != "" {
			outcome = info.Status
		}
		if err != nil {
			outcome = "error"
		}
		if isUnknownTool(err) {
			tool = "unknown"
		}
		endSpan(span, tool, outcome)
		s.metrics.calls.WithLabelValues(tool, outcome).Inc()
		s.metrics.latency.WithLabelValues(tool).Observe(elapsed.Seconds())
		s.o.Log.LogAttrs(ctx, slog.LevelInfo, "tool call", slog.String("event", "tool_call"), slog.String("tenant", s.o.Tenant),
			slog.String("caller", caller), slog.String("tool", tool), slog.String("doc_type", info.DocType), slog.String("doc_id", info.DocID),
			slog.String("outcome", outcome), slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000),
			slog.String("aws_request_id", info.AWSRequestID()))
		return res, err
	}
}

// callContext is what every audited request carries down: the call info the
// layers below fill in, and the authenticated caller (unknown without one).
func callContext(ctx context.Context, extra *mcp.RequestExtra) (context.Context, string, *tools.CallInfo) {
	info := &tools.CallInfo{}
	ctx = tools.WithCallInfo(ctx, info)
	caller := "unknown"
	if extra != nil && extra.TokenInfo != nil {
		caller = extra.TokenInfo.UserID
		ctx = WithCaller(ctx, caller)
	}
	return ctx, caller, info
}

// isUnknownTool is go-sdk's answer to a call of a tool it does not serve.
func isUnknownTool(err error) bool {
	var rpc *jsonrpc.Error
	return errors.As(err, &rpc) && rpc.Code == jsonrpc.CodeInvalidParams && strings.HasPrefix(rpc.Message, "unknown tool")
}

// auditRead writes the audit line of a resources/read, as for a tool call:
// the caller, the document's address and the outcome, never its content.
func (s *Server) auditRead(ctx context.Context, next mcp.MethodHandler, method string, req *mcp.ReadResourceRequest) (mcp.Result, error) {
	ctx, caller, info := callContext(ctx, req.Extra)
	var meta map[string]any
	if req.Params != nil {
		meta = req.Params.Meta
	}
	ctx, span := s.startSpan(ctx, meta, "resources/read", "")
	defer span.End()
	start := time.Now()
	res, err := next(ctx, method, req)
	elapsed := time.Since(start)
	outcome := "success"
	if err != nil {
		outcome = "error"
	}
	endSpan(span, "", outcome)
	uri := ""
	if req.Params != nil && len(req.Params.URI) < 256 {
		uri = req.Params.URI
	}
	s.metrics.calls.WithLabelValues("resources/read", outcome).Inc()
	s.metrics.latency.WithLabelValues("resources/read").Observe(elapsed.Seconds())
	s.o.Log.LogAttrs(ctx, slog.LevelInfo, "resource read", slog.String("event", "resource_read"), slog.String("tenant", s.o.Tenant),
		slog.String("caller", caller), slog.String("uri", uri), slog.String("outcome", outcome),
		slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000), slog.String("aws_request_id", info.AWSRequestID()))
	return res, err
}

// startSpan starts the server span of a call, a child of the trace context
// the client sent in _meta; name is "<method> <tool>". Its attributes are
// the tool, the tenant and, at the end, the outcome: never the arguments,
// the result or a document. Off (no OTLP endpoint) it costs nothing.
func (s *Server) startSpan(ctx context.Context, meta map[string]any, method, tool string) (context.Context, trace.Span) {
	if !tracing.Enabled() {
		return tracing.Start(ctx, "", trace.SpanKindServer)
	}
	ctx = tracing.ExtractMeta(ctx, meta)
	name := method
	attrs := []attribute.KeyValue{attribute.String("rpc.system", "mcp"), attribute.String("mcp.method.name", method), attribute.String("blue.tenant", s.o.Tenant)}
	if tool != "" {
		name += " " + tool
		attrs = append(attrs, attribute.String("gen_ai.tool.name", tool))
	}
	return tracing.Start(ctx, name, trace.SpanKindServer, attrs...)
}

// endSpan records the call's outcome (and the tool, once known to exist).
func endSpan(span trace.Span, tool, outcome string) {
	if !span.IsRecording() {
		return
	}
	if tool == "unknown" {
		span.SetName("tools/call unknown")
		span.SetAttributes(attribute.String("gen_ai.tool.name", tool))
	}
	span.SetAttributes(attribute.String("blue.outcome", outcome))
	if outcome == "error" {
		tracing.Fail(span, "error")
	}
}

func (s *Server) knownTool(name string) bool {
	return strings.HasPrefix(name, "blue_") && len(name) < 64 && !strings.ContainsAny(name, " \n\t")
}

type callerKey struct{}

// WithCaller records the authenticated caller for the layers below (the
// AWS session name names it).
func WithCaller(ctx context.Context, caller string) context.Context {
	return context.WithValue(ctx, callerKey{}, caller)
}

// Caller is the authenticated caller, "" outside a call.
func Caller(ctx context.Context) string {
	c, _ := ctx.Value(callerKey{}).(string)
	return c
}

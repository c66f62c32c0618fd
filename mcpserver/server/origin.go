package server

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// The MCP transport spec asks servers to validate Origin, so that a web
// page cannot drive the endpoint from a browser through DNS rebinding, and
// to refuse it with 403 when it is present and not allowed. The same guard
// checks Host: the endpoint answers to the tenant's public host (from
// PublicURL, which the operator sets from spec.endpoint.host) and to
// loopback, where the local stack and port-forwards reach it. Health
// probes and metrics, which the kubelet and Prometheus reach by pod IP, are
// not behind it.

// hostGuard lets through requests whose Host is the public host or
// loopback, and whose Origin, if any, is the public origin or loopback.
type hostGuard struct {
	publicHost string // lower case, without port
}

func newHostGuard(publicURL string) hostGuard {
	u, err := url.Parse(publicURL)
	if err != nil {
		return hostGuard{}
	}
	return hostGuard{publicHost: strings.ToLower(u.Hostname())}
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func hostOnly(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	return strings.ToLower(strings.Trim(h, "[]"))
}

// allowedHost reports whether a Host header names this endpoint.
func (g hostGuard) allowedHost(hostport string) bool {
	h := hostOnly(hostport)
	return h != "" && (h == g.publicHost || isLoopbackHost(h))
}

// allowedOrigin reports whether a browser page of this origin may call the
// endpoint: the tenant's own public origin, or a page on loopback.
func (g hostGuard) allowedOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return (h == g.publicHost && u.Scheme == "https") || isLoopbackHost(h)
}

func (g hostGuard) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.allowedHost(r.Host) {
			http.Error(w, "this endpoint answers only to its own host name", http.StatusForbidden)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !g.allowedOrigin(origin) {
			http.Error(w, "requests from this origin are not allowed", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

package localstack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/test/node"
)

// The ingress controller: Traefik (built by hack/setup-ingress.sh into the
// node's images), watching the IngressClass the operator's Ingresses name,
// behind a NodePort Service, as a cloud's load balancer reaches it.
const (
	ingressClass = "traefik"
	traefikName  = "traefik"
	traefikImage = "docker.io/superviber/traefik:node"
	// The node ports of Traefik's HTTP and HTTPS entry points.
	ingressHTTPNodePort  = 30080
	ingressHTTPSNodePort = 30443
)

// traefikArgs run Traefik with the Kubernetes Ingress provider only (no
// dashboard, no API, no file provider), an HTTP and an HTTPS entry point,
// and /ping for its readiness probe. Traefik's routers from Ingresses serve
// TLS only on an entry point that has TLS on, as its chart sets websecure;
// there each Ingress's spec.tls Secret is served by SNI. Its log is plain
// text, with an access log line per request (status, duration, the
// backend's error), which the end-to-end test shows when it fails. Its level
// is DEBUG because Traefik logs its proxy's own errors (a backend that
// closed mid-answer, a client that went away) only at that level.
var traefikArgs = []string{
	"--entrypoints.web.address=:8000",
	"--entrypoints.websecure.address=:8443",
	"--entrypoints.websecure.http.tls=true",
	"--entrypoints.traefik.address=:8080",
	"--ping=true",
	"--providers.kubernetesingress=true",
	"--providers.kubernetesingress.ingressclass=" + ingressClass,
	"--global.checknewversion=false",
	"--global.sendanonymoususage=false",
	"--log.level=DEBUG",
	"--log.nocolor=true",
	"--accesslog=true",
}

// ingressObjects are Traefik's ServiceAccount, the ClusterRole its Ingress
// provider needs, the IngressClass, its Deployment and NodePort Service.
func ingressObjects() []client.Object {
	labels := map[string]string{"app.kubernetes.io/name": traefikName}
	meta := metav1.ObjectMeta{Namespace: IngressNamespace, Name: traefikName, Labels: labels}
	read := []string{"get", "list", "watch"}
	return []client.Object{
		&corev1.ServiceAccount{ObjectMeta: meta},
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: traefikName + "-ingress"},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"services", "secrets", "nodes", "endpoints"}, Verbs: read},
				{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: read},
				{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses", "ingressclasses"}, Verbs: read},
				{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses/status"}, Verbs: []string{"update"}},
			},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: traefikName + "-ingress"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: traefikName + "-ingress"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: IngressNamespace, Name: traefikName}},
		},
		&networkingv1.IngressClass{
			ObjectMeta: metav1.ObjectMeta{Name: ingressClass},
			Spec:       networkingv1.IngressClassSpec{Controller: "traefik.io/ingress-controller"},
		},
		&appsv1.Deployment{
			ObjectMeta: meta,
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{
						ServiceAccountName: traefikName,
						SecurityContext: &corev1.PodSecurityContext{
							RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532),
							SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
						Containers: []corev1.Container{{
							Name: traefikName, Image: traefikImage, ImagePullPolicy: corev1.PullNever,
							Args: traefikArgs,
							Ports: []corev1.ContainerPort{
								{Name: "web", ContainerPort: 8000}, {Name: "websecure", ContainerPort: 8443}, {Name: "ping", ContainerPort: 8080},
							},
							ReadinessProbe: &corev1.Probe{
								ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ping", Port: intstr.FromString("ping")}},
								PeriodSeconds: 1,
							},
							SecurityContext: &corev1.SecurityContext{
								AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
								Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							},
						}},
					},
				},
			},
		},
		&corev1.Service{
			ObjectMeta: meta,
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeNodePort,
				Selector: labels,
				Ports: []corev1.ServicePort{
					{Name: "web", Port: 80, TargetPort: intstr.FromString("web"), NodePort: ingressHTTPNodePort},
					{Name: "websecure", Port: 443, TargetPort: intstr.FromString("websecure"), NodePort: ingressHTTPSNodePort},
				},
			},
		},
	}
}

// startIngress runs Traefik on the node and waits for it to be available.
func (s *Stack) startIngress(ctx context.Context) error {
	for _, o := range ingressObjects() {
		if err := s.Client.Create(ctx, o); err != nil {
			return fmt.Errorf("%T %s: %w", o, o.GetName(), err)
		}
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(s.Internet.CAPEM)
	s.ingress = &ingress{node: s.Node, log: s.o.Log.With("component", "ingress"), roots: roots, entries: map[string]*entry{}}
	s.stops = append(s.stops, func() error { s.ingress.close(); return nil })
	return s.waitAvailable(ctx, IngressNamespace, traefikName, 2*time.Minute)
}

// ingress is this machine's way to the tenants: one local port per tenant,
// standing in for the tenant's DNS name, whose requests go to Traefik's
// NodePort from the node's network with the tenant's host (and over TLS,
// verified for that host, when its endpoint has a certificate).
type ingress struct {
	node  *node.Node
	log   *slog.Logger
	roots *x509.CertPool
	mu    sync.Mutex
	// entries by tenant
	entries map[string]*entry
}

type entry struct {
	url string
	srv *http.Server
}

// entryFor starts (once) the tenant's local entry and returns its MCP URL.
func (in *ingress) entryFor(bt *bluev1.BlueTenant) (string, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if e := in.entries[bt.Name]; e != nil {
		return e.url, nil
	}
	host := bt.Spec.Endpoint.Host
	scheme, port := "http", ingressHTTPNodePort
	var tlsConf *tls.Config
	if bt.Spec.Endpoint.TLSSecretName != "" {
		scheme, port = "https", ingressHTTPSNodePort
		tlsConf = &tls.Config{RootCAs: in.roots, ServerName: host, MinVersion: tls.VersionTLS12}
	}
	nodePort := net.JoinHostPort(node.NodeIP, strconv.Itoa(port))
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host, r.Out.Host = scheme, host, host
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return in.node.DialFromNetwork(ctx, nodePort)
			},
			TLSClientConfig: tlsConf,
		},
		// MCP answers with event streams: every chunk goes out at once.
		FlushInterval: -1,
		// A client that hangs up mid-stream is not news.
		ErrorLog: slog.NewLogLogger(in.log.Handler(), slog.LevelDebug),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	e := &entry{url: "http://" + l.Addr().String() + "/mcp", srv: &http.Server{Handler: in.traced(proxy), ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = e.srv.Serve(l) }()
	in.entries[bt.Name] = e
	return e.url, nil
}

// traced logs, at debug level, a request whose answer was not finished:
// whether its client had hung up first, and which connection to Traefik it
// used (Traefik's log names the same connection by its port), so that a cut
// answer says which end closed.
func (in *ingress) traced(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var upstream atomic.Value
		r = r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) {
				upstream.Store(info.Conn.LocalAddr().String() + " reused=" + strconv.FormatBool(info.Reused))
			},
		}))
		defer func() {
			v := recover()
			if v != nil || r.Context().Err() != nil {
				in.log.Debug("answer not finished", "upstream_conn", upstream.Load(),
					"client_gone", r.Context().Err() != nil, "aborted", v != nil)
			}
			if v != nil {
				panic(v) // http.ErrAbortHandler: the server resets the client's connection
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (in *ingress) close() {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, e := range in.entries {
		_ = e.srv.Close()
	}
	in.entries = map[string]*entry{}
}

// Endpoint is a tenant's MCP URL on this machine: its local entry, once
// Traefik routes it to the tenant's server (which answers a request without
// a token 401, where Traefik answers 404 for a host it has no route for).
func (s *Stack) Endpoint(ctx context.Context, tenant string) (string, error) {
	var bt bluev1.BlueTenant
	if err := s.Client.Get(ctx, client.ObjectKey{Name: tenant}, &bt); err != nil {
		return "", err
	}
	url, err := s.ingress.entryFor(&bt)
	if err != nil {
		return "", err
	}
	var last string
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		_ = resp.Body.Close()
		last = resp.Status
		return resp.StatusCode == http.StatusUnauthorized, nil
	})
	if err != nil {
		return "", errors.Join(fmt.Errorf("%s: no route through the ingress controller (last answer: %s)", tenant, last), err)
	}
	return url, nil
}

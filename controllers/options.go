package controllers

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// FieldManager is the server-side apply field manager of every object the
// operator writes.
const FieldManager = "blue-operator"

// Options are the operator's settings; cmd/manager fills them from flags.
type Options struct {
	// DefaultImage is the blue-mcp server image when a tenant names none.
	DefaultImage string
	// HopRoleARNTemplate gives a tenant's IRSA hop role when spec.aws.hopRoleArn
	// is empty; "{tenant}" is replaced by the tenant name.
	HopRoleARNTemplate string
	// IngressClassName is the Ingress class of every tenant Ingress.
	IngressClassName string
	// IngressAnnotations are added to every tenant Ingress (for example the
	// AWS Load Balancer Controller's group.name and ssl-policy).
	IngressAnnotations map[string]string
	// IngressNamespace is where the ingress controller's pods run; only they
	// may reach the MCP port.
	IngressNamespace string
	// IngressCIDRs also may reach the MCP port: load balancers that send
	// traffic straight to pod IPs (ALB in IP mode) come from the VPC, not
	// from a namespace.
	IngressCIDRs []string
	// EgressDeniedCIDRs are addresses tenant pods may not reach, on any
	// port, besides those always denied: link-local (the cloud's metadata
	// service) and the API server's addresses (read from the kubernetes
	// Service's EndpointSlices). For example a private API endpoint reached
	// at other addresses, or the platform's own services.
	EgressDeniedCIDRs []string
	// MetricsNamespace is where the Prometheus scraper runs; only it may reach
	// the metrics port.
	MetricsNamespace string
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int
	// OperatorNamespace is where the operator runs; the tenant's
	// NetworkPolicy lets it reach the metrics port, where the server's
	// client-access report is. Empty: only MetricsNamespace may.
	OperatorNamespace string
	// AccessInterval is how often the servers' client-access reports are
	// read into the ClientAccess condition (DefaultAccessInterval when zero).
	AccessInterval time.Duration
	// PodPortsAnnotation, when set, is a pod annotation giving each container
	// port's address as name=host:port pairs, read instead of the pod IP (the
	// local stack's stand-in kubelet runs pods as processes on loopback
	// ports). Empty in a cluster.
	PodPortsAnnotation string
}

// DefaultOptions are the settings a plain `manager` run gets.
func DefaultOptions() Options {
	return Options{
		DefaultImage:            "ghcr.io/superviber/blue-mcp:latest",
		IngressClassName:        "alb",
		IngressNamespace:        "ingress-nginx",
		MetricsNamespace:        "monitoring",
		OperatorNamespace:       "blue-system",
		AccessInterval:          DefaultAccessInterval,
		MaxConcurrentReconciles: 4,
	}
}

// Validate reports the first setting that cannot work.
func (o Options) Validate() error {
	if o.DefaultImage == "" {
		return fmt.Errorf("--default-image must not be empty")
	}
	if o.HopRoleARNTemplate != "" && !strings.Contains(o.HopRoleARNTemplate, "{tenant}") {
		return fmt.Errorf("--hop-role-arn-template %q must contain {tenant}", o.HopRoleARNTemplate)
	}
	for _, c := range o.IngressCIDRs {
		if _, _, err := net.ParseCIDR(c); err != nil {
			return fmt.Errorf("--ingress-cidr %q: %w", c, err)
		}
	}
	for _, c := range o.EgressDeniedCIDRs {
		p, err := netip.ParsePrefix(c)
		switch {
		case err != nil:
			return fmt.Errorf("--egress-denied-cidr %q: %w", c, err)
		case p.Bits() == 0:
			return fmt.Errorf("--egress-denied-cidr %q would deny all HTTPS egress, and the API server refuses such a policy", c)
		case p.Addr().Is4In6():
			return fmt.Errorf("--egress-denied-cidr %q: write an IPv4 range as IPv4", c)
		}
	}
	if o.IngressNamespace == "" && len(o.IngressCIDRs) == 0 {
		return fmt.Errorf("set --ingress-namespace or --ingress-cidr: nothing could reach the MCP port")
	}
	if o.AccessInterval < 0 {
		return fmt.Errorf("--client-access-interval must not be negative, got %s", o.AccessInterval)
	}
	if o.MaxConcurrentReconciles < 1 {
		return fmt.Errorf("--max-concurrent-reconciles must be at least 1, got %d", o.MaxConcurrentReconciles)
	}
	return nil
}

// ParseAnnotations turns "key=value" flag values into a map.
func ParseAnnotations(kvs []string) (map[string]string, error) {
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--ingress-annotation %q: want key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

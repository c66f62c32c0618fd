package controllers

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/superviber/blue-operator/api/contract"
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
	// port's address as name=host:port pairs, read instead of the pod IP: for
	// tests whose pods run nowhere, with a local server standing in for a
	// pod's port. Empty in a cluster (the manager has no flag for it).
	PodPortsAnnotation string
	// AWSEndpoints, when set, are where every tenant pod sends its AWS calls
	// in place of AWS's regional public endpoints.
	AWSEndpoints AWSEndpoints
	// InfisicalRefresh, when set, is how often every tenant's server
	// re-reads its Infisical settings (the server's 30 s otherwise): the
	// longest a client's revocation or rotation waits to take effect,
	// against one listing per interval per replica at the client's
	// Infisical.
	InfisicalRefresh time.Duration
	// AccessCheckInterval, when set, is how often every tenant's server
	// checks the client's side for its client-access report (the server's
	// 30 s otherwise).
	AccessCheckInterval time.Duration
}

// AWSEndpoints are URLs of AWS services for every tenant pod: VPC interface
// endpoints (so the pods' AWS traffic stays off the internet), FIPS
// endpoints, or a test environment's servers; "{region}" in one is replaced
// by the tenant's spec.aws.region. Empty fields leave the SDK's regional
// endpoint. They are the platform's choice, for all tenants: no BlueTenant
// can point a pod's credentials elsewhere. Plain http only where the path
// is private (a test network): STS's answers carry session credentials.
type AWSEndpoints struct {
	STS, S3, DynamoDB string
}

// awsEndpoint is one of AWSEndpoints with the operator flag that sets it and
// the pods' variable that carries it.
type awsEndpoint struct{ flag, env, url string }

// list is every endpoint, set or not, in a fixed order (the pods'
// environment is hashed).
func (e AWSEndpoints) list() []awsEndpoint {
	return []awsEndpoint{
		{"--aws-sts-endpoint", contract.EnvSTSEndpoint, e.STS},
		{"--aws-s3-endpoint", contract.EnvS3Endpoint, e.S3},
		{"--aws-dynamodb-endpoint", contract.EnvDynamoDBEndpoint, e.DynamoDB},
	}
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
	for _, e := range o.AWSEndpoints.list() {
		if err := checkEndpoint(e.url); err != nil {
			return fmt.Errorf("%s %q: %w", e.flag, e.url, err)
		}
	}
	if o.IngressNamespace == "" && len(o.IngressCIDRs) == 0 {
		return fmt.Errorf("set --ingress-namespace or --ingress-cidr: nothing could reach the MCP port")
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--tenant-infisical-refresh", o.InfisicalRefresh}, {"--tenant-access-check-interval", o.AccessCheckInterval}} {
		if d.v != 0 && d.v < time.Second {
			return fmt.Errorf("%s must be at least 1s (or 0: the server's default), got %s", d.flag, d.v)
		}
	}
	// The server serves its cached settings through an Infisical outage for
	// its grace period (5 minutes), counted from the last good refresh: a
	// longer refresh would leave no grace at all.
	if o.InfisicalRefresh > maxInfisicalRefresh {
		return fmt.Errorf("--tenant-infisical-refresh must be at most %s, the servers' grace period for an Infisical outage, got %s", maxInfisicalRefresh, o.InfisicalRefresh)
	}
	if o.AccessInterval < 0 {
		return fmt.Errorf("--client-access-interval must not be negative, got %s", o.AccessInterval)
	}
	if o.MaxConcurrentReconciles < 1 {
		return fmt.Errorf("--max-concurrent-reconciles must be at least 1, got %d", o.MaxConcurrentReconciles)
	}
	return nil
}

// checkEndpoint accepts an empty URL (AWS's own endpoint) or an absolute
// http(s) URL of a host, on port 443 (the only port the tenants'
// NetworkPolicy lets a pod send to besides DNS), without credentials, query
// or fragment. "{region}" stands for the tenant's region.
func checkEndpoint(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(strings.ReplaceAll(raw, RegionPlaceholder, "eu-west-1"))
	switch {
	case err != nil:
		return err
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("want an https:// URL such as https://sts.{region}.amazonaws.com")
	case u.Hostname() == "":
		return fmt.Errorf("no host")
	case u.User != nil:
		return fmt.Errorf("must not carry credentials")
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("must not have a query or fragment")
	case u.Scheme == "https" && u.Port() != "" && u.Port() != "443",
		u.Scheme == "http" && u.Port() != "443":
		return fmt.Errorf("must be on port 443, the only port tenant pods may send to (their NetworkPolicy)")
	}
	return nil
}

// maxInfisicalRefresh is the servers' grace period (tenantconfig's
// DefaultGrace; the operator imports nothing of the server).
const maxInfisicalRefresh = 5 * time.Minute

// RegionPlaceholder in an AWS endpoint is replaced by the tenant's
// spec.aws.region: VPC endpoints serve their own region only.
const RegionPlaceholder = "{region}"

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

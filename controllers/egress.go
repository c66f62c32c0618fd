package controllers

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	netv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// A tenant's pods may open HTTPS to anywhere (Infisical, STS, S3, DynamoDB
// and the client's API Gateway all speak 443, at addresses no one can list)
// except to what would let them act as something other than their tenant:
// the cloud's metadata service, which hands out the node's credentials, and
// the cluster's API server, which holds every tenant's secrets and, on a
// managed control plane, listens on 443 itself.

// alwaysDeniedCIDRs are link-local ranges: the instance metadata service
// (169.254.169.254, and fd00:ec2::254 on IPv6 in AWS) and everything else
// the cloud serves there. Nothing a tenant needs lives in them.
var alwaysDeniedCIDRs = []string{"169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"}

// kubernetesService is the Service whose EndpointSlices give the API
// server's addresses.
var kubernetesService = struct{ namespace, name string }{metav1.NamespaceDefault, "kubernetes"}

// egressPeers is where a tenant pod's HTTPS may go: every IPv4 and IPv6
// address but the denied ones (always-denied, the operator's
// --egress-denied-cidr, the API server's), each family in one ipBlock with
// its exceptions sorted, so the policy is the same whatever order they came
// in. The API server refuses a policy whose exception is not strictly inside
// its block, which would leave the tenant on its old policy: so an IPv4
// address written the IPv6 way (::ffff:a.b.c.d) goes into the IPv4 block as
// what it is, and an entry that is not an address or a prefix, or that
// would except a whole family, is left out (Options.Validate refuses such
// flags; they can only come from the cluster's EndpointSlices).
func egressPeers(denied []string) []*netv1ac.NetworkPolicyPeerApplyConfiguration {
	var v4, v6 []string
	for _, d := range slices.Concat(alwaysDeniedCIDRs, denied) {
		p, ok := deniedPrefix(d)
		if !ok {
			continue
		}
		if p.Addr().Is4() {
			v4 = append(v4, p.String())
		} else {
			v6 = append(v6, p.String())
		}
	}
	block := func(all string, except []string) *netv1ac.NetworkPolicyPeerApplyConfiguration {
		slices.Sort(except)
		return netv1ac.NetworkPolicyPeer().WithIPBlock(netv1ac.IPBlock().WithCIDR(all).WithExcept(slices.Compact(except)...))
	}
	return []*netv1ac.NetworkPolicyPeerApplyConfiguration{block("0.0.0.0/0", v4), block("::/0", v6)}
}

// deniedPrefix reads an address or a prefix as the masked prefix an ipBlock
// exception can hold: IPv4-mapped IPv6 as IPv4, never a whole family.
func deniedPrefix(s string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil || a.Zone() != "" {
			return netip.Prefix{}, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, false
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	p = p.Masked()
	return p, p.IsValid() && p.Bits() > 0
}

// apiServerAddresses are the addresses in the kubernetes Service's own
// EndpointSlice (the one the API server writes, named like the Service;
// any other slice labelled for it could be anyone's), ready or not (one
// that is starting is the API server still).
func apiServerAddresses(slicesOf []discoveryv1.EndpointSlice) []string {
	var out []string
	for _, s := range slicesOf {
		if s.Namespace != kubernetesService.namespace || s.Name != kubernetesService.name {
			continue
		}
		for _, e := range s.Endpoints {
			for _, a := range e.Addresses {
				if net.ParseIP(a) != nil {
					out = append(out, a)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// apiServerMemory keeps every API server address seen in the last
// rememberAPIServer: an API server that is draining, or whose lease lapsed,
// leaves the slice while it may still serve, and a policy that forgot it at
// once would let tenants reach it meanwhile.
type apiServerMemory struct {
	mu   sync.Mutex
	seen map[string]time.Time
	// warned: the absence of any address was logged (once, not per
	// tenant).
	warned bool
}

const rememberAPIServer = time.Hour

// firstMissing says whether this is the first time in a row that the
// cluster publishes no address.
func (m *apiServerMemory) firstMissing() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	first := !m.warned
	m.warned = true
	return first
}

// remember records the addresses published now and returns them with
// those seen within rememberAPIServer, sorted.
func (m *apiServerMemory) remember(now time.Time, published []string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]time.Time{}
	}
	for _, a := range published {
		m.seen[a] = now
	}
	if len(published) > 0 {
		m.warned = false
	}
	var out []string
	for a, at := range m.seen {
		if now.Sub(at) > rememberAPIServer {
			delete(m.seen, a)
			continue
		}
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// deniedEgress is what a tenant's pods may not reach besides link-local: the
// operator's --egress-denied-cidr and the API server's addresses as the
// cluster publishes them now, and as it did within the last hour (from the
// cache: the operator watches them and re-applies every tenant's policy when
// they move).
func (r *BlueTenantReconciler) deniedEgress(ctx context.Context) ([]string, error) {
	var list discoveryv1.EndpointSliceList
	if err := r.Client.List(ctx, &list, client.InNamespace(kubernetesService.namespace),
		client.MatchingLabels{discoveryv1.LabelServiceName: kubernetesService.name}); err != nil {
		return nil, fmt.Errorf("list the API server's endpoints: %w", err)
	}
	published := apiServerAddresses(list.Items)
	if len(published) == 0 && r.apiServers.firstMissing() {
		// Nothing to deny: said, not silent (a cluster whose API server
		// publishes no endpoints needs --egress-denied-cidr).
		log.FromContext(ctx).Info("the kubernetes Service's EndpointSlice lists no API server address; set --egress-denied-cidr to deny the API server to tenant pods",
			"event", "apiserver_addresses_unknown")
	}
	return slices.Concat(r.Options.EgressDeniedCIDRs, r.apiServers.remember(time.Now(), published)), nil
}

// apiServerMoved maps a change of the API server's EndpointSlice to a
// reconcile of every tenant (each policy names its addresses). The addresses
// in the event's object are remembered here, not only when a reconcile lists
// the cache: the API server rewrites its own slice within its endpoint
// interval, and an address it published for a moment would otherwise be
// lost if the rewrite reached the cache before the reconcile ran.
func (r *BlueTenantReconciler) apiServerMoved(ctx context.Context, obj client.Object) []reconcile.Request {
	if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
		r.apiServers.remember(time.Now(), apiServerAddresses([]discoveryv1.EndpointSlice{*s}))
	}
	return r.everyTenant(ctx)
}

// everyTenant lists a reconcile request for every tenant.
func (r *BlueTenantReconciler) everyTenant(ctx context.Context) []reconcile.Request {
	var list bluev1.BlueTenantList
	if err := r.Client.List(ctx, &list); err != nil {
		log.FromContext(ctx).Error(err, "list tenants to re-apply their NetworkPolicies", "event", "tenant_list_failed")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, t := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: t.Name}})
	}
	return reqs
}

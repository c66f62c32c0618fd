package controllers

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	netv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
// in. Entries that are not CIDRs (Options.Validate refuses them in flags;
// the API server's are addresses) are taken as single addresses.
func egressPeers(denied []string) []*netv1ac.NetworkPolicyPeerApplyConfiguration {
	var v4, v6 []string
	for _, d := range slices.Concat(alwaysDeniedCIDRs, denied) {
		p, err := netip.ParsePrefix(d)
		if err != nil {
			a, aerr := netip.ParseAddr(d)
			if aerr != nil {
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p = p.Masked(); p.Addr().Is4() {
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

// apiServerAddresses are the addresses in the kubernetes Service's
// EndpointSlices, ready or not (one that is starting is the API server
// still).
func apiServerAddresses(slicesOf []discoveryv1.EndpointSlice) []string {
	var out []string
	for _, s := range slicesOf {
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

// deniedEgress is what a tenant's pods may not reach besides link-local: the
// operator's --egress-denied-cidr and the API server's addresses as the
// cluster publishes them now (from the cache: the operator watches them and
// re-applies every tenant's policy when they move).
func (r *BlueTenantReconciler) deniedEgress(ctx context.Context) ([]string, error) {
	var list discoveryv1.EndpointSliceList
	if err := r.Client.List(ctx, &list, client.InNamespace(kubernetesService.namespace),
		client.MatchingLabels{discoveryv1.LabelServiceName: kubernetesService.name}); err != nil {
		return nil, fmt.Errorf("list the API server's endpoints: %w", err)
	}
	return slices.Concat(r.Options.EgressDeniedCIDRs, apiServerAddresses(list.Items)), nil
}

// everyTenant maps a change of the API server's endpoints to a reconcile of
// every tenant: each policy names them.
func (r *BlueTenantReconciler) everyTenant(ctx context.Context, _ client.Object) []reconcile.Request {
	var list bluev1.BlueTenantList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, t := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: t.Name}})
	}
	return reqs
}

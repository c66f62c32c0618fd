package controllers

import (
	"slices"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
)

func TestEgressPeers(t *testing.T) {
	cases := []struct {
		name           string
		denied         []string
		wantV4, wantV6 []string
	}{
		{"link-local only", nil,
			[]string{"169.254.0.0/16"}, []string{"fd00:ec2::254/128", "fe80::/10"}},
		{"API server addresses become single hosts", []string{"10.0.0.10", "2001:db8::1"},
			[]string{"10.0.0.10/32", "169.254.0.0/16"}, []string{"2001:db8::1/128", "fd00:ec2::254/128", "fe80::/10"}},
		{"CIDRs are masked, sorted, deduplicated", []string{"192.168.7.9/16", "10.1.0.0/16", "192.168.0.0/16", "169.254.0.0/16"},
			[]string{"10.1.0.0/16", "169.254.0.0/16", "192.168.0.0/16"}, []string{"fd00:ec2::254/128", "fe80::/10"}},
		{"garbage is skipped, not allowed", []string{"not-an-address", ""},
			[]string{"169.254.0.0/16"}, []string{"fd00:ec2::254/128", "fe80::/10"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			peers := egressPeers(tc.denied)
			if len(peers) != 2 {
				t.Fatalf("%d peers, want one per address family", len(peers))
			}
			if got := *peers[0].IPBlock.CIDR; got != "0.0.0.0/0" {
				t.Errorf("IPv4 block %s", got)
			}
			if got := *peers[1].IPBlock.CIDR; got != "::/0" {
				t.Errorf("IPv6 block %s", got)
			}
			if got := peers[0].IPBlock.Except; !slices.Equal(got, tc.wantV4) {
				t.Errorf("IPv4 except %v, want %v", got, tc.wantV4)
			}
			if got := peers[1].IPBlock.Except; !slices.Equal(got, tc.wantV6) {
				t.Errorf("IPv6 except %v, want %v", got, tc.wantV6)
			}
		})
	}
}

func TestAPIServerAddresses(t *testing.T) {
	slicesOf := []discoveryv1.EndpointSlice{
		{Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.12"}}, {Addresses: []string{"10.0.0.11", "bogus"}}}},
		{Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.11"}}, {Addresses: []string{"2001:db8::5"}}}},
	}
	got := apiServerAddresses(slicesOf)
	want := []string{"10.0.0.11", "10.0.0.12", "2001:db8::5"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

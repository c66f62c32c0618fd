package controllers

import (
	"slices"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
		// The API server refuses an exception outside its block or equal to
		// it: the tenant would keep its old policy.
		{"IPv4-mapped addresses go into the IPv4 block", []string{"::ffff:10.0.0.9", "::ffff:10.1.0.0/112"},
			[]string{"10.0.0.9/32", "10.1.0.0/16", "169.254.0.0/16"}, []string{"fd00:ec2::254/128", "fe80::/10"}},
		{"a whole family is never excepted", []string{"0.0.0.0/0", "::/0", "::ffff:0.0.0.0/96"},
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
	own := metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}
	slicesOf := []discoveryv1.EndpointSlice{
		{ObjectMeta: own, Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.12"}}, {Addresses: []string{"10.0.0.11", "bogus"}}}},
		{ObjectMeta: own, Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.11"}}, {Addresses: []string{"2001:db8::5"}}}},
		// Labelled for the Service by someone else: not the API server's.
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes-extra"}, Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"::ffff:10.9.9.9"}}}},
	}
	got := apiServerAddresses(slicesOf)
	want := []string{"10.0.0.11", "10.0.0.12", "2001:db8::5"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestAPIServerMemory(t *testing.T) {
	var m apiServerMemory
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	steps := []struct {
		at        time.Duration
		published []string
		want      []string
	}{
		{0, []string{"10.0.0.11", "10.0.0.12"}, []string{"10.0.0.11", "10.0.0.12"}},
		// .12 drains and leaves the slice: still denied.
		{time.Minute, []string{"10.0.0.11"}, []string{"10.0.0.11", "10.0.0.12"}},
		// A new one joins.
		{30 * time.Minute, []string{"10.0.0.11", "10.0.0.13"}, []string{"10.0.0.11", "10.0.0.12", "10.0.0.13"}},
		// An hour after .12 was last seen it is forgotten.
		{time.Hour + 2*time.Minute, []string{"10.0.0.11", "10.0.0.13"}, []string{"10.0.0.11", "10.0.0.13"}},
		// Nothing published: what was seen within the hour stays.
		{time.Hour + 10*time.Minute, nil, []string{"10.0.0.11", "10.0.0.13"}},
	}
	for _, s := range steps {
		if got := m.remember(t0.Add(s.at), s.published); !slices.Equal(got, s.want) {
			t.Errorf("at %s with %v published: %v, want %v", s.at, s.published, got, s.want)
		}
	}
	if !m.firstMissing() || m.firstMissing() {
		t.Error("the absence of addresses is to be said once")
	}
	m.remember(t0, []string{"10.0.0.11"})
	if !m.firstMissing() {
		t.Error("after addresses came back, their absence is to be said again")
	}
}

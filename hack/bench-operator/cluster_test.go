package main

import "testing"

// The API server's own writes (lease renewals, the IPAddress its ClusterIP
// allocator writes per Service) are left out of the per-tenant counts, and
// every write of any other series stays in.
func TestDiffWritesLeavesOutTheAPIServersOwn(t *testing.T) {
	before, err := parseWrites([]byte(`apiserver_request_total{code="201",group="",resource="services",verb="POST",version="v1"} 3
apiserver_request_total{code="200",group="coordination.k8s.io",resource="leases",verb="PUT",version="v1"} 10
apiserver_request_total{code="201",group="networking.k8s.io",resource="ipaddresses",verb="POST",version="v1"} 3
apiserver_request_total{code="200",group="",resource="services",verb="GET",version="v1"} 40
`))
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseWrites([]byte(`apiserver_request_total{code="201",group="",resource="services",verb="POST",version="v1"} 5
apiserver_request_total{code="200",group="coordination.k8s.io",resource="leases",verb="PUT",version="v1"} 12
apiserver_request_total{code="201",group="networking.k8s.io",resource="ipaddresses",verb="POST",version="v1"} 5
apiserver_request_total{code="409",group="networking.k8s.io",resource="ipaddresses",verb="POST",version="v1"} 1
apiserver_request_total{code="200",group="",resource="services",verb="GET",version="v1"} 90
apiserver_request_total{code="200",group="",resource="events",verb="APPLY",version="v1"} 2
`))
	if err != nil {
		t.Fatal(err)
	}
	d := diffWrites(after, before)
	if d.Total != 4 {
		t.Errorf("total = %d, want 4 (2 Service creates, 2 Event applies): %v", d.Total, d.BySeries)
	}
	if d.Housekeeping != 5 {
		t.Errorf("housekeeping = %d, want 5 (2 lease renewals, 3 IPAddress writes)", d.Housekeeping)
	}
	if d.BySeries["POST services 201"] != 2 || d.BySeries["APPLY events 200"] != 2 {
		t.Errorf("by series = %v", d.BySeries)
	}
}

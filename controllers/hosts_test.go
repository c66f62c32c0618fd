package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

func TestHostOwner(t *testing.T) {
	at := func(s int) metav1.Time { return metav1.NewTime(time.Date(2026, 12, 1, 9, 0, s, 0, time.UTC)) }
	tenant := func(name, host string, created int) bluev1.BlueTenant {
		return bluev1.BlueTenant{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: at(created)}, Spec: bluev1.BlueTenantSpec{Endpoint: bluev1.EndpointSpec{Host: host}}}
	}
	deleting := tenant("old", "acme.mcp.example.com", 0)
	now := metav1.Now()
	deleting.DeletionTimestamp = &now
	for _, tc := range []struct {
		name  string
		t     bluev1.BlueTenant
		all   []bluev1.BlueTenant
		owner string // "" means t owns its host
	}{
		{"alone", tenant("acme", "acme.mcp.example.com", 5), nil, ""},
		{"other hosts", tenant("acme", "acme.mcp.example.com", 5), []bluev1.BlueTenant{tenant("globex", "globex.mcp.example.com", 1)}, ""},
		{"an older tenant has the host", tenant("evil", "acme.mcp.example.com", 5), []bluev1.BlueTenant{tenant("acme", "acme.mcp.example.com", 1), tenant("evil", "acme.mcp.example.com", 5)}, "acme"},
		{"host compared without case", tenant("evil", "ACME.mcp.example.com", 5), []bluev1.BlueTenant{tenant("acme", "acme.mcp.example.com", 1)}, "acme"},
		{"the older one is t", tenant("acme", "acme.mcp.example.com", 1), []bluev1.BlueTenant{tenant("acme", "acme.mcp.example.com", 1), tenant("late", "acme.mcp.example.com", 9)}, ""},
		{"same second: by name", tenant("b", "x.mcp.example.com", 3), []bluev1.BlueTenant{tenant("a", "x.mcp.example.com", 3)}, "a"},
		{"the owner is being deleted", tenant("next", "acme.mcp.example.com", 5), []bluev1.BlueTenant{deleting}, ""},
		{"t not yet in the cache", tenant("acme", "acme.mcp.example.com", 1), []bluev1.BlueTenant{tenant("late", "acme.mcp.example.com", 9)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := hostOwner(&tc.t, tc.all)
			if (got == nil) != (tc.owner == "") || (got != nil && got.Name != tc.owner) {
				t.Errorf("owner %v, want %q", got, tc.owner)
			}
		})
	}
}

package controllers

import (
	"strings"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// hostOwner decides which tenant an endpoint host belongs to when several
// BlueTenants name it: the one created first (by name when created in the
// same second). Every other one is refused, so that a new BlueTenant can
// never take over another client's endpoint, and its Ingress is never made.
// It returns the owner when that is not t, nil when t owns its host.
func hostOwner(t *bluev1.BlueTenant, all []bluev1.BlueTenant) *bluev1.BlueTenant {
	host := strings.ToLower(t.Spec.Endpoint.Host)
	var owner *bluev1.BlueTenant
	for i := range all {
		o := &all[i]
		if !strings.EqualFold(o.Spec.Endpoint.Host, host) || !o.DeletionTimestamp.IsZero() {
			continue
		}
		if owner == nil || earlier(o, owner) {
			owner = o
		}
	}
	if owner == nil || owner.Name == t.Name {
		return nil
	}
	// t itself counts even if the list (a cache) does not hold it yet.
	if earlier(t, owner) {
		return nil
	}
	return owner
}

func earlier(a, b *bluev1.BlueTenant) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

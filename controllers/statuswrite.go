package controllers

import (
	"encoding/json"
	"hash/fnv"
	"sync"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// readPastCache decides whether a reconcile reads its tenant from the API
// server instead of the cache: when the cached status is not the one this
// operator last wrote (lastWritten, a statusFingerprint; ok is false when it
// wrote none since it started).
//
// The cache alone is not enough. While the operator's BlueTenant watch is
// down (an API server restart, whose RBAC cache denies watches until it has
// synced) the cache keeps the status from before, so a status this operator
// wrote meanwhile (Degraded, say) is not in it. A reconcile that then finds
// everything well would build the status the cache shows, see nothing to
// write, and leave Degraded on the server until the watch came back. Between
// a write and the watch event that brings it, the same holds for a moment;
// a read then costs one GET, and an idle tenant (cache and last write agree)
// costs none.
func readPastCache(cached bluev1.BlueTenantStatus, lastWritten uint64, ok bool) bool {
	return ok && lastWritten != statusFingerprint(cached)
}

// statusFingerprint is a hash of a status as the server stores it (its
// JSON, times to the second), kept instead of the status itself so that the
// memory stays small at thousands of tenants.
func statusFingerprint(s bluev1.BlueTenantStatus) uint64 {
	b, err := json.Marshal(s)
	if err != nil {
		// A status always marshals; were it not to, no fingerprint
		// matches and the tenant is read past the cache.
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write(b)
	return h.Sum64()
}

// statusMemory holds the fingerprint of the status last written, or found
// already written, per tenant.
type statusMemory struct {
	mu   sync.Mutex
	last map[string]uint64
}

func (m *statusMemory) lastWritten(tenant string) (uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.last[tenant]
	return f, ok
}

func (m *statusMemory) wrote(tenant string, s bluev1.BlueTenantStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil {
		m.last = map[string]uint64{}
	}
	m.last[tenant] = statusFingerprint(s)
}

func (m *statusMemory) forget(tenant string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.last, tenant)
}

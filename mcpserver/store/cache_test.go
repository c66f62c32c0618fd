package store

import (
	"fmt"
	"strings"
	"testing"
)

// Stores that share a BodyCache (one per caller in a tenant's process)
// keep their bodies under its one bound, and see each other's.
func TestSharedBodyCacheHasOneBound(t *testing.T) {
	shared := NewBodyCache(1000)
	a := New(nil, nil, Options{Cache: shared})
	b := New(nil, nil, Options{Cache: shared})
	body := []byte(strings.Repeat("x", 200))
	for i := range 20 {
		st := a
		if i%2 == 1 {
			st = b
		}
		st.cache.put(fmt.Sprintf("rev-%d", i), body)
		if n := shared.Bytes(); n > 1000 {
			t.Fatalf("after %d puts the shared cache holds %d bytes, over its bound of 1000", i+1, n)
		}
	}
	if _, ok := b.cache.get("rev-18"); !ok {
		t.Error("a body one store cached is not seen by the other")
	}
	if _, ok := a.cache.get("rev-0"); ok {
		t.Error("the oldest body was not evicted")
	}
	// Without a shared cache each store has its own.
	c, d := New(nil, nil, Options{BodyCacheBytes: 1000}), New(nil, nil, Options{BodyCacheBytes: 1000})
	c.cache.put("k", body)
	if _, ok := d.cache.get("k"); ok {
		t.Error("stores without a shared cache share one")
	}
}

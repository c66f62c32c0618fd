package store_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/superviber/blue-operator/mcpserver/store"
)

var benchBody = []byte(strings.Repeat("| **Status** | Draft |\nSome markdown paragraph of an RFC body.\n", 100)) // ≈ 6 KB

// BenchmarkStoreGet reads one document: a consistent GetItem plus the body
// (from the revision cache, or from S3 when the cache is off).
func BenchmarkStoreGet(b *testing.B) {
	for _, c := range []struct {
		name  string
		cache int64
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(c.name, func(b *testing.B) {
			e := newEnv(b, func(o *store.Options) { o.BodyCacheBytes = c.cache })
			d := rfc("0001", "Benchmark", "draft", string(benchBody))
			if err := e.st.Create(e.ctx, d); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				got, err := e.st.Get(e.ctx, "rfc", "0001")
				if err != nil || len(got.Body) != len(benchBody) {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStoreCreate creates documents with distinct ids and titles.
func BenchmarkStoreCreate(b *testing.B) {
	e := newEnv(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		d := rfc(fmt.Sprintf("%06d", i), fmt.Sprint("Benchmark ", i), "draft", string(benchBody))
		if err := e.st.Create(e.ctx, d); err != nil {
			b.Fatal(err)
		}
	}
}

package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/superviber/blue-operator/mcpserver/store"
)

// gateStore holds every Body call until want of them are in flight at
// once, so a scan that read bodies one after another never gets past the
// first (each read is a cross-account round trip).
type gateStore struct {
	Store
	want int

	mu       sync.Mutex
	inFlight int
	max      int
	open     chan struct{}
}

func (g *gateStore) Body(ctx context.Context, d *store.Document) ([]byte, error) {
	g.mu.Lock()
	g.inFlight++
	g.max = max(g.max, g.inFlight)
	if g.inFlight >= g.want {
		select {
		case <-g.open:
		default:
			close(g.open)
		}
	}
	g.mu.Unlock()
	defer func() { g.mu.Lock(); g.inFlight--; g.mu.Unlock() }()
	select {
	case <-g.open:
	case <-time.After(10 * time.Second):
		return nil, errors.New("bodies were read one after another")
	}
	return g.Store.Body(ctx, d)
}

func TestScanReadsBodiesAtOnceButBounded(t *testing.T) {
	f := newFixture(t)
	for i := range 40 {
		f.newRFC(t, fmt.Sprintf("Cache design %02d", i))
	}
	g := &gateStore{Store: f.st, want: bodyReads, open: make(chan struct{})}
	r, err := f.svc.search(f.ctx, g, SearchIn{Query: "cache design", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Documents) != 40 {
		t.Errorf("found %d of 40", len(r.Documents))
	}
	if g.max > bodyReads {
		t.Errorf("%d bodies read at once, more than the bound %d", g.max, bodyReads)
	}
	// The order is the score's, then the listing's, whatever read finished first.
	for i, d := range r.Documents {
		if want := fmt.Sprintf("Cache design %02d", i); d.Title != want {
			t.Fatalf("hit %d is %q, want %q", i, d.Title, want)
		}
	}
}

func TestScanFailsWholeOnAReadError(t *testing.T) {
	f := newFixture(t)
	for i := range 30 {
		f.newRFC(t, fmt.Sprintf("Doc %d", i))
	}
	f.st.fail("Body", errors.New("bucket unreachable"))
	_, err := f.svc.search(f.ctx, f.st, SearchIn{Query: "doc"})
	if err == nil || !strings.Contains(err.Error(), "bucket unreachable") {
		t.Fatalf("search with failing reads: %v, want the read's error", err)
	}
}

package server

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a hand-moved clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestSessions(limit int, key string) (*sessions, *clock) {
	c := newClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	s := newSessions(limit, 5*time.Minute, 30*time.Second, []byte(key), nil)
	s.now = c.Now
	return s, c
}

func TestSessionIDsAreSigned(t *testing.T) {
	a, _ := newTestSessions(0, strings.Repeat("k", 32))
	replica, _ := newTestSessions(0, strings.Repeat("k", 32))
	other, _ := newTestSessions(0, strings.Repeat("o", 32))
	id, err := a.open()
	if err != nil {
		t.Fatal(err)
	}
	if !replica.valid(id) {
		t.Error("a replica with the tenant's key refused the tenant's id")
	}
	if other.valid(id) {
		t.Error("another tenant's key accepted the id")
	}
	for _, forged := range []string{"", "x", "0123456789abcdef0123456789abcdef", id[:len(id)-1] + "0", strings.ToUpper(id), id + "00", "." + id} {
		if forged != id && a.valid(forged) {
			t.Errorf("forged id %q accepted", forged)
		}
	}
	if err := a.begin("made-up"); !errors.Is(err, errUnknownSession) {
		t.Errorf("made-up id: %v", err)
	}
	if len(a.m) != 1 {
		t.Errorf("%d sessions counted, want 1", len(a.m))
	}
}

func TestSessionSlotsNeverLockTheTenantOut(t *testing.T) {
	s, c := newTestSessions(2, strings.Repeat("k", 32))
	a, _ := s.open()
	b, _ := s.open()
	// Both in use right now: the third is refused, naming the limit.
	if _, err := s.open(); err == nil || !strings.Contains(err.Error(), "allows 2 concurrent MCP sessions") {
		t.Fatalf("third session while two are active: %v", err)
	}
	// A call in flight is never given away, however long it runs.
	if err := s.begin(a); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	third, err := s.open() // b is idle for a minute: it gives way
	if err != nil {
		t.Fatalf("a full tier did not give way to an idle session: %v", err)
	}
	if _, counted := s.m[b]; counted {
		t.Error("the least recently used idle session still counts")
	}
	if _, counted := s.m[a]; !counted {
		t.Error("the session with a call in flight was given away")
	}
	s.end(a)

	// The session that gave way comes back: it is adopted when there is room
	// (here it takes the slot of the one idle longest, once that is idle).
	c.Advance(31 * time.Second)
	if err := s.begin(b); err != nil {
		t.Fatalf("the session that gave way came back and was refused: %v", err)
	}
	s.end(b)

	// Clients that vanish without DELETE free their slots after the idle window.
	c.Advance(6 * time.Minute)
	s.expire(true)
	if len(s.m) != 0 {
		t.Errorf("%d sessions still counted after the idle window", len(s.m))
	}
	_ = third

	// Ten short connections that never DELETE, on a tier of two: the
	// eleventh client is not locked out once the others are idle.
	for range 10 {
		if _, err := s.open(); err != nil {
			c.Advance(31 * time.Second)
			if _, err := s.open(); err != nil {
				t.Fatalf("locked out: %v", err)
			}
		}
	}
	if len(s.m) > 2 {
		t.Errorf("%d sessions counted on a tier of 2", len(s.m))
	}
	// DELETE frees a slot at once.
	for id := range s.m {
		s.close(id)
	}
	if len(s.m) != 0 {
		t.Errorf("%d after DELETE", len(s.m))
	}
}

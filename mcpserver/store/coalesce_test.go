package store

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// generations is a stand-in table whose every read answers the number of
// reads begun so far: a caller's answer then tells which read served it.
type generations struct {
	begun atomic.Int64
	gate  chan struct{} // when set, each read waits for one value
}

func (g *generations) read(context.Context) (readResult, error) {
	n := g.begun.Add(1)
	if g.gate != nil {
		<-g.gate
	}
	return readResult{items: []map[string]types.AttributeValue{{"n": &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}}}}, nil
}

// readNumber is the number of the read that produced out.
func readNumber(t *testing.T, out readResult) int64 {
	t.Helper()
	n, err := strconv.ParseInt(out.items[0]["n"].(*types.AttributeValueMemberN).Value, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReadGroupNeverAnswersFromAReadBegunEarlier is the freshness promise:
// whatever overlaps, every caller's answer comes from a read that began
// after the caller asked.
func TestReadGroupNeverAnswersFromAReadBegunEarlier(t *testing.T) {
	var g readGroup
	var tbl generations
	slow := func(ctx context.Context) (readResult, error) {
		time.Sleep(200 * time.Microsecond) // a read that takes time, so callers overlap
		return tbl.read(ctx)
	}
	var wg sync.WaitGroup
	var stale atomic.Int64
	const callers, calls = 32, 50
	for range callers {
		wg.Go(func() {
			for range calls {
				asked := tbl.begun.Load() // reads begun before this caller asked
				out, _, err := g.get(t.Context(), "k", slow)
				if err != nil {
					t.Error(err)
					return
				}
				if readNumber(t, out) <= asked {
					stale.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := stale.Load(); n > 0 {
		t.Fatalf("%d answers came from reads begun before their caller asked", n)
	}
	reads := tbl.begun.Load()
	if reads >= callers*calls {
		t.Errorf("%d reads for %d overlapping calls: nothing was shared", reads, callers*calls)
	}
	t.Logf("%d calls cost %d reads", callers*calls, reads)
	// The last read's goroutine forgets the key just after its answer.
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.items) == 0 })
}

// TestReadGroupSharesOnlyWhatOverlaps pins the shape: one read in flight,
// everybody who arrives meanwhile shares the one read queued behind it, and
// that one starts only when the first ends.
func TestReadGroupSharesOnlyWhatOverlaps(t *testing.T) {
	var g readGroup
	tbl := generations{gate: make(chan struct{})}
	type answer struct {
		n      int64
		shared bool
	}
	first := make(chan answer, 1)
	go func() {
		out, shared, _ := g.get(t.Context(), "k", tbl.read)
		first <- answer{readNumber(t, out), shared}
	}()
	waitFor(t, func() bool { return tbl.begun.Load() == 1 })

	later := make(chan answer, 5)
	for range 5 {
		go func() {
			out, shared, _ := g.get(t.Context(), "k", tbl.read)
			later <- answer{readNumber(t, out), shared}
		}()
	}
	// All five have joined the queued read (not only the first of them).
	waitFor(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.items["k"].next != nil && g.items["k"].next.joiners == 5
	})
	// Another key is not held up by this one.
	other := generations{}
	if _, _, err := g.get(t.Context(), "other", other.read); err != nil || other.begun.Load() != 1 {
		t.Fatalf("another key: err %v, %d reads", err, other.begun.Load())
	}

	if n := tbl.begun.Load(); n != 1 {
		t.Fatalf("%d reads began while the first was in flight, want the queued one to wait", n)
	}
	tbl.gate <- struct{}{}
	if a := <-first; a.n != 1 || a.shared {
		t.Errorf("first caller: %+v", a)
	}
	waitFor(t, func() bool { return tbl.begun.Load() == 2 })
	tbl.gate <- struct{}{}
	shared := 0
	for range 5 {
		a := <-later
		if a.n != 2 {
			t.Errorf("a caller that arrived during read 1 got read %d, want read 2", a.n)
		}
		if a.shared {
			shared++
		}
	}
	if shared != 4 {
		t.Errorf("%d of the 5 later callers were told another ran their read, want 4", shared)
	}
	if n := tbl.begun.Load(); n != 2 {
		t.Errorf("%d reads, want 2", n)
	}
}

// TestReadGroupCancellation: a caller that gives up returns at once, and
// its giving up fails nobody who shares its read.
func TestReadGroupCancellation(t *testing.T) {
	var g readGroup
	tbl := generations{gate: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := make(chan error, 1)
	go func() {
		_, _, err := g.get(ctx, "k", tbl.read)
		gaveUp <- err
	}()
	waitFor(t, func() bool { return tbl.begun.Load() == 1 })
	// A second caller queues behind; a third shares the queued read.
	ctx2, cancel2 := context.WithCancel(t.Context())
	second := make(chan error, 1)
	go func() {
		_, _, err := g.get(ctx2, "k", tbl.read)
		second <- err
	}()
	waitFor(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.items["k"].next != nil
	})
	third := make(chan error, 1)
	go func() {
		_, _, err := g.get(t.Context(), "k", tbl.read)
		third <- err
	}()
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.items["k"].next.joiners == 2 })

	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that gave up got %v", err)
	}
	cancel2() // the queued read's first joiner gives up too
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Fatalf("second caller: %v", err)
	}
	tbl.gate <- struct{}{} // read 1 ends; read 2 runs for the third
	tbl.gate <- struct{}{}
	if err := <-third; err != nil {
		t.Fatalf("a caller whose read-mates gave up failed: %v", err)
	}
}

// TestReadGroupRetriesAFirstJoinersDeadline: a shared read that ran out of
// its first joiner's time is read again for a caller with time left.
func TestReadGroupRetriesAFirstJoinersDeadline(t *testing.T) {
	var g readGroup
	var calls atomic.Int64
	read := func(ctx context.Context) (readResult, error) {
		if calls.Add(1) == 1 {
			<-ctx.Done() // the first read outlives its deadline
			return readResult{}, ctx.Err()
		}
		return readResult{}, nil
	}
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	// Hold the key with a read in flight so both callers queue behind it,
	// the short-deadline one first.
	hold := make(chan struct{})
	go func() {
		_, _, _ = g.get(t.Context(), "k", func(context.Context) (readResult, error) { <-hold; return readResult{}, nil })
	}()
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.items["k"] != nil })
	done := make(chan error, 2)
	go func() { _, _, err := g.get(short, "k", read); done <- err }()
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.items["k"].next != nil })
	go func() { _, _, err := g.get(t.Context(), "k", read); done <- err }()
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.items["k"].next.joiners == 2 })
	close(hold)
	var errs []error
	for range 2 {
		errs = append(errs, <-done)
	}
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("errors %v: want the caller with time left to succeed", errs)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

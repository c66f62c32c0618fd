package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// readGroup coalesces strongly consistent reads of one item that overlap in
// time, so a burst of calls for the same document costs the client's table
// (and the cross-account hop) one read instead of one per call.
//
// Coalescing must not make an answer older than the caller's own read would
// have been: a read that arrives while one for the same item is in flight
// never joins it (that read may have begun before a write the caller already
// saw complete). It waits for the next read of the item, which starts when
// the one in flight ends and is shared by everybody who arrived meanwhile.
// So every caller's answer comes from a read that began after the caller
// asked, as a consistent read of its own would, and at most two reads of an
// item are ever pending.
//
// A Store serves one caller (its credentials are that caller's), so nothing
// read under one identity answers another.
type readGroup struct {
	mu    sync.Mutex
	items map[string]*itemReads
}

// itemReads are one item's read in flight and the one queued behind it.
type itemReads struct {
	running, next *readFlight
}

// readFlight is one GetItem shared by the callers who joined it.
type readFlight struct {
	ctx     context.Context // the first joiner's values, none of its cancellation
	read    readFunc        // the first joiner's read
	joiners int             // callers waiting for it (under readGroup.mu)
	done    chan struct{}
	out     *dynamodb.GetItemOutput
	err     error
}

// readFunc reads one item.
type readFunc func(context.Context) (*dynamodb.GetItemOutput, error)

// coalescedReadTimeout bounds a shared read when its first joiner had no
// deadline (a shared read outlives any one joiner's cancellation).
const coalescedReadTimeout = 30 * time.Second

// get returns the item read by fn, shared with overlapping reads of the same
// key. The output is shared: callers must not modify it. shared reports
// whether another caller's context ran the read (its request id was then
// noted there, not in ctx).
func (g *readGroup) get(ctx context.Context, key string, fn readFunc) (out *dynamodb.GetItemOutput, shared bool, err error) {
	for {
		f, first := g.join(ctx, key, fn)
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		// A shared read that ran out of its first joiner's time says nothing
		// about this caller's: read again while this caller still has time.
		if f.err != nil && !first && isContextErr(f.err) && ctx.Err() == nil {
			continue
		}
		return f.out, !first, f.err
	}
}

// join finds the flight ctx waits for: a new one run at once when nothing
// reads the key, else the one queued behind the read in flight.
func (g *readGroup) join(ctx context.Context, key string, fn readFunc) (f *readFlight, first bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.items == nil {
		g.items = map[string]*itemReads{}
	}
	ir := g.items[key]
	if ir == nil {
		f = newReadFlight(ctx, fn)
		g.items[key] = &itemReads{running: f}
		go g.run(key, f)
		return f, true
	}
	if ir.next == nil {
		ir.next = newReadFlight(ctx, fn)
		return ir.next, true
	}
	ir.next.joiners++
	return ir.next, false
}

// run reads for f, then starts the flight queued behind it, if any.
func (g *readGroup) run(key string, f *readFlight) {
	for f != nil {
		ctx, cancel := flightContext(f.ctx)
		f.out, f.err = f.read(ctx)
		cancel()
		f.ctx, f.read = nil, nil
		close(f.done)

		g.mu.Lock()
		ir := g.items[key]
		f, ir.running, ir.next = ir.next, ir.next, nil
		if f == nil {
			delete(g.items, key)
		}
		g.mu.Unlock()
	}
}

func newReadFlight(ctx context.Context, read readFunc) *readFlight {
	return &readFlight{ctx: ctx, read: read, joiners: 1, done: make(chan struct{})}
}

// flightContext keeps the first joiner's values (its audit record, its
// trace) and deadline but not its cancellation, which must not fail the
// others.
func flightContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		d = time.Now().Add(coalescedReadTimeout)
	}
	return context.WithDeadline(context.WithoutCancel(ctx), d)
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// consistentGet reads one item with a strongly consistent GetItem, through
// the store's read group; the item must not be modified.
func (s *Store) consistentGet(ctx context.Context, key map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	in := &dynamodb.GetItemInput{TableName: aws.String(s.o.Table), Key: key, ConsistentRead: aws.Bool(true)}
	out, shared, err := s.reads.get(ctx, itemKey(key), func(ctx context.Context) (*dynamodb.GetItemOutput, error) {
		return s.ddb.GetItem(ctx, in)
	})
	if err != nil {
		return nil, err
	}
	if shared && s.o.OnSharedRead != nil {
		if id, ok := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata); ok {
			s.o.OnSharedRead(ctx, id)
		}
	}
	return out.Item, nil
}

// itemKey is a map key for an item's primary key (pk and sk are strings).
func itemKey(key map[string]types.AttributeValue) string {
	return getS(key, attrPK) + "\x00" + getS(key, attrSK)
}

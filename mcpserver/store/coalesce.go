package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
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

// readFlight is one read shared by the callers who joined it.
type readFlight struct {
	ctx     context.Context // the first joiner's values, none of its cancellation
	read    readFunc        // the first joiner's read
	joiners int             // callers waiting for it (under readGroup.mu)
	done    chan struct{}
	out     readResult
	err     error
}

// readResult is what one consistent read answered: the items asked for, in
// the order asked (nil for a missing one), and its AWS request id.
type readResult struct {
	items     []map[string]types.AttributeValue
	requestID string
}

// readFunc makes one consistent read.
type readFunc func(context.Context) (readResult, error)

// coalescedReadTimeout bounds a shared read when its first joiner had no
// deadline (a shared read outlives any one joiner's cancellation).
const coalescedReadTimeout = 30 * time.Second

// get returns what fn read, shared with overlapping reads of the same key.
// The items are shared: callers must not modify them. shared reports
// whether another caller's context ran the read (its request id was then
// noted there, not in ctx).
func (g *readGroup) get(ctx context.Context, key string, fn readFunc) (out readResult, shared bool, err error) {
	for {
		f, first := g.join(ctx, key, fn)
		select {
		case <-f.done:
		case <-ctx.Done():
			return readResult{}, false, ctx.Err()
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
		f.out, f.err = readSafely(ctx, f.read)
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

// readSafely runs read on the group's goroutine, where a panic would end
// the process: it becomes the flight's error instead.
func readSafely(ctx context.Context, read readFunc) (out readResult, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("read: panic: %v", r)
		}
	}()
	return read(ctx)
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
	items, err := s.sharedRead(ctx, itemKey(key), func(ctx context.Context) (readResult, error) {
		out, err := s.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.o.Table), Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return readResult{}, err
		}
		id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
		return readResult{items: []map[string]types.AttributeValue{out.Item}, requestID: id}, nil
	})
	if err != nil {
		return nil, err
	}
	return items[0], nil
}

// maxBatchAttempts bounds the rounds a batch read spends on keys DynamoDB
// left unprocessed (it does so when throttled); the SDK has already retried
// each request.
const maxBatchAttempts = 5

// consistentGetBoth reads two items in one strongly consistent
// BatchGetItem (one round trip, one request), through the read group; the
// items must not be modified. A role policy written before the store used
// BatchGetItem refuses it: the store then reads the two items with
// GetItem, side by side, from then on.
func (s *Store) consistentGetBoth(ctx context.Context, a, b map[string]types.AttributeValue) (map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
	if !s.noBatch.Load() {
		x, y, err := s.batchGetBoth(ctx, a, b)
		if !isAccessDenied(err) {
			return x, y, err
		}
		s.noBatch.Store(true)
	}
	var (
		x, y       map[string]types.AttributeValue
		errX, errY error
		wg         sync.WaitGroup
	)
	wg.Go(func() { x, errX = s.consistentGet(ctx, a) })
	y, errY = s.consistentGet(ctx, b)
	wg.Wait()
	if err := errors.Join(errX, errY); err != nil {
		return nil, nil, err
	}
	return x, y, nil
}

func (s *Store) batchGetBoth(ctx context.Context, a, b map[string]types.AttributeValue) (map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
	ka, kb := itemKey(a), itemKey(b)
	items, err := s.sharedRead(ctx, ka+"\x00\x00"+kb, func(ctx context.Context) (readResult, error) {
		got := map[string]map[string]types.AttributeValue{}
		keys := []map[string]types.AttributeValue{a, b}
		var id string
		for attempt := 0; len(keys) > 0; attempt++ {
			if attempt == maxBatchAttempts {
				return readResult{}, fmt.Errorf("batch read: %d keys still unprocessed after %d attempts", len(keys), attempt)
			}
			if attempt > 0 {
				if err := sleepCtx(ctx, time.Duration(attempt)*20*time.Millisecond); err != nil {
					return readResult{}, err
				}
			}
			out, err := s.ddb.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				s.o.Table: {Keys: keys, ConsistentRead: aws.Bool(true)},
			}})
			if err != nil {
				return readResult{}, err
			}
			if id == "" {
				id, _ = awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
			}
			for _, it := range out.Responses[s.o.Table] {
				got[itemKey(it)] = it
			}
			keys = out.UnprocessedKeys[s.o.Table].Keys
		}
		return readResult{items: []map[string]types.AttributeValue{got[ka], got[kb]}, requestID: id}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return items[0], items[1], nil
}

// isAccessDenied reports an IAM refusal of the call.
func isAccessDenied(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "AccessDeniedException"
}

// sharedRead runs read through the read group under key and tells
// OnSharedRead which request answered a call that shared another's.
func (s *Store) sharedRead(ctx context.Context, key string, read readFunc) ([]map[string]types.AttributeValue, error) {
	out, shared, err := s.reads.get(ctx, key, read)
	if err != nil {
		return nil, err
	}
	if shared && s.o.OnSharedRead != nil && out.requestID != "" {
		s.o.OnSharedRead(ctx, out.requestID)
	}
	return out.items, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// itemKey is a map key for an item's primary key (pk and sk are strings).
func itemKey(key map[string]types.AttributeValue) string {
	return getS(key, attrPK) + "\x00" + getS(key, attrSK)
}

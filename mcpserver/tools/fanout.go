package tools

import (
	"context"
	"errors"
	"sync"

	"github.com/superviber/blue-operator/mcpserver/store"
)

// bodyReads is how many bodies readBodies reads at once. Each read is a
// round trip to the client's account (50–100 ms across accounts): read one
// after another, a search over a few hundred documents took seconds; a
// bounded number at once keeps it to a few round trips without flooding
// the client's bucket.
const bodyReads = 16

// readBodies reads the documents' bodies, bodyReads at a time, in the
// documents' order. One failure fails the whole read and stops the rest.
func readBodies(ctx context.Context, st Store, docs []store.Document) ([][]byte, error) {
	bodies := make([][]byte, len(docs))
	errs := make([]error, len(docs))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, bodyReads)
	var wg sync.WaitGroup
	for i := range docs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if bodies[i], errs[i] = withBody(ctx, st, &docs[i]); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	// The first error that is not a cancellation the failure caused.
	var first error
	for _, err := range errs {
		switch {
		case err == nil:
		case !errors.Is(err, context.Canceled):
			return nil, err
		case first == nil:
			first = err
		}
	}
	if first == nil {
		first = ctx.Err() // the caller gave up before every body was read
	}
	return bodies, first
}

// listKinds lists every document of each kind, the kinds at once: one
// kind's pages follow each other, but no kind waits for another.
func listKinds(ctx context.Context, st Store, kinds []string, o store.ListOptions) ([][]store.Document, error) {
	lists := make([][]store.Document, len(kinds))
	errs := make([]error, len(kinds))
	var wg sync.WaitGroup
	for i, k := range kinds {
		wg.Go(func() { lists[i], errs[i] = listAll(ctx, st, k, o) })
	}
	wg.Wait()
	return lists, errors.Join(errs...)
}

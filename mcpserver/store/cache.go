package store

import (
	"container/list"
	"sync"
)

// bodyCache is a byte-bounded LRU of body revisions. Revisions are immutable
// (written once with If-None-Match) and readers reach them only through a
// strongly consistent META read, so a cached body is never stale.
type bodyCache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	order *list.List // front = most recent; values are *cacheEntry
	byKey map[string]*list.Element
}

type cacheEntry struct {
	key  string
	body []byte
}

func newBodyCache(max int64) *bodyCache {
	return &bodyCache{max: max, order: list.New(), byKey: map[string]*list.Element{}}
}

// get returns a copy of the cached body.
func (c *bodyCache) get(key string) ([]byte, bool) {
	if c.max <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return append([]byte{}, el.Value.(*cacheEntry).body...), true
}

// put stores a copy of body; bodies larger than a quarter of the cache are
// not kept, so one document cannot flush all others.
func (c *bodyCache) put(key string, body []byte) {
	n := int64(len(body))
	if c.max <= 0 || n > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[key]; ok {
		return
	}
	c.byKey[key] = c.order.PushFront(&cacheEntry{key: key, body: append([]byte{}, body...)})
	c.size += n
	for c.size > c.max {
		el := c.order.Back()
		e := el.Value.(*cacheEntry)
		c.order.Remove(el)
		delete(c.byKey, e.key)
		c.size -= int64(len(e.body))
	}
}

func (c *bodyCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.order.Remove(el)
		delete(c.byKey, key)
		c.size -= int64(len(el.Value.(*cacheEntry).body))
	}
}

func (c *bodyCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order.Init()
	c.byKey = map[string]*list.Element{}
	c.size = 0
}

// BodyCache is a body cache several Stores share, so that the memory one
// process keeps of the client's documents has one bound however many
// callers (each with a Store of its own credentials) it serves.
type BodyCache struct{ c *bodyCache }

// NewBodyCache returns a shared cache of at most maxBytes of bodies
// (negative or zero: no caching).
func NewBodyCache(maxBytes int64) *BodyCache { return &BodyCache{c: newBodyCache(maxBytes)} }

// Get returns a copy of the body cached under key. A nil cache holds
// nothing. Keys must name immutable content (a body revision, a document's
// version): the cache never checks them against the client's storage.
func (b *BodyCache) Get(key string) ([]byte, bool) {
	if b == nil {
		return nil, false
	}
	return b.c.get(key)
}

// Put keeps a copy of body under key (see Get); a nil cache keeps nothing.
func (b *BodyCache) Put(key string, body []byte) {
	if b != nil {
		b.c.put(key, body)
	}
}

// Bytes is how many bytes of bodies the cache holds now.
func (b *BodyCache) Bytes() int64 {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	return b.c.size
}

package sidecar

import (
	"context"
	"errors"
	"strconv"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Cache is a Versioned whose Get may answer from this process's memory: the
// document it last wrote under a key (or read, through Observe), with the
// ETag the store gave it. A compare-and-swap (Update) that starts from such
// a copy skips its read, so changing a document this process wrote last
// costs one round trip (the write) instead of two.
//
// It is sound because a copy is only ever used as the start of a write
// guarded by its ETag: if another writer (another process, or a key changed
// behind this one's back) came first, the store refuses the write
// (ErrETagMismatch), the copy is dropped and the change is redone on a fresh
// read. Update never trusts a copy for anything that is not written: when
// the change function writes nothing or fails, it decides again on a fresh
// read (Item.Cached). Absence is never cached.
//
// Knowing the ETag a write leaves needs the store's versioning rule: Dapr's
// Redis store keeps an integer version that an insert sets to 1 and every
// write adds 1 to (components-contrib state/redis, setDefaultQuery; the
// in-memory sidecartest.MemState follows it). For any other store (for
// example PostgreSQL, whose ETags are opaque), NewCache returns st itself
// and nothing is cached.
//
// Use it only for keys that are never deleted (a Save with a stale ETag on
// a missing key succeeds on Redis), and only on the write path: reads that
// answer clients use the store itself.
type Cache struct {
	st    Versioned
	store string
	items *lru.Cache[string, cached] // the least recently used copy goes first
}

type cached struct {
	value []byte
	etag  string
}

// Forgetter is what Update asks of a Versioned that may answer from
// memory: to drop its copy of key so that the next Get reads the store.
type Forgetter interface {
	Forget(store, key string)
}

// NewCache returns a Cache of up to size documents of the state store named
// store in front of st, or st itself when storeType's versions are not
// known (anything but "state.redis" and "memory", the in-memory test store).
func NewCache(st Versioned, store, storeType string, size int) Versioned {
	if (storeType != "state.redis" && storeType != "memory") || size <= 0 {
		return st
	}
	items, err := lru.New[string, cached](size)
	if err != nil { // only for size <= 0, refused above
		return st
	}
	return &Cache{st: st, store: store, items: items}
}

// Get implements Versioned: the copy of key when there is one (Cached set),
// else the store's document, remembered.
func (c *Cache) Get(ctx context.Context, store, key string) (Item, error) {
	if store == c.store {
		if it, ok := c.Lookup(key); ok {
			return it, nil
		}
	}
	it, err := c.st.Get(ctx, store, key)
	if err == nil && store == c.store {
		c.Observe(it)
	}
	return it, err
}

// Lookup returns the copy of key (Cached set), without reading the store;
// false when there is none.
func (c *Cache) Lookup(key string) (Item, bool) {
	it, ok := c.items.Get(key)
	if !ok {
		return Item{}, false
	}
	return Item{Key: key, Value: it.value, ETag: it.etag, Cached: true}, true
}

// Observe remembers a document read from the store (ignored when it was
// not found, or came from memory).
func (c *Cache) Observe(it Item) {
	if !it.Found() || it.Cached || it.ETag == "" {
		return
	}
	c.put(it.Key, it.Value, it.ETag)
}

// Save implements Versioned. A write with an ETag leaves the document at
// the next version, which is remembered; any other outcome drops the copy.
func (c *Cache) Save(ctx context.Context, store, key string, value []byte, etag string) error {
	err := c.st.Save(ctx, store, key, value, etag)
	if store != c.store {
		return err
	}
	if err == nil && etag != "" {
		if v, perr := strconv.ParseInt(etag, 10, 64); perr == nil {
			c.put(key, value, strconv.FormatInt(v+1, 10))
			return nil
		}
	}
	c.Forget(store, key)
	return err
}

// Insert implements Versioned: an inserted document is at version 1.
func (c *Cache) Insert(ctx context.Context, store, key string, value []byte, ttlSeconds int) error {
	err := c.st.Insert(ctx, store, key, value, ttlSeconds)
	if store != c.store {
		return err
	}
	if err == nil && ttlSeconds <= 0 {
		c.put(key, value, "1")
		return nil
	}
	c.Forget(store, key)
	return err
}

// Forget implements Forgetter.
func (c *Cache) Forget(store, key string) {
	if store != c.store {
		return
	}
	c.items.Remove(key)
}

// put remembers key's document at etag; when the cache is full, the copy
// used least recently is dropped (dropping a copy is always safe).
func (c *Cache) put(key string, value []byte, etag string) {
	c.items.Add(key, cached{value: append([]byte(nil), value...), etag: etag})
}

// errStale ends an attempt of Update that decided on a copy from memory
// without writing: it is redone at once on a fresh read.
var errStale = errors.New("state: decided on a cached copy")

// Cached returns a Cache of up to size documents of the state store named
// store in front of c, or c itself when that store's ETags are not
// versions FinFlow can predict (or its type cannot be learnt now).
func (c *Client) Cached(ctx context.Context, store string, size int) Versioned {
	typ, err := c.StoreType(ctx, store)
	if err != nil {
		return c
	}
	return NewCache(c, store, typ, size)
}

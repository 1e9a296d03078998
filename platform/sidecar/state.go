package sidecar

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrETagMismatch is returned by Save and Delete when the stored item's
// ETag is not the one given: someone else wrote it first.
var ErrETagMismatch = errors.New("state: etag mismatch")

// ErrExists is returned by Insert when the key already holds a value.
var ErrExists = errors.New("state: key already exists")

// insertETag is an ETag no stored item ever reaches. Saving with it succeeds
// only when the key does not exist yet (Redis compares ETags of existing keys
// only), which makes a single atomic insert-if-absent on Redis
// (dapr/dapr#2739).
const insertETag = "2147483647"

// firstWriteConflict is what Dapr's PostgreSQL stores (v1 and v2) answer
// when a first-write save without an ETag finds the key already there.
const firstWriteConflict = "no item was updated"

// opTimeout bounds one call to the sidecar whose context has no deadline:
// calls wait for a restarting sidecar, but not for ever.
const opTimeout = 5 * time.Second

func opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return boundedContext(ctx, opTimeout)
}

// boundedContext gives ctx a deadline d from now if it has none.
func boundedContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// Item is one stored value and the ETag it was read with.
type Item struct {
	Key   string
	Value []byte
	ETag  string
	// Cached is set when the item came from this process's memory (Cache),
	// not from the store: only a write guarded by its ETag confirms it.
	Cached bool
}

// Found reports whether the item exists. FinFlow never stores empty values.
func (i Item) Found() bool { return len(i.Value) > 0 }

// Get reads one key. A missing key is an Item with Found() false.
func (c *Client) Get(ctx context.Context, store, key string) (Item, error) {
	ctx, cancel := opContext(ctx)
	defer cancel()
	it, err := c.sdk.GetStateWithConsistency(ctx, store, key, nil, dapr.StateConsistencyStrong)
	if err != nil {
		return Item{}, stateErr("get", store, key, err)
	}
	return Item{Key: key, Value: it.Value, ETag: it.Etag}, nil
}

// BulkGet reads many keys in one round trip, in the order given. Missing
// keys come back with Found() false.
func (c *Client) BulkGet(ctx context.Context, store string, keys []string) ([]Item, error) {
	ctx, cancel := opContext(ctx)
	defer cancel()
	if len(keys) == 0 {
		return nil, nil
	}
	got, err := c.sdk.GetBulkState(ctx, store, keys, nil, 0)
	if err != nil {
		return nil, stateErr("bulk get", store, fmt.Sprintf("%d keys", len(keys)), err)
	}
	byKey := make(map[string]*dapr.BulkStateItem, len(got))
	for _, it := range got {
		if it.Error != "" {
			return nil, fmt.Errorf("%w: bulk get %s/%s: %s", ErrSidecar, store, it.Key, it.Error)
		}
		byKey[it.Key] = it
	}
	out := make([]Item, len(keys))
	for i, k := range keys {
		out[i] = Item{Key: k}
		if it, ok := byKey[k]; ok {
			out[i].Value, out[i].ETag = it.Value, it.Etag
		}
	}
	return out, nil
}

// Save writes value under key. With a non-empty etag the write happens only
// if the stored ETag still matches (ErrETagMismatch otherwise).
func (c *Client) Save(ctx context.Context, store, key string, value []byte, etag string) error {
	ctx, cancel := opContext(ctx)
	defer cancel()
	var err error
	if etag == "" {
		err = c.sdk.SaveState(ctx, store, key, value, nil)
	} else {
		err = c.sdk.SaveStateWithETag(ctx, store, key, value, etag, nil,
			dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong))
	}
	if err != nil {
		return stateErr("save", store, key, err)
	}
	return nil
}

// SaveBulk writes several items, unconditionally, in one round trip. It is
// not atomic: use it only for writes that are each safe on their own (for
// example immutable, idempotent copies).
func (c *Client) SaveBulk(ctx context.Context, store string, items []Item) error {
	if len(items) == 0 {
		return nil
	}
	ctx, cancel := opContext(ctx)
	defer cancel()
	set := make([]*dapr.SetStateItem, len(items))
	for i, it := range items {
		set[i] = &dapr.SetStateItem{Key: it.Key, Value: it.Value}
	}
	if err := c.sdk.SaveBulkState(ctx, store, set...); err != nil {
		return stateErr("bulk save", store, fmt.Sprintf("%d keys", len(items)), err)
	}
	return nil
}

// SaveTTL is Save for an item that expires after ttlSeconds.
func (c *Client) SaveTTL(ctx context.Context, store, key string, value []byte, etag string, ttlSeconds int) error {
	ctx, cancel := opContext(ctx)
	defer cancel()
	meta := map[string]string{"ttlInSeconds": strconv.Itoa(ttlSeconds)}
	var err error
	if etag == "" {
		err = c.sdk.SaveState(ctx, store, key, value, meta)
	} else {
		err = c.sdk.SaveStateWithETag(ctx, store, key, value, etag, meta,
			dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong))
	}
	if err != nil {
		return stateErr("save", store, key, err)
	}
	return nil
}

// Insert writes value under key only if the key does not exist yet, as one
// atomic operation; ErrExists otherwise. ttlSeconds > 0 makes the item expire.
//
// How depends on the store's type, asked of the sidecar once per store:
//   - state.redis upserts a first-write save that has no ETag, so Insert
//     saves with an ETag no item reaches (insertETag), which Redis accepts
//     only for a missing key. Such a key is then first-write: it can only be
//     changed by a Save or Delete that carries its current ETag.
//   - state.postgresql makes a first-write save without an ETag an INSERT
//     that fails on an existing, unexpired key. It reports that as a plain
//     error, "no item was updated": the one error FinFlow recognises by its
//     text, since Dapr gives it no code of its own.
//
// Any other store type is refused (its first-write semantics are unknown).
func (c *Client) Insert(ctx context.Context, store, key string, value []byte, ttlSeconds int) error {
	ctx, cancel := opContext(ctx)
	defer cancel()
	var meta map[string]string
	if ttlSeconds > 0 {
		meta = map[string]string{"ttlInSeconds": strconv.Itoa(ttlSeconds)}
	}
	typ, err := c.StoreType(ctx, store)
	if err != nil {
		return err
	}
	opts := []dapr.StateOption{dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong)}
	switch typ {
	case "state.redis":
		err = c.sdk.SaveStateWithETag(ctx, store, key, value, insertETag, meta, opts...)
	case "state.postgresql":
		err = c.sdk.SaveState(ctx, store, key, value, meta, opts...)
	default:
		// Other stores may upsert a first-write save without an ETag: an
		// insert would silently overwrite. Refuse rather than guess.
		return fmt.Errorf("%w: insert-if-absent is not known for %s (store %s); FinFlow supports state.redis and state.postgresql", ErrSidecar, typ, store)
	}
	return insertErr(store, key, err)
}

// InsertAll inserts every item (Key, Value) if its key is absent, in one
// round trip where the store allows it: on state.redis one state
// transaction (MULTI/EXEC), whose writes no other client sees half done.
// It returns nil when every item was inserted. Otherwise it returns an
// error, and any of the items may have been inserted: Redis does not roll
// a transaction back, and Dapr reports a refused insert in one as a plain
// failure (500 ERR_STATE_TRANSACTION), not as ErrExists. Read the keys back
// to know which were. Inside a Redis transaction an insert does not mark
// its key first-write, so a later write without the ETag is not refused:
// use it only for keys that are never written blindly.
//
// On other stores the items are inserted one by one (Insert), in order,
// stopping at the first that fails.
func (c *Client) InsertAll(ctx context.Context, store string, items []Item) error {
	ctx, cancel := opContext(ctx)
	defer cancel()
	typ, err := c.StoreType(ctx, store)
	if err != nil {
		return err
	}
	if typ != "state.redis" {
		for _, it := range items {
			if err := c.Insert(ctx, store, it.Key, it.Value, 0); err != nil {
				return err
			}
		}
		return nil
	}
	ops := make([]*dapr.StateOperation, len(items))
	for i, it := range items {
		ops[i] = &dapr.StateOperation{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{
			Key: it.Key, Value: it.Value, Etag: &dapr.ETag{Value: insertETag},
			Options: &dapr.StateOptions{Concurrency: dapr.StateConcurrencyFirstWrite, Consistency: dapr.StateConsistencyStrong},
		}}
	}
	if err := c.sdk.ExecuteStateTransaction(ctx, store, nil, ops); err != nil {
		return stateErr("insert all", store, fmt.Sprintf("%d keys", len(items)), err)
	}
	return nil
}

// insertErr classifies the answer to an insert: a conflict, however the
// store reports it, is ErrExists.
func insertErr(store, key string, err error) error {
	if err == nil {
		return nil
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Aborted && strings.Contains(s.Message(), firstWriteConflict) {
		return ErrExists
	}
	err = stateErr("insert", store, key, err)
	if errors.Is(err, ErrETagMismatch) {
		return ErrExists
	}
	return err
}

// StoreType returns the component type of a state store ("state.redis",
// "state.postgresql", ...) as the sidecar reports it, asked once per store.
func (c *Client) StoreType(ctx context.Context, store string) (string, error) {
	if t, ok := c.storeTypes.Load(store); ok {
		return t.(string), nil
	}
	md, err := c.Metadata(ctx)
	if err != nil {
		return "", err
	}
	for _, comp := range md.Components {
		if comp.Name == store && strings.HasPrefix(comp.Type, "state.") {
			c.storeTypes.Store(store, comp.Type)
			return comp.Type, nil
		}
	}
	return "", fmt.Errorf("%w: the sidecar has no state store %q", ErrSidecar, store)
}

// Delete removes key; with a non-empty etag only if it still matches.
func (c *Client) Delete(ctx context.Context, store, key, etag string) error {
	ctx, cancel := opContext(ctx)
	defer cancel()
	var tag *dapr.ETag
	if etag != "" {
		tag = &dapr.ETag{Value: etag}
	}
	if err := c.sdk.DeleteStateWithETag(ctx, store, key, tag, nil, nil); err != nil {
		return stateErr("delete", store, key, err)
	}
	return nil
}

// stateErr classifies a state error: an ETag conflict is ErrETagMismatch,
// anything else is a sidecar failure.
func stateErr(op, store, key string, err error) error {
	if s, ok := status.FromError(err); ok && s.Code() == codes.Aborted {
		return fmt.Errorf("%s %s/%s: %w", op, store, key, ErrETagMismatch)
	}
	return fmt.Errorf("%w: %s %s/%s: %v", ErrSidecar, op, store, key, err)
}

package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Binder is what Bind needs of a state client (Client, or the in-memory
// sidecartest.MemState).
type Binder interface {
	Get(ctx context.Context, store, key string) (Item, error)
	Insert(ctx context.Context, store, key string, value []byte, ttlSeconds int) error
}

// Bind writes first under key, as JSON, if nothing is stored there yet,
// and returns what the key is bound to: first, or what a caller stored
// before (decoded into a T). A binding is written once and never changed
// or deleted, so two callers racing with different values both learn the
// one that won, and a caller that stops after binding leaves nothing that
// refuses its own retry. It costs one insert, and one read only when the
// key was bound before. FinFlow binds an Idempotency-Key's token to the
// one request it was first used for (a keyed refund, a wallet top-up or
// opening, a subscription's cancel, a sign-up's user id), so that a reuse
// for another request is refused even when the gateway kept no record of
// the key.
func Bind[T any](ctx context.Context, st Binder, store, key string, first T) (T, error) {
	var zero T
	raw, err := json.Marshal(first)
	if err != nil {
		return zero, fmt.Errorf("encoding the binding of %s: %w", key, err)
	}
	err = st.Insert(ctx, store, key, raw, 0)
	if err == nil {
		return first, nil
	}
	if !errors.Is(err, ErrExists) {
		return zero, fmt.Errorf("binding %s: %w", key, err)
	}
	it, err := st.Get(ctx, store, key)
	if err != nil {
		return zero, fmt.Errorf("reading the binding of %s: %w", key, err)
	}
	if !it.Found() {
		return zero, fmt.Errorf("the binding of %s vanished after it was found (bindings are never deleted)", key)
	}
	var held T
	if err := json.Unmarshal(it.Value, &held); err != nil {
		return zero, fmt.Errorf("decoding the binding of %s: %w", key, err)
	}
	return held, nil
}

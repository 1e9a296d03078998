package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/gateway/domain"
	"github.com/finflow/finflow/services/gateway/store"
)

// The life of a key: begun once, seen running, taken over by exactly one
// retry, finished with an answer that every later lookup returns.
func TestIdempotencyLifecycle(t *testing.T) {
	ctx := context.Background()
	s := store.New(sidecartest.NewMemState(), "gateway-store", 60)
	now := time.Now().UTC()
	rec := domain.Record{Fingerprint: "fp", StartedAt: now, Deadline: now.Add(time.Second)}

	if _, _, found, err := s.Get(ctx, "t1"); err != nil || found {
		t.Fatalf("Get before Begin = found %v, %v", found, err)
	}
	if err := s.Begin(ctx, "t1", rec); err != nil {
		t.Fatal(err)
	}
	if err := s.Begin(ctx, "t1", rec); !errors.Is(err, domain.ErrRecordExists) {
		t.Fatalf("second Begin = %v, want ErrRecordExists", err)
	}
	got, etag, found, err := s.Get(ctx, "t1")
	if err != nil || !found || got.Done || got.Fingerprint != "fp" || etag == "" {
		t.Fatalf("Get running = %+v %q %v %v", got, etag, found, err)
	}

	// Two retries take over with the same ETag: one wins.
	if err := s.TakeOver(ctx, "t1", rec, etag); err != nil {
		t.Fatalf("first take-over: %v", err)
	}
	if err := s.TakeOver(ctx, "t1", rec, etag); !errors.Is(err, sidecar.ErrETagMismatch) {
		t.Fatalf("second take-over = %v, want ErrETagMismatch", err)
	}

	answer := rec
	answer.Status, answer.ContentType, answer.Body = 201, "application/json", []byte(`{"ok":true}`)
	if err := s.Finish(ctx, "t1", answer); err != nil {
		t.Fatal(err)
	}
	got, _, found, err = s.Get(ctx, "t1")
	if err != nil || !found || !got.Done || got.Status != 201 || string(got.Body) != `{"ok":true}` {
		t.Fatalf("Get finished = %+v %v %v", got, found, err)
	}

	// An abandoned key is gone, so a retry begins again.
	if err := s.Begin(ctx, "t2", rec); err != nil {
		t.Fatal(err)
	}
	if err := s.Abandon(ctx, "t2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Begin(ctx, "t2", rec); err != nil {
		t.Fatalf("Begin after Abandon: %v", err)
	}
}

// A console session: stored under the hash of its id (never the id), read
// back, ended; ending it twice is fine.
func TestConsoleSessions(t *testing.T) {
	ctx := context.Background()
	mem := &ttlState{MemState: sidecartest.NewMemState()}
	s := store.NewConsoleSessions(mem, "gateway-store")
	now := time.Now().UTC()
	sess, id, err := domain.NewConsoleSession(auth.Identity{Sub: "ops-1", Role: auth.RoleAdmin}, now.Add(time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Get(ctx, id); err != nil || found {
		t.Fatalf("Get before Create = found %v, %v", found, err)
	}
	if err := s.Create(ctx, id, sess, sess.TTL(now)); err != nil {
		t.Fatal(err)
	}
	if mem.ttl != 3600 {
		t.Errorf("stored with a TTL of %d s, want the session's 3600: it must expire in the store", mem.ttl)
	}
	got, found, err := s.Get(ctx, id)
	if err != nil || !found || got.Sub != "ops-1" || got.Role != auth.RoleAdmin || !got.Expires.Equal(sess.Expires) {
		t.Fatalf("Get = %+v %v %v, want %+v", got, found, err, sess)
	}
	if it, _ := mem.Get(ctx, "gateway-store", "console/session/"+id); it.Found() {
		t.Error("the session id itself is a key in the store; it must be stored hashed")
	}
	sum := sha256.Sum256([]byte(id))
	if it, _ := mem.Get(ctx, "gateway-store", "console/session/"+hex.EncodeToString(sum[:])); !it.Found() {
		t.Error("the session is not stored under the SHA-256 of its id")
	}
	if _, found, _ := s.Get(ctx, id+"x"); found {
		t.Error("another id finds the session")
	}
	for i := range 2 {
		if err := s.Delete(ctx, id); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if _, found, err := s.Get(ctx, id); err != nil || found {
		t.Fatalf("Get after Delete = found %v, %v", found, err)
	}
}

// ttlState records the TTL of the last SaveTTL (MemState ignores TTLs).
type ttlState struct {
	*sidecartest.MemState
	ttl int
}

func (m *ttlState) SaveTTL(ctx context.Context, st, key string, value []byte, etag string, ttlSeconds int) error {
	m.ttl = ttlSeconds
	return m.MemState.SaveTTL(ctx, st, key, value, etag, ttlSeconds)
}

// A stored session that does not decode is reported as such, not as a
// store failure.
func TestConsoleSessionUnreadable(t *testing.T) {
	ctx := context.Background()
	mem := sidecartest.NewMemState()
	id := strings.Repeat("A", 43)
	sum := sha256.Sum256([]byte(id))
	if err := mem.Save(ctx, "gateway-store", "console/session/"+hex.EncodeToString(sum[:]), []byte("{not json"), ""); err != nil {
		t.Fatal(err)
	}
	_, found, err := store.NewConsoleSessions(mem, "gateway-store").Get(ctx, id)
	if found || !errors.Is(err, domain.ErrConsoleSessionUnreadable) {
		t.Fatalf("Get = found %v, %v; want ErrConsoleSessionUnreadable", found, err)
	}
}

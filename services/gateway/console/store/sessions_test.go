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
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/gateway/console/domain"
	"github.com/finflow/finflow/services/gateway/console/store"
)

// A console session: stored under the hash of its id (never the id), read
// back, ended; ending it twice is fine.
func TestSessions(t *testing.T) {
	ctx := context.Background()
	mem := &ttlState{MemState: sidecartest.NewMemState()}
	s := store.NewSessions(mem, "gateway-store")
	now := time.Now().UTC()
	sess, id, err := domain.NewSession(auth.Identity{Sub: "ops-1", Role: auth.RoleAdmin}, now.Add(time.Hour), now)
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
func TestSessionUnreadable(t *testing.T) {
	ctx := context.Background()
	mem := sidecartest.NewMemState()
	id := strings.Repeat("A", 43)
	sum := sha256.Sum256([]byte(id))
	if err := mem.Save(ctx, "gateway-store", "console/session/"+hex.EncodeToString(sum[:]), []byte("{not json"), ""); err != nil {
		t.Fatal(err)
	}
	_, found, err := store.NewSessions(mem, "gateway-store").Get(ctx, id)
	if found || !errors.Is(err, domain.ErrSessionUnreadable) {
		t.Fatalf("Get = found %v, %v; want ErrSessionUnreadable", found, err)
	}
}

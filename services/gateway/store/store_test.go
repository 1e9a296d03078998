package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

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

package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/user/domain"
	"github.com/finflow/finflow/services/user/store"
)

// Attempts of one keyed sign-up racing with different requests: every one
// gets the request reserved first, and once that user is stored, Reserve
// answers with the stored user.
func TestReserveKeepsTheFirstRequest(t *testing.T) {
	ctx := context.Background()
	s := store.New(sidecartest.NewMemState(), "user-store")
	userID := id.Derive(id.User, "a-token")
	const n = 10
	got := make([]domain.User, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range got {
		u, err := domain.NewUser("Racer", fmt.Sprintf("racer%d@example.in", i), "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		u.ID = userID
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = s.Reserve(ctx, u)
		}()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i].Email != got[0].Email {
			t.Fatalf("Reserve #%d = %+v, %v; want the request reserved first (%s)", i, got[i], errs[i], got[0].Email)
		}
	}
	if _, err := s.Create(ctx, got[0]); err != nil {
		t.Fatalf("Create(reserved) = %v", err)
	}
	other, _ := domain.NewUser("Other", "other@example.in", "", time.Now())
	other.ID = userID
	again, err := s.Reserve(ctx, other)
	if err != nil || again.Email != got[0].Email || !again.CreatedAt.Equal(got[0].CreatedAt) {
		t.Fatalf("Reserve after Create = %+v, %v; want the stored user %+v", again, err, got[0])
	}
}

// Package storetest is the contract suite every user store must pass.
package storetest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/page"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/user/domain"
	"github.com/finflow/finflow/services/user/store"
)

// Run runs the contract suite; newStore returns an empty store each call.
func Run(t *testing.T, newStore func(testing.TB) *store.Store) {
	ctx := context.Background()
	mustUser := func(tb testing.TB, email string) domain.User {
		tb.Helper()
		u, err := domain.NewUser("Test User", email, "", time.Now())
		if err != nil {
			tb.Fatalf("NewUser(%q): %v", email, err)
		}
		return u
	}

	t.Run("CreateThenGet", func(t *testing.T) {
		s := newStore(t)
		u := mustUser(t, "get@example.in")
		if _, err := s.Create(ctx, u); err != nil {
			t.Fatalf("Create: %v", err)
		}
		got, err := s.Get(ctx, u.ID)
		if err != nil {
			t.Fatalf("Get(%s): %v", u.ID, err)
		}
		if got.ID != u.ID || got.Email != u.Email || !got.CreatedAt.Equal(u.CreatedAt) {
			t.Fatalf("Get = %+v, want %+v", got, u)
		}
	})

	t.Run("GetMissing", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Get(ctx, "usr_00000000000000000000000000"); !errors.Is(err, domain.ErrUserNotFound) {
			t.Fatalf("Get(missing) = %v, want ErrUserNotFound", err)
		}
	})

	t.Run("EmailUniqueIgnoringCase", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Create(ctx, mustUser(t, "Dup@Example.in")); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if _, err := s.Create(ctx, mustUser(t, "dup@example.IN")); !errors.Is(err, domain.ErrEmailTaken) {
			t.Fatalf("second Create = %v, want ErrEmailTaken", err)
		}
	})

	t.Run("RetriedCreateIsNotAConflict", func(t *testing.T) {
		s := newStore(t)
		u := mustUser(t, "retry@example.in")
		for i := 0; i < 2; i++ {
			if _, err := s.Create(ctx, u); err != nil {
				t.Fatalf("Create #%d of the same user: %v", i+1, err)
			}
		}
		page, err := s.List(ctx, "", 10)
		if err != nil || len(page.Users) != 1 {
			t.Fatalf("List = %d users, %v; want the user once", len(page.Users), err)
		}
	})

	t.Run("RacingSignUpsOneEmail", func(t *testing.T) {
		s := newStore(t)
		const n = 20
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = s.Create(ctx, mustUser(t, fmt.Sprintf("Race@Example.in%s", strings.Repeat("", i))))
			}(i)
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, domain.ErrEmailTaken):
			default:
				t.Fatalf("Create #%d = %v, want nil or ErrEmailTaken", i, err)
			}
		}
		if won != 1 {
			t.Fatalf("%d sign-ups won, want exactly 1", won)
		}
		page, err := s.List(ctx, "", 50)
		if err != nil || len(page.Users) != 1 {
			t.Fatalf("List = %d users, %v; want 1", len(page.Users), err)
		}
	})

	t.Run("ListPagesOldestFirstWithoutLossOrRepeat", func(t *testing.T) {
		s := newStore(t)
		const n = 23
		var wg sync.WaitGroup
		created := make(map[string]bool)
		var mu sync.Mutex
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				u := mustUser(t, fmt.Sprintf("page%d@example.in", i))
				if _, err := s.Create(ctx, u); err != nil {
					t.Errorf("Create: %v", err)
					return
				}
				mu.Lock()
				created[u.ID] = true
				mu.Unlock()
			}(i)
		}
		wg.Wait()
		seen := map[string]bool{}
		cursor, pages := "", 0
		for {
			page, err := s.List(ctx, cursor, 5)
			if err != nil {
				t.Fatalf("List(%q): %v", cursor, err)
			}
			pages++
			if len(page.Users) > 5 {
				t.Fatalf("page of %d users, limit 5", len(page.Users))
			}
			for _, u := range page.Users {
				if seen[u.ID] {
					t.Fatalf("user %s listed twice", u.ID)
				}
				seen[u.ID] = true
			}
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		if len(seen) != n || pages != 5 {
			t.Fatalf("listed %d users in %d pages, want %d in 5", len(seen), pages, n)
		}
		for id := range created {
			if !seen[id] {
				t.Fatalf("user %s was created but not listed", id)
			}
		}
	})

	t.Run("ListOrderIsCreationOrder", func(t *testing.T) {
		s := newStore(t)
		var ids []string
		for i := 0; i < 4; i++ {
			u := mustUser(t, fmt.Sprintf("order%d@example.in", i))
			if _, err := s.Create(ctx, u); err != nil {
				t.Fatalf("Create: %v", err)
			}
			ids = append(ids, u.ID)
		}
		page, err := s.List(ctx, "", 10)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		for i, u := range page.Users {
			if u.ID != ids[i] {
				t.Fatalf("List[%d] = %s, want %s", i, u.ID, ids[i])
			}
		}
	})

	t.Run("BadCursor", func(t *testing.T) {
		s := newStore(t)
		for _, c := range []string{"nope", "dTE6MA", "!!", "dTE6LTU", "dTE6Mg"} {
			if _, err := s.List(ctx, c, 10); !errors.Is(err, domain.ErrInvalidCursor) {
				t.Fatalf("List(cursor %q) of no users = %v, want ErrInvalidCursor", c, err)
			}
		}
	})

	// A cursor is taken only when it could have been issued for the list:
	// its kind, and a position from 2 to the last one handed out. Past the
	// list's end (the tester's u1:1000 answered an empty page) it is refused.
	t.Run("CursorWithinTheList", func(t *testing.T) {
		s := newStore(t)
		var ids []string
		for i := 0; i < 5; i++ {
			u := mustUser(t, fmt.Sprintf("cursor%d@example.in", i))
			if _, err := s.Create(ctx, u); err != nil {
				t.Fatalf("Create: %v", err)
			}
			ids = append(ids, u.ID)
		}
		first, err := s.List(ctx, "", 2)
		if err != nil || first.Next != page.Cursor("u1", 3) {
			t.Fatalf("List(\"\", 2) = %+v, %v; want the cursor of position 3", first, err)
		}
		cases := []struct {
			name   string
			cursor string
			want   string // the first user listed; "" for a refusal
		}{
			{"issued", first.Next, ids[2]},
			{"the lowest issuable", page.Cursor("u1", 2), ids[1]},
			{"the last position", page.Cursor("u1", 5), ids[4]},
			{"just past the last", page.Cursor("u1", 6), ""},
			{"u1:1000", "dTE6MTAwMA", ""},
			{"the largest position", page.Cursor("u1", math.MaxInt64), ""},
			{"position 1", page.Cursor("u1", 1), ""},
			{"position 0", page.Cursor("u1", 0), ""},
			{"negative", page.Cursor("u1", -1), ""},
			{"the wallet's kind", page.Cursor("w1", 3), ""},
			{"a bills cursor", page.Cursor("b", 3), ""},
			{"a leading zero", base64.RawURLEncoding.EncodeToString([]byte("u1:03")), ""},
			{"not base64", "!!", ""},
		}
		for _, tc := range cases {
			got, err := s.List(ctx, tc.cursor, 2)
			if tc.want == "" {
				var ae *apperr.Error
				if !errors.Is(err, domain.ErrInvalidCursor) || !errors.As(err, &ae) || ae.Details["field"] != "cursor" || ae.Message != "cursor is not one this server issued" {
					t.Errorf("%s: List(cursor %q) = %+v, %v; want ErrInvalidCursor", tc.name, tc.cursor, got, err)
				}
				continue
			}
			if err != nil || len(got.Users) == 0 || got.Users[0].ID != tc.want {
				t.Errorf("%s: List(cursor %q) = %+v, %v; want a page from %s", tc.name, tc.cursor, got, err, tc.want)
			}
		}
	})
}

// CheckRepair simulates a sign-up that died right after claiming its email
// (only the claim was written) and checks that the next sign-up with that
// email completes the first user instead of leaving it invisible.
func CheckRepair(t *testing.T, ctx context.Context, s *store.Store, mem *sidecartest.MemState) {
	t.Helper()
	u, _ := domain.NewUser("Half Done", "half@example.in", "", time.Now())
	mem.FailAfter("user/", 0) // every write of user/... fails, as if the process died
	if _, err := s.Create(ctx, u); err == nil {
		t.Fatalf("Create with failing writes = nil, want an error")
	}
	mem.FailAfter("", -1)
	if _, err := s.Get(ctx, u.ID); !errors.Is(err, domain.ErrUserNotFound) {
		t.Fatalf("Get after half sign-up = %v, want ErrUserNotFound", err)
	}
	again, _ := domain.NewUser("Someone Else", "HALF@example.in", "", time.Now())
	if _, err := s.Create(ctx, again); !errors.Is(err, domain.ErrEmailTaken) {
		t.Fatalf("second sign-up = %v, want ErrEmailTaken", err)
	}
	got, err := s.Get(ctx, u.ID)
	if err != nil || got.Name != "Half Done" {
		t.Fatalf("Get after repair = %+v, %v; want the first user", got, err)
	}
	page, err := s.List(ctx, "", 10)
	if err != nil || len(page.Users) != 1 || page.Users[0].ID != u.ID {
		t.Fatalf("List after repair = %+v, %v; want the first user once", page.Users, err)
	}
}

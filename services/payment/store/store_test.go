package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/listindex"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/payment/domain"
	"github.com/finflow/finflow/services/payment/store"
)

// The domain reads a user's list in stretches the list index serves in one
// read of its head and one bulk read of its pages: the two sizes must agree,
// or a stretch would cost more round trips than ListPayments documents.
func TestListStretchIsTheIndexPage(t *testing.T) {
	if domain.ListStretch != listindex.PageSize {
		t.Fatalf("domain.ListStretch = %d, listindex.PageSize = %d", domain.ListStretch, listindex.PageSize)
	}
}

// Payments created and settled at once by two processes (two stores on one
// state, each with its own cache, as replicas are): every one is indexed
// before it exists, listed once at its place, updated without losing a
// write, and forgotten from the index when asked; the index's writers of
// one process share their writes (group commit).
func TestConcurrentPaymentsTwoProcesses(t *testing.T) {
	ctx := context.Background()
	mem := sidecartest.NewMemState()
	// Each write of a pending shard takes a millisecond, as a round trip to
	// the sidecar does: the writers that come meanwhile are what group
	// commit shares a write among. (Without it, a write in memory can end
	// before the next writer comes, and on a loaded machine nearly every
	// one did: 204 writes for 200 payments.)
	mem.SlowWrites("pending/", time.Millisecond)
	stores := []*store.Store{
		store.New(mem, "payment-store").WithCache(sidecar.NewCache(mem, "payment-store", "memory", 64)),
		store.New(mem, "payment-store").WithCache(sidecar.NewCache(mem, "payment-store", "memory", 64)),
	}
	const n = 200
	users := []string{"usr_a", "usr_b", "usr_c"}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := stores[i%2]
			id := fmt.Sprintf("pay_%04d", i)
			p := domain.NewWalletPayment(id, domain.Bill{ID: fmt.Sprintf("bill_%04d", i), UserID: users[i%3], Amount: 100, Currency: "INR"}, time.Now())
			if _, err := s.Create(ctx, p); err != nil {
				errs <- fmt.Errorf("Create(%s) = %w", id, err)
				return
			}
			// The other process touches it too (a recovery round), then
			// this one settles it.
			if _, err := stores[(i+1)%2].Update(ctx, id, func(q *domain.Payment) bool { q.FailureReason = "seen"; return true }); err != nil {
				errs <- err
				return
			}
			if _, err := s.Update(ctx, id, func(q *domain.Payment) bool { q.Status = domain.Success; return true }); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	pending, err := stores[0].Pending(ctx)
	if err != nil || len(pending) != n {
		t.Fatalf("Pending = %d ids, %v; want %d", len(pending), err, n)
	}
	if _, w := mem.Count("pending/"); w >= n {
		t.Errorf("%d writes of pending shards for %d payments; want fewer (group commit)", w, n)
	}
	listed := 0
	for _, u := range users {
		page, err := stores[1].List(ctx, domain.PurposeBill, u, 0, 50)
		for err == nil {
			listed += len(page.Items)
			for _, p := range page.Items {
				if p.Status != domain.Success || p.FailureReason != "seen" {
					t.Fatalf("%s = %s %q; want SUCCESS with both updates", p.ID, p.Status, p.FailureReason)
				}
			}
			if page.Next == 0 {
				break
			}
			page, err = stores[1].List(ctx, domain.PurposeBill, u, page.Next, 50)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if listed != n {
		t.Fatalf("%d payments listed, want %d", listed, n)
	}
	if err := stores[1].Forget(ctx, pending); err != nil {
		t.Fatal(err)
	}
	if left, err := stores[0].Pending(ctx); err != nil || len(left) != 0 {
		t.Fatalf("Pending after Forget = %v, %v; want none", left, err)
	}
}

// CreateClaimed writes a payment and its bill's claim together; when the
// bill is claimed already, or the payment exists (a retry), it says so
// from one read back, since the transaction says neither.
func TestCreateClaimed(t *testing.T) {
	ctx := context.Background()
	bill := domain.Bill{ID: "bill_cc", UserID: "usr_cc", Amount: 500, Currency: "INR"}
	for _, tc := range []struct {
		name        string
		before      func(*store.Store) error
		wantClaimed bool
		wantErr     error
	}{
		{"a bill nobody claimed", func(*store.Store) error { return nil }, true, nil},
		{"a bill another payment claimed", func(s *store.Store) error {
			return s.ClaimBill(ctx, bill.ID, "pay_other")
		}, false, nil},
		{"a payment that exists (a retry)", func(s *store.Store) error {
			_, err := s.Create(ctx, domain.NewWalletPayment("pay_cc", bill, time.Now().Add(-time.Second)))
			return err
		}, false, domain.ErrPaymentExists},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := store.New(sidecartest.NewMemState(), "payment-store")
			if err := tc.before(s); err != nil {
				t.Fatal(err)
			}
			_, claimed, err := s.CreateClaimed(ctx, domain.NewWalletPayment("pay_cc", bill, time.Now()))
			if claimed != tc.wantClaimed || !errors.Is(err, tc.wantErr) {
				t.Fatalf("CreateClaimed = %v, %v; want %v, %v", claimed, err, tc.wantClaimed, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			if _, err := s.Get(ctx, "pay_cc"); err != nil {
				t.Fatalf("Get after CreateClaimed: %v", err)
			}
			holder, _, _ := s.BillClaim(ctx, bill.ID)
			if want := map[bool]string{true: "pay_cc", false: "pay_other"}[tc.wantClaimed]; holder != want {
				t.Fatalf("claim held by %q, want %q", holder, want)
			}
		})
	}
}

// A payment refused the bill's claim (another active payment held it) is
// refused again by every process, even once the holder failed and let the
// claim go: it was told no and is ending FAILED, and a later driver of it
// (the recovery loop) must not take the claim and pay the bill meanwhile.
// Other payments take the freed claim as before.
func TestClaimRefusalsStick(t *testing.T) {
	ctx := context.Background()
	mem := sidecartest.NewMemState()
	s := []*store.Store{store.New(mem, "payment-store"), store.New(mem, "payment-store")}
	bill := domain.Bill{ID: "bill_rs", UserID: "usr_rs", Amount: 500, Currency: "INR"}
	for _, id := range []string{"pay_q", "pay_p", "pay_r", "pay_t"} {
		if _, err := s[0].Create(ctx, domain.NewWalletPayment(id, bill, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(i int, id, wantHolder string) {
		t.Helper()
		err := s[i].ClaimBill(ctx, bill.ID, id)
		var held *domain.ClaimedError
		switch {
		case wantHolder == "" && err != nil:
			t.Fatalf("ClaimBill(%s) = %v, want it claimed", id, err)
		case wantHolder != "" && !errors.As(err, &held):
			t.Fatalf("ClaimBill(%s) = %v, want refused", id, err)
		case wantHolder != "" && held.Holder != wantHolder:
			t.Fatalf("ClaimBill(%s) refused naming %q, want %q", id, held.Holder, wantHolder)
		}
	}
	fail := func(id string) {
		t.Helper()
		if _, err := s[1].Update(ctx, id, func(p *domain.Payment) bool { p.Status = domain.Failed; return true }); err != nil {
			t.Fatal(err)
		}
	}
	claim(0, "pay_q", "")
	claim(1, "pay_p", "pay_q")
	fail("pay_q")
	claim(0, "pay_p", "pay_q") // the holder failed, and has not let go yet
	if err := s[0].ReleaseBill(ctx, bill.ID, "pay_q"); err != nil {
		t.Fatal(err)
	}
	if holder, found, err := s[1].BillClaim(ctx, bill.ID); err != nil || found {
		t.Fatalf("BillClaim after the release = %q, %v, %v; want none", holder, found, err)
	}
	claim(1, "pay_p", "(none now; this payment was refused before)")
	claim(0, "pay_r", "")
	claim(1, "pay_p", "pay_r")
	fail("pay_r")
	if err := s[1].ReleaseBill(ctx, bill.ID, "pay_r"); err != nil {
		t.Fatal(err)
	}
	claim(0, "pay_t", "")
	claim(1, "pay_p", "pay_t")
	if holder, found, _ := s[0].BillClaim(ctx, bill.ID); !found || holder != "pay_t" {
		t.Fatalf("BillClaim = %q, %v; want pay_t", holder, found)
	}
}

// A dead letter is resolved once, stays listed with its resolution, and
// resolving one that is not there changes nothing.
func TestResolveDeadLetter(t *testing.T) {
	ctx := context.Background()
	s := store.New(sidecartest.NewMemState(), "payment-store")
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, id := range []string{"refund_not_made:pay_1", "refund_not_made:pay_2"} {
		if err := s.AddDeadLetter(ctx, domain.DeadLetter{EventID: id, Kind: domain.ParkRefundNotMade, Reason: "no answer"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ id, how string }{
		{"refund_not_made:pay_1", "made"},
		{"refund_not_made:pay_1", "again"}, // once: the first resolution holds
		{"refund_not_made:pay_9", "none"},  // no such dead letter
	} {
		if err := s.ResolveDeadLetter(ctx, tc.id, tc.how, at); err != nil {
			t.Fatalf("ResolveDeadLetter(%s) = %v", tc.id, err)
		}
	}
	d, err := s.DeadLetters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]domain.DeadLetter{}
	for _, x := range d {
		got[x.EventID] = x
	}
	if len(d) != 2 || got["refund_not_made:pay_1"].Resolved != "made" || !got["refund_not_made:pay_1"].ResolvedAt.Equal(at) || got["refund_not_made:pay_2"].Resolved != "" {
		t.Fatalf("DeadLetters = %+v, want pay_1's resolved as made, pay_2's not", d)
	}
}

// retryingSidecar is a state whose InsertAll retries a failed transaction
// as the sidecar's resiliency policy does (components/resiliency.yaml:
// three retries, the first no sooner than 250 ms), within the caller's
// context, and counts its attempts. As in the sidecar, an attempt made
// once the caller's context has ended never reaches the store: its Redis
// call fails at once on the ended context. (Without that, a timer and the
// context's end that are both due when a loaded machine wakes the select
// up were a coin toss.)
type retryingSidecar struct {
	*sidecartest.MemState
	attempts atomic.Int32
}

func (r *retryingSidecar) InsertAll(ctx context.Context, st string, items []sidecar.Item) error {
	for retry := 0; ; retry++ {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", sidecar.ErrSidecar, ctx.Err())
		}
		r.attempts.Add(1)
		err := r.MemState.InsertAll(ctx, st, items)
		if err == nil || retry == 3 {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w (after %v)", sidecar.ErrSidecar, ctx.Err(), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// A payment of a bill whose claim exists (another payment holds it, or it
// was let go with its refusals kept, or its holder FAILED without letting
// it go) is created from the transaction's first attempt: the sidecar's
// retries of a conflict that can only recur are cut short, and the read
// back decides, as it does for the first attempt's answer. (They had
// made such a wallet payment take 1.5 to 2.5 s.) The claim was written by
// another process; once this one has seen it, the bill's next payment
// makes no transaction at all.
func TestCreateClaimedDoesNotWaitOutSidecarRetries(t *testing.T) {
	ctx := context.Background()
	bill := domain.Bill{ID: "bill_cr", UserID: "usr_cr", Amount: 500, Currency: "INR"}
	for _, tc := range []struct {
		name   string
		before func(*store.Store) error
		holder string
	}{
		{"claim held by another payment", func(s *store.Store) error { return s.ClaimBill(ctx, bill.ID, "pay_other") }, "pay_other"},
		{"claim let go, its refusals kept", func(s *store.Store) error {
			if _, err := s.Create(ctx, domain.NewWalletPayment("pay_holder", bill, time.Now())); err != nil {
				return err
			}
			if err := s.ClaimBill(ctx, bill.ID, "pay_holder"); err != nil {
				return err
			}
			var held *domain.ClaimedError
			if err := s.ClaimBill(ctx, bill.ID, "pay_refused"); !errors.As(err, &held) {
				return fmt.Errorf("ClaimBill(pay_refused) = %v, want *ClaimedError", err)
			}
			return s.ReleaseBill(ctx, bill.ID, "pay_holder")
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &retryingSidecar{MemState: sidecartest.NewMemState()}
			if err := tc.before(store.New(st, "payment-store")); err != nil {
				t.Fatal(err)
			}
			s := store.New(st, "payment-store")
			_, claimed, err := s.CreateClaimed(ctx, domain.NewWalletPayment("pay_cr", bill, time.Now()))
			if claimed || err != nil {
				t.Fatalf("CreateClaimed = %v, %v; want false, nil", claimed, err)
			}
			if n := st.attempts.Load(); n != 1 {
				t.Fatalf("transaction attempts = %d, want 1 (the sidecar's retries of a conflict cut short)", n)
			}
			if _, err := s.Get(ctx, "pay_cr"); err != nil {
				t.Fatalf("Get after CreateClaimed: %v", err)
			}
			if holder, _, _ := s.BillClaim(ctx, bill.ID); holder != tc.holder {
				t.Fatalf("claim held by %q, want %q", holder, tc.holder)
			}
			_, claimed, err = s.CreateClaimed(ctx, domain.NewWalletPayment("pay_cr2", bill, time.Now()))
			if claimed || err != nil {
				t.Fatalf("CreateClaimed(pay_cr2) = %v, %v; want false, nil", claimed, err)
			}
			if n := st.attempts.Load(); n != 1 {
				t.Fatalf("transaction attempts after the bill's second payment = %d, want still 1", n)
			}
			if _, err := s.Get(ctx, "pay_cr2"); err != nil {
				t.Fatalf("Get(pay_cr2): %v", err)
			}
		})
	}
}

// A transaction that wrote nothing of the payment (cut short, or the
// sidecar failed it before Redis) leaves CreateClaimed to insert the
// payment alone: created, unclaimed, for ClaimBill to decide.
func TestCreateClaimedInsertsThePaymentAloneWhenTheTransactionWroteNothing(t *testing.T) {
	ctx := context.Background()
	st := &failingInsertAll{MemState: sidecartest.NewMemState()}
	s := store.New(st, "payment-store")
	bill := domain.Bill{ID: "bill_fa", UserID: "usr_fa", Amount: 500, Currency: "INR"}
	_, claimed, err := s.CreateClaimed(ctx, domain.NewWalletPayment("pay_fa", bill, time.Now()))
	if claimed || err != nil {
		t.Fatalf("CreateClaimed = %v, %v; want false, nil", claimed, err)
	}
	if _, err := s.Get(ctx, "pay_fa"); err != nil {
		t.Fatalf("Get after CreateClaimed: %v", err)
	}
	if err := s.ClaimBill(ctx, bill.ID, "pay_fa"); err != nil {
		t.Fatalf("ClaimBill after CreateClaimed: %v", err)
	}
}

// failingInsertAll is a state whose transactions never reach the store.
type failingInsertAll struct{ *sidecartest.MemState }

func (failingInsertAll) InsertAll(ctx context.Context, _ string, _ []sidecar.Item) error {
	return fmt.Errorf("%w: %w", sidecar.ErrSidecar, context.DeadlineExceeded)
}

// A claim this process let go (deleted) is not remembered: the bill's
// next payment is created holding it, in the one transaction.
func TestCreateClaimedAfterTheClaimWasLetGo(t *testing.T) {
	ctx := context.Background()
	st := &retryingSidecar{MemState: sidecartest.NewMemState()}
	s := store.New(st, "payment-store")
	bill := domain.Bill{ID: "bill_lg", UserID: "usr_lg", Amount: 500, Currency: "INR"}
	if _, err := s.Create(ctx, domain.NewWalletPayment("pay_first", bill, time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := s.ClaimBill(ctx, bill.ID, "pay_first"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseBill(ctx, bill.ID, "pay_first"); err != nil {
		t.Fatal(err)
	}
	_, claimed, err := s.CreateClaimed(ctx, domain.NewWalletPayment("pay_next", bill, time.Now()))
	if !claimed || err != nil {
		t.Fatalf("CreateClaimed = %v, %v; want true, nil", claimed, err)
	}
	if n := st.attempts.Load(); n != 1 {
		t.Fatalf("transaction attempts = %d, want 1", n)
	}
}

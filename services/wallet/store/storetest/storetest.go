// Package storetest is the contract suite every wallet store must pass. It
// runs against an in-memory state in the unit tests and against the real
// wallet sidecar and Redis in the end-to-end suite.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/page"
	"github.com/finflow/finflow/services/wallet/domain"
	"github.com/finflow/finflow/services/wallet/store"
)

// Run runs the suite. newStores returns n stores over one shared state (as
// n processes of the wallet service would be); each call may share state
// with earlier calls, since every case uses its own wallet.
func Run(t *testing.T, newStores func(tb testing.TB, n int) []*store.Store) {
	ctx := context.Background()
	newWallet := func(tb testing.TB, s *store.Store) string {
		tb.Helper()
		user := id.New(id.User)
		if err := s.Create(ctx, domain.NewWallet(user, time.Now())); err != nil {
			tb.Fatalf("Create: %v", err)
		}
		return user
	}
	apply := func(tb testing.TB, s *store.Store, user string, op domain.Operation) domain.Result {
		tb.Helper()
		res, err := s.Apply(ctx, user, op)
		if err != nil {
			tb.Fatalf("Apply(%+v): %v", op, err)
		}
		return res
	}

	t.Run("CreateTwice", func(t *testing.T) {
		s := newStores(t, 1)[0]
		user := newWallet(t, s)
		if err := s.Create(ctx, domain.NewWallet(user, time.Now())); !errors.Is(err, domain.ErrWalletExists) {
			t.Fatalf("second Create = %v, want ErrWalletExists", err)
		}
	})

	t.Run("BindKeyKeepsTheFirstRequest", func(t *testing.T) {
		stores := newStores(t, 4)
		keyID := domain.KeyID(id.New("k"))
		const n = 12
		got := make([]domain.KeyUse, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				use := domain.KeyUse{Action: "add", UserID: id.New(id.User), Amount: int64(i + 1)}
				got[i], errs[i] = stores[i%len(stores)].BindKey(ctx, keyID, use)
			}()
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil || got[i] != got[0] {
				t.Fatalf("BindKey #%d = %+v, %v; want every request to get the one bound first, %+v", i, got[i], errs[i], got[0])
			}
		}
		other := domain.KeyUse{Action: "create", UserID: id.New(id.User)}
		if again, err := stores[0].BindKey(ctx, keyID, other); err != nil || again != got[0] {
			t.Fatalf("BindKey(%+v) later = %+v, %v; want %+v", other, again, err, got[0])
		}
	})

	t.Run("OpenedByIsKept", func(t *testing.T) {
		s := newStores(t, 1)[0]
		w := domain.NewWallet(id.New(id.User), time.Now())
		w.OpenedBy = domain.KeyID("a-token")
		if err := s.Create(ctx, w); err != nil {
			t.Fatalf("Create: %v", err)
		}
		apply(t, s, w.UserID, domain.Operation{Type: domain.Credit, Amount: 5})
		got, err := s.Get(ctx, w.UserID)
		if err != nil || got.OpenedBy != w.OpenedBy || got.Balance != 5 {
			t.Fatalf("Get = %+v, %v; want OpenedBy %s and balance 5", got, err, w.OpenedBy)
		}
	})

	t.Run("Missing", func(t *testing.T) {
		s := newStores(t, 1)[0]
		user := id.New(id.User)
		if _, err := s.Get(ctx, user); !errors.Is(err, domain.ErrWalletNotFound) {
			t.Fatalf("Get = %v, want ErrWalletNotFound", err)
		}
		if _, err := s.Apply(ctx, user, domain.Operation{Type: domain.Credit, Amount: 1}); !errors.Is(err, domain.ErrWalletNotFound) {
			t.Fatalf("Apply = %v, want ErrWalletNotFound", err)
		}
	})

	t.Run("CreditDebitAndOverdraft", func(t *testing.T) {
		s := newStores(t, 1)[0]
		user := newWallet(t, s)
		apply(t, s, user, domain.Operation{Type: domain.Credit, Amount: 1000})
		apply(t, s, user, domain.Operation{Type: domain.Debit, Amount: 400, Reference: "pay_a"})
		if _, err := s.Apply(ctx, user, domain.Operation{Type: domain.Debit, Amount: 601, Reference: "pay_b"}); !errors.Is(err, domain.ErrInsufficientFunds) {
			t.Fatalf("overdraft = %v, want ErrInsufficientFunds", err)
		}
		w, _ := s.Get(ctx, user)
		if w.Balance != 600 {
			t.Fatalf("balance = %d, want 600", w.Balance)
		}
		// The refused debit left no ledger entry.
		if _, found, _ := s.FindReference(ctx, user, "pay_b"); found {
			t.Fatalf("refused debit was recorded")
		}
	})

	// A debit refused for insufficient funds is refused again under its
	// reference, by every process, however much is credited meanwhile: a
	// payment's request told no and about to record the payment FAILED,
	// and the recovery loop driving the same payment, get the same answer
	// (docs/correctness.md). Another reference is debited as usual. The
	// document keeps its 32 latest refusals; an older one moves to its
	// reference key and is still refused, whoever reads it.
	t.Run("RefusedDebitStaysRefused", func(t *testing.T) {
		stores := newStores(t, 2)
		user := newWallet(t, stores[0])
		apply(t, stores[0], user, domain.Operation{Type: domain.Credit, Amount: 500, Reference: "top-1"})
		refusedOp := domain.Operation{Type: domain.Debit, Amount: 800, Reference: "pay_r"}
		if _, err := stores[0].Apply(ctx, user, refusedOp); !errors.Is(err, domain.ErrInsufficientFunds) {
			t.Fatalf("first debit = %v, want ErrInsufficientFunds", err)
		}
		apply(t, stores[1], user, domain.Operation{Type: domain.Credit, Amount: 1000, Reference: "top-2"})
		for i, s := range []*store.Store{stores[1], stores[0], stores[1]} {
			if _, err := s.Apply(ctx, user, refusedOp); !errors.Is(err, domain.ErrInsufficientFunds) {
				t.Fatalf("asked again (%d) with 1500 in the wallet = %v, want ErrInsufficientFunds", i+1, err)
			}
		}
		if _, err := stores[0].Apply(ctx, user, domain.Operation{Type: domain.Debit, Amount: 700, Reference: "pay_r"}); !errors.Is(err, domain.ErrReferenceReused) {
			t.Fatalf("another amount under the refused reference = %v, want ErrReferenceReused", err)
		}
		apply(t, stores[0], user, domain.Operation{Type: domain.Debit, Amount: 800, Reference: "pay_s"})
		if w, _ := stores[1].Get(ctx, user); w.Balance != 700 {
			t.Fatalf("balance = %d, want 1500 - 800 = 700", w.Balance)
		}
		refuseBig := func(i int) {
			t.Helper()
			if _, err := stores[i%2].Apply(ctx, user, domain.Operation{Type: domain.Debit, Amount: 100_000, Reference: fmt.Sprintf("pay_big%d", i)}); !errors.Is(err, domain.ErrInsufficientFunds) {
				t.Fatalf("debit of 100000 (%d) = %v, want ErrInsufficientFunds", i, err)
			}
		}
		for i := 0; i < 31; i++ {
			refuseBig(i)
		}
		apply(t, stores[1], user, domain.Operation{Type: domain.Credit, Amount: 1000, Reference: "top-3"})
		if _, err := stores[1].Apply(ctx, user, refusedOp); !errors.Is(err, domain.ErrInsufficientFunds) {
			t.Fatalf("with 31 later refusals kept beside it = %v, want ErrInsufficientFunds", err)
		}
		for i := 31; i < 40; i++ {
			refuseBig(i)
		}
		for i, s := range []*store.Store{stores[0], stores[1]} {
			if _, err := s.Apply(ctx, user, refusedOp); !errors.Is(err, domain.ErrInsufficientFunds) {
				t.Fatalf("with 40 later refusals (%d) = %v, want ErrInsufficientFunds", i+1, err)
			}
			if _, err := s.Apply(ctx, user, domain.Operation{Type: domain.Debit, Amount: 100_000, Reference: "pay_big0"}); !errors.Is(err, domain.ErrInsufficientFunds) {
				t.Fatalf("the oldest of the 40, moved out (%d) = %v, want ErrInsufficientFunds", i+1, err)
			}
			if _, err := s.Apply(ctx, user, domain.Operation{Type: domain.Credit, Amount: 5, Reference: "pay_big1"}); !errors.Is(err, domain.ErrReferenceReused) {
				t.Fatalf("a credit under a moved refusal's reference (%d) = %v, want ErrReferenceReused", i+1, err)
			}
		}
		if _, found, err := stores[0].FindReference(ctx, user, "pay_big0"); err != nil || found {
			t.Fatalf("FindReference of a refused debit = %v, %v; want not found", found, err)
		}
		w, _ := stores[1].Get(ctx, user)
		if w.Balance != 1700 {
			t.Fatalf("balance = %d, want 700 + 1000 = 1700: no refused debit applied", w.Balance)
		}
		CheckLedger(t, listAll(t, stores[0], user, 100), w.Balance)
	})

	// A debit asked for before the user has a wallet is refused with
	// ErrWalletNotFound, and stays refused once the wallet is opened and
	// funded: a payment's driver told "no wallet" and about to record the
	// payment FAILED, and another driver coming later, get the same
	// answer. Until Create, the refusal's document is no wallet to anyone.
	t.Run("DebitWithoutAWalletStaysRefused", func(t *testing.T) {
		stores := newStores(t, 2)
		user := id.New(id.User)
		op := domain.Operation{Type: domain.Debit, Amount: 300, Reference: "pay_early"}
		for i, s := range []*store.Store{stores[0], stores[1], stores[0]} {
			if _, err := s.Apply(ctx, user, op); !errors.Is(err, domain.ErrWalletNotFound) {
				t.Fatalf("debit without a wallet (%d) = %v, want ErrWalletNotFound", i+1, err)
			}
		}
		if _, err := stores[1].Apply(ctx, user, domain.Operation{Type: domain.Debit, Amount: 1, Reference: "pay_other"}); !errors.Is(err, domain.ErrWalletNotFound) {
			t.Fatalf("another debit without a wallet = %v, want ErrWalletNotFound", err)
		}
		for _, s := range stores {
			if _, err := s.Get(ctx, user); !errors.Is(err, domain.ErrWalletNotFound) {
				t.Fatalf("Get before Create = %v, want ErrWalletNotFound", err)
			}
			if _, err := s.Apply(ctx, user, domain.Operation{Type: domain.Credit, Amount: 10, Reference: "top-0"}); !errors.Is(err, domain.ErrWalletNotFound) {
				t.Fatalf("credit before Create = %v, want ErrWalletNotFound", err)
			}
			if _, _, err := s.FindReference(ctx, user, "pay_early"); !errors.Is(err, domain.ErrWalletNotFound) {
				t.Fatalf("FindReference before Create = %v, want ErrWalletNotFound", err)
			}
			if _, err := s.Transactions(ctx, user, "", 10); !errors.Is(err, domain.ErrWalletNotFound) {
				t.Fatalf("Transactions before Create = %v, want ErrWalletNotFound", err)
			}
		}
		if err := stores[1].Create(ctx, domain.NewWallet(user, time.Now())); err != nil {
			t.Fatalf("Create after refused debits: %v", err)
		}
		if err := stores[0].Create(ctx, domain.NewWallet(user, time.Now())); !errors.Is(err, domain.ErrWalletExists) {
			t.Fatalf("second Create = %v, want ErrWalletExists", err)
		}
		apply(t, stores[0], user, domain.Operation{Type: domain.Credit, Amount: 1000, Reference: "top-1"})
		for i, s := range []*store.Store{stores[0], stores[1]} {
			if _, err := s.Apply(ctx, user, op); !errors.Is(err, domain.ErrWalletNotFound) {
				t.Fatalf("the refused debit with 1000 in the opened wallet (%d) = %v, want ErrWalletNotFound", i+1, err)
			}
		}
		apply(t, stores[1], user, domain.Operation{Type: domain.Debit, Amount: 300, Reference: "pay_later"})
		w, err := stores[0].Get(ctx, user)
		if err != nil || w.Balance != 700 {
			t.Fatalf("balance = %d, %v; want 700", w.Balance, err)
		}
		CheckLedger(t, listAll(t, stores[1], user, 100), w.Balance)
	})

	// Create racing debits without a wallet: whichever comes first, the
	// wallet ends opened, every debit refused before it stays refused, and
	// none is applied.
	t.Run("CreateRacesDebitsWithoutAWallet", func(t *testing.T) {
		stores := newStores(t, 2)
		for round := 0; round < 5; round++ {
			user := id.New(id.User)
			var wg sync.WaitGroup
			refused := make([]bool, 8)
			for i := range refused {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := stores[i%2].Apply(ctx, user, domain.Operation{Type: domain.Debit, Amount: 1, Reference: fmt.Sprintf("pay_%d", i)})
					refused[i] = errors.Is(err, domain.ErrWalletNotFound)
					if err != nil && !refused[i] && !errors.Is(err, domain.ErrInsufficientFunds) {
						t.Errorf("debit %d = %v", i, err)
					}
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := stores[round%2].Create(ctx, domain.NewWallet(user, time.Now())); err != nil {
					t.Errorf("Create: %v", err)
				}
			}()
			wg.Wait()
			apply(t, stores[0], user, domain.Operation{Type: domain.Credit, Amount: 100, Reference: "top"})
			for i, was := range refused {
				_, err := stores[1].Apply(ctx, user, domain.Operation{Type: domain.Debit, Amount: 1, Reference: fmt.Sprintf("pay_%d", i)})
				if was != errors.Is(err, domain.ErrWalletNotFound) {
					t.Fatalf("round %d: debit %d was refused for no wallet: %v; asked again: %v", round, i, was, err)
				}
			}
		}
	})

	t.Run("ReferenceAppliedOnce", func(t *testing.T) {
		s := newStores(t, 1)[0]
		user := newWallet(t, s)
		op := domain.Operation{Type: domain.Credit, Amount: 250, Reference: "topup-1"}
		first := apply(t, s, user, op)
		again := apply(t, s, user, op)
		if first.Replayed || !again.Replayed || again.Tx.ID != first.Tx.ID || again.Wallet.Balance != 250 {
			t.Fatalf("first %+v, again %+v: want one credit, the second a replay", first, again)
		}
		op.Amount = 999
		if _, err := s.Apply(ctx, user, op); !errors.Is(err, domain.ErrReferenceReused) {
			t.Fatalf("same reference, other amount = %v, want ErrReferenceReused", err)
		}
	})

	t.Run("LongLedgerPagesAndOldReferences", func(t *testing.T) {
		s := newStores(t, 1)[0]
		user := newWallet(t, s)
		const n = 130 // several archived pages
		var balance int64
		for i := 1; i <= n; i++ {
			typ, amt := domain.Credit, int64(100+i)
			if i%3 == 0 {
				typ, amt = domain.Debit, 50
			}
			res := apply(t, s, user, domain.Operation{Type: typ, Amount: amt, Reference: fmt.Sprintf("ref-%d", i)})
			if typ == domain.Credit {
				balance += amt
			} else {
				balance -= amt
			}
			if res.Tx.Seq != int64(i) || res.Wallet.Balance != balance {
				t.Fatalf("op %d: seq %d balance %d, want %d and %d", i, res.Tx.Seq, res.Wallet.Balance, i, balance)
			}
		}
		// Every reference, archived or not, is still applied only once.
		for _, i := range []int{1, 2, 25, 26, 51, 99, 129, 130} {
			typ, amt := domain.Credit, int64(100+i)
			if i%3 == 0 {
				typ, amt = domain.Debit, 50
			}
			res := apply(t, s, user, domain.Operation{Type: typ, Amount: amt, Reference: fmt.Sprintf("ref-%d", i)})
			if !res.Replayed || res.Tx.Seq != int64(i) {
				t.Fatalf("replay of ref-%d = %+v, want the original entry %d", i, res.Tx, i)
			}
		}
		w, _ := s.Get(ctx, user)
		if w.Balance != balance {
			t.Fatalf("balance after replays = %d, want %d", w.Balance, balance)
		}
		all := listAll(t, s, user, 7)
		CheckLedger(t, all, w.Balance)
		if len(all) != n {
			t.Fatalf("ledger has %d entries, want %d", len(all), n)
		}
	})

	t.Run("BadCursor", func(t *testing.T) {
		s := newStores(t, 1)[0]
		user := newWallet(t, s)
		for _, c := range []string{"x", "dzE6MQ", "dzE6OTk5"} { // garbage, position 1, beyond the end
			if _, err := s.Transactions(ctx, user, c, 10); !errors.Is(err, domain.ErrInvalidCursor) {
				t.Fatalf("Transactions(cursor %q) = %v, want ErrInvalidCursor", c, err)
			}
		}
		// With two entries the cursors issued are w1:2 (below the newest);
		// w1:3 (one past the newest) never is.
		for i := 0; i < 2; i++ {
			if _, err := s.Apply(ctx, user, domain.Operation{Type: domain.Credit, Amount: 5}); err != nil {
				t.Fatal(err)
			}
		}
		if p, err := s.Transactions(ctx, user, page.Cursor("w1", 2), 10); err != nil || len(p.Items) != 1 {
			t.Fatalf("Transactions(w1:2) = %+v, %v; want the oldest entry", p, err)
		}
		if _, err := s.Transactions(ctx, user, page.Cursor("w1", 3), 10); !errors.Is(err, domain.ErrInvalidCursor) {
			t.Fatalf("Transactions(w1:3, one past the newest) = %v, want ErrInvalidCursor", err)
		}
	})

	// 200 concurrent debits and credits on one wallet from two store
	// instances (two processes): the balance and the ledger agree exactly,
	// and no debit that would overdraw was applied.
	t.Run("ConcurrentDebitsAndCredits", func(t *testing.T) {
		stores := newStores(t, 2)
		user := newWallet(t, stores[0])
		apply(t, stores[0], user, domain.Operation{Type: domain.Credit, Amount: 5000, Reference: "seed"})
		const n = 200
		var wg sync.WaitGroup
		var mu sync.Mutex
		var credited, debited int64
		refused := 0
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				s := stores[i%2]
				op := domain.Operation{Type: domain.Debit, Amount: int64(100 + rand.IntN(400)), Reference: fmt.Sprintf("pay-%d", i)}
				if i%4 == 0 {
					op = domain.Operation{Type: domain.Credit, Amount: int64(50 + rand.IntN(100)), Reference: fmt.Sprintf("top-%d", i)}
				}
				res, err := s.Apply(ctx, user, op)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && op.Type == domain.Credit:
					credited += res.Tx.Amount
				case err == nil:
					debited += res.Tx.Amount
				case errors.Is(err, domain.ErrInsufficientFunds):
					refused++
				default:
					t.Errorf("Apply(%+v) = %v", op, err)
				}
			}(i)
		}
		wg.Wait()
		w, err := stores[1].Get(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if want := 5000 + credited - debited; w.Balance != want {
			t.Fatalf("balance %d, want 5000 + %d - %d = %d", w.Balance, credited, debited, want)
		}
		all := listAll(t, stores[0], user, 100)
		CheckLedger(t, all, w.Balance)
		if len(all) != 1+n-refused {
			t.Fatalf("ledger has %d entries, want %d (1 seed + %d applied)", len(all), 1+n-refused, n-refused)
		}
		if refused == 0 {
			t.Logf("no debit was refused; the overdraft path was not exercised this run")
		}
	})
}

// listAll pages through a wallet's ledger.
func listAll(t *testing.T, s *store.Store, user string, limit int) []domain.Transaction {
	t.Helper()
	var all []domain.Transaction
	cursor := ""
	for i := 0; i < 10000; i++ {
		page, err := s.Transactions(context.Background(), user, cursor, limit)
		if err != nil {
			t.Fatalf("Transactions(%q): %v", cursor, err)
		}
		all = append(all, page.Items...)
		if page.Next == "" {
			return all
		}
		cursor = page.Next
	}
	t.Fatalf("ledger pagination does not end")
	return nil
}

// CheckLedger verifies a full ledger, newest first: entries numbered
// n..1 without gaps, each balance_after following from the one before, never
// negative, and the newest equal to the wallet's balance.
func CheckLedger(t testing.TB, newestFirst []domain.Transaction, balance int64) {
	t.Helper()
	var running int64
	for i := len(newestFirst) - 1; i >= 0; i-- {
		e := newestFirst[i]
		if want := int64(len(newestFirst) - i); e.Seq != want {
			t.Fatalf("entry at position %d has seq %d, want %d", i, e.Seq, want)
		}
		switch e.Type {
		case domain.Credit:
			running += e.Amount
		case domain.Debit:
			running -= e.Amount
		default:
			t.Fatalf("entry %d has type %q", e.Seq, e.Type)
		}
		if running < 0 || e.BalanceAfter != running || e.Amount <= 0 {
			t.Fatalf("entry %d: amount %d balance_after %d, running %d", e.Seq, e.Amount, e.BalanceAfter, running)
		}
	}
	if running != balance {
		t.Fatalf("ledger sums to %d, wallet balance is %d", running, balance)
	}
}

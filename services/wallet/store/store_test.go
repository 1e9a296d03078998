package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/wallet/domain"
	"github.com/finflow/finflow/services/wallet/store"
	"github.com/finflow/finflow/services/wallet/store/storetest"
)

func TestStoreContractInMemory(t *testing.T) {
	storetest.Run(t, func(_ testing.TB, n int) []*store.Store {
		mem := sidecartest.NewMemState()
		out := make([]*store.Store, n)
		for i := range out {
			out[i] = store.New(mem, "wallet-store")
		}
		return out
	})
}

// The same contract with every store keeping its own cache of wallet
// documents, as processes do: copies go stale when another store writes,
// and nothing may be lost or applied twice because of it.
func TestStoreContractCached(t *testing.T) {
	storetest.Run(t, func(_ testing.TB, n int) []*store.Store {
		mem := sidecartest.NewMemState()
		out := make([]*store.Store, n)
		for i := range out {
			out[i] = store.New(mem, "wallet-store").WithCache(sidecar.NewCache(mem, "wallet-store", "memory", 64))
		}
		return out
	})
}

// A wallet document written before a page moved out at 26 entries holds 25
// to 49 of them. Its next changes move pages out as the current rule does,
// and nothing is lost: the ledger stays whole and numbered, every
// reference, old or new, is applied once, and from the first change on
// the document holds 1 to 25 entries.
func TestWalletDocumentsOfTheEarlierRule(t *testing.T) {
	ctx := context.Background()
	// The earlier rule's entry, spelled out here rather than taken from
	// the store, so that the fixture stays what was written then.
	type legacyEntry struct {
		ID           string        `json:"id"`
		Seq          int64         `json:"seq"`
		Type         domain.TxType `json:"type"`
		Amount       int64         `json:"amount"`
		BalanceAfter int64         `json:"balance_after"`
		Reference    string        `json:"reference,omitempty"`
		CreatedAt    time.Time     `json:"created_at"`
	}
	// seed writes a wallet of entries 1..n, each a credit of 100 with
	// reference r<seq>, the oldest pages of them archived as the earlier
	// rule left them, and returns the user.
	seed := func(t *testing.T, mem *sidecartest.MemState, n, pages int) string {
		t.Helper()
		user := id.New(id.User)
		at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		var all []legacyEntry // oldest first
		for i := 1; i <= n; i++ {
			all = append(all, legacyEntry{ID: fmt.Sprintf("txn_%d", i), Seq: int64(i), Type: domain.Credit, Amount: 100,
				BalanceAfter: int64(100 * i), Reference: fmt.Sprintf("r%d", i), CreatedAt: at.Add(time.Duration(i) * time.Minute)})
		}
		newestFirst := func(es []legacyEntry) []legacyEntry {
			out := make([]legacyEntry, len(es))
			for i, e := range es {
				out[len(es)-1-i] = e
			}
			return out
		}
		put := func(key string, v any) {
			raw, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if err := mem.Save(ctx, "wallet-store", key, raw, ""); err != nil {
				t.Fatal(err)
			}
		}
		for p := 0; p < pages; p++ {
			page := all[p*store.PageSize : (p+1)*store.PageSize]
			put(fmt.Sprintf("page/%s/%d", user, p), newestFirst(page))
			for _, e := range page {
				sum := sha256.Sum256([]byte(e.Reference))
				put("ref/"+user+"/"+hex.EncodeToString(sum[:16]), e)
			}
		}
		put("wallet/"+user, map[string]any{"user_id": user, "currency": "INR", "balance": 100 * n, "created_at": at,
			"next_seq": n + 1, "pages": pages, "entries": newestFirst(all[pages*store.PageSize:])})
		return user
	}
	docEntries := func(t *testing.T, mem *sidecartest.MemState, user string) int {
		t.Helper()
		it, err := mem.Get(ctx, "wallet-store", "wallet/"+user)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Entries []json.RawMessage `json:"entries"`
		}
		if err := json.Unmarshal(it.Value, &d); err != nil {
			t.Fatal(err)
		}
		return len(d.Entries)
	}
	for _, tc := range []struct {
		name       string
		n, pages   int
		wantAfter1 int // entries in the document after one more change
	}{
		{"25 entries, none archived", 25, 0, 1},
		{"37 entries, none archived", 37, 0, 13},
		{"49 entries, none archived", 49, 0, 25},
		{"25 in the document, one page archived", 50, 1, 1},
		{"49 in the document, one page archived", 74, 1, 25},
	} {
		for _, cached := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, cache %v", tc.name, cached), func(t *testing.T) {
				mem := sidecartest.NewMemState()
				s := store.New(mem, "wallet-store")
				if cached {
					s = s.WithCache(sidecar.NewCache(mem, "wallet-store", "memory", 64))
				}
				user := seed(t, mem, tc.n, tc.pages)
				total := tc.n
				for i := 1; i <= 60; i++ {
					if _, err := s.Apply(ctx, user, domain.Operation{Type: domain.Debit, Amount: 1, Reference: fmt.Sprintf("d%d", i)}); err != nil {
						t.Fatalf("debit %d: %v", i, err)
					}
					total++
					got := docEntries(t, mem, user)
					if i == 1 && got != tc.wantAfter1 {
						t.Fatalf("after the first change the document holds %d entries, want %d", got, tc.wantAfter1)
					}
					if got < 1 || got > store.PageSize {
						t.Fatalf("after debit %d the document holds %d entries, want 1 to %d", i, got, store.PageSize)
					}
				}
				// Every reference, old or new, archived or not, is applied
				// once: asking again replays the first entry.
				for _, ref := range []string{"r1", "r25", fmt.Sprintf("r%d", min(26, tc.n)), fmt.Sprintf("r%d", tc.n), "d1", "d30", "d60"} {
					op := domain.Operation{Type: domain.Credit, Amount: 100, Reference: ref}
					if ref[0] == 'd' {
						op = domain.Operation{Type: domain.Debit, Amount: 1, Reference: ref}
					}
					res, err := s.Apply(ctx, user, op)
					if err != nil || !res.Replayed {
						t.Fatalf("reference %s applied again: %+v, %v", ref, res, err)
					}
				}
				w, err := s.Get(ctx, user)
				if err != nil {
					t.Fatal(err)
				}
				if want := int64(100*tc.n - 60); w.Balance != want {
					t.Fatalf("balance %d, want %d", w.Balance, want)
				}
				var all []domain.Transaction
				for cursor := ""; ; {
					p, err := s.Transactions(ctx, user, cursor, 20)
					if err != nil {
						t.Fatal(err)
					}
					all = append(all, p.Items...)
					if p.Next == "" {
						break
					}
					cursor = p.Next
				}
				if len(all) != total {
					t.Fatalf("ledger has %d entries, want %d", len(all), total)
				}
				storetest.CheckLedger(t, all, w.Balance)
			})
		}
	}
}

// A credit refused because it would take the balance past the largest
// int64 number of paise is refused again under its reference, the same
// way, after the balance has come down: a refund's request told no and
// the refund loop get the same answer. (A balance this large cannot be
// reached through the API in a test's time, so the document is seeded.)
func TestCreditPastTheBalanceLimitStaysRefused(t *testing.T) {
	ctx := context.Background()
	for _, cached := range []bool{false, true} {
		t.Run(fmt.Sprintf("cache %v", cached), func(t *testing.T) {
			mem := sidecartest.NewMemState()
			s := store.New(mem, "wallet-store")
			if cached {
				s = s.WithCache(sidecar.NewCache(mem, "wallet-store", "memory", 64))
			}
			user := id.New(id.User)
			huge := int64(math.MaxInt64 - 500)
			raw, _ := json.Marshal(map[string]any{"user_id": user, "currency": "INR", "balance": huge,
				"created_at": time.Now().UTC(), "next_seq": 1, "pages": 0, "entries": []any{}})
			if err := mem.Save(ctx, "wallet-store", "wallet/"+user, raw, ""); err != nil {
				t.Fatal(err)
			}
			credit := domain.Operation{Type: domain.Credit, Amount: 1000, Reference: "rfnd_a"}
			if _, err := s.Apply(ctx, user, credit); !errors.Is(err, domain.ErrBalanceLimit) {
				t.Fatalf("credit past the limit = %v, want ErrBalanceLimit", err)
			}
			if _, err := s.Apply(ctx, user, domain.Operation{Type: domain.Debit, Amount: 1_000_000, Reference: "pay_a"}); err != nil {
				t.Fatalf("debit: %v", err)
			}
			if _, err := s.Apply(ctx, user, credit); !errors.Is(err, domain.ErrBalanceLimit) {
				t.Fatalf("the refused credit with room for it now = %v, want ErrBalanceLimit", err)
			}
			if _, err := s.Apply(ctx, user, domain.Operation{Type: domain.Debit, Amount: 1000, Reference: "rfnd_a"}); !errors.Is(err, domain.ErrReferenceReused) {
				t.Fatalf("a debit under the refused credit's reference = %v, want ErrReferenceReused", err)
			}
			res, err := s.Apply(ctx, user, domain.Operation{Type: domain.Credit, Amount: 1000, Reference: "rfnd_b"})
			if err != nil || res.Wallet.Balance != huge-1_000_000+1000 {
				t.Fatalf("another credit = %+v, %v; want applied", res, err)
			}
		})
	}
}

// A credit asked of a user with no wallet (an admin's top-up of a wrong
// id) is refused and writes nothing: the wallet opened later takes it.
func TestCreditWithoutAWalletWritesNothing(t *testing.T) {
	ctx := context.Background()
	mem := sidecartest.NewMemState()
	s := store.New(mem, "wallet-store")
	user := id.New(id.User)
	credit := domain.Operation{Type: domain.Credit, Amount: 1000, Reference: "idem:abc"}
	if _, err := s.Apply(ctx, user, credit); !errors.Is(err, domain.ErrWalletNotFound) {
		t.Fatalf("credit without a wallet = %v, want ErrWalletNotFound", err)
	}
	if it, err := mem.Get(ctx, "wallet-store", "wallet/"+user); err != nil || it.Found() {
		t.Fatalf("wallet key after a refused credit: %+v, %v; want none", it, err)
	}
	if err := s.Create(ctx, domain.NewWallet(user, time.Now())); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Apply(ctx, user, credit); err != nil || res.Wallet.Balance != 1000 {
		t.Fatalf("the credit once the wallet is open = %+v, %v; want applied", res, err)
	}
}

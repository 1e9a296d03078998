// Package store keeps wallets and their ledgers in the wallet service's own
// Dapr state store.
//
// Dapr's Redis state store applies a multi-key transaction without rollback,
// so the unit of consistency is one key per wallet, changed only by a
// compare-and-swap on its ETag:
//
//	wallet/<user>         the wallet document: balance, the next entry
//	                      number, and the newest ledger entries. A balance
//	                      change and its entry are one write of this key:
//	                      both happen or neither does.
//	page/<user>/<k>       older entries, 25 per page, immutable. Page k
//	                      holds entries 25k+1 .. 25k+25.
//	ref/<user>/<hash>     the entry applied with a reference, for entries
//	                      that have moved to a page.
//	key/<key id>          the request an Idempotency-Key was first used
//	                      for (BindKey), written once if absent.
//
// As soon as the document holds one entry more than a full page (26), the
// oldest 25 move out: the page and their reference keys are written first,
// then the document that no longer holds them. The document so carries 1
// to 25 entries (a document written before this rule, with up to 49,
// moves a page out on its next change): about 2.4 KB on average rather
// than the 6.5 KB of the 25 to 49 it kept before, less for every debit's
// write and every balance read to move through the app, the sidecar and
// Redis, while a page is still archived once every 25 entries. Both writes
// are idempotent (a page is always the same 25 entries), so a crash or a
// lost race in between leaves only harmless copies. Every applied
// reference is therefore always findable: in the document, or, once it
// left, in its reference key, which was written before.
//
// Within one process, operations on the same wallet also take a lock, so
// concurrent requests queue instead of failing each other's ETag checks; the
// ETag still guards against other processes.
//
// A debit with a reference refused for insufficient funds is recorded in
// the document too (Refused; one write, on the refusal only), so that the
// reference is refused again whatever is credited later. The document
// keeps the latest keepRefusals; an older refusal moves to its reference
// key (written before the document that no longer holds it), so a refused
// reference is refused for good. A debit refused because the user has no
// wallet yet is kept the same way, in a document marked Unopened that is
// no wallet to any reader until Create opens it, keeping its refusals.
//
// With a sidecar.Cache (WithCache), a debit or credit of a wallet this
// process wrote last starts from its copy in memory: no read of the
// document, and no read of the reference key while no entry has ever left
// the document. Only the write, guarded by the copy's ETag, trusts the
// copy; any other outcome (a replayed reference, insufficient funds) is
// decided again on a fresh read.
package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/finflow/finflow/platform/page"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/wallet/domain"
)

// State is what the store needs from the Dapr sidecar.
type State interface {
	Get(ctx context.Context, store, key string) (sidecar.Item, error)
	BulkGet(ctx context.Context, store string, keys []string) ([]sidecar.Item, error)
	Save(ctx context.Context, store, key string, value []byte, etag string) error
	SaveBulk(ctx context.Context, store string, items []sidecar.Item) error
	Insert(ctx context.Context, store, key string, value []byte, ttlSeconds int) error
}

// PageSize is the number of entries per archived page.
const PageSize = 25

// archiveAt is how many entries the document reaches when the oldest
// PageSize move out (leaving one, so that the newest entry is always in
// the document).
const archiveAt = PageSize + 1

// Store is the Dapr-backed domain.Store.
type Store struct {
	state State
	// cache, when set, holds the wallet documents this process last read
	// or wrote, with their ETags (WithCache).
	cache *sidecar.Cache
	name  string
	now   func() time.Time
	locks keyedMutex
}

var _ domain.Store = (*Store)(nil)

// New returns a Store on the state store component named name.
func New(state State, name string) *Store {
	return &Store{state: state, name: name, now: time.Now}
}

// WithCache makes debits and credits start from the wallet documents in v
// when v is a sidecar.Cache over the same state (anything else: no cache).
func (s *Store) WithCache(v sidecar.Versioned) *Store {
	s.cache, _ = v.(*sidecar.Cache)
	return s
}

type entry struct {
	ID           string        `json:"id"`
	Seq          int64         `json:"seq"`
	Type         domain.TxType `json:"type"`
	Amount       int64         `json:"amount"`
	BalanceAfter int64         `json:"balance_after"`
	Reference    string        `json:"reference,omitempty"`
	CreatedAt    time.Time     `json:"created_at"`
}

type walletDoc struct {
	// Unopened marks a document that holds only the refusals of debits
	// asked for before the wallet was opened: to every reader it is no
	// wallet, until Create opens it. It is encoded first, so decodeHead
	// meets it before the head.
	Unopened bool `json:"unopened,omitempty"`
	// OpenedBy is the key that opened the wallet (domain.Wallet.OpenedBy).
	// It is encoded before the head too, and only when set.
	OpenedBy  string    `json:"opened_by,omitempty"`
	UserID    string    `json:"user_id"`
	Currency  string    `json:"currency"`
	Balance   int64     `json:"balance"`
	CreatedAt time.Time `json:"created_at"`
	NextSeq   int64     `json:"next_seq"`
	Pages     int64     `json:"pages"`
	Entries   []entry   `json:"entries"` // newest first
	// Refused holds the latest debits with a reference that were refused
	// (insufficient funds, or no wallet yet), oldest first, at most
	// keepRefusals: a refused reference is answered the same way again.
	Refused []refusal `json:"refused,omitempty"`
	// RefusalsMoved counts the refusals that moved from Refused to their
	// reference keys; while it is zero no reference key holds one.
	RefusalsMoved int64 `json:"refusals_moved,omitempty"`
}

// refusal is an operation with a reference refused for an answer that
// could change later: a debit for insufficient funds or because the user
// had no wallet yet (NoWallet), a credit past the balance limit
// (BalanceLimit). It keeps the reference, the operation, the balance
// then, and when.
type refusal struct {
	Reference string        `json:"reference"`
	Type      domain.TxType `json:"type,omitempty"` // "" is a DEBIT (written before credits were kept)
	Amount    int64         `json:"amount"`
	Balance   int64         `json:"balance"`
	At        time.Time     `json:"at"`
	NoWallet  bool          `json:"no_wallet,omitempty"`
	// BalanceLimit: a credit that would have overflowed the balance.
	BalanceLimit bool `json:"balance_limit,omitempty"`
}

// refusalOf is the refusal of op answered with err at balance, and whether
// it is one to keep: an operation with a reference refused with
// ErrInsufficientFunds, ErrBalanceLimit, or, for a debit, ErrWalletNotFound
// (the payment service debits its bills' owners, who open wallets
// later; a credit is only ever asked of a wallet that exists, and one
// refused for none, an admin's top-up of a user id with no wallet,
// writes nothing).
func refusalOf(op domain.Operation, err error, balance int64) (refusal, bool) {
	r := refusal{Reference: op.Reference, Type: op.Type, Amount: op.Amount, Balance: balance}
	switch {
	case op.Reference == "":
		return refusal{}, false
	case errors.Is(err, domain.ErrWalletNotFound):
		if op.Type != domain.Debit {
			return refusal{}, false
		}
		r.NoWallet = true
	case errors.Is(err, domain.ErrBalanceLimit):
		r.BalanceLimit = true
	case !errors.Is(err, domain.ErrInsufficientFunds):
		return refusal{}, false
	}
	return r, true
}

// keepRefusals is how many refusals the document holds; older ones move to
// their reference keys. (Until 2026-12 a refusal was forgotten after 32
// newer ones or a day; a refusal must outlive any delay between a
// payment's driver being told no and it recording the payment FAILED, so
// none is forgotten now.)
const keepRefusals = 32

// refused returns the refusal of reference ref, if the document holds it.
func (d *walletDoc) refused(ref string) (refusal, bool) {
	for _, r := range d.Refused {
		if r.Reference == ref {
			return r, true
		}
	}
	return refusal{}, false
}

// refuse keeps r and returns the oldest refusals beyond keepRefusals, which
// the caller writes to their reference keys before it saves d.
func (d *walletDoc) refuse(r refusal) (moved []refusal) {
	kept := append(append([]refusal(nil), d.Refused...), r)
	if n := len(kept) - keepRefusals; n > 0 {
		moved, kept = kept[:n], kept[n:]
		d.RefusalsMoved += int64(n)
	}
	d.Refused = kept
	return moved
}

// answer is the error op under a refused reference gets again.
func (r refusal) answer(op domain.Operation) error {
	typ := r.Type
	if typ == "" {
		typ = domain.Debit
	}
	if op.Type != typ || op.Amount != r.Amount {
		return domain.ErrReferenceReused.With(
			fmt.Sprintf("reference %q was already refused for a %s of %d", op.Reference, typ, r.Amount), nil)
	}
	switch {
	case r.NoWallet:
		return domain.ErrWalletNotFound.With(
			fmt.Sprintf("there was no wallet when this %s was first asked for; a refused %s stays refused", typ, typ),
			map[string]any{"amount": r.Amount, "refused_at": r.At})
	case r.BalanceLimit:
		return domain.ErrBalanceLimit.With(
			fmt.Sprintf("the wallet balance %d could not take a credit of %d when it was first asked for; a refused credit stays refused", r.Balance, r.Amount),
			map[string]any{"balance": r.Balance, "amount": r.Amount, "refused_at": r.At})
	}
	return domain.ErrInsufficientFunds.With(
		fmt.Sprintf("wallet balance %d was below %d when this debit was first asked for; a refused debit stays refused", r.Balance, r.Amount),
		map[string]any{"balance": r.Balance, "amount": r.Amount, "refused_at": r.At})
}

// refRecord is what a reference key holds: the entry applied with the
// reference, once it moved to a page, or the refusal of a debit under it,
// once it moved out of the document.
// (A refusal is written as {"refused": ...} alone: refusalRecord.)
type refRecord struct {
	entry
	Refused *refusal `json:"refused,omitempty"`
}

// refusalRecord is a reference key holding a refusal.
type refusalRecord struct {
	Refused refusal `json:"refused"`
}

func (d *walletDoc) wallet() domain.Wallet {
	return domain.Wallet{UserID: d.UserID, Currency: d.Currency, Balance: d.Balance, CreatedAt: d.CreatedAt, OpenedBy: d.OpenedBy}
}

func fromTx(t domain.Transaction) entry {
	return entry{ID: t.ID, Seq: t.Seq, Type: t.Type, Amount: t.Amount, BalanceAfter: t.BalanceAfter, Reference: t.Reference, CreatedAt: t.CreatedAt}
}

func (e entry) tx() domain.Transaction {
	return domain.Transaction{ID: e.ID, Seq: e.Seq, Type: e.Type, Amount: e.Amount, BalanceAfter: e.BalanceAfter, Reference: e.Reference, CreatedAt: e.CreatedAt}
}

func walletKey(user string) string { return "wallet/" + user }
func pageKey(user string, k int64) string {
	return "page/" + user + "/" + strconv.FormatInt(k, 10)
}
func refKey(user, ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return "ref/" + user + "/" + hex.EncodeToString(sum[:16])
}

// Create implements domain.Store. A document holding only refusals of
// debits asked for before (Unopened) is opened, keeping them.
func (s *Store) Create(ctx context.Context, w domain.Wallet) error {
	unlock := s.locks.lock(w.UserID)
	defer unlock()
	doc := walletDoc{OpenedBy: w.OpenedBy, UserID: w.UserID, Currency: w.Currency, Balance: w.Balance, CreatedAt: w.CreatedAt, NextSeq: 1, Entries: []entry{}}
	raw, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return sidecar.RetryConflicts(ctx, func() error {
		err := s.state.Insert(ctx, s.name, walletKey(w.UserID), raw, 0)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sidecar.ErrExists) {
			return fmt.Errorf("creating wallet: %w", err)
		}
		d, etag, _, err := s.loadWithRef(ctx, w.UserID, "")
		if errors.Is(err, domain.ErrWalletNotFound) {
			return fmt.Errorf("creating wallet: %w", sidecar.ErrETagMismatch) // gone since: insert again
		} else if err != nil {
			return err
		}
		if !d.Unopened {
			return domain.ErrWalletExists
		}
		opened := doc
		opened.Refused, opened.RefusalsMoved = d.Refused, d.RefusalsMoved
		openedRaw, err := json.Marshal(opened)
		if err != nil {
			return err
		}
		if err := s.save(ctx, w.UserID, openedRaw, etag); err != nil {
			return fmt.Errorf("opening wallet: %w", err)
		}
		return nil
	})
}

// refuseUnopened records the refusal r (an operation refused because user
// has no wallet) in a new Unopened document, and returns ErrWalletNotFound. A document
// written meanwhile (the wallet opened, or another refusal) is a conflict:
// the caller reads again.
func (s *Store) refuseUnopened(ctx context.Context, user string, r refusal) error {
	d := walletDoc{Unopened: true, UserID: user, NextSeq: 1, Entries: []entry{}}
	r.At = s.now().UTC().Truncate(time.Millisecond)
	d.refuse(r)
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := s.state.Insert(ctx, s.name, walletKey(user), raw, 0); err != nil {
		return fmt.Errorf("keeping the refusal of a debit without a wallet: %w", err)
	}
	return domain.ErrWalletNotFound
}

// load reads an opened wallet's document.
func (s *Store) load(ctx context.Context, user string) (walletDoc, string, error) {
	d, etag, _, err := s.loadWithRef(ctx, user, "")
	if err == nil && d.Unopened {
		return walletDoc{}, "", domain.ErrWalletNotFound
	}
	return d, etag, err
}

// loadWithRef reads the wallet document and, when ref is set, its
// reference key in the same round trip: a wallet whose older entries have
// moved to pages needs the key to tell a new reference from an old one.
// The document may be Unopened.
func (s *Store) loadWithRef(ctx context.Context, user, ref string) (walletDoc, string, *sidecar.Item, error) {
	var it sidecar.Item
	var refItem *sidecar.Item
	defer func() {
		if s.cache != nil {
			s.cache.Observe(it)
		}
	}()
	if ref == "" {
		got, err := s.state.Get(ctx, s.name, walletKey(user))
		if err != nil {
			return walletDoc{}, "", nil, fmt.Errorf("reading wallet: %w", err)
		}
		it = got
	} else {
		got, err := s.state.BulkGet(ctx, s.name, []string{walletKey(user), refKey(user, ref)})
		if err != nil {
			return walletDoc{}, "", nil, fmt.Errorf("reading wallet: %w", err)
		}
		it, refItem = got[0], &got[1]
	}
	if !it.Found() {
		return walletDoc{}, "", nil, domain.ErrWalletNotFound
	}
	var d walletDoc
	if err := json.Unmarshal(it.Value, &d); err != nil {
		return walletDoc{}, "", nil, fmt.Errorf("decoding wallet %s: %w", user, err)
	}
	return d, it.ETag, refItem, nil
}

// Get implements domain.Store.
// It decodes the document's head only (decodeHead): a balance read neither
// builds nor scans the ledger entries it does not return.
func (s *Store) Get(ctx context.Context, user string) (domain.Wallet, error) {
	it, err := s.state.Get(ctx, s.name, walletKey(user))
	if err != nil {
		return domain.Wallet{}, fmt.Errorf("reading wallet: %w", err)
	}
	if !it.Found() {
		return domain.Wallet{}, domain.ErrWalletNotFound
	}
	h, err := decodeHead(it.Value)
	if err != nil {
		return domain.Wallet{}, fmt.Errorf("decoding wallet %s: %w", user, err)
	}
	if h.Unopened {
		return domain.Wallet{}, domain.ErrWalletNotFound
	}
	if s.cache != nil {
		s.cache.Observe(it)
	}
	return domain.Wallet{UserID: h.UserID, Currency: h.Currency, Balance: h.Balance, CreatedAt: h.CreatedAt, OpenedBy: h.OpenedBy}, nil
}

// walletHead is the wallet document without its entries.
type walletHead struct {
	Unopened  bool      `json:"unopened"`
	OpenedBy  string    `json:"opened_by"`
	UserID    string    `json:"user_id"`
	Currency  string    `json:"currency"`
	Balance   int64     `json:"balance"`
	CreatedAt time.Time `json:"created_at"`
}

// decodeHead decodes a wallet document's head: the fields of walletHead,
// read one by one until the four after Unopened and OpenedBy are in (those
// two, when set, are encoded before them), so that the ledger entries,
// which walletDoc's encoding writes after them, are never scanned
// (json.Unmarshal scans all of a document, kilobytes of entries, before
// decoding anything).
// A field it does not need before then is skipped; a document written in
// another order is still decoded, only slower. Fields absent stay zero, as
// with json.Unmarshal. What follows the head is not checked (Apply decodes
// the whole document; Redis never holds part of a write).
func decodeHead(raw []byte) (walletHead, error) {
	var h walletHead
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil {
		return h, err
	} else if t != json.Delim('{') {
		return h, fmt.Errorf("wallet document is not an object (starts with %v)", t)
	}
	for found := 0; found < 4 && dec.More(); {
		t, err := dec.Token()
		if err != nil {
			return h, err
		}
		var dst any
		switch t {
		case "unopened":
			if err := dec.Decode(&h.Unopened); err != nil {
				return h, err
			}
			continue
		case "opened_by":
			if err := dec.Decode(&h.OpenedBy); err != nil {
				return h, err
			}
			continue
		case "user_id":
			dst = &h.UserID
		case "currency":
			dst = &h.Currency
		case "balance":
			dst = &h.Balance
		case "created_at":
			dst = &h.CreatedAt
		default: // a field the head does not need
			if err := dec.Decode(new(json.RawMessage)); err != nil {
				return h, err
			}
			continue
		}
		if err := dec.Decode(dst); err != nil {
			return h, err
		}
		found++
	}
	return h, nil
}

// Apply implements domain.Store.
func (s *Store) Apply(ctx context.Context, user string, op domain.Operation) (domain.Result, error) {
	unlock := s.locks.lock(user)
	defer unlock()
	var res domain.Result
	fresh := s.cache == nil
	err := sidecar.RetryConflicts(ctx, func() error {
		var (
			d       walletDoc
			etag    string
			refItem *sidecar.Item
			err     error
		)
		if !fresh {
			d, etag, err = s.cached(user)
		}
		if fresh || err != nil {
			fresh = true
			d, etag, refItem, err = s.loadWithRef(ctx, user, op.Reference)
		}
		if r, keep := refusalOf(op, err, 0); keep && r.NoWallet {
			// No wallet: refused, and kept so (an Unopened document).
			return s.refuseUnopened(ctx, user, r)
		}
		if err != nil {
			return err
		}
		decided := func(err error) error {
			if !fresh {
				// Decided on the copy in memory without writing: decide
				// again on the store's document.
				fresh = true
				return errRedo
			}
			return err
		}
		if op.Reference != "" {
			r, refused := d.refused(op.Reference)
			prev, moved, found, err := s.findRef(ctx, &d, op.Reference, refItem)
			if err != nil {
				return err
			}
			if moved != nil {
				r, refused = *moved, true
			}
			if refused {
				return decided(r.answer(op))
			}
			if found {
				if !fresh {
					return decided(nil)
				}
				if !op.Matches(prev) {
					return domain.ErrReferenceReused.With(
						fmt.Sprintf("reference %q was already used for a %s of %d", op.Reference, prev.Type, prev.Amount),
						map[string]any{"transaction_id": prev.ID})
				}
				res = domain.Result{Wallet: d.wallet(), Tx: prev, Replayed: true}
				return nil
			}
		}
		w := d.wallet()
		var tx domain.Transaction
		if d.Unopened {
			err = domain.ErrWalletNotFound
		} else {
			tx, err = w.Apply(op, d.NextSeq, s.now())
		}
		if r, keep := refusalOf(op, err, d.Balance); keep && fresh {
			return s.keepRefusal(ctx, user, d, etag, r, err)
		}
		if err != nil {
			return decided(err)
		}
		next := d
		next.Balance = w.Balance
		next.NextSeq = d.NextSeq + 1
		next.Entries = append([]entry{fromTx(tx)}, d.Entries...)
		if len(next.Entries) >= archiveAt {
			if err := s.archive(ctx, &next); err != nil {
				return err
			}
		}
		raw, err := json.Marshal(next)
		if err != nil {
			return err
		}
		// A conflict (another process changed the wallet first) reads it
		// again.
		if err := s.save(ctx, user, raw, etag); err != nil {
			fresh = true
			return fmt.Errorf("saving wallet: %w", err)
		}
		res = domain.Result{Wallet: w, Tx: tx}
		return nil
	})
	if err != nil {
		return domain.Result{}, err
	}
	return res, nil
}

// keepRefusal records in the wallet document (d, read fresh with etag)
// the refusal r (refusalOf), and returns the refusal's error (refused).
// From then on the reference is refused again whatever the balance and
// whether or not the
// wallet is opened since: two drivers of one payment (its request and the
// recovery loop, on any instance) get the same answer, so a debit cannot
// be made after another driver was told no and is about to record the
// payment FAILED. The oldest refusals beyond keepRefusals move to their
// reference keys first. A conflict reads the wallet again (a credit may
// have come).
func (s *Store) keepRefusal(ctx context.Context, user string, d walletDoc, etag string, r refusal, refused error) error {
	r.At = s.now().UTC().Truncate(time.Millisecond)
	if moved := d.refuse(r); len(moved) > 0 {
		items := make([]sidecar.Item, 0, len(moved))
		for _, m := range moved {
			raw, err := json.Marshal(refusalRecord{Refused: m})
			if err != nil {
				return err
			}
			items = append(items, sidecar.Item{Key: refKey(user, m.Reference), Value: raw})
		}
		if err := s.state.SaveBulk(ctx, s.name, items); err != nil {
			return fmt.Errorf("moving refusals to their reference keys: %w", err)
		}
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := s.save(ctx, user, raw, etag); err != nil {
		return fmt.Errorf("saving wallet: %w", err)
	}
	return refused
}

// errRedo ends an attempt of Apply that decided on a copy from memory
// without writing; it is redone at once on a fresh read.
var errRedo = fmt.Errorf("wallet: decided on a cached copy: %w", sidecar.ErrETagMismatch)

// cached returns the copy of user's wallet document in the cache, or an
// error when there is none.
func (s *Store) cached(user string) (walletDoc, string, error) {
	it, ok := s.cache.Lookup(walletKey(user))
	if !ok {
		return walletDoc{}, "", domain.ErrWalletNotFound
	}
	var d walletDoc
	if err := json.Unmarshal(it.Value, &d); err != nil {
		s.cache.Forget(s.name, walletKey(user))
		return walletDoc{}, "", err
	}
	return d, it.ETag, nil
}

// save writes the wallet document with its ETag, through the cache when
// there is one (which then holds the written copy).
func (s *Store) save(ctx context.Context, user string, raw []byte, etag string) error {
	if s.cache != nil {
		return s.cache.Save(ctx, s.name, walletKey(user), raw, etag)
	}
	return s.state.Save(ctx, s.name, walletKey(user), raw, etag)
}

// archive moves the oldest PageSize entries of d into page d.Pages, writing
// the page and the reference keys of its entries before d is saved.
func (s *Store) archive(ctx context.Context, d *walletDoc) error {
	n := len(d.Entries)
	oldest := d.Entries[n-PageSize:] // newest first within the page
	want := d.Pages*PageSize + 1
	if oldest[PageSize-1].Seq != want {
		return fmt.Errorf("wallet %s: archiving page %d expected entry %d, found %d", d.UserID, d.Pages, want, oldest[PageSize-1].Seq)
	}
	raw, err := json.Marshal(oldest)
	if err != nil {
		return err
	}
	// The page and the reference keys in one round trip; each is an
	// immutable copy, so a partial write is only repeated by the next try.
	items := []sidecar.Item{{Key: pageKey(d.UserID, d.Pages), Value: raw}}
	for _, e := range oldest {
		if e.Reference == "" {
			continue
		}
		ref, _ := json.Marshal(e)
		items = append(items, sidecar.Item{Key: refKey(d.UserID, e.Reference), Value: ref})
	}
	if err := s.state.SaveBulk(ctx, s.name, items); err != nil {
		return fmt.Errorf("writing ledger page and reference index: %w", err)
	}
	d.Entries = append([]entry(nil), d.Entries[:n-PageSize]...)
	d.Pages++
	return nil
}

// findRef looks for the entry applied with ref in the document, then (if
// entries or refusals have ever moved out) in its reference key: in
// refItem if the caller read it already, otherwise with a read. A
// reference key may hold instead a refusal that moved out of the document
// (moved; found is then false).
func (s *Store) findRef(ctx context.Context, d *walletDoc, ref string, refItem *sidecar.Item) (tx domain.Transaction, moved *refusal, found bool, err error) {
	for _, e := range d.Entries {
		if e.Reference == ref {
			return e.tx(), nil, true, nil
		}
	}
	if d.Pages == 0 && d.RefusalsMoved == 0 {
		return domain.Transaction{}, nil, false, nil
	}
	if refItem == nil {
		it, err := s.state.Get(ctx, s.name, refKey(d.UserID, ref))
		if err != nil {
			return domain.Transaction{}, nil, false, fmt.Errorf("reading reference index: %w", err)
		}
		refItem = &it
	}
	if !refItem.Found() {
		return domain.Transaction{}, nil, false, nil
	}
	var rec refRecord
	if err := json.Unmarshal(refItem.Value, &rec); err != nil {
		return domain.Transaction{}, nil, false, fmt.Errorf("decoding reference index: %w", err)
	}
	switch {
	case rec.Refused != nil:
		return domain.Transaction{}, rec.Refused, false, nil
	case rec.ID != "":
		return rec.tx(), nil, true, nil
	}
	return domain.Transaction{}, nil, false, fmt.Errorf("reference index of %q holds neither an entry nor a refusal", ref)
}

// FindReference implements domain.Store.
func (s *Store) FindReference(ctx context.Context, user, ref string) (domain.Transaction, bool, error) {
	d, _, refItem, err := s.loadWithRef(ctx, user, ref)
	if err != nil {
		return domain.Transaction{}, false, err
	}
	if d.Unopened {
		return domain.Transaction{}, false, domain.ErrWalletNotFound
	}
	tx, _, found, err := s.findRef(ctx, &d, ref, refItem)
	return tx, found, err
}

// Transactions implements domain.Store.
func (s *Store) Transactions(ctx context.Context, user, cursor string, limit int) (domain.TxPage, error) {
	d, _, err := s.load(ctx, user)
	if err != nil {
		return domain.TxPage{}, err
	}
	before := d.NextSeq // entries with Seq < before
	if cursor != "" {
		if before, err = decodeCursor(cursor); err != nil || page.Within(before, d.NextSeq-1) != nil {
			return domain.TxPage{}, domain.ErrInvalidCursor
		}
	}
	items := make([]domain.Transaction, 0, limit)
	add := func(es []entry) {
		for _, e := range es {
			if len(items) < limit && e.Seq < before {
				items = append(items, e.tx())
			}
		}
	}
	add(d.Entries)
	// Pages that existed when the document was read are immutable, so the
	// document and the pages form one consistent snapshot.
	for len(items) < limit {
		lowest := before
		if len(items) > 0 {
			lowest = items[len(items)-1].Seq
		}
		if lowest <= 1 {
			break
		}
		k := (lowest - 2) / PageSize // the page holding entry lowest-1
		if k >= d.Pages {
			break
		}
		it, err := s.state.Get(ctx, s.name, pageKey(user, k))
		if err != nil {
			return domain.TxPage{}, fmt.Errorf("reading ledger page: %w", err)
		}
		if !it.Found() {
			return domain.TxPage{}, fmt.Errorf("wallet %s: ledger page %d is missing", user, k)
		}
		var es []entry
		if err := json.Unmarshal(it.Value, &es); err != nil {
			return domain.TxPage{}, fmt.Errorf("decoding ledger page: %w", err)
		}
		before = lowest
		got := len(items)
		add(es)
		if len(items) == got {
			return domain.TxPage{}, fmt.Errorf("wallet %s: ledger page %d has no entry below %d", user, k, lowest)
		}
	}
	out := domain.TxPage{Items: items}
	if n := len(items); n > 0 && n == limit && items[n-1].Seq > 1 {
		out.Next = encodeCursor(items[n-1].Seq)
	}
	return out, nil
}

// cursorKind tags ledger cursors; a cursor is the entry number the next
// page starts below.
const cursorKind = "w1"

func encodeCursor(before int64) string { return page.Cursor(cursorKind, before) }

func decodeCursor(c string) (int64, error) {
	before, ok := page.Position(cursorKind, c, 2)
	if !ok {
		return 0, domain.ErrInvalidCursor
	}
	return before, nil
}

// keyedMutex serialises work per key within this process.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*refMutex
}

type refMutex struct {
	sync.Mutex
	users int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*refMutex{}
	}
	m := k.locks[key]
	if m == nil {
		m = &refMutex{}
		k.locks[key] = m
	}
	m.users++
	k.mu.Unlock()
	m.Lock()
	return func() {
		m.Unlock()
		k.mu.Lock()
		m.users--
		if m.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}

// Package store keeps payments in the payment service's own Dapr state
// store. Every key is its own unit of consistency (Dapr's Redis store does
// not roll back multi-key transactions):
//
//	payment/<id>      the payment, changed by compare-and-swap on its ETag
//	claim/<bill>      the bill's active payment, written if absent; taken
//	                  over (by ETag) only from a FAILED payment, and never
//	                  by a payment it refused before
//	pending/<shard>   16 shards of the index of payments that may not be
//	                  final yet; a payment is indexed before it is created,
//	                  so none can be left PENDING unnoticed
//
// Writers of one pending shard in this process commit together: the
// changes waiting while a write of the shard is under way go into the next
// write, one compare-and-swap for all of them (group commit). Under load a
// payment's share of the index is a fraction of a round trip, and writers
// never queue behind each other's round trips one by one.
//
// A new wallet payment and its bill's claim are inserted in one state
// transaction (CreateClaimed), so the claim is never seen without its
// payment. Nothing relies on the transaction being all or nothing: when it
// fails, one read of both keys says what was written.
//
// Payment records and users' list heads are changed through a
// sidecar.Cache: a document this process wrote last is changed again
// without reading it first (its ETag is known), so a payment's final update
// and a list append are one round trip each.
package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/finflow/finflow/platform/listindex"
	"github.com/finflow/finflow/platform/ringlog"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/payment/domain"
)

// State is what the store needs from the Dapr sidecar.
type State interface {
	Get(ctx context.Context, store, key string) (sidecar.Item, error)
	BulkGet(ctx context.Context, store string, keys []string) ([]sidecar.Item, error)
	Save(ctx context.Context, store, key string, value []byte, etag string) error
	Insert(ctx context.Context, store, key string, value []byte, ttlSeconds int) error
	InsertAll(ctx context.Context, store string, items []sidecar.Item) error
	Delete(ctx context.Context, store, key, etag string) error
}

// Shards is the number of pending-index shards.
const Shards = 16

// Store is the Dapr-backed domain.Store.
type Store struct {
	state State
	// versioned is state, or a sidecar.Cache in front of it (WithCache):
	// only compare-and-swaps of payments and list heads use it.
	versioned sidecar.Versioned
	name      string
	now       func() time.Time
	shards    [Shards]shardWriter
	recent    *ringlog.Log
	// claimed is the bills whose claim key this process saw exist (wrote,
	// or found written) and did not delete since: their next payment is
	// created without the transaction (CreateClaimed).
	claimed claimsSeen
}

// claimsSeen remembers, up to keepClaimsSeen bills (the one used least
// recently forgotten first), the bills whose claim key this process saw
// exist. It is only a hint: a bill wrongly remembered costs its payment a
// round trip more (the claim is then ClaimBill's), one wrongly forgotten
// the transaction's budget (insertAllBudget).
type claimsSeen struct {
	bills *lru.Cache[string, struct{}]
}

const keepClaimsSeen = 4096

func newClaimsSeen() claimsSeen {
	bills, _ := lru.New[string, struct{}](keepClaimsSeen) // errs only for a size <= 0
	return claimsSeen{bills: bills}
}

func (c claimsSeen) see(bill string)       { c.bills.Add(bill, struct{}{}) }
func (c claimsSeen) forget(bill string)    { c.bills.Remove(bill) }
func (c claimsSeen) seen(bill string) bool { _, ok := c.bills.Get(bill); return ok }

var _ domain.Store = (*Store)(nil)

// New returns a Store on the state store component named name.
func New(state State, name string) *Store {
	return &Store{state: state, versioned: state, name: name, now: time.Now, claimed: newClaimsSeen()}
}

// WithCache makes the store's compare-and-swaps of payments and list heads
// start from v (a sidecar.Cache over the same state) instead of a read.
func (s *Store) WithCache(v sidecar.Versioned) *Store {
	s.versioned = v
	return s
}

// WithRecent makes Create note every new payment in l, the operators' list
// of recent payments (Recent).
func (s *Store) WithRecent(l *ringlog.Log) *Store {
	s.recent = l
	return s
}

// recentEntry is one line of the recent payments log.
type recentEntry struct {
	ID string `json:"id"`
}

// Recent returns up to limit payments, newest first: those still pending
// and those the recent payments log names (WithRecent), with their history.
func (s *Store) Recent(ctx context.Context, limit int) ([]domain.Payment, error) {
	ids := map[string]bool{}
	pending, err := s.Pending(ctx)
	if err != nil {
		return nil, err
	}
	// The newest limit pending ones only: during an incident there can be
	// many.
	newest := make([]string, 0, len(pending))
	for id := range pending {
		newest = append(newest, id)
	}
	sort.Slice(newest, func(i, j int) bool { return pending[newest[i]].After(pending[newest[j]]) })
	if len(newest) > limit {
		newest = newest[:limit]
	}
	for _, id := range newest {
		ids[id] = true
	}
	if s.recent != nil {
		entries, err := s.recent.Entries(ctx)
		if err != nil {
			return nil, err
		}
		for _, raw := range entries {
			var e recentEntry
			if json.Unmarshal(raw, &e) == nil && e.ID != "" {
				ids[e.ID] = true
			}
		}
	}
	keys := make([]string, 0, len(ids))
	for id := range ids {
		keys = append(keys, paymentKey(id))
	}
	items, err := s.state.BulkGet(ctx, s.name, keys)
	if err != nil {
		return nil, fmt.Errorf("reading recent payments: %w", err)
	}
	out := make([]domain.Payment, 0, len(items))
	for _, it := range items {
		if !it.Found() {
			continue // indexed, not yet written (or a crash between the two)
		}
		p, err := decodePayment(it.Value, it.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

type record struct {
	ID             string                `json:"id"`
	Purpose        domain.Purpose        `json:"purpose,omitempty"`
	BillID         string                `json:"bill_id,omitempty"`
	TopUpID        string                `json:"topup_id,omitempty"`
	UserID         string                `json:"user_id,omitempty"`
	Amount         int64                 `json:"amount,omitempty"`
	Currency       string                `json:"currency,omitempty"`
	Method         domain.Method         `json:"method"`
	Status         domain.Status         `json:"status"`
	FailureReason  string                `json:"failure_reason,omitempty"`
	CreatedAt      time.Time             `json:"created_at"`
	UpdatedAt      time.Time             `json:"updated_at"`
	History        []domain.Event        `json:"history"`
	Razorpay       *domain.RazorpayOrder `json:"razorpay,omitempty"`
	Refund         *domain.Refund        `json:"refund,omitempty"`
	LateCaptureOf  string                `json:"late_capture_of,omitempty"`
	SettledBy      string                `json:"settled_by,omitempty"`
	GatewayError   *domain.GatewayError  `json:"gateway_error,omitempty"`
	GatewayRetries int                   `json:"gateway_retries,omitempty"`
	RetryAt        time.Time             `json:"retry_at,omitzero"`
	Seq            int64                 `json:"seq,omitempty"`
	Refunds        []domain.RefundRecord `json:"refunds,omitempty"`
	BillRefunded   bool                  `json:"bill_refunded,omitempty"`
	Unconfirmed    []string              `json:"unconfirmed_captures,omitempty"`
	Disowned       []string              `json:"disowned_captures,omitempty"`
}

func toRecord(p domain.Payment) record { return record(p) }
func (r record) payment() domain.Payment {
	return domain.Payment(r)
}

func paymentKey(id string) string { return "payment/" + id }
func claimKey(bill string) string { return "claim/" + bill }
func shardKey(n int) string       { return "pending/" + strconv.Itoa(n) }

func shardOf(id string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % Shards)
}

// list is the users' lists of payments or of top-ups (listindex), read
// from the store itself.
func (s *Store) list(purpose domain.Purpose) listindex.Index {
	prefix := "payments-of"
	if purpose == domain.PurposeTopUp {
		prefix = "topups-of"
	}
	return listindex.Index{State: s.state, Store: s.name, Prefix: prefix}
}

// appendable is list for appending: its heads' compare-and-swaps start
// from the cache.
func (s *Store) appendable(purpose domain.Purpose) listindex.Index {
	x := s.list(purpose)
	x.State = versionedList{Versioned: s.versioned, bulk: s.state}
	return x
}

// versionedList is a listindex.State whose single reads may come from the
// cache (Append's compare-and-swap); bulk reads go to the store.
type versionedList struct {
	sidecar.Versioned
	bulk State
}

func (v versionedList) BulkGet(ctx context.Context, store string, keys []string) ([]sidecar.Item, error) {
	return v.bulk.BulkGet(ctx, store, keys)
}

// Forget passes a dropped copy on to the cache.
func (v versionedList) Forget(store, key string) {
	if f, ok := v.Versioned.(sidecar.Forgetter); ok {
		f.Forget(store, key)
	}
}

// Create implements domain.Store: the pending index first, then (for a
// payment whose user is known) its place in the user's list, then the
// payment, carrying that place.
func (s *Store) Create(ctx context.Context, p domain.Payment) (domain.Payment, error) {
	raw, err := s.prepare(ctx, &p)
	if err != nil {
		return domain.Payment{}, err
	}
	return s.insert(ctx, p, raw)
}

// prepare does what comes before a payment is written: its pending index
// entry, its place in its user's list; it returns the record to write.
func (s *Store) prepare(ctx context.Context, p *domain.Payment) ([]byte, error) {
	if err := s.index(ctx, p.ID); err != nil {
		return nil, err
	}
	if p.UserID != "" && p.Seq == 0 {
		seq, err := s.appendable(p.Purpose).Append(ctx, p.UserID, p.ID)
		if err != nil {
			return nil, fmt.Errorf("listing payment: %w", err)
		}
		p.Seq = seq
	}
	return json.Marshal(toRecord(*p))
}

func (s *Store) created(p domain.Payment) {
	if s.recent != nil {
		s.recent.Add(recentEntry{ID: p.ID})
	}
}

// insertAllBudget bounds CreateClaimed's state transaction. A transaction
// that fails (the bill's claim exists: held by another payment, or kept
// free with its refusals, or by a FAILED payment that did not let it go)
// fails the same way every time, yet the sidecar's retry policy for the
// store (components/resiliency.yaml, "idempotent": exponential from
// Dapr's 500 ms, ±50 %, three retries; its duration is a constant
// policy's only) repeats it: 1.5 to 2.5 s before the answer, where one
// read back decides. Dapr waits at least 250 ms before its first retry, so
// this budget ends the call before any retry, and leaves Redis's one
// round trip plenty of room; a transaction it cuts short is decided by the
// same read back.
const insertAllBudget = 200 * time.Millisecond

// CreateClaimed implements domain.Store: as Create, with the payment and
// its bill's claim inserted together (sidecar InsertAll: one transaction on
// Redis, so the claim is never seen without its payment). When that fails,
// one read of both keys tells what happened, since the transaction neither
// says which insert was refused nor undoes the other: the payment there
// but not as written is ErrPaymentExists (a retry); the payment as written
// with the claim another's (or the claim missing) is created, unclaimed,
// for ClaimBill to decide.
func (s *Store) CreateClaimed(ctx context.Context, p domain.Payment) (domain.Payment, bool, error) {
	raw, err := s.prepare(ctx, &p)
	if err != nil {
		return domain.Payment{}, false, err
	}
	if s.claimed.seen(p.BillID) {
		// The transaction would fail on the claim: the payment alone.
		p, err := s.insert(ctx, p, raw)
		return p, false, err
	}
	claimRaw, _ := json.Marshal(claim{PaymentID: p.ID})
	txCtx, cancel := context.WithTimeout(ctx, insertAllBudget)
	err = s.state.InsertAll(txCtx, s.name, []sidecar.Item{{Key: paymentKey(p.ID), Value: raw}, {Key: claimKey(p.BillID), Value: claimRaw}})
	cancel()
	if err == nil {
		s.claimed.see(p.BillID)
		if o, ok := s.versioned.(interface{ Observe(sidecar.Item) }); ok {
			o.Observe(sidecar.Item{Key: paymentKey(p.ID), Value: raw, ETag: "1"}) // an insert is version 1
		}
		s.created(p)
		return p, true, nil
	}
	items, rerr := s.state.BulkGet(ctx, s.name, []string{paymentKey(p.ID), claimKey(p.BillID)})
	if rerr != nil {
		return domain.Payment{}, false, fmt.Errorf("creating payment: %w (and reading it back: %v)", err, rerr)
	}
	switch {
	case !items[0].Found():
		// Not written, or not yet (a transaction cut short by the budget
		// may still land): the payment alone, as Create writes it. A late
		// transaction then writes nothing of the payment, and at most p's
		// own claim, which ClaimBill accepts as p's.
		p, err := s.insert(ctx, p, raw)
		return p, false, err
	case !bytes.Equal(items[0].Value, raw):
		return domain.Payment{}, false, domain.ErrPaymentExists
	}
	s.created(p)
	if items[1].Found() {
		s.claimed.see(p.BillID)
	}
	var c claim
	if items[1].Found() && json.Unmarshal(items[1].Value, &c) == nil && c.PaymentID == p.ID {
		return p, true, nil
	}
	return p, false, nil
}

// insert writes payment p (raw: its record, from prepare) alone, without
// its bill's claim, and returns it as written: Create's write, and
// CreateClaimed's when the transaction cannot or did not write it.
// Returns ErrPaymentExists.
func (s *Store) insert(ctx context.Context, p domain.Payment, raw []byte) (domain.Payment, error) {
	err := s.versioned.Insert(ctx, s.name, paymentKey(p.ID), raw, 0)
	if errors.Is(err, sidecar.ErrExists) {
		return domain.Payment{}, domain.ErrPaymentExists
	} else if err != nil {
		return domain.Payment{}, fmt.Errorf("creating payment: %w", err)
	}
	s.created(p)
	return p, nil
}

func (s *Store) load(ctx context.Context, id string) (domain.Payment, string, error) {
	it, err := s.state.Get(ctx, s.name, paymentKey(id))
	if err != nil {
		return domain.Payment{}, "", fmt.Errorf("reading payment: %w", err)
	}
	if !it.Found() {
		return domain.Payment{}, "", domain.ErrPaymentNotFound
	}
	p, err := decodePayment(it.Value, id)
	if err != nil {
		return domain.Payment{}, "", err
	}
	return p, it.ETag, nil
}

// decodePayment decodes a stored payment record; name says which in errors.
func decodePayment(raw []byte, name string) (domain.Payment, error) {
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		return domain.Payment{}, fmt.Errorf("decoding payment %s: %w", name, err)
	}
	return r.payment(), nil
}

// Get implements domain.Store.
func (s *Store) Get(ctx context.Context, id string) (domain.Payment, error) {
	p, _, err := s.load(ctx, id)
	return p, err
}

// Update implements domain.Store.
func (s *Store) Update(ctx context.Context, id string, fn func(*domain.Payment) bool) (domain.Payment, error) {
	r, err := sidecar.Update(ctx, s.versioned, s.name, paymentKey(id), func(r *record, found bool) error {
		if !found {
			return domain.ErrPaymentNotFound
		}
		p := r.payment()
		if !fn(&p) {
			return sidecar.ErrNoChange
		}
		*r = toRecord(p)
		return nil
	})
	if err != nil {
		return domain.Payment{}, err
	}
	return r.payment(), nil
}

type claim struct {
	PaymentID string `json:"payment_id"` // "" once released
	// Refused lists the payments ClaimBill refused while another active
	// payment held the claim, oldest first, at most keepRefused. Each is
	// refused again, even once the claim is free: it was told no and is
	// ending FAILED, and a driver of it that comes later (the recovery
	// loop, on any instance) must not take the claim and pay the bill
	// meanwhile.
	Refused []string `json:"refused,omitempty"`
}

// keepRefused bounds a claim's list of refused payments (a bill's racing
// payments are few).
const keepRefused = 32

// ClaimBill implements domain.Store: one insert-if-absent for a bill
// nobody claimed (the common case), else a compare-and-swap that takes the
// claim over only from a FAILED (or missing) holder.
func (s *Store) ClaimBill(ctx context.Context, billID, paymentID string) error {
	raw, _ := json.Marshal(claim{PaymentID: paymentID})
	err := s.state.Insert(ctx, s.name, claimKey(billID), raw, 0)
	if !errors.Is(err, sidecar.ErrExists) {
		if err != nil {
			return fmt.Errorf("claiming bill: %w", err)
		}
		s.claimed.see(billID)
		return nil
	}
	s.claimed.see(billID)
	var refused *domain.ClaimedError
	_, err = sidecar.Update(ctx, s.state, s.name, claimKey(billID), func(c *claim, found bool) error {
		refused = nil
		switch {
		case found && c.PaymentID == paymentID:
			return sidecar.ErrNoChange
		case slices.Contains(c.Refused, paymentID):
			return &domain.ClaimedError{Holder: cmp.Or(c.PaymentID, "(none now; this payment was refused before)")}
		case found && c.PaymentID != "":
			holder, err := s.Get(ctx, c.PaymentID)
			switch {
			case errors.Is(err, domain.ErrPaymentNotFound):
				// A claim is written after its payment; a missing holder
				// can only be lost data, and cannot be an active payment.
			case err != nil:
				return err
			case holder.Status != domain.Failed:
				// Refused, and kept so: written with the claim.
				refused = &domain.ClaimedError{Holder: c.PaymentID}
				c.Refused = append(c.Refused, paymentID)
				if len(c.Refused) > keepRefused {
					c.Refused = c.Refused[len(c.Refused)-keepRefused:]
				}
				return nil
			}
		}
		// Released meanwhile, or its holder failed: take it.
		c.PaymentID = paymentID
		return nil
	})
	if err == nil && refused != nil {
		return refused
	}
	return err
}

// ReleaseBill implements domain.Store.
func (s *Store) ReleaseBill(ctx context.Context, billID, paymentID string) error {
	it, err := s.state.Get(ctx, s.name, claimKey(billID))
	if err != nil || !it.Found() {
		return err
	}
	var c claim
	if err := json.Unmarshal(it.Value, &c); err != nil {
		return err
	}
	if c.PaymentID != paymentID {
		return nil
	}
	if len(c.Refused) > 0 {
		// The refusals stay (ClaimBill); only the holder goes.
		c.PaymentID = ""
		raw, err := json.Marshal(c)
		if err != nil {
			return err
		}
		err = s.state.Save(ctx, s.name, claimKey(billID), raw, it.ETag)
		if errors.Is(err, sidecar.ErrETagMismatch) {
			return nil // someone took it over meanwhile
		}
		return err
	}
	err = s.state.Delete(ctx, s.name, claimKey(billID), it.ETag)
	if errors.Is(err, sidecar.ErrETagMismatch) {
		return nil // someone took it over meanwhile
	}
	if err == nil {
		s.claimed.forget(billID)
	}
	return err
}

type shard struct {
	// IDs maps payment ids to when they were indexed (Unix milliseconds).
	IDs map[string]int64 `json:"ids"`
}

// index adds id to its pending shard.
func (s *Store) index(ctx context.Context, id string) error {
	n := shardOf(id)
	return s.updateShard(ctx, n, func(sh *shard) bool {
		sh.IDs[id] = s.now().UnixMilli()
		return true
	})
}

// shardWriter commits the changes of one pending shard made in this
// process: while one write of the shard is under way, the changes that
// arrive wait together and go into the next write (group commit).
type shardWriter struct {
	mu      sync.Mutex
	writing bool
	waiting []shardChange
}

// shardChange is one caller's change of a shard, and where it learns the
// outcome of the write that carried it.
type shardChange struct {
	ctx  context.Context
	fn   func(*shard) bool
	done chan error
}

// updateShard changes one pending shard by compare-and-swap, together with
// the other changes of that shard waiting in this process (shardWriter):
// the write carries them all, and each caller gets its outcome. A caller
// whose ctx ends before its change is written is dropped from the write.
func (s *Store) updateShard(ctx context.Context, n int, fn func(*shard) bool) error {
	w := &s.shards[n]
	done := make(chan error, 1)
	w.mu.Lock()
	w.waiting = append(w.waiting, shardChange{ctx: ctx, fn: fn, done: done})
	lead := !w.writing
	w.writing = true
	w.mu.Unlock()
	if lead {
		s.writeShard(n)
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// The change may still be written by the batch it joined: that is
		// harmless for an index entry (recovery forgets it) and for a
		// forget (the entry is dropped a round later, or now).
		return fmt.Errorf("pending index: %w", ctx.Err())
	}
}

// writeShard writes the changes waiting for shard n in one batch. The
// caller that found no write under way runs the first; while a batch is
// written the next one gathers, and a goroutine writes it, so that no
// caller waits for more than the batch it joined and the one before.
func (s *Store) writeShard(n int) {
	w := &s.shards[n]
	w.mu.Lock()
	batch := w.waiting
	w.waiting = nil
	w.mu.Unlock()
	live := batch[:0]
	for _, c := range batch {
		if c.ctx.Err() == nil {
			live = append(live, c)
		} else {
			c.done <- c.ctx.Err()
		}
	}
	if len(live) > 0 {
		ctx, cancel := batchContext(live)
		_, err := sidecar.Update(ctx, s.versioned, s.name, shardKey(n), func(sh *shard, _ bool) error {
			if sh.IDs == nil {
				sh.IDs = map[string]int64{}
			}
			changed := false
			for _, c := range live {
				if c.fn(sh) {
					changed = true
				}
			}
			if !changed {
				return sidecar.ErrNoChange
			}
			return nil
		})
		cancel()
		if err != nil {
			err = fmt.Errorf("pending index: %w", err)
		}
		for _, c := range live {
			c.done <- err
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.waiting) == 0 {
		w.writing = false
		return
	}
	go s.writeShard(n)
}

// batchContext is the context of a batch's write: none of its callers'
// values or cancellations, and a deadline of 5 s or the latest of theirs,
// whichever is later.
func batchContext(batch []shardChange) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(5 * time.Second)
	for _, c := range batch {
		if d, ok := c.ctx.Deadline(); ok && d.After(deadline) {
			deadline = d
		}
	}
	return context.WithDeadline(context.Background(), deadline)
}

// BillClaim implements domain.Store.
func (s *Store) BillClaim(ctx context.Context, billID string) (string, bool, error) {
	it, err := s.state.Get(ctx, s.name, claimKey(billID))
	if err != nil || !it.Found() {
		return "", false, err
	}
	var c claim
	if err := json.Unmarshal(it.Value, &c); err != nil {
		return "", false, fmt.Errorf("decoding bill claim: %w", err)
	}
	return c.PaymentID, c.PaymentID != "", nil
}

// eventTTL keeps applied gateway event ids longer than Razorpay retries.
const eventTTL = 30 * 24 * 60 * 60

// EventApplied implements domain.Store.
func (s *Store) EventApplied(ctx context.Context, eventID string) (bool, error) {
	it, err := s.state.Get(ctx, s.name, "event/"+eventID)
	if err != nil {
		return false, fmt.Errorf("reading applied event: %w", err)
	}
	return it.Found(), nil
}

// MarkEventApplied implements domain.Store.
func (s *Store) MarkEventApplied(ctx context.Context, eventID string) error {
	err := s.state.Insert(ctx, s.name, "event/"+eventID, []byte(`{"applied":true}`), eventTTL)
	if errors.Is(err, sidecar.ErrExists) {
		return nil
	}
	return err
}

// maxDeadLetters bounds the dead-letter list; the oldest go first.
const maxDeadLetters = 1000

type deadLetters struct {
	Items []domain.DeadLetter `json:"items"` // newest first
}

// AddDeadLetter implements domain.Store.
func (s *Store) AddDeadLetter(ctx context.Context, d domain.DeadLetter) error {
	_, err := sidecar.Update(ctx, s.state, s.name, "dead-letters", func(list *deadLetters, _ bool) error {
		for _, existing := range list.Items {
			if existing.EventID == d.EventID {
				return sidecar.ErrNoChange
			}
		}
		list.Items = append([]domain.DeadLetter{d}, list.Items...)
		if len(list.Items) > maxDeadLetters {
			list.Items = list.Items[:maxDeadLetters]
		}
		return nil
	})
	return err
}

// ResolveDeadLetter implements domain.Store.
func (s *Store) ResolveDeadLetter(ctx context.Context, eventID, resolution string, at time.Time) error {
	_, err := sidecar.Update(ctx, s.state, s.name, "dead-letters", func(list *deadLetters, _ bool) error {
		for i := range list.Items {
			if d := &list.Items[i]; d.EventID == eventID && d.Resolved == "" {
				d.Resolved, d.ResolvedAt = resolution, at
				return nil
			}
		}
		return sidecar.ErrNoChange
	})
	return err
}

// DeadLetters implements domain.Store.
func (s *Store) DeadLetters(ctx context.Context) ([]domain.DeadLetter, error) {
	it, err := s.state.Get(ctx, s.name, "dead-letters")
	if err != nil || !it.Found() {
		return []domain.DeadLetter{}, err
	}
	var list deadLetters
	if err := json.Unmarshal(it.Value, &list); err != nil {
		return nil, fmt.Errorf("decoding dead letters: %w", err)
	}
	return list.Items, nil
}

// Pending implements domain.Store. It reads every shard in one round trip.
func (s *Store) Pending(ctx context.Context) (map[string]time.Time, error) {
	return s.readShards(ctx, shardKey, "pending index")
}

// readShards reads every shard of an index of payment ids and times (the
// pending index, the watch of orders) in one round trip; what names the
// index in errors.
func (s *Store) readShards(ctx context.Context, key func(int) string, what string) (map[string]time.Time, error) {
	keys := make([]string, Shards)
	for n := range keys {
		keys[n] = key(n)
	}
	items, err := s.state.BulkGet(ctx, s.name, keys)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	out := map[string]time.Time{}
	for _, it := range items {
		if !it.Found() {
			continue
		}
		var sh shard
		if err := json.Unmarshal(it.Value, &sh); err != nil {
			return nil, fmt.Errorf("decoding %s %s: %w", what, it.Key, err)
		}
		for id, ms := range sh.IDs {
			out[id] = time.UnixMilli(ms)
		}
	}
	return out, nil
}

// Forget implements domain.Store: an entry indexed again since it was read
// (a refund asked for meanwhile) stays.
func (s *Store) Forget(ctx context.Context, ids map[string]time.Time) error {
	byShard := map[int][]string{}
	for id := range ids {
		byShard[shardOf(id)] = append(byShard[shardOf(id)], id)
	}
	for n, group := range byShard {
		err := s.updateShard(ctx, n, func(sh *shard) bool {
			changed := false
			for _, id := range group {
				if ms, ok := sh.IDs[id]; ok && ms == ids[id].UnixMilli() {
					delete(sh.IDs, id)
					changed = true
				}
			}
			return changed
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Enlist implements domain.Store.
func (s *Store) Enlist(ctx context.Context, id string) (domain.Payment, error) {
	p, err := s.Get(ctx, id)
	if err != nil || p.Seq != 0 || p.UserID == "" {
		return p, err
	}
	seq, err := s.appendable(p.Purpose).Append(ctx, p.UserID, p.ID)
	if err != nil {
		return domain.Payment{}, fmt.Errorf("listing payment: %w", err)
	}
	return s.Update(ctx, id, func(q *domain.Payment) bool {
		if q.Seq != 0 {
			return false // listed meanwhile: the other place is dropped when read
		}
		q.Seq = seq
		return true
	})
}

// List implements domain.Store: one listing read (the list's head and the
// archived pages the positions fall in) and one bulk read of the payments.
// A before that is not within the list (from 2 to its newest position) is
// a cursor never issued for it: domain.ErrInvalidCursor (wrapped), from the
// head that is read anyway. Next is 0 once the list's oldest entry is read
// (there is nothing below position 1).
func (s *Store) List(ctx context.Context, purpose domain.Purpose, userID string, before int64, n int) (domain.Listed, error) {
	entries, err := s.list(purpose).Before(ctx, userID, before, n)
	if err != nil {
		return domain.Listed{}, err
	}
	out := domain.Listed{Items: []domain.Payment{}}
	if last := len(entries) - 1; len(entries) == n && n > 0 && entries[last].Seq > 1 {
		out.Next = entries[last].Seq
	}
	if len(entries) == 0 {
		return out, nil
	}
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = paymentKey(e.ID)
	}
	items, err := s.state.BulkGet(ctx, s.name, keys)
	if err != nil {
		return domain.Listed{}, fmt.Errorf("reading listed payments: %w", err)
	}
	byKey := make(map[string][]byte, len(items))
	for _, it := range items {
		if it.Found() {
			byKey[it.Key] = it.Value
		}
	}
	for _, e := range entries {
		raw, ok := byKey[paymentKey(e.ID)]
		if !ok {
			continue // listed, then never created
		}
		p, err := decodePayment(raw, e.ID)
		if err != nil {
			return domain.Listed{}, err
		}
		// The entry's own number, and the list's owner: a keyed request
		// refused because its id was another user's payment may have
		// listed that id here, perhaps at the number it carries in its
		// owner's list.
		if p.Seq == e.Seq && p.UserID == userID && p.Purpose == purpose {
			out.Items = append(out.Items, p)
		}
	}
	return out, nil
}

// watchKey is the key of watch shard n: payment ids whose Razorpay order
// the watch looks at, each with when it is next due (Unix milliseconds).
// Every Razorpay payment is written here once, before its order is made
// (a compare-and-swap of one of Shards shards, without the pending
// index's group commit); a SUCCESS one leaves at its first look, a
// FAILED one stays for the watch window.
func watchKey(n int) string { return "watch/" + strconv.Itoa(n) }

// Watch implements domain.Store.
func (s *Store) Watch(ctx context.Context, id string, next time.Time) error {
	_, err := sidecar.Update(ctx, s.state, s.name, watchKey(shardOf(id)), func(sh *shard, _ bool) error {
		if sh.IDs == nil {
			sh.IDs = map[string]int64{}
		}
		sh.IDs[id] = next.UnixMilli()
		return nil
	})
	return err
}

// Watched implements domain.Store: every shard in one round trip.
func (s *Store) Watched(ctx context.Context) (map[string]time.Time, error) {
	return s.readShards(ctx, watchKey, "the watch of orders")
}

// ClaimWatch implements domain.Store.
func (s *Store) ClaimWatch(ctx context.Context, id string, next, then time.Time) (bool, error) {
	claimed := false
	_, err := sidecar.Update(ctx, s.state, s.name, watchKey(shardOf(id)), func(sh *shard, _ bool) error {
		if ms, ok := sh.IDs[id]; !ok || ms != next.UnixMilli() {
			claimed = false
			return sidecar.ErrNoChange
		}
		sh.IDs[id], claimed = then.UnixMilli(), true
		return nil
	})
	return claimed, err
}

// Unwatch implements domain.Store.
func (s *Store) Unwatch(ctx context.Context, id string) error {
	_, err := sidecar.Update(ctx, s.state, s.name, watchKey(shardOf(id)), func(sh *shard, _ bool) error {
		if _, ok := sh.IDs[id]; !ok {
			return sidecar.ErrNoChange
		}
		delete(sh.IDs, id)
		return nil
	})
	return err
}

// Track implements domain.Store.
func (s *Store) Track(ctx context.Context, id string) error { return s.index(ctx, id) }

// Package store keeps payments in the payment service's own Dapr state
// store. Every key is its own unit of consistency (Dapr's Redis store does
// not roll back multi-key transactions):
//
//	payment/<id>      the payment, changed by compare-and-swap on its ETag
//	claim/<bill>      the bill's active payment, written if absent; taken
//	                  over (by ETag) only from a FAILED payment
//	pending/<shard>   16 shards of the index of payments that may not be
//	                  final yet; a payment is indexed before it is created,
//	                  so none can be left PENDING unnoticed
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"sync"
	"time"

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
	Delete(ctx context.Context, store, key, etag string) error
}

// Shards is the number of pending-index shards.
const Shards = 16

// Store is the Dapr-backed domain.Store.
type Store struct {
	state  State
	name   string
	now    func() time.Time
	shards [Shards]sync.Mutex
	recent *ringlog.Log
}

var _ domain.Store = (*Store)(nil)

// New returns a Store on the state store component named name.
func New(state State, name string) *Store { return &Store{state: state, name: name, now: time.Now} }

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

// lists are the users' lists of payments and of top-ups (listindex).
func (s *Store) list(purpose domain.Purpose) listindex.Index {
	prefix := "payments-of"
	if purpose == domain.PurposeTopUp {
		prefix = "topups-of"
	}
	return listindex.Index{State: s.state, Store: s.name, Prefix: prefix}
}

// Create implements domain.Store: the pending index first, then (for a
// payment whose user is known) its place in the user's list, then the
// payment, carrying that place.
func (s *Store) Create(ctx context.Context, p domain.Payment) error {
	if err := s.index(ctx, p.ID); err != nil {
		return err
	}
	if p.UserID != "" && p.Seq == 0 {
		seq, err := s.list(p.Purpose).Append(ctx, p.UserID, p.ID)
		if err != nil {
			return fmt.Errorf("listing payment: %w", err)
		}
		p.Seq = seq
	}
	raw, err := json.Marshal(toRecord(p))
	if err != nil {
		return err
	}
	err = s.state.Insert(ctx, s.name, paymentKey(p.ID), raw, 0)
	if errors.Is(err, sidecar.ErrExists) {
		return domain.ErrPaymentExists
	}
	if err != nil {
		return fmt.Errorf("creating payment: %w", err)
	}
	if s.recent != nil {
		s.recent.Add(recentEntry{ID: p.ID})
	}
	return nil
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
	r, err := sidecar.Update(ctx, s.state, s.name, paymentKey(id), func(r *record, found bool) error {
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
	PaymentID string `json:"payment_id"`
}

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
		return nil
	}
	_, err = sidecar.Update(ctx, s.state, s.name, claimKey(billID), func(c *claim, found bool) error {
		if found && c.PaymentID == paymentID {
			return sidecar.ErrNoChange
		}
		if found {
			holder, err := s.Get(ctx, c.PaymentID)
			switch {
			case errors.Is(err, domain.ErrPaymentNotFound):
				// A claim is written after its payment; a missing holder
				// can only be lost data, and cannot be an active payment.
			case err != nil:
				return err
			case holder.Status != domain.Failed:
				return &domain.ClaimedError{Holder: c.PaymentID}
			}
		}
		// Released meanwhile, or its holder failed: take it.
		c.PaymentID = paymentID
		return nil
	})
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
	err = s.state.Delete(ctx, s.name, claimKey(billID), it.ETag)
	if errors.Is(err, sidecar.ErrETagMismatch) {
		return nil // someone took it over meanwhile
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

// updateShard changes one pending shard by compare-and-swap. Within this
// process a lock per shard keeps writers from failing each other's ETags.
func (s *Store) updateShard(ctx context.Context, n int, fn func(*shard) bool) error {
	s.shards[n].Lock()
	defer s.shards[n].Unlock()
	_, err := sidecar.Update(ctx, s.state, s.name, shardKey(n), func(sh *shard, _ bool) error {
		if sh.IDs == nil {
			sh.IDs = map[string]int64{}
		}
		if !fn(sh) {
			return sidecar.ErrNoChange
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pending index: %w", err)
	}
	return nil
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
	return c.PaymentID, true, nil
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
	keys := make([]string, Shards)
	for n := range keys {
		keys[n] = shardKey(n)
	}
	items, err := s.state.BulkGet(ctx, s.name, keys)
	if err != nil {
		return nil, fmt.Errorf("reading pending index: %w", err)
	}
	out := map[string]time.Time{}
	for _, it := range items {
		if !it.Found() {
			continue
		}
		var sh shard
		if err := json.Unmarshal(it.Value, &sh); err != nil {
			return nil, fmt.Errorf("decoding pending index %s: %w", it.Key, err)
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
	seq, err := s.list(p.Purpose).Append(ctx, p.UserID, p.ID)
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
func (s *Store) List(ctx context.Context, purpose domain.Purpose, userID string, before int64, n int) (domain.Listed, error) {
	entries, err := s.list(purpose).Before(ctx, userID, before, n)
	if err != nil {
		return domain.Listed{}, err
	}
	out := domain.Listed{Items: []domain.Payment{}}
	if len(entries) == n && n > 0 {
		out.Next = entries[len(entries)-1].Seq
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
		if p.Seq == e.Seq {
			out.Items = append(out.Items, p)
		}
	}
	return out, nil
}

// Track implements domain.Store.
func (s *Store) Track(ctx context.Context, id string) error { return s.index(ctx, id) }

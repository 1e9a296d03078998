// Package store keeps users in the user service's own Dapr state store.
//
// Dapr's Redis state store applies a multi-key transaction without rollback,
// so no step here relies on one. The unit of consistency is a single key:
//
//	email/<sha256 of the lower-cased email>  the claim: the whole user; written
//	                                         once, atomically, if absent. It is
//	                                         the source of truth and what makes
//	                                         emails unique under races.
//	user/<id>                                the user with its list position,
//	                                         written if absent (for GET by id)
//	seq/<n>                                  the user at list position n
//	counter                                  the last position handed out
//
// A sign-up claims the email, takes the next position, then writes user/<id>
// and seq/<n>. Those two are projections of the claim: if a process dies
// after the claim, the next sign-up that meets the claim rebuilds them
// (repair), and because user/<id> is insert-if-absent, a creator and a
// repairer racing converge on one position. A position taken but never
// written is a gap that the list skips.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/finflow/finflow/platform/page"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/user/domain"
)

// State is what the store needs from the Dapr sidecar.
type State interface {
	Get(ctx context.Context, store, key string) (sidecar.Item, error)
	BulkGet(ctx context.Context, store string, keys []string) ([]sidecar.Item, error)
	Save(ctx context.Context, store, key string, value []byte, etag string) error
	Insert(ctx context.Context, store, key string, value []byte, ttlSeconds int) error
}

// Store is the Dapr-backed domain.Store.
type Store struct {
	state  State
	name   string
	prefix string
}

var _ domain.Store = (*Store)(nil)

// New returns a Store on the state store component named name.
func New(state State, name string) *Store { return &Store{state: state, name: name} }

// NewPrefixed returns a Store that keeps all its keys under prefix, so that
// independent user stores can share one state store component (the store
// contract suite uses it to give every case an empty store).
func NewPrefixed(state State, name, prefix string) *Store {
	return &Store{state: state, name: name, prefix: prefix}
}

// record is a user as stored.
type record struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Phone     string    `json:"phone,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Seq is the user's position in the list; 0 in the email claim, which
	// is written before the position is known.
	Seq int64 `json:"seq,omitempty"`
}

func toRecord(u domain.User) record {
	return record{ID: u.ID, Name: u.Name, Email: u.Email, Phone: u.Phone, CreatedAt: u.CreatedAt}
}

func (r record) user() domain.User {
	return domain.User{ID: r.ID, Name: r.Name, Email: r.Email, Phone: r.Phone, CreatedAt: r.CreatedAt}
}

func (s *Store) emailKey(email string) string {
	sum := sha256.Sum256([]byte(domain.EmailKey(email)))
	return s.prefix + "email/" + hex.EncodeToString(sum[:])
}

func (s *Store) userKey(id string) string { return s.prefix + "user/" + id }
func (s *Store) seqKey(n int64) string    { return s.prefix + "seq/" + strconv.FormatInt(n, 10) }
func (s *Store) counterKey() string       { return s.prefix + "counter" }

// Create implements domain.Store.
func (s *Store) Create(ctx context.Context, u domain.User) (domain.User, error) {
	claim := toRecord(u)
	raw, err := json.Marshal(claim)
	if err != nil {
		return domain.User{}, fmt.Errorf("encoding user: %w", err)
	}
	err = s.state.Insert(ctx, s.name, s.emailKey(u.Email), raw, 0)
	switch {
	case errors.Is(err, sidecar.ErrExists):
		existing, gerr := s.readClaim(ctx, u.Email)
		if gerr != nil {
			return domain.User{}, gerr
		}
		// Make sure the owner's user is complete before answering, in case
		// its sign-up died half way.
		if rerr := s.project(ctx, existing); rerr != nil {
			return domain.User{}, rerr
		}
		if existing.ID != u.ID {
			return domain.User{}, domain.ErrEmailTaken
		}
		// Our own claim: an earlier attempt of this sign-up got through.
		return existing.user(), nil
	case err != nil:
		return domain.User{}, fmt.Errorf("claiming email: %w", err)
	}
	return u, s.project(ctx, claim)
}

func (s *Store) readClaim(ctx context.Context, email string) (record, error) {
	it, err := s.state.Get(ctx, s.name, s.emailKey(email))
	if err != nil {
		return record{}, fmt.Errorf("reading email claim: %w", err)
	}
	if !it.Found() {
		// Claims are never deleted; a missing one after ErrExists means the
		// store lost data.
		return record{}, fmt.Errorf("email claim vanished after a conflict")
	}
	var r record
	if err := json.Unmarshal(it.Value, &r); err != nil {
		return record{}, fmt.Errorf("decoding email claim: %w", err)
	}
	return r, nil
}

// project makes sure user/<id> and seq/<n> exist for the claimed user. It is
// idempotent and safe to run concurrently for the same user.
func (s *Store) project(ctx context.Context, claim record) error {
	it, err := s.state.Get(ctx, s.name, s.userKey(claim.ID))
	if err != nil {
		return fmt.Errorf("reading user: %w", err)
	}
	var rec record
	if it.Found() {
		if err := json.Unmarshal(it.Value, &rec); err != nil {
			return fmt.Errorf("decoding user: %w", err)
		}
	} else {
		seq, err := s.nextSeq(ctx)
		if err != nil {
			return err
		}
		rec = claim
		rec.Seq = seq
		raw, _ := json.Marshal(rec)
		err = s.state.Insert(ctx, s.name, s.userKey(rec.ID), raw, 0)
		if errors.Is(err, sidecar.ErrExists) {
			// A concurrent repair (or our own retried write) got there
			// first; its position wins and ours stays a gap.
			return s.project(ctx, claim)
		}
		if err != nil {
			return fmt.Errorf("writing user: %w", err)
		}
	}
	listed, err := s.state.Get(ctx, s.name, s.seqKey(rec.Seq))
	if err != nil {
		return fmt.Errorf("reading list entry: %w", err)
	}
	if listed.Found() {
		return nil
	}
	raw, _ := json.Marshal(rec)
	if err := s.state.Save(ctx, s.name, s.seqKey(rec.Seq), raw, ""); err != nil {
		return fmt.Errorf("writing list entry: %w", err)
	}
	return nil
}

type counter struct {
	Last int64 `json:"last"`
}

// nextSeq hands out the next list position with a compare-and-swap on the
// counter key, retried while sign-ups race for it.
func (s *Store) nextSeq(ctx context.Context) (int64, error) {
	c, err := sidecar.Update(ctx, s.state, s.name, s.counterKey(), func(c *counter, _ bool) error {
		c.Last++
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("advancing counter: %w", err)
	}
	return c.Last, nil
}

// Get implements domain.Store.
func (s *Store) Get(ctx context.Context, id string) (domain.User, error) {
	it, err := s.state.Get(ctx, s.name, s.userKey(id))
	if err != nil {
		return domain.User{}, fmt.Errorf("reading user: %w", err)
	}
	if !it.Found() {
		return domain.User{}, domain.ErrUserNotFound
	}
	var r record
	if err := json.Unmarshal(it.Value, &r); err != nil {
		return domain.User{}, fmt.Errorf("decoding user %s: %w", id, err)
	}
	return r.user(), nil
}

// maxScanBatches bounds the work of one List call when it meets gaps.
const maxScanBatches = 8

// List implements domain.Store. The cursor is the next list position,
// encoded opaquely. A cursor whose position is not within the list as the
// counter has it (page.Within: from 2 to the last position handed out) was
// never issued: domain.ErrInvalidCursor, from the counter read anyway.
func (s *Store) List(ctx context.Context, cursor string, limit int) (domain.Page, error) {
	pos, err := decodeCursor(cursor)
	if err != nil {
		return domain.Page{}, err
	}
	it, err := s.state.Get(ctx, s.name, s.counterKey())
	if err != nil {
		return domain.Page{}, fmt.Errorf("reading counter: %w", err)
	}
	var c counter
	if it.Found() {
		if err := json.Unmarshal(it.Value, &c); err != nil {
			return domain.Page{}, fmt.Errorf("decoding counter: %w", err)
		}
	}
	if cursor != "" {
		if err := page.Within(pos, c.Last); err != nil {
			return domain.Page{}, fmt.Errorf("listing users from %d (of %d): %w", pos, c.Last, err)
		}
	}
	users := make([]domain.User, 0, limit)
	for batch := 0; batch < maxScanBatches && len(users) < limit && pos <= c.Last; batch++ {
		end := min(pos+int64(limit-len(users))-1, c.Last)
		keys := make([]string, 0, end-pos+1)
		for n := pos; n <= end; n++ {
			keys = append(keys, s.seqKey(n))
		}
		items, err := s.state.BulkGet(ctx, s.name, keys)
		if err != nil {
			return domain.Page{}, fmt.Errorf("reading list entries: %w", err)
		}
		for _, it := range items {
			if it.Found() {
				var r record
				if err := json.Unmarshal(it.Value, &r); err != nil {
					return domain.Page{}, fmt.Errorf("decoding list entry %s: %w", it.Key, err)
				}
				users = append(users, r.user())
			}
		}
		pos = end + 1
	}
	out := domain.Page{Users: users}
	if pos <= c.Last {
		out.Next = encodeCursor(pos)
	}
	return out, nil
}

// cursorKind tags user-list cursors.
const cursorKind = "u1"

func encodeCursor(pos int64) string { return page.Cursor(cursorKind, pos) }

func decodeCursor(cursor string) (int64, error) {
	if cursor == "" {
		return 1, nil
	}
	return page.Decode(cursorKind, cursor)
}

package domain

import (
	"context"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/page"
	"github.com/finflow/finflow/platform/peers"
)

// ListStretch is the most list entries a store reads at a time: one read of
// the list's head, at most one bulk read of its archived pages, and one bulk
// read of the items (the store's list index keeps pages of this size:
// listindex.PageSize).
const ListStretch = 50

// MaxScan is the most list positions one page of a listing reads: four
// stretches, so at most 12 state round trips for a page, whatever the
// user's history and however little a filter matches.
const MaxScan = 4 * ListStretch

// Listed is a stretch of a user's list as a store read it: the items, newest
// first, and Next, the position to read on from (0 at the list's end).
type Listed[T any] struct {
	Items []T
	Next  int64
}

// Page is one page of a listing, newest first; Next is the cursor of the
// next page ("" when there is none).
type Page[T any] struct {
	Items []T
	Next  string
}

// Listing asks for a page of a user's bills (or subscriptions), as the query
// gave it: Status "" for any; Limit "" for 50 (1 to 200); Cursor "" for the
// newest.
type Listing struct {
	UserID string
	Status string
	Limit  string
	Cursor string
}

// ErrInvalidCursor is a cursor this service did not issue for this list:
// not a cursor, of the other list's kind, or a position not within the
// user's list as it is (page.ErrInvalidCursor). The kind is checked before
// any read; the position by the store's List, against the head of the list
// it reads anyway (listindex.Index.Before): a List given a before other
// than 0 that is not from 2 to the list's newest position returns it.
var ErrInvalidCursor = page.ErrInvalidCursor

// Cursor kinds: a bills cursor is refused on the subscriptions list and the
// other way round.
const (
	cursorBills         = "b"
	cursorSubscriptions = "s"
)

// ListBills returns a page of a user's bills, newest first, to the user or
// an admin, optionally only those with one status. Returns VALIDATION_FAILED
// (a bad status, limit or cursor), ErrUserNotFound (a malformed user id,
// or a user with nothing listed whom the user service does not know), auth
// errors. A user with no bills has an empty list.
//
// State round trips: a page reads the user's list in stretches of at most
// ListStretch positions, each one read of the list's head, at most one bulk
// read of its archived pages and one bulk read of the bills (3 round trips).
// Without a filter a page reads limit positions: 2 or 3 round trips for a
// page of up to 50, 12 at most for a page of 200. With a status filter it
// reads up to 4·limit positions (at most MaxScan = 200): at most 4 stretches,
// 12 round trips. Either way a page may hold fewer than limit items and
// still have a next cursor: the scan stopped where it may go on, the list
// did not end. Only a list with nothing in it at all costs one service
// invocation more: the user service is asked whether the user exists (a
// list with entries is proof enough).
func (s *Service) ListBills(ctx context.Context, caller auth.Caller, q Listing) (Page[Bill], error) {
	switch Status(q.Status) {
	case "", Unpaid, Paid, Refunded:
	default:
		return Page[Bill]{}, apperr.Invalid("status", "status must be UNPAID, PAID or REFUNDED")
	}
	keep := func(b Bill) bool { return q.Status == "" || string(b.Status) == q.Status }
	return listPage(ctx, caller, s.Users, q, cursorBills, q.Status != "", s.Store.List, func(b Bill) int64 { return b.Seq }, keep)
}

// listPage is the paging every listing shares: the caller must be the user
// or an admin; read fetches a stretch, seq gives an item's position and
// keep says whether the filter (filtered true) takes it. A list with
// nothing in it asks users whether the user exists (ErrUserNotFound). The cursor's
// position is checked against the list by the first read (ErrInvalidCursor);
// the reads after it go on from positions that read gave.
func listPage[T any](ctx context.Context, caller auth.Caller, users Users, q Listing, kind string, filtered bool,
	read func(ctx context.Context, userID string, before int64, n int) (Listed[T], error),
	seq func(T) int64, keep func(T) bool) (Page[T], error) {
	if !id.Valid(id.User, q.UserID) {
		return Page[T]{}, contract.ErrUserNotFound
	}
	if err := caller.Owner(q.UserID); err != nil {
		return Page[T]{}, err
	}
	limit, err := page.Limit(q.Limit, 50, 200)
	if err != nil {
		return Page[T]{}, err
	}
	var before int64
	if q.Cursor != "" {
		if before, err = page.Decode(kind, q.Cursor); err != nil {
			return Page[T]{}, err
		}
	}
	out := Page[T]{Items: []T{}}
	window := min(4*limit, MaxScan)
	for scanned := 0; scanned < window; {
		n := min(ListStretch, window-scanned)
		if !filtered {
			n = min(n, limit-len(out.Items))
		}
		got, err := read(ctx, q.UserID, before, n)
		if err != nil {
			return Page[T]{}, err
		}
		scanned += n
		for _, x := range got.Items {
			if keep(x) {
				out.Items = append(out.Items, x)
			}
			before = seq(x)
			if len(out.Items) == limit {
				return withCursor(out, kind, before), nil
			}
		}
		if got.Next == 0 {
			if before == 0 && len(got.Items) == 0 {
				// Nothing was ever listed: an empty list, or no such user.
				return out, peers.RequireUser(ctx, users, q.UserID)
			}
			return out, nil // the list's end
		}
		before = got.Next
	}
	return withCursor(out, kind, before), nil
}

// withCursor gives p the cursor of the positions below before, if any.
func withCursor[T any](p Page[T], kind string, before int64) Page[T] {
	p.Next = page.Below(kind, before)
	return p
}

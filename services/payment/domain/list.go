package domain

import (
	"context"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/page"
	"github.com/finflow/finflow/platform/peers"
)

// Listing is a request for a page of a user's payments (or top-ups), as the
// query gave it: Status and Method "" for any; Limit "" for 50 (1 to 200);
// Cursor "" for the newest.
type Listing struct {
	UserID string
	Status string // PENDING, SUCCESS, FAILED
	Method string // WALLET, RAZORPAY (payments only)
	Limit  string
	Cursor string
}

// Page is one page of a listing, newest first; Next is the cursor of the
// next page ("" when there is none).
type Page struct {
	Items []Payment
	Next  string
}

// ListStretch is the most list entries a store reads at a time: one read of
// the list's head, at most one bulk read of its archived pages and one bulk
// read of the payments (the store's list index keeps pages of this size,
// listindex.PageSize; the store's tests hold the two equal).
const ListStretch = 50

// ErrInvalidCursor is a cursor this service did not issue for this list:
// not a cursor, of the other list's kind, or a position not within the
// user's list as it is (page.ErrInvalidCursor). The kind is checked before
// any read; the position by Store.List, against the head of the list it
// reads anyway (listindex.Index.Before): a List given a before other than
// 0 that is not from 2 to the list's newest position returns it.
var ErrInvalidCursor = page.ErrInvalidCursor

// ListPayments returns a page of a user's bill payments, newest first, to
// the user or an admin, filtered by status and method. ListTopUps is the
// same for the user's top-ups. Returns VALIDATION_FAILED (a bad filter,
// limit or cursor), ErrUserNotFound (the list is empty and the user
// service has no such user), auth errors.
//
// Each page is read from the user's list (the store keeps it with package listindex)
// in stretches of at most ListStretch positions: a stretch costs one read of the
// list's head, at most one bulk read of its archived pages, and one bulk
// read of the payments: 3 state round trips. A page reads at most
// 2·limit positions (at least 50, at most 200), so at most 4 stretches
// (12 round trips) for the largest page with a filter that matches little,
// and 3 round trips for the default page of 50 without one, whatever the
// user's history. A page with filters may hold fewer than limit items and
// still have a next cursor: the scan stopped, the list did not. A cursor's
// position is checked against the list's head that the first stretch reads
// (ErrInvalidCursor): no round trip of its own. Only a list with nothing in
// it at all costs one service invocation more: the user service is asked
// whether the user exists (a list with entries is proof enough).
func (pr *Processor) ListPayments(ctx context.Context, caller auth.Caller, q Listing) (Page, error) {
	switch Method(q.Method) {
	case "", MethodWallet, MethodRazorpay:
	default:
		return Page{}, apperr.Invalid("method", "method must be WALLET or RAZORPAY")
	}
	return pr.list(ctx, caller, PurposeBill, q, "p")
}

// ListTopUps returns a page of a user's top-ups, newest first (see
// ListPayments).
func (pr *Processor) ListTopUps(ctx context.Context, caller auth.Caller, q Listing) (Page, error) {
	if q.Method != "" {
		return Page{}, apperr.Invalid("method", "top-ups are all through Razorpay: method is not a filter of them")
	}
	return pr.list(ctx, caller, PurposeTopUp, q, "t")
}

func (pr *Processor) list(ctx context.Context, caller auth.Caller, purpose Purpose, q Listing, kind string) (Page, error) {
	if !id.Valid(id.User, q.UserID) {
		return Page{}, apperr.Invalid("user_id", "not a user id (usr_...)")
	}
	if err := caller.Owner(q.UserID); err != nil {
		return Page{}, err
	}
	switch Status(q.Status) {
	case "", Pending, Success, Failed:
	default:
		return Page{}, apperr.Invalid("status", "status must be PENDING, SUCCESS or FAILED")
	}
	limit, err := page.Limit(q.Limit, 50, 200)
	if err != nil {
		return Page{}, err
	}
	var before int64
	if q.Cursor != "" {
		// Its position is checked by the first read of the list.
		if before, err = page.Decode(kind, q.Cursor); err != nil {
			return Page{}, err
		}
	}
	out := Page{Items: []Payment{}}
	scan := min(max(2*limit, ListStretch), 200)
	for scanned := 0; scanned < scan; {
		n := min(ListStretch, scan-scanned, max(limit-len(out.Items), 1)*2)
		if q.Status == "" && q.Method == "" {
			n = min(ListStretch, limit-len(out.Items))
		}
		got, err := pr.Store.List(ctx, purpose, q.UserID, before, n)
		if err != nil {
			return Page{}, err
		}
		scanned += n
		for _, p := range got.Items {
			if (q.Status == "" || string(p.Status) == q.Status) && (q.Method == "" || string(p.Method) == q.Method) {
				out.Items = append(out.Items, p)
			}
			before = p.Seq
			if len(out.Items) == limit {
				// The page is full: the next one starts below this item,
				// whatever is left of the stretch or the list.
				out.Next = page.Below(kind, before)
				return out, nil
			}
		}
		if got.Next == 0 {
			if before == 0 && len(got.Items) == 0 {
				// Nothing was ever listed: an empty list, or no such user.
				return out, peers.RequireUser(ctx, pr.Users, q.UserID)
			}
			return out, nil // the list's end
		}
		before = got.Next
	}
	out.Next = page.Below(kind, before)
	return out, nil
}

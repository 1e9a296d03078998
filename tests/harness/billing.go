package harness

import (
	"net/http"
	"net/url"
	"testing"
)

// ListedBill is the contract's bill object with the fields of a
// subscription's bill.
type ListedBill struct {
	Bill
	DueDate        *string `json:"due_date"`
	SubscriptionID *string `json:"subscription_id"`
	Period         *string `json:"period"`
}

// Subscription is the contract's subscription object.
type Subscription struct {
	ID          string  `json:"id"`
	UserID      string  `json:"user_id"`
	Amount      int64   `json:"amount"`
	Currency    string  `json:"currency"`
	Description string  `json:"description"`
	Interval    string  `json:"interval"`
	Autopay     bool    `json:"autopay"`
	Status      string  `json:"status"`
	StartAt     string  `json:"start_at"`
	NextBillAt  *string `json:"next_bill_at"`
	CreatedAt   string  `json:"created_at"`
	CancelledAt *string `json:"cancelled_at"`
}

// Page is one page of a listing: {"items":[...],"next_cursor":string or null}.
type Page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// As returns the Authorization header of a user's dev token, for Do.
func (e *Env) As(tb testing.TB, userID string) map[string]string {
	tb.Helper()
	return map[string]string{"Authorization": "Bearer " + e.Token(tb, userID, "user")}
}

// MustListPage reads one page of a listing at path (which may carry a
// query), with the given cursor ("" for the first page), as header says
// (nil: the admin), and fails the test unless it gets 200.
func MustListPage[T any](tb testing.TB, e *Env, path, cursor string, header map[string]string) Page[T] {
	tb.Helper()
	if cursor != "" {
		sep := "?"
		if u, err := url.Parse(path); err == nil && u.RawQuery != "" {
			sep = "&"
		}
		path += sep + "cursor=" + url.QueryEscape(cursor)
	}
	r := e.Do(tb, "GET", path, nil, header)
	if r.Status != http.StatusOK {
		tb.Fatalf("GET %s = %d %s, want 200", path, r.Status, r.Body)
	}
	var p Page[T]
	r.JSON(tb, &p)
	return p
}

// MustListAll pages through a listing at path to its end (see MustListPage)
// and returns every item in order.
func MustListAll[T any](tb testing.TB, e *Env, path string, header map[string]string) []T {
	tb.Helper()
	var all []T
	cursor := ""
	for pages := 0; pages < 10000; pages++ {
		p := MustListPage[T](tb, e, path, cursor, header)
		all = append(all, p.Items...)
		if p.NextCursor == nil {
			return all
		}
		cursor = *p.NextCursor
	}
	tb.Fatalf("paging through %s does not end", path)
	return nil
}

// MustCreateSubscription subscribes a user (as the admin) and fails the
// test unless it gets 201.
func (e *Env) MustCreateSubscription(tb testing.TB, body map[string]any) Subscription {
	tb.Helper()
	return MustJSON[Subscription](e, tb, "POST", "/billing/subscriptions", body, http.StatusCreated)
}

// MustSubscription reads a subscription as the admin.
func (e *Env) MustSubscription(tb testing.TB, id string) Subscription {
	tb.Helper()
	return MustJSON[Subscription](e, tb, "GET", "/billing/subscriptions/"+id, nil, http.StatusOK)
}

// SubscriptionBills returns the user's bills made by the subscription,
// newest first (read as the admin).
func (e *Env) SubscriptionBills(tb testing.TB, userID, subscriptionID string) []ListedBill {
	tb.Helper()
	var out []ListedBill
	for _, b := range MustListAll[ListedBill](tb, e, "/billing/user/"+userID+"?limit=200", nil) {
		if b.SubscriptionID != nil && *b.SubscriptionID == subscriptionID {
			out = append(out, b)
		}
	}
	return out
}

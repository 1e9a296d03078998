package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	nethttp "net/http"
	"net/url"
	"sync"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/gateway/console/domain"
	gateway "github.com/finflow/finflow/services/gateway/domain"
)

// How much one page load reads.
const (
	pageUsers    = 20
	pagePayments = 50
	ledgerPages  = 5
	ledgerPage   = 100
)

// reader reads what the console shows from the services, as one admin
// (header carries the signed identity and the request id). It is the
// domain.Money the money check reads.
type reader struct {
	services  Invoker
	readiness func(ctx context.Context, requestID string) map[string]string
	header    nethttp.Header
}

var _ domain.Money = (*reader)(nil)

// get invokes GET path on app and decodes a 200 answer into out; it
// returns what went wrong as text for the page, or "".
func (r *reader) get(ctx context.Context, app, path string, out any) string {
	resp, err := r.call(ctx, app, path, out)
	switch {
	case err != nil:
		return err.Error()
	case resp.Status != 200:
		// The service's own words where it gave them (a cursor it did not
		// issue: "cursor is not one this server issued").
		var e apperr.Body
		if json.Unmarshal(resp.Body, &e) == nil && e.Error.Message != "" {
			return fmt.Sprintf("%s answered %d: %s", app, resp.Status, apperr.Printable(e.Error.Message, 200))
		}
		return fmt.Sprintf("%s answered %d", app, resp.Status)
	}
	return ""
}

// getStatus invokes GET path on app, decodes a 200 answer into out and
// returns the answer's status.
func (r *reader) getStatus(ctx context.Context, app, path string, out any) (int, error) {
	resp, err := r.call(ctx, app, path, out)
	if resp == nil {
		return 0, err
	}
	return resp.Status, err
}

// call invokes GET path on app and decodes a 200 answer into out. The
// answer is nil only when none came.
func (r *reader) call(ctx context.Context, app, path string, out any) (*sidecar.Response, error) {
	resp, err := r.services.Invoke(ctx, app, "GET", path, nil, r.header.Clone())
	if err != nil {
		return nil, fmt.Errorf("%s: %v", app, err)
	}
	if resp.Status == 200 && out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return resp, fmt.Errorf("%s: undecodable answer: %v", app, err)
		}
	}
	return resp, nil
}

// payments reads the recent payments and their history.
func (r *reader) payments(ctx context.Context) ([]opsPayment, string) {
	var out struct{ Items []opsPayment }
	msg := r.get(ctx, contract.AppPayment, fmt.Sprintf("/ops/payments?limit=%d", pagePayments), &out)
	return out.Items, msg
}

// deliveries reads the Razorpay webhook deliveries.
func (r *reader) deliveries(ctx context.Context) ([]webhookDelivery, string) {
	var out struct{ Items []webhookDelivery }
	msg := r.get(ctx, contract.AppRazorpay, "/ops/webhooks", &out)
	return out.Items, msg
}

// deadLetters reads the payment service's dead letters.
func (r *reader) deadLetters(ctx context.Context) ([]deadLetter, string) {
	var out struct{ Items []deadLetter }
	msg := r.get(ctx, contract.AppPayment, "/Payment/dead-letters", &out)
	return out.Items, msg
}

// metadataSource is the gateway's own sidecar client (its metadata).
type metadataSource interface {
	Metadata(ctx context.Context) (sidecar.Metadata, error)
}

// health reads every service's readiness (the gateway's GET /health
// fan-out) and its sidecar's metadata, all at once.
func (r *reader) health(ctx context.Context) []serviceView {
	apps := append([]string{contract.AppGateway}, gateway.Backends...)
	out := make([]serviceView, len(apps))
	var ready map[string]string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); ready = r.readiness(ctx, r.header.Get(server.HeaderRequestID)) }()
	for i, app := range apps {
		wg.Add(1)
		go func(i int, app string) {
			defer wg.Done()
			out[i].Name = app
			out[i].Sidecar, out[i].SidecarErr = r.sidecar(ctx, app)
		}(i, app)
	}
	wg.Wait()
	for i := range out {
		out[i].Health = ready[out[i].Name]
		out[i].Ready = out[i].Health == "ok"
	}
	return out
}

// sidecar reads the metadata of app's sidecar: the gateway's own directly,
// any other through the app's GET /ops/sidecar.
func (r *reader) sidecar(ctx context.Context, app string) (*sidecar.Metadata, string) {
	if app == contract.AppGateway {
		ms, ok := r.services.(metadataSource)
		if !ok {
			return nil, "no sidecar metadata here"
		}
		md, err := ms.Metadata(ctx)
		if err != nil {
			return nil, err.Error()
		}
		return &md, ""
	}
	var md sidecar.Metadata
	if msg := r.get(ctx, app, "/ops/sidecar", &md); msg != "" {
		return nil, msg
	}
	return &md, ""
}

// money checks the conservation of money for one page of users, four users
// at a time; it returns the checks, the next page's cursor and what went
// wrong reading the list.
func (r *reader) money(ctx context.Context, cursor string) ([]domain.UserMoney, string, string) {
	q := url.Values{"limit": {fmt.Sprint(pageUsers)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var page struct {
		Items []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	if msg := r.get(ctx, contract.AppUser, "/users/all?"+q.Encode(), &page); msg != "" {
		return nil, "", msg
	}
	out := make([]domain.UserMoney, len(page.Items))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, u := range page.Items {
		wg.Add(1)
		go func(i int, id, name string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = domain.CheckUser(ctx, r, id, name)
		}(i, u.ID, u.Name)
	}
	wg.Wait()
	next := ""
	if page.NextCursor != nil {
		next = *page.NextCursor
	}
	return out, next, ""
}

// TopUp reads a top-up (found is false when there is no such top-up).
func (r *reader) TopUp(ctx context.Context, topUpID string) (domain.TopUpState, bool, error) {
	var t domain.TopUpState
	status, err := r.getStatus(ctx, contract.AppPayment, "/topups/one/"+url.PathEscape(topUpID), &t)
	switch {
	case err != nil:
		return domain.TopUpState{}, false, err
	case status == 404:
		return domain.TopUpState{}, false, nil
	case status != 200:
		return domain.TopUpState{}, false, fmt.Errorf("top-up %s: the payment service answered %d", topUpID, status)
	}
	return t, true, nil
}

// SucceededTopUps reads every SUCCESS top-up of a user (readPages: no
// more than a ledger the check reads could hold).
func (r *reader) SucceededTopUps(ctx context.Context, userID string) ([]domain.TopUpState, error) {
	all, found, err := readPages[domain.TopUpState](ctx, r, contract.AppPayment, "/topups/of/"+url.PathEscape(userID), url.Values{"status": {"SUCCESS"}})
	switch {
	case errors.Is(err, errTooLong):
		return nil, fmt.Errorf("top-ups of %s: %w", userID, err)
	case err != nil:
		return nil, err
	case !found:
		return nil, fmt.Errorf("top-ups of %s: the payment service answered 404", userID)
	}
	return all, nil
}

// oneUser checks one user's money (the page's ?user=), or says why it
// cannot: not a user id, or no such user. A user who does not exist is
// never shown as conserved: nothing about them was checked.
func (r *reader) oneUser(ctx context.Context, userID string) ([]domain.UserMoney, string) {
	if !id.Valid(id.User, userID) {
		return nil, fmt.Sprintf("%q is not a user id (usr_...)", apperr.Printable(userID, 64))
	}
	var u struct {
		Name string `json:"name"`
	}
	status, err := r.getStatus(ctx, contract.AppUser, contract.PathUser(userID), &u)
	switch {
	case err != nil:
		return nil, err.Error()
	case status == 404:
		return nil, "there is no user " + userID
	case status != 200:
		return nil, fmt.Sprintf("user %s: the user service answered %d", userID, status)
	}
	return []domain.UserMoney{domain.CheckUser(ctx, r, userID, u.Name)}, ""
}

var errTooLong = fmt.Errorf("longer than the console reads (%d entries)", ledgerPages*ledgerPage)

// readPages reads every page of a listing at path of app (query q, plus
// limit and cursor), up to ledgerPages pages of ledgerPage items, else
// errTooLong; found is false when the listing answers 404. Any other
// answer but 200 is an error naming its status.
func readPages[T any](ctx context.Context, r *reader, app, path string, q url.Values) (items []T, found bool, err error) {
	cursor := ""
	for range ledgerPages {
		q.Set("limit", fmt.Sprint(ledgerPage))
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var out struct {
			Items      []T     `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		status, err := r.getStatus(ctx, app, path+"?"+q.Encode(), &out)
		switch {
		case err != nil:
			return nil, false, err
		case status == 404:
			return nil, false, nil
		case status != 200:
			return nil, false, fmt.Errorf("%s answered %d", app, status)
		}
		items = append(items, out.Items...)
		if out.NextCursor == nil || *out.NextCursor == "" {
			return items, true, nil
		}
		cursor = *out.NextCursor
	}
	return nil, false, errTooLong
}

// Ledger reads a user's whole ledger, newest first (readPages); nil when
// the user has no wallet (the balance read says so).
func (r *reader) Ledger(ctx context.Context, userID string) ([]domain.LedgerEntry, error) {
	ledger, _, err := readPages[domain.LedgerEntry](ctx, r, contract.AppWallet, "/wallet/transactions/"+url.PathEscape(userID), url.Values{})
	if errors.Is(err, errTooLong) {
		return nil, fmt.Errorf("ledger %w", err)
	}
	return ledger, err
}

// Balance reads a user's wallet balance; found is false when the user has
// no wallet.
func (r *reader) Balance(ctx context.Context, userID string) (int64, bool, error) {
	var bal struct {
		Balance int64 `json:"balance"`
	}
	status, err := r.getStatus(ctx, contract.AppWallet, contract.PathWalletBalance(userID), &bal)
	switch {
	case err != nil:
		return 0, false, err
	case status == 404:
		return 0, false, nil
	case status != 200:
		return 0, false, fmt.Errorf("wallet answered %d", status)
	}
	return bal.Balance, true, nil
}

// Payment reads the status and amount of a payment, and the refunds of a
// SUCCESS one; found is false when there is no such payment.
func (r *reader) Payment(ctx context.Context, paymentID string) (domain.PaymentState, bool, error) {
	var p struct {
		Status string `json:"status"`
		Amount *int64 `json:"amount"`
	}
	status, err := r.getStatus(ctx, contract.AppPayment, "/Payment/"+url.PathEscape(paymentID), &p)
	switch {
	case err != nil:
		return domain.PaymentState{}, false, err
	case status == 404:
		return domain.PaymentState{}, false, nil
	case status != 200:
		return domain.PaymentState{}, false, fmt.Errorf("payment %s: the payment service answered %d", paymentID, status)
	}
	ps := domain.PaymentState{Status: p.Status}
	if p.Amount != nil {
		ps.Amount = *p.Amount
	}
	if ps.Status != "SUCCESS" {
		return ps, true, nil // only a SUCCESS payment can have refunds
	}
	// Every page of its refunds (newest first), to the end.
	for cursor := ""; ; {
		var refunds struct {
			Items []struct {
				ID     string `json:"id"`
				Amount int64  `json:"amount"`
				Status string `json:"status"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		path := "/refunds/of/" + url.PathEscape(paymentID) + "?limit=200"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		status, err = r.getStatus(ctx, contract.AppPayment, path, &refunds)
		switch {
		case err != nil:
			return domain.PaymentState{}, false, err
		case status != 200:
			return domain.PaymentState{}, false, fmt.Errorf("refunds of payment %s: the payment service answered %d", paymentID, status)
		}
		for _, rf := range refunds.Items {
			ps.Refunds = append(ps.Refunds, domain.RefundState{ID: rf.ID, Amount: rf.Amount, Status: rf.Status})
		}
		if refunds.NextCursor == nil || *refunds.NextCursor == cursor {
			break
		}
		cursor = *refunds.NextCursor
	}
	return ps, true, nil
}

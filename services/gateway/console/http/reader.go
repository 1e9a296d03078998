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

// How much one page load reads. The page sizes are what the console asks
// for; a service whose settings refuse one (a max_limit set lower) is asked
// again without a limit, for its own page size (pager).
const (
	pageUsers    = 20
	pagePayments = 50
	// listItems bounds what readPages reads of one listing (a ledger, a
	// user's top-ups or payments), listRequests how many pages it asks for
	// it (pages of a filtered listing may hold few items).
	listItems    = 500
	listRequests = 500
	listPage     = 100
	refundsPage  = 200
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
	return failure(app, resp, err)
}

// getList is get of the first page of a listing at path with query q
// (pager).
func (r *reader) getList(ctx context.Context, app, path string, q url.Values, limit int, out any) string {
	resp, err := r.page(ctx, app, path, q, &pager{limit: limit}, out)
	return failure(app, resp, err)
}

// pager is how the pages of one listing are asked for: limit items a page
// (0: no limit, the service's own page size).
type pager struct{ limit int }

// page invokes GET path?q on app for one page of a listing (q without limit)
// and decodes a 200 answer into out. A service refuses a limit above its
// max_limit setting (400 naming the field limit), which an operator may set
// as low as 1: then the page is asked for again without a limit, for the
// service's own page size, which its settings always allow, and so are the
// listing's next pages (pg remembers).
func (r *reader) page(ctx context.Context, app, path string, q url.Values, pg *pager, out any) (*sidecar.Response, error) {
	q = cloneValues(q)
	if pg.limit > 0 {
		q.Set("limit", fmt.Sprint(pg.limit))
		resp, err := r.call(ctx, app, withQuery(path, q), out)
		if err != nil || !refusesLimit(resp) {
			return resp, err
		}
		pg.limit = 0
		q.Del("limit")
	}
	return r.call(ctx, app, withQuery(path, q), out)
}

// withQuery returns path with query q ("" adds nothing).
func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// refusesLimit reports whether an answer is a 400 refusing the query's
// limit (details.field "limit", as platform/page answers it).
func refusesLimit(resp *sidecar.Response) bool {
	if resp == nil || resp.Status != 400 {
		return false
	}
	var e apperr.Body
	if json.Unmarshal(resp.Body, &e) != nil || e.Error.Code != apperr.CodeValidationFailed {
		return false
	}
	field, _ := e.Error.Details["field"].(string)
	return field == "limit"
}

// cloneValues copies q (nil for none), so that a caller's query is never
// changed.
func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// failure says what went wrong with an answer, as text for the page, or
// "" for a 200.
func failure(app string, resp *sidecar.Response, err error) string {
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
	msg := r.getList(ctx, contract.AppPayment, "/ops/payments", nil, pagePayments, &out)
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
	q := url.Values{}
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
	if msg := r.getList(ctx, contract.AppUser, "/users/all", q, pageUsers, &page); msg != "" {
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
	all, found, err := readPages[domain.TopUpState](ctx, r, contract.AppPayment, "/topups/of/"+url.PathEscape(userID), url.Values{"status": {"SUCCESS"}}, listPage)
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

// SucceededWalletPayments reads every SUCCESS bill payment of a user paid
// from the wallet (readPages).
func (r *reader) SucceededWalletPayments(ctx context.Context, userID string) ([]domain.WalletPayment, error) {
	var all []domain.WalletPayment
	listed, found, err := readPages[struct {
		ID     string `json:"id"`
		Amount *int64 `json:"amount"`
	}](ctx, r, contract.AppPayment, "/payments/of/"+url.PathEscape(userID), url.Values{"status": {"SUCCESS"}, "method": {"WALLET"}}, listPage)
	switch {
	case err != nil:
		return nil, fmt.Errorf("payments of %s: %w", userID, err)
	case !found:
		return nil, fmt.Errorf("payments of %s: the payment service answered 404", userID)
	}
	for _, p := range listed {
		wp := domain.WalletPayment{ID: p.ID}
		if p.Amount != nil {
			wp.Amount = *p.Amount
		}
		all = append(all, wp)
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

var errTooLong = fmt.Errorf("longer than the console reads (%d entries, or %d pages)", listItems, listRequests)

// readPages reads every page of a listing at path of app (query q, plus
// limit and cursor), listPage items a page (or the service's own page
// size, when its settings refuse that: pager), up to listItems items in
// listRequests pages, else errTooLong; found is false when the listing
// answers 404. Any other answer but 200 is an error naming its status.
func readPages[T any](ctx context.Context, r *reader, app, path string, q url.Values, limit int) (items []T, found bool, err error) {
	q = cloneValues(q)
	pg := &pager{limit: limit}
	for range listRequests {
		var out struct {
			Items      []T     `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		resp, err := r.page(ctx, app, path, q, pg, &out)
		switch {
		case err != nil:
			return nil, false, err
		case resp.Status == 404:
			return nil, false, nil
		case resp.Status != 200:
			return nil, false, errors.New(failure(app, resp, nil))
		}
		items = append(items, out.Items...)
		if len(items) > listItems {
			return nil, false, errTooLong
		}
		if out.NextCursor == nil || *out.NextCursor == "" {
			return items, true, nil
		}
		if *out.NextCursor == q.Get("cursor") {
			return nil, false, fmt.Errorf("%s: the listing at %s gave the same cursor again", app, path)
		}
		q.Set("cursor", *out.NextCursor)
	}
	return nil, false, errTooLong
}

// Ledger reads a user's whole ledger, newest first (readPages); nil when
// the user has no wallet (the balance read says so).
func (r *reader) Ledger(ctx context.Context, userID string) ([]domain.LedgerEntry, error) {
	ledger, _, err := readPages[domain.LedgerEntry](ctx, r, contract.AppWallet, "/wallet/transactions/"+url.PathEscape(userID), nil, listPage)
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
	refunds, found, err := readPages[domain.RefundState](ctx, r, contract.AppPayment, "/refunds/of/"+url.PathEscape(paymentID), nil, refundsPage)
	switch {
	case err != nil:
		return domain.PaymentState{}, false, fmt.Errorf("refunds of payment %s: %w", paymentID, err)
	case !found:
		return domain.PaymentState{}, false, fmt.Errorf("refunds of payment %s: the payment service answered 404", paymentID)
	}
	ps.Refunds = refunds
	return ps, true, nil
}

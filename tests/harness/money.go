package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/sidecar"
)

// Wallet is the contract's wallet balance object.
type Wallet struct {
	UserID   string `json:"user_id"`
	Balance  int64  `json:"balance"`
	Currency string `json:"currency"`
}

// Transaction is the contract's wallet transaction object.
type Transaction struct {
	ID           string  `json:"id"`
	Type         string  `json:"type"`
	Amount       int64   `json:"amount"`
	BalanceAfter int64   `json:"balance_after"`
	Reference    *string `json:"reference"`
	CreatedAt    string  `json:"created_at"`
}

// Bill is the contract's bill object.
type Bill struct {
	ID          string  `json:"id"`
	UserID      string  `json:"user_id"`
	Amount      int64   `json:"amount"`
	Currency    string  `json:"currency"`
	Description string  `json:"description"`
	Status      string  `json:"status"`
	PaymentID   *string `json:"payment_id"`
	CreatedAt   string  `json:"created_at"`
	PaidAt      *string `json:"paid_at"`
}

// Payment is the contract's payment object.
type Payment struct {
	ID            string  `json:"id"`
	BillID        string  `json:"bill_id"`
	UserID        *string `json:"user_id"`
	Amount        *int64  `json:"amount"`
	Currency      *string `json:"currency"`
	Method        string  `json:"method"`
	Status        string  `json:"status"`
	FailureReason *string `json:"failure_reason"`
	CreatedAt     string  `json:"created_at"`
	UpdatedAt     string  `json:"updated_at"`
	Razorpay      *struct {
		OrderID          string `json:"order_id"`
		KeyID            string `json:"key_id"`
		Amount           int64  `json:"amount"`
		Currency         string `json:"currency"`
		GatewayPaymentID string `json:"gateway_payment_id"`
	} `json:"razorpay"`
	Refund *struct {
		RefundID string `json:"refund_id"`
		Amount   int64  `json:"amount"`
		Status   string `json:"status"`
		Error    string `json:"error"`
	} `json:"refund"`
	LateCaptureOf  *string `json:"late_capture_of"`
	SettledBy      *string `json:"settled_by"`
	AmountRefunded int64   `json:"amount_refunded"`
	GatewayError   *struct {
		Op          string `json:"op"`
		Status      int    `json:"status"`
		Code        string `json:"code"`
		Description string `json:"description"`
		Field       string `json:"field"`
	} `json:"gateway_error"`
}

// MustCreateWallet opens a wallet and fails the test unless it gets 201.
func (e *Env) MustCreateWallet(tb testing.TB, userID string) {
	tb.Helper()
	if r := e.Do(tb, "POST", "/wallet/create/"+userID, nil, nil); r.Status != http.StatusCreated {
		tb.Fatalf("POST /wallet/create/%s = %d %s, want 201", userID, r.Status, r.Body)
	}
}

// MustTopUp credits a wallet through the gateway (200 expected).
func (e *Env) MustTopUp(tb testing.TB, userID string, amount int64, key string) {
	tb.Helper()
	var hdr map[string]string
	if key != "" {
		hdr = map[string]string{"Idempotency-Key": key}
	}
	if r := e.Do(tb, "POST", "/wallet/add", map[string]any{"user_id": userID, "amount": amount}, hdr); r.Status != http.StatusOK {
		tb.Fatalf("POST /wallet/add %s %d = %d %s, want 200", userID, amount, r.Status, r.Body)
	}
}

// MustCreateBill creates a bill (201 expected).
func (e *Env) MustCreateBill(tb testing.TB, userID string, amount int64) Bill {
	tb.Helper()
	return MustJSON[Bill](e, tb, "POST", "/billing/create", map[string]any{"user_id": userID, "amount": amount, "description": "Electricity"}, http.StatusCreated)
}

// MustBalance returns a wallet's balance.
func (e *Env) MustBalance(tb testing.TB, userID string) int64 {
	tb.Helper()
	return MustJSON[Wallet](e, tb, "GET", "/wallet/balance/"+userID, nil, http.StatusOK).Balance
}

// MustBill reads a bill.
func (e *Env) MustBill(tb testing.TB, billID string) Bill {
	tb.Helper()
	return MustJSON[Bill](e, tb, "GET", "/billing/"+billID, nil, http.StatusOK)
}

// MustPayment reads a payment.
func (e *Env) MustPayment(tb testing.TB, paymentID string) Payment {
	tb.Helper()
	return MustJSON[Payment](e, tb, "GET", "/Payment/"+paymentID, nil, http.StatusOK)
}

// MustLedger returns a wallet's whole ledger, newest first, paging with
// the given page size.
func (e *Env) MustLedger(tb testing.TB, userID string, pageSize int) []Transaction {
	tb.Helper()
	var all []Transaction
	cursor := ""
	for i := 0; i < 100000; i++ {
		path := fmt.Sprintf("/wallet/transactions/%s?limit=%d", userID, pageSize)
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		r := e.Do(tb, "GET", path, nil, nil)
		if r.Status != http.StatusOK {
			tb.Fatalf("GET %s = %d %s", path, r.Status, r.Body)
		}
		var page struct {
			Items      []Transaction `json:"items"`
			NextCursor *string       `json:"next_cursor"`
		}
		r.JSON(tb, &page)
		all = append(all, page.Items...)
		if page.NextCursor == nil {
			return all
		}
		cursor = *page.NextCursor
	}
	tb.Fatalf("ledger pagination of %s does not end", userID)
	return nil
}

// InvokeAs calls appID's route through the sidecar of the app caller, as
// that service would (the gateway does not route internal paths); the
// callee sees caller as the calling app. Like the services' own sidecar
// client, it sends a call again, up to 4 more times, only when the sidecar
// answers that it never left (sidecar.NotSent: the target not resolved
// yet, or daprd 1.14's mDNS resolver answering a first lookup with no
// address), so the answer is the callee's or its sidecar's.
func (e *Env) InvokeAs(tb testing.TB, caller, appID, method, path string, body any) *Response {
	tb.Helper()
	a := e.Topology.App(caller)
	if a == nil {
		tb.Fatalf("no app %s", caller)
	}
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	u := fmt.Sprintf("http://127.0.0.1:%d/v1.0/invoke/%s/method%s", a.DaprHTTPPort, appID, path)
	var out *Response
	SendUntilItLeaves(tb, fmt.Sprintf("%s %s through the %s sidecar", method, path, caller), func() (int, []byte) {
		req, _ := http.NewRequest(method, u, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("dapr-api-token", a.APIToken)
		resp, err := client.Do(req)
		if err != nil {
			tb.Fatalf("%s %s through the %s sidecar: %v", method, path, appID, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out = &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
		return out.Status, out.Body
	})
	return out
}

// SendUntilItLeaves calls send, which makes one invocation through a
// sidecar by hand and returns the answer's status and body, and calls it
// again, up to 5 times in all and waiting 100, 200 ... ms in between, while
// the answer says the call never left the caller's sidecar (NeverLeft), as
// the services' own sidecar client does. what names the call in the log.
func SendUntilItLeaves(tb testing.TB, what string, send func() (status int, body []byte)) {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		status, body := send()
		if attempt == 5 || !NeverLeft(status, body) {
			return
		}
		tb.Logf("%s never left its sidecar (%s); sending it again", what, body)
		time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
	}
}

// NeverLeft reports whether a sidecar's answer to an invocation (its
// status and body) says the call never went out to the target's sidecar,
// so that sending it again cannot apply it twice (sidecar.NotSent).
func NeverLeft(status int, body []byte) bool {
	var derr struct {
		ErrorCode string `json:"errorCode"`
		Message   string `json:"message"`
	}
	return status >= 500 && json.Unmarshal(body, &derr) == nil && sidecar.NotSent(derr.ErrorCode, derr.Message)
}

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/tests/harness"
)

// newFundedUser signs up a user, opens a wallet and tops it up.
func newFundedUser(t *testing.T, topUp int64) string {
	t.Helper()
	u := env.MustCreateUser(t, "Payer", uniqueEmail("payer"))
	env.MustCreateWallet(t, u.ID)
	if topUp > 0 {
		env.MustTopUp(t, u.ID, topUp, "")
	}
	return u.ID
}

func TestWalletRoutes(t *testing.T) {
	t.Parallel()
	u := env.MustCreateUser(t, "Wallet Owner", uniqueEmail("wallet"))
	r := env.Do(t, "POST", "/wallet/create/"+u.ID, nil, nil)
	if r.Status != http.StatusCreated || !strings.Contains(string(r.Body), `"balance":0`) || !strings.Contains(string(r.Body), `"currency":"INR"`) {
		t.Fatalf("create = %d %s", r.Status, r.Body)
	}
	if r := env.Do(t, "POST", "/wallet/create/"+u.ID, nil, nil); r.Status != http.StatusConflict || r.ErrorCode() != "WALLET_EXISTS" {
		t.Fatalf("second create = %d %s, want 409 WALLET_EXISTS", r.Status, r.Body)
	}
	for _, path := range []string{"/wallet/create/" + id.New(id.User), "/wallet/create/nobody"} {
		if r := env.Do(t, "POST", path, nil, nil); r.Status != http.StatusNotFound || r.ErrorCode() != "USER_NOT_FOUND" {
			t.Errorf("POST %s = %d %s, want 404 USER_NOT_FOUND", path, r.Status, r.Body)
		}
	}
	for _, path := range []string{"/wallet/balance/" + id.New(id.User), "/wallet/balance/x", "/wallet/transactions/" + id.New(id.User)} {
		if r := env.Do(t, "GET", path, nil, nil); r.Status != http.StatusNotFound || r.ErrorCode() != "WALLET_NOT_FOUND" {
			t.Errorf("GET %s = %d %s, want 404 WALLET_NOT_FOUND", path, r.Status, r.Body)
		}
	}

	add := env.Do(t, "POST", "/wallet/add", map[string]any{"user_id": u.ID, "amount": 125050, "currency": "INR"}, nil)
	var change struct {
		UserID      string              `json:"user_id"`
		Balance     int64               `json:"balance"`
		Currency    string              `json:"currency"`
		Transaction harness.Transaction `json:"transaction"`
	}
	add.JSON(t, &change)
	if add.Status != http.StatusOK || change.Balance != 125050 || change.Transaction.Type != "CREDIT" ||
		change.Transaction.Amount != 125050 || change.Transaction.BalanceAfter != 125050 || !id.Valid(id.Transaction, change.Transaction.ID) {
		t.Fatalf("add = %d %s", add.Status, add.Body)
	}
	if got := env.MustBalance(t, u.ID); got != 125050 {
		t.Fatalf("balance = %d, want 125050", got)
	}
	if r := env.Do(t, "POST", "/wallet/add", map[string]any{"user_id": id.New(id.User), "amount": 5}, nil); r.Status != http.StatusNotFound || r.ErrorCode() != "WALLET_NOT_FOUND" {
		t.Fatalf("add to no wallet = %d %s, want 404 WALLET_NOT_FOUND", r.Status, r.Body)
	}

	// A reference is applied once; reused for another amount it is refused.
	ref := map[string]any{"user_id": u.ID, "amount": 100, "reference": "gift-" + u.ID}
	for i := 0; i < 3; i++ {
		if r := env.Do(t, "POST", "/wallet/add", ref, nil); r.Status != http.StatusOK {
			t.Fatalf("add with reference #%d = %d %s", i, r.Status, r.Body)
		}
	}
	ref["amount"] = 999
	if r := env.Do(t, "POST", "/wallet/add", ref, nil); r.Status != http.StatusConflict || r.ErrorCode() != "DUPLICATE_REFERENCE" {
		t.Fatalf("reference reused = %d %s, want 409 DUPLICATE_REFERENCE", r.Status, r.Body)
	}
	if got := env.MustBalance(t, u.ID); got != 125150 {
		t.Fatalf("balance = %d, want 125150 (the referenced credit once)", got)
	}

	// History, newest first, paginated.
	for i := 0; i < 4; i++ {
		env.MustTopUp(t, u.ID, int64(10+i), "")
	}
	ledger := env.MustLedger(t, u.ID, 2)
	if len(ledger) != 6 || ledger[0].Amount != 13 || ledger[len(ledger)-1].Amount != 125050 {
		t.Fatalf("ledger = %+v, want 6 entries newest first", ledger)
	}
	for _, q := range []string{"limit=0", "limit=201", "limit=x", "cursor=nope"} {
		if r := env.Do(t, "GET", "/wallet/transactions/"+u.ID+"?"+q, nil, nil); r.Status != http.StatusBadRequest {
			t.Errorf("transactions?%s = %d %s, want 400", q, r.Status, r.Body)
		}
	}
}

// Every bad amount is a 400 that says amounts are integer paise, and
// changes nothing.
func TestAmountsAreValidated(t *testing.T) {
	t.Parallel()
	user := newFundedUser(t, 1000)
	cases := []struct{ name, amount string }{
		{"fraction", `12.5`}, {"integral fraction", `100.0`}, {"exponent", `1e3`}, {"string", `"100"`},
		{"zero", `0`}, {"negative", `-100`}, {"above 10^12", `1000000000001`}, {"null", `null`},
		{"huge", `123456789012345678901234567890`}, {"bool", `true`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/wallet/add", "/billing/create"} {
				body := fmt.Sprintf(`{"user_id":%q,"amount":%s,"description":"x"}`, user, tc.amount)
				if path == "/wallet/add" {
					body = fmt.Sprintf(`{"user_id":%q,"amount":%s}`, user, tc.amount)
				}
				r := env.Do(t, "POST", path, body, nil)
				if r.Status != http.StatusBadRequest || r.ErrorCode() != "VALIDATION_FAILED" || r.ErrorField() != "amount" {
					t.Fatalf("POST %s amount %s = %d %s, want 400 on amount", path, tc.amount, r.Status, r.Body)
				}
				// null is not a number at all: it is refused as null (leave
				// the field out), like every other field.
				if want := map[bool]string{true: "must not be null", false: "paise"}[tc.amount == "null"]; !strings.Contains(string(r.Body), want) {
					t.Errorf("message %s does not say %q", r.Body, want)
				}
			}
		})
	}
	if r := env.Do(t, "POST", "/wallet/add", fmt.Sprintf(`{"user_id":%q,"amount":100}`, user), nil); r.Status != http.StatusOK {
		t.Fatalf("a valid amount = %d %s", r.Status, r.Body)
	}
	if r := env.Do(t, "POST", "/wallet/add", fmt.Sprintf(`{"user_id":%q,"amount":1000000000000}`, user), nil); r.Status != http.StatusOK {
		t.Fatalf("amount 10^12 = %d %s, want 200", r.Status, r.Body)
	}
	if r := env.Do(t, "POST", "/wallet/add", fmt.Sprintf(`{"user_id":%q,"amount":100,"currency":"USD"}`, user), nil); r.Status != http.StatusBadRequest || r.ErrorField() != "currency" {
		t.Fatalf("USD = %d %s, want 400 on currency", r.Status, r.Body)
	}
	if got := env.MustBalance(t, user); got != 1000+100+1_000_000_000_000 {
		t.Fatalf("balance = %d: a refused request changed it", got)
	}
}

func TestWalletIdempotencyKey(t *testing.T) {
	t.Parallel()
	user := newFundedUser(t, 0)
	key := "topup-" + user
	body := map[string]any{"user_id": user, "amount": 5000}
	first := env.Do(t, "POST", "/wallet/add", body, map[string]string{"Idempotency-Key": key})
	if first.Status != http.StatusOK || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first = %d %s", first.Status, first.Body)
	}
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := env.Do(t, "POST", "/wallet/add", body, map[string]string{"Idempotency-Key": key})
			if r.Status != http.StatusOK || r.Header.Get("Idempotent-Replayed") != "true" || string(r.Body) != string(first.Body) {
				t.Errorf("retry = %d %s replayed=%q, want the first answer replayed", r.Status, r.Body, r.Header.Get("Idempotent-Replayed"))
			}
		}()
	}
	wg.Wait()
	if r := env.Do(t, "POST", "/wallet/add", map[string]any{"user_id": user, "amount": 6000}, map[string]string{"Idempotency-Key": key}); r.Status != http.StatusUnprocessableEntity || r.ErrorCode() != "IDEMPOTENCY_KEY_REUSED" {
		t.Fatalf("same key, other body = %d %s, want 422 IDEMPOTENCY_KEY_REUSED", r.Status, r.Body)
	}
	if got := env.MustBalance(t, user); got != 5000 {
		t.Fatalf("balance = %d, want 5000 (credited once)", got)
	}
}

func TestDeductThroughTheWalletSidecar(t *testing.T) {
	t.Parallel()
	user := newFundedUser(t, 500)
	r := env.InvokeAs(t, "payment", "wallet", "POST", "/wallet/deduct", map[string]any{"user_id": user, "amount": 1200, "reference": "pay_test1"})
	if r.Status != http.StatusUnprocessableEntity || r.ErrorCode() != "INSUFFICIENT_FUNDS" || !strings.Contains(string(r.Body), "wallet balance 500 is below 1200") {
		t.Fatalf("overdraft = %d %s, want 422 INSUFFICIENT_FUNDS saying why", r.Status, r.Body)
	}
	if r := env.InvokeAs(t, "payment", "wallet", "POST", "/wallet/deduct", map[string]any{"user_id": user, "amount": 100}); r.Status != http.StatusBadRequest || r.ErrorField() != "reference" {
		t.Fatalf("deduct without reference = %d %s, want 400 on reference", r.Status, r.Body)
	}
	for i := 0; i < 3; i++ {
		if r := env.InvokeAs(t, "payment", "wallet", "POST", "/wallet/deduct", map[string]any{"user_id": user, "amount": 200, "reference": "pay_test2"}); r.Status != http.StatusOK {
			t.Fatalf("deduct #%d = %d %s", i, r.Status, r.Body)
		}
	}
	if got := env.MustBalance(t, user); got != 300 {
		t.Fatalf("balance = %d, want 300 (one debit of 200)", got)
	}
	// Reverse gives it back once.
	for i := 0; i < 2; i++ {
		if r := env.InvokeAs(t, "payment", "wallet", "POST", "/wallet/reverse", map[string]any{"user_id": user, "reference": "pay_test2"}); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"reversed":true`) {
			t.Fatalf("reverse #%d = %d %s", i, r.Status, r.Body)
		}
	}
	if got := env.MustBalance(t, user); got != 500 {
		t.Fatalf("balance after reversal = %d, want 500", got)
	}
}

func TestBillingRoutes(t *testing.T) {
	t.Parallel()
	user := env.MustCreateUser(t, "Bill Owner", uniqueEmail("bills")).ID
	r := env.Do(t, "POST", "/billing/create", map[string]any{"user_id": user, "amount": 99900, "description": "Broadband, December", "due_date": "2026-12-31"}, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("create = %d %s", r.Status, r.Body)
	}
	for _, want := range []string{`"status":"UNPAID"`, `"payment_id":null`, `"paid_at":null`, `"currency":"INR"`, `"amount":99900`, `"due_date":"2026-12-31"`} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("bill %s lacks %s", r.Body, want)
		}
	}
	var b harness.Bill
	r.JSON(t, &b)
	if !id.Valid(id.Bill, b.ID) || env.MustBill(t, b.ID).Description != "Broadband, December" {
		t.Fatalf("bill = %+v", b)
	}
	for _, path := range []string{"/billing/" + id.New(id.Bill), "/billing/bill_x"} {
		if r := env.Do(t, "GET", path, nil, nil); r.Status != http.StatusNotFound || r.ErrorCode() != "BILL_NOT_FOUND" {
			t.Errorf("GET %s = %d %s, want 404 BILL_NOT_FOUND", path, r.Status, r.Body)
		}
	}
	bad := []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"user_id": user, "amount": 100}, "description"},
		{map[string]any{"user_id": user, "amount": 100, "description": "x", "due_date": "31/12/2026"}, "due_date"},
		{map[string]any{"user_id": "u1", "amount": 100, "description": "x"}, "user_id"},
		{map[string]any{"user_id": user, "amount": 100, "description": "x", "status": "PAID"}, "status"},
	}
	for _, tc := range bad {
		if r := env.Do(t, "POST", "/billing/create", tc.body, nil); r.Status != http.StatusBadRequest || r.ErrorField() != tc.field {
			t.Errorf("create %v = %d %s, want 400 on %s", tc.body, r.Status, r.Body, tc.field)
		}
	}
	if r := env.Do(t, "POST", "/billing/create", map[string]any{"user_id": id.New(id.User), "amount": 100, "description": "x"}, nil); r.Status != http.StatusNotFound || r.ErrorCode() != "USER_NOT_FOUND" {
		t.Errorf("bill for no user = %d %s, want 404 USER_NOT_FOUND", r.Status, r.Body)
	}

	// updateStatus is internal: through billing's own sidecar, once, by one payment.
	mark := func(pay string) *harness.Response {
		return env.InvokeAs(t, "payment", "billing", "PUT", "/billing/updateStatus", map[string]any{"bill_id": b.ID, "status": "PAID", "payment_id": pay})
	}
	payA, payB := id.New(id.Payment), id.New(id.Payment)
	if r := mark(payA); r.Status != http.StatusOK || !strings.Contains(string(r.Body), payA) {
		t.Fatalf("mark paid = %d %s", r.Status, r.Body)
	}
	if r := mark(payA); r.Status != http.StatusOK {
		t.Fatalf("mark paid again by the same payment = %d %s, want 200", r.Status, r.Body)
	}
	if r := mark(payB); r.Status != http.StatusConflict || r.ErrorCode() != "BILL_ALREADY_PAID" {
		t.Fatalf("mark paid by another payment = %d %s, want 409", r.Status, r.Body)
	}
	if r := env.InvokeAs(t, "payment", "billing", "PUT", "/billing/updateStatus", map[string]any{"bill_id": b.ID, "status": "UNPAID", "payment_id": payA}); r.Status != http.StatusBadRequest {
		t.Fatalf("status UNPAID = %d %s, want 400", r.Status, r.Body)
	}
	if got := env.MustBill(t, b.ID); got.Status != "PAID" || got.PaymentID == nil || *got.PaymentID != payA || got.PaidAt == nil {
		t.Fatalf("bill = %+v, want PAID by %s", got, payA)
	}
}

func TestWalletPayment(t *testing.T) {
	t.Parallel()
	user := newFundedUser(t, 10000)
	bill := env.MustCreateBill(t, user, 4250)
	r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("pay = %d %s, want 201", r.Status, r.Body)
	}
	var p harness.Payment
	r.JSON(t, &p)
	if p.Status != "SUCCESS" || p.Method != "WALLET" || *p.Amount != 4250 || *p.UserID != user || p.BillID != bill.ID || p.FailureReason != nil || !id.Valid(id.Payment, p.ID) {
		t.Fatalf("payment = %s", r.Body)
	}
	if got := env.MustPayment(t, p.ID); got.Status != "SUCCESS" {
		t.Fatalf("GET payment = %+v", got)
	}
	if b := env.MustBill(t, bill.ID); b.Status != "PAID" || *b.PaymentID != p.ID {
		t.Fatalf("bill after payment = %+v", b)
	}
	ledger := env.MustLedger(t, user, 10)
	if ledger[0].Type != "DEBIT" || ledger[0].Amount != 4250 || *ledger[0].Reference != p.ID || env.MustBalance(t, user) != 5750 {
		t.Fatalf("ledger head = %+v", ledger[0])
	}
	if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil); r.Status != http.StatusConflict || r.ErrorCode() != "BILL_ALREADY_PAID" {
		t.Fatalf("paying again = %d %s, want 409 BILL_ALREADY_PAID", r.Status, r.Body)
	}
	if env.MustBalance(t, user) != 5750 {
		t.Fatalf("second payment moved money")
	}
}

func TestInsufficientFundsThenPayAfterTopUp(t *testing.T) {
	t.Parallel()
	user := newFundedUser(t, 500)
	bill := env.MustCreateBill(t, user, 1200)
	r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil)
	if r.Status != http.StatusUnprocessableEntity || r.ErrorCode() != "INSUFFICIENT_FUNDS" || !strings.Contains(string(r.Body), "wallet balance 500 is below 1200") {
		t.Fatalf("pay = %d %s, want 422 INSUFFICIENT_FUNDS saying why", r.Status, r.Body)
	}
	failed, _ := r.ErrorDetails()["payment_id"].(string)
	p := env.MustPayment(t, failed)
	if p.Status != "FAILED" || p.FailureReason == nil || *p.FailureReason != "INSUFFICIENT_FUNDS" {
		t.Fatalf("failed payment = %+v", p)
	}
	if env.MustBalance(t, user) != 500 || env.MustBill(t, bill.ID).Status != "UNPAID" || len(env.MustLedger(t, user, 10)) != 1 {
		t.Fatalf("insufficient funds touched the wallet or the bill")
	}
	env.MustTopUp(t, user, 1000, "")
	if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil); r.Status != http.StatusCreated {
		t.Fatalf("pay after top-up = %d %s, want 201", r.Status, r.Body)
	}
	if env.MustBalance(t, user) != 300 {
		t.Fatalf("balance = %d, want 300", env.MustBalance(t, user))
	}
}

func TestPaymentErrors(t *testing.T) {
	t.Parallel()
	noWallet := env.MustCreateUser(t, "No Wallet", uniqueEmail("nowallet")).ID
	bill := env.MustCreateBill(t, noWallet, 100)
	r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil)
	if r.Status != http.StatusNotFound || r.ErrorCode() != "WALLET_NOT_FOUND" || r.ErrorDetails()["payment_id"] == nil {
		t.Fatalf("pay without wallet = %d %s, want 404 WALLET_NOT_FOUND naming the payment", r.Status, r.Body)
	}
	// The wallet service keeps that refusal (docs/correctness.md) in a
	// document that is no wallet to anyone until the wallet is opened:
	// then it is an empty wallet, the failed payment stays FAILED, and the
	// bill is paid by a new payment, debited once.
	failed, _ := r.ErrorDetails()["payment_id"].(string)
	for _, path := range []string{"/wallet/balance/" + noWallet, "/wallet/transactions/" + noWallet} {
		if r := env.Do(t, "GET", path, nil, nil); r.Status != http.StatusNotFound || r.ErrorCode() != "WALLET_NOT_FOUND" {
			t.Fatalf("GET %s after the refused debit = %d %s, want 404 WALLET_NOT_FOUND", path, r.Status, r.Body)
		}
	}
	if r := env.Do(t, "POST", "/wallet/add", map[string]any{"user_id": noWallet, "amount": 5}, nil); r.Status != http.StatusNotFound || r.ErrorCode() != "WALLET_NOT_FOUND" {
		t.Fatalf("add after the refused debit = %d %s, want 404 WALLET_NOT_FOUND", r.Status, r.Body)
	}
	env.MustCreateWallet(t, noWallet)
	if b := env.MustBalance(t, noWallet); b != 0 || len(env.MustLedger(t, noWallet, 10)) != 0 {
		t.Fatalf("the opened wallet holds %d and a ledger; want an empty wallet", b)
	}
	env.MustTopUp(t, noWallet, 250, "")
	if p := env.MustPayment(t, failed); p.Status != "FAILED" {
		t.Fatalf("the payment refused for no wallet = %s once the wallet is open, want FAILED", p.Status)
	}
	if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil); r.Status != http.StatusCreated {
		t.Fatalf("pay once the wallet is open = %d %s, want 201", r.Status, r.Body)
	}
	if b := env.MustBalance(t, noWallet); b != 150 || env.MustBill(t, bill.ID).Status != "PAID" {
		t.Fatalf("balance %d, bill %s; want 150 and PAID", b, env.MustBill(t, bill.ID).Status)
	}
	cases := []struct {
		body       string
		wantStatus int
		wantCode   string
	}{
		{`{"bill_id":"` + id.New(id.Bill) + `"}`, 404, "BILL_NOT_FOUND"},
		{`{"bill_id":"nope"}`, 400, "VALIDATION_FAILED"}, // a body's id is a field: malformed is 400
		{`{"bill_id":""}`, 400, "VALIDATION_FAILED"},
		{`{"bill_id":"usr_0123456789abcdefghjkmnpqrs"}`, 400, "VALIDATION_FAILED"},
		{`{}`, 400, "VALIDATION_FAILED"},
		{`{"bill_id":5}`, 400, "VALIDATION_FAILED"},
		{`{"bill_id":"x","amount":5}`, 400, "VALIDATION_FAILED"},
	}
	for _, tc := range cases {
		if r := env.Do(t, "POST", "/Payment/pay", tc.body, nil); r.Status != tc.wantStatus || r.ErrorCode() != tc.wantCode {
			t.Errorf("pay %s = %d %s, want %d %s", tc.body, r.Status, r.Body, tc.wantStatus, tc.wantCode)
		}
	}
	if r := env.Do(t, "GET", "/Payment/"+id.New(id.Payment), nil, nil); r.Status != http.StatusNotFound || r.ErrorCode() != "PAYMENT_NOT_FOUND" {
		t.Fatalf("GET unknown payment = %d %s", r.Status, r.Body)
	}
}

// Ten payments of one bill at once: exactly one succeeds, the others get
// 409, and only one debit happens.
func TestConcurrentPaymentsOfOneBill(t *testing.T) {
	t.Parallel()
	user := newFundedUser(t, 100000)
	bill := env.MustCreateBill(t, user, 700)
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil)
			statuses[i] = r.Status
			if r.Status == http.StatusConflict && r.ErrorCode() != "BILL_ALREADY_PAID" {
				t.Errorf("409 with code %s", r.ErrorCode())
			}
		}(i)
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			won++
		case http.StatusConflict:
		default:
			t.Fatalf("statuses %v: want one 201 and 409s", statuses)
		}
	}
	if won != 1 || env.MustBalance(t, user) != 100000-700 {
		t.Fatalf("statuses %v, balance %d: want exactly one payment of 700", statuses, env.MustBalance(t, user))
	}
	debits := 0
	for _, tx := range env.MustLedger(t, user, 50) {
		if tx.Type == "DEBIT" {
			debits++
		}
	}
	if debits != 1 {
		t.Fatalf("%d debits, want 1", debits)
	}
}

func TestPaymentIdempotencyKey(t *testing.T) {
	t.Parallel()
	user := newFundedUser(t, 5000)
	bill := env.MustCreateBill(t, user, 1000)
	hdr := map[string]string{"Idempotency-Key": "pay-" + bill.ID}
	first := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, hdr)
	second := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, hdr)
	if first.Status != http.StatusCreated || second.Status != http.StatusCreated || string(first.Body) != string(second.Body) || second.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("first %d %s, second %d %s replayed=%q", first.Status, first.Body, second.Status, second.Body, second.Header.Get("Idempotent-Replayed"))
	}
	if env.MustBalance(t, user) != 4000 {
		t.Fatalf("balance = %d, want 4000", env.MustBalance(t, user))
	}
}

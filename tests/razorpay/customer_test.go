package razorpay

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/tests/harness"
)

// The customer routes of the payment service, through real sidecars and
// the simulator: top-ups through Razorpay, refunds of wallet and Razorpay
// payments, a user's payments and top-ups listed.

func isTopUpFinal(t harness.TopUp) bool { return t.Status != "PENDING" }

// startTopUp asks for a top-up as its owner (201 expected).
func startTopUp(t *testing.T, userID string, amount int64, key string) harness.TopUp {
	t.Helper()
	hdr := map[string]string{"Authorization": "Bearer " + env.Token(t, userID, "user")}
	if key != "" {
		hdr["Idempotency-Key"] = key
	}
	r := env.Do(t, "POST", "/wallet/topup", map[string]any{"user_id": userID, "amount": amount}, hdr)
	if r.Status != http.StatusCreated {
		t.Fatalf("POST /wallet/topup = %d %s, want 201", r.Status, r.Body)
	}
	var tu harness.TopUp
	r.JSON(t, &tu)
	if tu.Status != "PENDING" || tu.Razorpay == nil || tu.Razorpay.OrderID == "" || tu.Razorpay.Amount != amount || !strings.HasPrefix(tu.ID, "top_") {
		t.Fatalf("top-up = %s, want PENDING with its own order of %d", r.Body, amount)
	}
	return tu
}

func waitTopUp(t *testing.T, topupID string, what string, cond func(harness.TopUp) bool) harness.TopUp {
	t.Helper()
	var tu harness.TopUp
	harness.WaitFor(t, 20*time.Second, "top-up "+topupID+" to be "+what, func() bool {
		tu = env.MustGetTopUp(t, topupID)
		return cond(tu)
	})
	return tu
}

// A top-up is credited on a verified capture of its own order, once, for
// exactly the captured amount, whatever duplicates arrive; never before.
func TestTopUpCreditedOnce(t *testing.T) {
	t.Parallel()
	acc, _ := newBill(t, 1000, 500)
	key := fmt.Sprintf("topup-%d", rand.Int64())
	tu := startTopUp(t, acc.UserID, 50000, key)
	if again := startTopUp(t, acc.UserID, 50000, key); again.ID != tu.ID || again.Razorpay.OrderID != tu.Razorpay.OrderID {
		t.Fatalf("the same key again = %s/%s, want %s/%s", again.ID, again.Razorpay.OrderID, tu.ID, tu.Razorpay.OrderID)
	}
	if b := env.MustBalance(t, acc.UserID); b != 1000 {
		t.Fatalf("balance before the capture = %d, want 1000: credited early", b)
	}
	env.SimPay(t, tu.Razorpay.OrderID, "captured", 3, true)
	got := waitTopUp(t, tu.ID, "SUCCESS", isTopUpFinal)
	if got.Status != "SUCCESS" {
		t.Fatalf("top-up = %+v, want SUCCESS", got)
	}
	harness.WaitFor(t, 15*time.Second, "all 8 deliveries", func() bool { return len(env.SimDeliveries(t, tu.Razorpay.OrderID)) >= 8 })
	time.Sleep(500 * time.Millisecond)
	if b := env.MustBalance(t, acc.UserID); b != 51000 {
		t.Fatalf("balance after the capture (delivered 4 times) = %d, want 51000", b)
	}
	ledger, _ := env.MustConsistentLedger(t, acc.UserID)
	if ledger[0].Reference == nil || *ledger[0].Reference != tu.ID || ledger[0].Amount != 50000 {
		t.Fatalf("newest ledger entry = %+v, want the credit of 50000 referenced %s", ledger[0], tu.ID)
	}
	// Listed for its owner; another user sees nothing of it.
	r := env.Do(t, "GET", "/wallet/user/"+acc.UserID+"/topups", nil, map[string]string{"Authorization": "Bearer " + env.Token(t, acc.UserID, "user")})
	if r.Status != 200 || !strings.Contains(string(r.Body), tu.ID) {
		t.Fatalf("the owner's top-ups = %d %s", r.Status, r.Body)
	}
	other := env.Token(t, id.New(id.User), "user")
	for _, path := range []string{"/wallet/topup/" + tu.ID, "/wallet/user/" + acc.UserID + "/topups"} {
		if r := env.Do(t, "GET", path, nil, map[string]string{"Authorization": "Bearer " + other}); r.Status != http.StatusForbidden {
			t.Fatalf("another user's GET %s = %d %s, want 403", path, r.Status, r.Body)
		}
	}
	env.AuditMoney(t, []*harness.Account{&acc})
}

// Failed, lost, late: a top-up behaves as a bill's Razorpay payment does.
func TestTopUpFailedLostAndLate(t *testing.T) {
	t.Parallel()
	acc, _ := newBill(t, 0, 500)
	failed := startTopUp(t, acc.UserID, 7000, "")
	sp := env.SimPay(t, failed.Razorpay.OrderID, "failed", 0, true)
	if got := waitTopUp(t, failed.ID, "FAILED", isTopUpFinal); got.Status != "FAILED" || env.MustBalance(t, acc.UserID) != 0 {
		t.Fatalf("failed top-up = %+v, balance %d", got, env.MustBalance(t, acc.UserID))
	}
	// A late authorisation of it credits the wallet, once, as the top-up.
	env.SimLateCapture(t, sp.Payment.ID)
	settled := waitTopUp(t, failed.ID, "settled by a late capture", func(tu harness.TopUp) bool { return tu.SettledBy != nil })
	late := waitTopUp(t, *settled.SettledBy, "SUCCESS", isTopUpFinal)
	if late.Status != "SUCCESS" || late.LateCaptureOf == nil || *late.LateCaptureOf != failed.ID {
		t.Fatalf("late capture = %+v", late)
	}
	lost := startTopUp(t, acc.UserID, 3000, "")
	env.SimPay(t, lost.Razorpay.OrderID, "captured", 0, false) // webhooks lost
	if got := waitTopUp(t, lost.ID, "SUCCESS by reconciliation", isTopUpFinal); got.Status != "SUCCESS" {
		t.Fatalf("top-up with lost webhooks = %+v", got)
	}
	if b := env.MustBalance(t, acc.UserID); b != 10000 {
		t.Fatalf("balance = %d, want 7000 (late) + 3000 (reconciled)", b)
	}
	env.AuditMoney(t, []*harness.Account{&acc})
}

// Bad top-ups answer the contract's errors and change nothing.
func TestTopUpRefusals(t *testing.T) {
	t.Parallel()
	acc, _ := newBill(t, 100, 500)
	noWallet := env.MustCreateUser(t, "No Wallet", fmt.Sprintf("nowallet.%d@example.in", rand.Int64()))
	as := func(u string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + env.Token(t, u, "user")}
	}
	cases := []struct {
		name   string
		body   any
		as     map[string]string
		status int
		code   string
	}{
		{"no wallet", map[string]any{"user_id": noWallet.ID, "amount": 1000}, as(noWallet.ID), 404, "WALLET_NOT_FOUND"},
		{"another user's wallet", map[string]any{"user_id": acc.UserID, "amount": 1000}, as(noWallet.ID), 403, "FORBIDDEN"},
		{"zero", map[string]any{"user_id": acc.UserID, "amount": 0}, as(acc.UserID), 400, "VALIDATION_FAILED"},
		{"no amount", map[string]any{"user_id": acc.UserID}, as(acc.UserID), 400, "VALIDATION_FAILED"},
		{"a fraction", `{"user_id":"` + acc.UserID + `","amount":12.5}`, as(acc.UserID), 400, "VALIDATION_FAILED"},
		{"above 10^12", map[string]any{"user_id": acc.UserID, "amount": int64(1_000_000_000_001)}, as(acc.UserID), 400, "VALIDATION_FAILED"},
		{"an unknown field", map[string]any{"user_id": acc.UserID, "amount": 100, "bill_id": "x"}, as(acc.UserID), 400, "VALIDATION_FAILED"},
		// An id in a body is a field: missing or malformed is a 400 naming it.
		{"a malformed user", map[string]any{"user_id": "usr_nope", "amount": 1000}, nil, 400, "VALIDATION_FAILED"},
		{"no user", map[string]any{"amount": 1000}, nil, 400, "VALIDATION_FAILED"},
		// Razorpay takes ₹1.00 or more: less is refused before anything is
		// recorded; what only Razorpay knows (the account's limit) is its
		// refusal, and the top-up is FAILED.
		{"below Razorpay's minimum", map[string]any{"user_id": acc.UserID, "amount": 99}, as(acc.UserID), 400, "VALIDATION_FAILED"},
		{"above the account's limit", map[string]any{"user_id": acc.UserID, "amount": 500_000_001}, as(acc.UserID), 422, "GATEWAY_REFUSED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := env.Do(t, "POST", "/wallet/topup", tc.body, tc.as)
			if r.Status != tc.status || r.ErrorCode() != tc.code {
				t.Fatalf("POST /wallet/topup = %d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
			if tc.code != "GATEWAY_REFUSED" {
				return
			}
			// The refused top-up is named as what it is, by the key it is
			// read with: GET /wallet/topup/{topup_id}, not /Payment/{id}.
			d := r.ErrorDetails()
			top, _ := d["topup_id"].(string)
			if !strings.HasPrefix(top, "top_") || d["payment_id"] != nil {
				t.Fatalf("details = %v, want topup_id naming the top-up and no payment_id", d)
			}
			if g := env.Do(t, "GET", "/wallet/topup/"+top, nil, tc.as); g.Status != 200 || !strings.Contains(string(g.Body), `"status":"FAILED"`) {
				t.Fatalf("GET /wallet/topup/%s = %d %s, want the FAILED top-up", top, g.Status, g.Body)
			}
		})
	}
	for _, path := range []string{"/wallet/topup/top_nope", "/wallet/topup/" + id.New(id.TopUp)} {
		if r := env.Do(t, "GET", path, nil, nil); r.Status != 404 || r.ErrorCode() != "TOPUP_NOT_FOUND" {
			t.Fatalf("GET %s = %d %s, want 404 TOPUP_NOT_FOUND", path, r.Status, r.Body)
		}
	}
	if b := env.MustBalance(t, acc.UserID); b != 100 {
		t.Fatalf("balance = %d after refused top-ups", b)
	}
	// Only the top-up Razorpay refused was recorded.
	r := env.Do(t, "GET", "/wallet/user/"+acc.UserID+"/topups", nil, as(acc.UserID))
	var page struct {
		Items []struct {
			Amount int64  `json:"amount"`
			Status string `json:"status"`
		} `json:"items"`
	}
	r.JSON(t, &page)
	if r.Status != 200 || len(page.Items) != 1 || page.Items[0].Amount != 500_000_001 || page.Items[0].Status != "FAILED" {
		t.Fatalf("top-ups listed = %d %s, want only the FAILED one Razorpay refused", r.Status, r.Body)
	}
}

// payFromWallet pays a new bill of amount from a funded wallet (201).
func payFromWallet(t *testing.T, amount int64) (harness.Account, harness.Payment) {
	t.Helper()
	acc, bill := newBill(t, amount, amount)
	r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil)
	if r.Status != 201 {
		t.Fatalf("wallet payment = %d %s", r.Status, r.Body)
	}
	var p harness.Payment
	r.JSON(t, &p)
	return acc, p
}

func refund(t *testing.T, paymentID string, body map[string]any, hdr map[string]string) *harness.Response {
	t.Helper()
	return env.Do(t, "POST", "/Payment/"+paymentID+"/refund", body, hdr)
}

// A wallet payment refunded in two parts: each credited back at once, the
// payment stays SUCCESS with amount_refunded, the bill REFUNDED at the end;
// anything more, or from anyone but an admin, is refused and changes
// nothing.
func TestRefundWalletPayment(t *testing.T) {
	t.Parallel()
	acc, p := payFromWallet(t, 1000)
	key := fmt.Sprintf("refund-%d", rand.Int64())
	first := refund(t, p.ID, map[string]any{"amount": 300, "reason": "damaged"}, map[string]string{"Idempotency-Key": key})
	var r1 harness.Refund
	first.JSON(t, &r1)
	if first.Status != 201 || r1.Status != "SUCCESS" || r1.Amount != 300 || !strings.HasPrefix(r1.ID, "rfd_") || r1.PaymentID != p.ID {
		t.Fatalf("partial refund = %d %s, want 201 SUCCESS of 300", first.Status, first.Body)
	}
	if again := refund(t, p.ID, map[string]any{"amount": 300, "reason": "damaged"}, map[string]string{"Idempotency-Key": key}); again.Header.Get("Idempotent-Replayed") != "true" || !strings.Contains(string(again.Body), r1.ID) {
		t.Fatalf("the same key again = %d %s, want the first refund replayed", again.Status, again.Body)
	}
	if b := env.MustBalance(t, acc.UserID); b != 300 {
		t.Fatalf("balance after refunding 300 = %d", b)
	}
	cases := []struct {
		name   string
		body   map[string]any
		hdr    map[string]string
		status int
		code   string
	}{
		{"more than is left", map[string]any{"amount": 701, "reason": "x"}, nil, 422, "REFUND_EXCEEDS_PAYMENT"},
		{"no reason", map[string]any{"amount": 100}, nil, 400, "VALIDATION_FAILED"},
		{"zero", map[string]any{"amount": 0, "reason": "x"}, nil, 400, "VALIDATION_FAILED"},
		{"a fraction", map[string]any{"amount": 1.5, "reason": "x"}, nil, 400, "VALIDATION_FAILED"},
		{"the owner", map[string]any{"amount": 100, "reason": "x"}, map[string]string{"Authorization": "Bearer " + env.Token(t, acc.UserID, "user")}, 403, "FORBIDDEN"},
	}
	for _, tc := range cases {
		if r := refund(t, p.ID, tc.body, tc.hdr); r.Status != tc.status || r.ErrorCode() != tc.code {
			t.Fatalf("%s: refund = %d %s, want %d %s", tc.name, r.Status, r.Body, tc.status, tc.code)
		}
	}
	rest := refund(t, p.ID, map[string]any{"reason": "the rest"}, nil) // the amount defaults to what is left
	var r2 harness.Refund
	rest.JSON(t, &r2)
	if rest.Status != 201 || r2.Amount != 700 || r2.Status != "SUCCESS" {
		t.Fatalf("the rest = %d %s", rest.Status, rest.Body)
	}
	// Asked for "the rest" of a wholly refunded payment, or for any amount:
	// refused, saying so (not "0 asked").
	for _, body := range []map[string]any{{"reason": "again"}, {"amount": 1, "reason": "again"}} {
		if r := refund(t, p.ID, body, nil); r.Status != 422 || r.ErrorCode() != "REFUND_EXCEEDS_PAYMENT" || !strings.Contains(string(r.Body), "nothing is left to refund") {
			t.Fatalf("refunding a wholly refunded payment (%v) = %d %s, want 422 REFUND_EXCEEDS_PAYMENT saying nothing is left", body, r.Status, r.Body)
		}
	}
	got := env.MustPayment(t, p.ID)
	if got.Status != "SUCCESS" || got.AmountRefunded != 1000 || len(env.MustRefunds(t, p.ID)) != 2 {
		t.Fatalf("payment = %+v with %d refunds, want SUCCESS with 1000 refunded in 2", got, len(env.MustRefunds(t, p.ID)))
	}
	harness.WaitFor(t, 10*time.Second, "the bill REFUNDED", func() bool { return env.MustBill(t, p.BillID).Status == "REFUNDED" })
	if b := env.MustBalance(t, acc.UserID); b != 1000 {
		t.Fatalf("balance after the whole refund = %d", b)
	}
	// Listed newest first with the contract's cursor paging, to the owner
	// too; a cursor it did not issue is refused.
	owner := env.As(t, acc.UserID)
	p1 := harness.MustListPage[harness.Refund](t, env, "/Payment/"+p.ID+"/refunds?limit=1", "", owner)
	if len(p1.Items) != 1 || p1.Items[0].ID != r2.ID || p1.NextCursor == nil {
		t.Fatalf("first page of 1 = %+v, want the newest refund %s and a cursor", p1, r2.ID)
	}
	p2 := harness.MustListPage[harness.Refund](t, env, "/Payment/"+p.ID+"/refunds?limit=1", *p1.NextCursor, owner)
	if len(p2.Items) != 1 || p2.Items[0].ID != r1.ID || p2.NextCursor != nil {
		t.Fatalf("second page of 1 = %+v, want the first refund %s and no cursor", p2, r1.ID)
	}
	for _, q := range []string{"limit=0", "limit=201", "cursor=bm90LWEtY3Vyc29y", "cursor=" + *p1.NextCursor + "x"} {
		if r := env.Do(t, "GET", "/Payment/"+p.ID+"/refunds?"+q, nil, nil); r.Status != 400 || r.ErrorCode() != "VALIDATION_FAILED" {
			t.Fatalf("refunds?%s = %d %s, want 400 VALIDATION_FAILED", q, r.Status, r.Body)
		}
	}
	env.AuditMoney(t, []*harness.Account{&acc})
}

// Twenty refunds of 100 race on a payment of 1000: exactly ten are made.
func TestRacingRefundsNeverExceedThePayment(t *testing.T) {
	t.Parallel()
	acc, p := payFromWallet(t, 1000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := env.Try("POST", "/Payment/"+p.ID+"/refund", map[string]any{"amount": 100, "reason": "race"}, nil)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			statuses[r.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[201] != 10 || statuses[422] != 10 {
		t.Fatalf("answers %v, want ten 201 and ten 422", statuses)
	}
	if got := env.MustPayment(t, p.ID); got.AmountRefunded != 1000 || env.MustBalance(t, acc.UserID) != 1000 {
		t.Fatalf("refunded %d, balance %d; want 1000 and 1000", got.AmountRefunded, env.MustBalance(t, acc.UserID))
	}
	env.AuditMoney(t, []*harness.Account{&acc})
}

// Only a SUCCESS payment can be refunded.
func TestRefundOfAPaymentThatIsNotSuccess(t *testing.T) {
	t.Parallel()
	_, bill := newBill(t, 0, 900)
	r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil) // no funds: FAILED
	var e struct {
		Error struct {
			Details struct {
				PaymentID string `json:"payment_id"`
			} `json:"details"`
		} `json:"error"`
	}
	r.JSON(t, &e)
	if got := refund(t, e.Error.Details.PaymentID, map[string]any{"reason": "x"}, nil); got.Status != 409 || got.ErrorCode() != "PAYMENT_NOT_REFUNDABLE" {
		t.Fatalf("refund of a FAILED payment = %d %s", got.Status, got.Body)
	}
	for _, pid := range []string{id.New(id.Payment), "pay_nope"} {
		if got := refund(t, pid, map[string]any{"reason": "x"}, nil); got.Status != 404 || got.ErrorCode() != "PAYMENT_NOT_FOUND" {
			t.Fatalf("refund of %s = %d %s, want 404", pid, got.Status, got.Body)
		}
	}
}

// A Razorpay payment's refund goes through Razorpay: PENDING until
// refund.processed, FAILED on refund.failed (and then refundable again),
// settled by reconciliation when the event is lost.
func TestRefundRazorpayPayment(t *testing.T) {
	_, bill := newBill(t, 0, 4000)
	p := env.MustPayRazorpay(t, bill.ID)
	env.SimPay(t, p.Razorpay.OrderID, "captured", 0, true)
	p = env.WaitPayment(t, p.ID, 15*time.Second, "SUCCESS", isSuccess)
	settle := func(ms int) {
		t.Helper()
		if _, err := http.Post(env.SimURL()+"/sim/settings", "application/json", strings.NewReader(fmt.Sprintf(`{"refund_settle_ms":%d}`, ms))); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { settle(300) })
	waitRefund := func(refundID, want string) {
		t.Helper()
		harness.WaitFor(t, 20*time.Second, "refund "+refundID+" "+want, func() bool {
			for _, r := range env.MustRefunds(t, p.ID) {
				if r.ID == refundID {
					return r.Status == want
				}
			}
			return false
		})
	}
	// Processed by refund.processed.
	r := refund(t, p.ID, map[string]any{"amount": 1000, "reason": "goodwill"}, nil)
	var first harness.Refund
	r.JSON(t, &first)
	if r.Status != 201 || (first.Status != "PENDING" && first.Status != "SUCCESS") {
		t.Fatalf("refund = %d %s", r.Status, r.Body)
	}
	waitRefund(first.ID, "SUCCESS")
	// Failed at Razorpay: FAILED, and the money is refundable again.
	settle(0)
	r = refund(t, p.ID, map[string]any{"amount": 3000, "reason": "the rest"}, nil)
	var second harness.Refund
	r.JSON(t, &second)
	if r.Status != 201 || second.Status != "PENDING" {
		t.Fatalf("refund = %d %s, want PENDING while Razorpay holds it", r.Status, r.Body)
	}
	gatewayRefund := pendingSimRefund(t, p.Razorpay.GatewayPaymentID)
	simSettle(t, gatewayRefund, "failed", true)
	waitRefund(second.ID, "FAILED")
	// Lost refund.processed: reconciliation asks Razorpay.
	r = refund(t, p.ID, map[string]any{"reason": "once more"}, nil)
	var third harness.Refund
	r.JSON(t, &third)
	if third.Amount != 3000 {
		t.Fatalf("the rest after a failed refund = %d %s, want 3000", r.Status, r.Body)
	}
	simSettle(t, pendingSimRefund(t, p.Razorpay.GatewayPaymentID), "processed", false)
	waitRefund(third.ID, "SUCCESS")
	if g := env.SimGetPayment(t, p.Razorpay.GatewayPaymentID); g.AmountRefunded != 4000 {
		t.Fatalf("refunded at Razorpay = %d, want 4000", g.AmountRefunded)
	}
	harness.WaitFor(t, 10*time.Second, "the bill REFUNDED", func() bool { return env.MustBill(t, bill.ID).Status == "REFUNDED" })
	if got := env.MustPayment(t, p.ID); got.Status != "SUCCESS" || got.AmountRefunded != 4000 {
		t.Fatalf("payment = %+v", got)
	}
}

// pendingSimRefund finds the simulator's one pending refund of a gateway
// payment.
func pendingSimRefund(t *testing.T, gatewayPaymentID string) string {
	t.Helper()
	var found string
	harness.WaitFor(t, 10*time.Second, "a pending refund of "+gatewayPaymentID+" at the simulator", func() bool {
		resp, err := http.Get(env.SimURL() + "/sim/refunds?payment_id=" + gatewayPaymentID + "&status=pending")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		if len(out.Items) == 1 {
			found = out.Items[0].ID
		}
		return found != ""
	})
	return found
}

func simSettle(t *testing.T, refundID, outcome string, deliver bool) {
	t.Helper()
	resp, err := http.Post(env.SimURL()+"/sim/refunds/"+refundID+"/settle", "application/json", strings.NewReader(fmt.Sprintf(`{"outcome":%q,"deliver":%v}`, outcome, deliver)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("settling %s = %d", refundID, resp.StatusCode)
	}
}

// A user's payments, newest first, in pages; filtered; a payment made while
// a client pages is listed once, never twice; another user's list is
// refused; bad queries answer 400.
func TestListPayments(t *testing.T) {
	t.Parallel()
	acc, _ := newBill(t, 100000, 100)
	var made []string
	for i := 0; i < 5; i++ {
		b := env.MustCreateBill(t, acc.UserID, int64(1000+i))
		path := "/Payment/pay"
		if i%2 == 1 {
			path = "/Payment/rozarpay"
		}
		r := env.Do(t, "POST", path, map[string]any{"bill_id": b.ID}, nil)
		var p harness.Payment
		r.JSON(t, &p)
		made = append([]string{p.ID}, made...) // newest first
	}
	as := map[string]string{"Authorization": "Bearer " + env.Token(t, acc.UserID, "user")}
	list := func(query string) (ids []string, next *string) {
		t.Helper()
		r := env.Do(t, "GET", "/Payment/user/"+acc.UserID+query, nil, as)
		if r.Status != 200 {
			t.Fatalf("GET /Payment/user/...%s = %d %s", query, r.Status, r.Body)
		}
		var out struct {
			Items []harness.Payment `json:"items"`
			Next  *string           `json:"next_cursor"`
		}
		r.JSON(t, &out)
		for _, p := range out.Items {
			ids = append(ids, p.ID)
		}
		return ids, out.Next
	}
	page1, next := list("?limit=2")
	if fmt.Sprint(page1) != fmt.Sprint(made[:2]) || next == nil {
		t.Fatalf("first page %v (next %v), want %v", page1, next, made[:2])
	}
	// A payment made while paging comes before the first page: not listed
	// in the pages that follow.
	b := env.MustCreateBill(t, acc.UserID, 777)
	env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": b.ID}, nil)
	seen := map[string]bool{}
	all := append([]string{}, page1...)
	for next != nil {
		var ids []string
		ids, next = list("?limit=2&cursor=" + *next)
		all = append(all, ids...)
	}
	for _, pid := range all {
		if seen[pid] {
			t.Fatalf("%s listed twice in %v", pid, all)
		}
		seen[pid] = true
	}
	if fmt.Sprint(all) != fmt.Sprint(made) {
		t.Fatalf("all pages %v, want %v", all, made)
	}
	razorpay, _ := list("?method=RAZORPAY")
	pending, _ := list("?status=PENDING&method=RAZORPAY")
	success, _ := list("?status=SUCCESS&method=WALLET")
	if len(razorpay) != 2 || len(pending) != 2 || len(success) != 4 {
		t.Fatalf("filtered: %d RAZORPAY, %d PENDING RAZORPAY, %d SUCCESS WALLET; want 2, 2, 4", len(razorpay), len(pending), len(success))
	}
	other := map[string]string{"Authorization": "Bearer " + env.Token(t, id.New(id.User), "user")}
	if r := env.Do(t, "GET", "/Payment/user/"+acc.UserID, nil, other); r.Status != 403 {
		t.Fatalf("another user's list = %d", r.Status)
	}
	for _, q := range []string{"?status=DONE", "?method=CASH", "?limit=0", "?limit=201", "?cursor=bm9wZQ"} {
		if r := env.Do(t, "GET", "/Payment/user/"+acc.UserID+q, nil, as); r.Status != 400 || r.ErrorCode() != "VALIDATION_FAILED" {
			t.Fatalf("GET /Payment/user/...%s = %d %s, want 400", q, r.Status, r.Body)
		}
	}
	env.AuditMoney(t, []*harness.Account{&acc})
}

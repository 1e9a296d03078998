package compose

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/tests/harness"
)

// appPorts are the apps' ports inside their containers (dapr.yaml's).
var appPorts = map[string]int{"gateway": 8080, "user": 8081, "wallet": 8082, "billing": 8083, "payment": 8084, "razorpay": 8087}

// uniqueEmail returns an email no other run uses (the volume is fresh, but
// a kept project may be walked again).
func uniqueEmail(tag string) string {
	return fmt.Sprintf("%s.%s@example.in", tag, strings.TrimPrefix(id.New("t"), "t_"))
}

// TestCompose brings docker-compose.yml up and walks it. The steps share
// one project, so they run in order.
func TestCompose(t *testing.T) {
	if os.Getenv("FINFLOW_COMPOSE") != "1" {
		t.Skip("runs Docker Compose for real: `make compose-test` (which sets FINFLOW_COMPOSE=1)")
	}
	p := newProject(t)
	p.up(t)
	env := p.attach(t)

	t.Run("UserWalk", func(t *testing.T) { userWalk(t, env) })
	t.Run("WalletPaymentWalk", func(t *testing.T) { walletPaymentWalk(t, env) })
	t.Run("RazorpayWalk", func(t *testing.T) { razorpayWalk(t, env) })
	t.Run("AccessPolicies", func(t *testing.T) { accessPolicies(t, p) })
	t.Run("Probes", func(t *testing.T) { probes(t, p) })
	t.Run("StopAndStartKeepTheData", func(t *testing.T) { stopAndStart(t, p, env) })
}

// userWalk is the README's walk through the user routes.
func userWalk(t *testing.T, env *harness.Env) {
	email := uniqueEmail("asha")
	r := env.Do(t, "POST", "/users/create", map[string]any{"name": "Asha Rao", "email": email, "phone": "+91 98765 43210"}, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("POST /users/create = %d %s, want 201", r.Status, r.Body)
	}
	var u harness.User
	r.JSON(t, &u)
	if !id.Valid(id.User, u.ID) || u.Email != email || u.Phone == nil || *u.Phone != "+919876543210" {
		t.Fatalf("created user = %+v, want the email %s and phone +919876543210", u, email)
	}
	if r := env.Do(t, "GET", "/users/"+u.ID, nil, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), u.ID) {
		t.Errorf("GET /users/%s = %d %s, want 200 with the user", u.ID, r.Status, r.Body)
	}

	cases := []struct {
		name       string
		body       map[string]any
		wantStatus int
		wantCode   string
	}{
		{"same email in another case", map[string]any{"name": "Someone", "email": strings.ToUpper(email)}, http.StatusConflict, "EMAIL_TAKEN"},
		{"unknown field", map[string]any{"name": "X", "email": uniqueEmail("x"), "role": "admin"}, http.StatusBadRequest, "VALIDATION_FAILED"},
	}
	for _, c := range cases {
		if r := env.Do(t, "POST", "/users/create", c.body, nil); r.Status != c.wantStatus || r.ErrorCode() != c.wantCode {
			t.Errorf("%s: POST /users/create = %d %s, want %d %s", c.name, r.Status, r.Body, c.wantStatus, c.wantCode)
		}
	}

	// Three users at least, so that two fit on a page and one does not.
	env.MustCreateUser(t, "Second", uniqueEmail("second"))
	env.MustCreateUser(t, "Third", uniqueEmail("third"))
	r = env.Do(t, "GET", "/users/all?limit=2", nil, nil)
	var page struct {
		Items      []harness.User `json:"items"`
		NextCursor *string        `json:"next_cursor"`
	}
	r.JSON(t, &page)
	if r.Status != http.StatusOK || len(page.Items) != 2 || page.NextCursor == nil {
		t.Fatalf("GET /users/all?limit=2 = %d %s, want 2 users and a next_cursor", r.Status, r.Body)
	}
	if r := env.Do(t, "GET", "/users/all?limit=2&cursor="+*page.NextCursor, nil, nil); r.Status != http.StatusOK {
		t.Errorf("GET the next page = %d %s, want 200", r.Status, r.Body)
	}

	me := env.Token(t, u.ID, "user")
	if r := env.Do(t, "GET", "/users/all", nil, map[string]string{"Authorization": "Bearer " + me}); r.Status != http.StatusForbidden || r.ErrorCode() != "FORBIDDEN" {
		t.Errorf("GET /users/all as a user = %d %s, want 403 FORBIDDEN", r.Status, r.Body)
	}
	if r := env.Do(t, "POST", "/wallet/deduct", "{}", nil); r.Status != http.StatusNotFound || r.ErrorCode() != "ROUTE_NOT_FOUND" {
		t.Errorf("POST /wallet/deduct through the gateway = %d %s, want 404 ROUTE_NOT_FOUND", r.Status, r.Body)
	}
}

// walletPaymentWalk is the README's walk through one wallet payment.
func walletPaymentWalk(t *testing.T, env *harness.Env) {
	u := env.MustCreateUser(t, "Ravi", uniqueEmail("ravi"))
	env.MustCreateWallet(t, u.ID)
	key := map[string]string{"Idempotency-Key": "topup-" + u.ID}
	first := env.Do(t, "POST", "/wallet/add", map[string]any{"user_id": u.ID, "amount": 200000}, key)
	again := env.Do(t, "POST", "/wallet/add", map[string]any{"user_id": u.ID, "amount": 200000}, key)
	if first.Status != http.StatusOK || again.Status != http.StatusOK || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("top-up twice with one Idempotency-Key = %d, %d (Idempotent-Replayed %q), want 200, 200 (true)",
			first.Status, again.Status, again.Header.Get("Idempotent-Replayed"))
	}
	if got := env.MustBalance(t, u.ID); got != 200000 {
		t.Fatalf("balance after the replayed top-up = %d, want 200000", got)
	}

	bill := env.MustCreateBill(t, u.ID, 125000)
	pay := payWallet(t, env, bill.ID)
	if b := env.MustBill(t, bill.ID); b.Status != "PAID" || b.PaymentID == nil || *b.PaymentID != pay.ID {
		t.Errorf("bill = %+v, want PAID by %s", b, pay.ID)
	}
	if got := env.MustBalance(t, u.ID); got != 75000 {
		t.Errorf("balance = %d, want 75000", got)
	}
	ledger := env.MustLedger(t, u.ID, 10)
	if len(ledger) != 2 || ledger[0].Type != "DEBIT" || ledger[0].Amount != 125000 || ledger[0].Reference == nil ||
		*ledger[0].Reference != pay.ID || ledger[1].Type != "CREDIT" || ledger[1].Amount != 200000 {
		t.Errorf("ledger = %+v, want the DEBIT of 125000 (reference %s), then the CREDIT of 200000", ledger, pay.ID)
	}

	if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil); r.Status != http.StatusConflict || r.ErrorCode() != "BILL_ALREADY_PAID" {
		t.Errorf("paying again = %d %s, want 409 BILL_ALREADY_PAID", r.Status, r.Body)
	}
	big := env.MustCreateBill(t, u.ID, 900000)
	r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": big.ID}, nil)
	if r.Status != http.StatusUnprocessableEntity || r.ErrorCode() != "INSUFFICIENT_FUNDS" || !strings.Contains(string(r.Body), `"payment_id":"pay_`) {
		t.Errorf("paying 900000 from 75000 = %d %s, want 422 INSUFFICIENT_FUNDS naming the payment", r.Status, r.Body)
	}
	if r := env.Do(t, "POST", "/wallet/add", `{"user_id":"`+u.ID+`","amount":12.5}`, nil); r.Status != http.StatusBadRequest || r.ErrorField() != "amount" {
		t.Errorf("a fractional top-up = %d %s, want 400 on the field amount", r.Status, r.Body)
	}
	if got := env.MustBalance(t, u.ID); got != 75000 {
		t.Errorf("balance after the refusals = %d, want 75000 still", got)
	}
}

// payWallet pays a bill from the wallet and waits for SUCCESS (201 at once,
// or 202 PENDING finished by the payment service's recovery).
func payWallet(t *testing.T, env *harness.Env, billID string) harness.Payment {
	t.Helper()
	r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": billID}, nil)
	if r.Status != http.StatusCreated && r.Status != http.StatusAccepted {
		t.Fatalf("POST /Payment/pay %s = %d %s, want 201 (or 202)", billID, r.Status, r.Body)
	}
	var p harness.Payment
	r.JSON(t, &p)
	if p.Method != "WALLET" {
		t.Errorf("payment method = %q, want WALLET", p.Method)
	}
	if p.Status != "SUCCESS" {
		p = env.WaitPayment(t, p.ID, time.Minute, "SUCCESS", func(p harness.Payment) bool { return p.Status == "SUCCESS" })
	}
	return p
}

// razorpayWalk is the README's walk through one Razorpay payment: the
// simulator container captures it and signs the webhooks to the gateway.
func razorpayWalk(t *testing.T, env *harness.Env) {
	u := env.MustCreateUser(t, "Meera", uniqueEmail("meera"))
	env.MustCreateWallet(t, u.ID)
	bill := env.MustCreateBill(t, u.ID, 49900)
	p := env.MustPayRazorpay(t, bill.ID)
	if p.Status != "PENDING" || p.Method != "RAZORPAY" || p.Razorpay.Amount != 49900 || p.Razorpay.KeyID == "" {
		t.Fatalf("Razorpay payment = %+v, want PENDING RAZORPAY for 49900 with an order", p)
	}
	if again := env.MustPayRazorpay(t, bill.ID); again.ID != p.ID || again.Razorpay.OrderID != p.Razorpay.OrderID {
		t.Errorf("asking again = %s (order %s), want the same payment %s (order %s)", again.ID, again.Razorpay.OrderID, p.ID, p.Razorpay.OrderID)
	}

	env.SimPay(t, p.Razorpay.OrderID, "captured", 0, true)
	env.WaitPayment(t, p.ID, time.Minute, "SUCCESS", func(p harness.Payment) bool { return p.Status == "SUCCESS" })
	if b := env.MustBill(t, bill.ID); b.Status != "PAID" || b.PaymentID == nil || *b.PaymentID != p.ID {
		t.Errorf("bill = %+v, want PAID by %s", b, p.ID)
	}
	deliveries := env.SimDeliveries(t, p.Razorpay.OrderID)
	if len(deliveries) == 0 {
		t.Error("the simulator delivered no webhook")
	}
	if got := env.MustBalance(t, u.ID); got != 0 {
		t.Errorf("wallet balance = %d, want 0: a Razorpay payment never touches the wallet", got)
	}
}

// accessPolicies checks that Compose's sidecars enforce config/secure/:
// the user service's sidecar may not take money from a wallet, while the
// payment service's call reaches the wallet service (which then refuses an
// empty body on its own terms).
func accessPolicies(t *testing.T, p *project) {
	const denied = "access control policy has denied access"
	cases := []struct {
		caller     string
		wantDenied bool
	}{
		{"user", true},
		{"billing", true},
		{"payment", false},
	}
	for _, c := range cases {
		t.Run(c.caller, func(t *testing.T) {
			ctr := p.container(t, c.caller)
			token := containerEnv(t, ctr, "DAPR_API_TOKEN")
			// As the services' sidecar client does, ask again only what
			// the sidecar says never left (a first lookup of wallet that
			// daprd 1.14's mDNS resolver answered with no address).
			var r rawResponse
			harness.SendUntilItLeaves(t, c.caller+"'s call to wallet", func() (int, []byte) {
				r = fromInside(t, ctr, 3500, "POST", "/v1.0/invoke/wallet/method/wallet/deduct", "{}", map[string]string{"dapr-api-token": token})
				return r.Status, []byte(r.Body)
			})
			if got := strings.Contains(r.Body, denied); got != c.wantDenied {
				t.Errorf("%s's sidecar invoking POST wallet/deduct = %d %s; denied by policy: %v, want %v", c.caller, r.Status, r.Body, got, c.wantDenied)
			}
			if c.wantDenied && r.Status != http.StatusForbidden {
				t.Errorf("%s's sidecar invoking POST wallet/deduct = %d, want 403", c.caller, r.Status)
			}
		})
	}
}

// probes checks, inside every app's network namespace, the routes the
// Kubernetes probes and the sidecar's app health check ask (the images are
// the ones deploy/kubernetes runs).
func probes(t *testing.T, p *project) {
	for app, port := range appPorts {
		ctr := p.container(t, app)
		for _, path := range []string{"/healthz", "/readyz"} {
			if r := fromInside(t, ctr, port, "GET", path, "", nil); r.Status != http.StatusOK {
				t.Errorf("%s GET %s = %d %s, want 200", app, path, r.Status, r.Body)
			}
		}
	}
}

// stopAndStart stops every container and starts them again: users,
// wallets, bills and payments are all still there (Redis's append-only
// file on its volume), and the money still moves.
func stopAndStart(t *testing.T, p *project, env *harness.Env) {
	u := env.MustCreateUser(t, "Kiran", uniqueEmail("kiran"))
	env.MustCreateWallet(t, u.ID)
	env.MustTopUp(t, u.ID, 50000, "")
	bill := env.MustCreateBill(t, u.ID, 20000)
	pay := payWallet(t, env, bill.ID)

	p.must(t, 5*time.Minute, "stop")
	if out := p.must(t, time.Minute, "ps", "-q", "--status", "running"); strings.TrimSpace(out) != "" {
		t.Fatalf("containers still running after stop: %s", out)
	}
	p.must(t, 5*time.Minute, "start")
	after := p.attach(t)

	if r := after.Do(t, "GET", "/users/"+u.ID, nil, nil); r.Status != http.StatusOK {
		t.Errorf("GET /users/%s after the restart = %d %s, want 200", u.ID, r.Status, r.Body)
	}
	if got := after.MustBalance(t, u.ID); got != 30000 {
		t.Errorf("balance after the restart = %d, want 30000", got)
	}
	if got := after.MustPayment(t, pay.ID); got.Status != "SUCCESS" {
		t.Errorf("payment after the restart = %s, want SUCCESS", got.Status)
	}
	if b := after.MustBill(t, bill.ID); b.Status != "PAID" {
		t.Errorf("bill after the restart = %s, want PAID", b.Status)
	}
	if n := len(after.MustLedger(t, u.ID, 10)); n != 2 {
		t.Errorf("ledger after the restart has %d entries, want 2", n)
	}
	again := after.MustCreateBill(t, u.ID, 10000)
	payWallet(t, after, again.ID)
	if got := after.MustBalance(t, u.ID); got != 20000 {
		t.Errorf("balance after paying again = %d, want 20000", got)
	}
}

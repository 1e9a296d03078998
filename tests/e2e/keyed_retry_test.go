package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/tests/harness"
)

// A keyed request whose first answer the gateway did not keep (it answered
// 503 and dropped its record: ForgetIdempotencyKey) reaches the service
// again with the same key's token. The services must tell a retry (the
// same request: its first result again) from another request under the
// key (422 IDEMPOTENCY_KEY_REUSED), as the gateway would have.

// keyedAgain forgets the gateway's record of key, then sends the request
// with it as the admin (Do's default token).
func keyedAgain(t *testing.T, method, path string, body any, key string) *harness.Response {
	t.Helper()
	env.ForgetIdempotencyKey(t, env.AdminToken, key)
	r := env.Do(t, method, path, body, map[string]string{"Idempotency-Key": key})
	if r.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("%s %s was replayed by the gateway after its record was deleted", method, path)
	}
	return r
}

func wantKeyReused(t *testing.T, what string, r *harness.Response) {
	t.Helper()
	if r.Status != http.StatusUnprocessableEntity || r.ErrorCode() != "IDEMPOTENCY_KEY_REUSED" {
		t.Fatalf("%s = %d %s, want 422 IDEMPOTENCY_KEY_REUSED", what, r.Status, r.Body)
	}
}

func uniqueKey(tag string) string { return tag + "-" + strings.TrimPrefix(id.New("k"), "k_") }

func TestKeyedSignUpRetriedWithoutTheGatewaysRecord(t *testing.T) {
	t.Parallel()
	key := uniqueKey("signup")
	email, otherEmail := uniqueEmail("keyed"), uniqueEmail("keyed.other")
	asked := map[string]any{"name": "Asha", "email": email}
	first := env.Do(t, "POST", "/users/create", asked, map[string]string{"Idempotency-Key": key})
	if first.Status != http.StatusCreated {
		t.Fatalf("sign-up = %d %s, want 201", first.Status, first.Body)
	}
	var u harness.User
	first.JSON(t, &u)

	again := keyedAgain(t, "POST", "/users/create", asked, key)
	var retried harness.User
	if again.Status != http.StatusCreated {
		t.Fatalf("retry = %d %s, want 201", again.Status, again.Body)
	}
	again.JSON(t, &retried)
	if retried != u {
		t.Fatalf("retry = %+v, want the first user %+v", retried, u)
	}
	wantKeyReused(t, "same key, other name", keyedAgain(t, "POST", "/users/create", map[string]any{"name": "Ravi", "email": email}, key))
	wantKeyReused(t, "same key, other email", keyedAgain(t, "POST", "/users/create", map[string]any{"name": "Asha", "email": otherEmail}, key))
	wantKeyReused(t, "same key, a phone", keyedAgain(t, "POST", "/users/create", map[string]any{"name": "Asha", "email": email, "phone": "+91 98765 43210"}, key))

	if r := env.Do(t, "POST", "/users/create", asked, map[string]string{"Idempotency-Key": uniqueKey("signup")}); r.Status != http.StatusConflict || r.ErrorCode() != "EMAIL_TAKEN" {
		t.Fatalf("same email, other key = %d %s, want 409 EMAIL_TAKEN", r.Status, r.Body)
	}
	if got := harness.MustJSON[harness.User](env, t, "GET", "/users/"+u.ID, nil, http.StatusOK); got != u {
		t.Fatalf("GET /users/%s = %+v, want the first sign-up %+v", u.ID, got, u)
	}
	// The email refused under the key was never claimed.
	env.MustCreateUser(t, "Ravi", otherEmail)
}

func TestKeyedTopUpRetriedWithoutTheGatewaysRecord(t *testing.T) {
	t.Parallel()
	userA, userB := newFundedUser(t, 0), newFundedUser(t, 0)
	key := uniqueKey("topup")
	asked := map[string]any{"user_id": userA, "amount": 500}
	if r := env.Do(t, "POST", "/wallet/add", asked, map[string]string{"Idempotency-Key": key}); r.Status != http.StatusOK {
		t.Fatalf("top-up = %d %s, want 200", r.Status, r.Body)
	}
	if r := keyedAgain(t, "POST", "/wallet/add", asked, key); r.Status != http.StatusOK {
		t.Fatalf("retry = %d %s, want 200", r.Status, r.Body)
	}
	wantKeyReused(t, "same key, other amount", keyedAgain(t, "POST", "/wallet/add", map[string]any{"user_id": userA, "amount": 600}, key))
	wantKeyReused(t, "same key, another user's wallet", keyedAgain(t, "POST", "/wallet/add", map[string]any{"user_id": userB, "amount": 500}, key))
	wantKeyReused(t, "same key, opening a wallet", keyedAgain(t, "POST", "/wallet/create/"+env.MustCreateUser(t, "Nobody", uniqueEmail("nobody")).ID, nil, key))
	if got := env.MustBalance(t, userA); got != 500 {
		t.Errorf("balance of A = %d, want 500 (credited once)", got)
	}
	if got := env.MustBalance(t, userB); got != 0 {
		t.Errorf("balance of B = %d, want 0 (the key's credit belongs to A)", got)
	}

	// A client's own reference keeps its rule (per wallet, 409 for another
	// amount under another key).
	ref := uniqueKey("ref")
	if r := env.Do(t, "POST", "/wallet/add", map[string]any{"user_id": userA, "amount": 100, "reference": ref}, map[string]string{"Idempotency-Key": uniqueKey("topup")}); r.Status != http.StatusOK {
		t.Fatalf("top-up with a reference = %d %s, want 200", r.Status, r.Body)
	}
	if r := env.Do(t, "POST", "/wallet/add", map[string]any{"user_id": userA, "amount": 200, "reference": ref}, map[string]string{"Idempotency-Key": uniqueKey("topup")}); r.Status != http.StatusConflict || r.ErrorCode() != "DUPLICATE_REFERENCE" {
		t.Fatalf("that reference, other amount = %d %s, want 409 DUPLICATE_REFERENCE", r.Status, r.Body)
	}
}

func TestKeyedWalletCreateRetriedWithoutTheGatewaysRecord(t *testing.T) {
	t.Parallel()
	userC := env.MustCreateUser(t, "Chitra", uniqueEmail("keyed.wallet")).ID
	userD := env.MustCreateUser(t, "Dev", uniqueEmail("keyed.wallet")).ID
	key := uniqueKey("wallet")
	first := env.Do(t, "POST", "/wallet/create/"+userC, nil, map[string]string{"Idempotency-Key": key})
	if first.Status != http.StatusCreated {
		t.Fatalf("open = %d %s, want 201", first.Status, first.Body)
	}
	type wallet struct {
		UserID    string `json:"user_id"`
		Balance   int64  `json:"balance"`
		CreatedAt string `json:"created_at"`
	}
	var opened, retried wallet
	first.JSON(t, &opened)
	again := keyedAgain(t, "POST", "/wallet/create/"+userC, nil, key)
	if again.Status != http.StatusCreated {
		t.Fatalf("retry = %d %s, want 201 and the wallet it opened", again.Status, again.Body)
	}
	again.JSON(t, &retried)
	if retried != opened {
		t.Fatalf("retry = %+v, want the wallet it opened %+v", retried, opened)
	}
	wantKeyReused(t, "same key, another user's wallet", keyedAgain(t, "POST", "/wallet/create/"+userD, nil, key))
	if r := env.Do(t, "GET", "/wallet/balance/"+userD, nil, nil); r.Status != http.StatusNotFound {
		t.Fatalf("balance of D = %d %s, want 404 (no wallet opened)", r.Status, r.Body)
	}
	if r := env.Do(t, "POST", "/wallet/create/"+userC, nil, map[string]string{"Idempotency-Key": uniqueKey("wallet")}); r.Status != http.StatusConflict || r.ErrorCode() != "WALLET_EXISTS" {
		t.Fatalf("open again under another key = %d %s, want 409 WALLET_EXISTS", r.Status, r.Body)
	}
	env.MustCreateWallet(t, userD)
}

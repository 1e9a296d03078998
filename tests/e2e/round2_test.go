package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/finflow/finflow/tests/harness"
)

// A keyed cancel binds its key to the subscription in the billing
// service: with the gateway's record of the key gone, the same key on
// another subscription is 422 IDEMPOTENCY_KEY_REUSED and changes nothing,
// and the exact retry gets the first answer (200, cancelled).
func TestRound2KeyedCancelWithoutTheGatewaysRecord(t *testing.T) {
	t.Parallel()
	u := env.MustCreateUser(t, "Kavya", uniqueEmail("round2.cancel"))
	body := map[string]any{"user_id": u.ID, "amount": 49900, "description": "Broadband", "interval": "MONTHLY"}
	x, y := env.MustCreateSubscription(t, body), env.MustCreateSubscription(t, body)
	key := uniqueKey("cancel")
	first := env.Do(t, "POST", "/billing/subscriptions/"+x.ID+"/cancel", nil, map[string]string{"Idempotency-Key": key})
	if first.Status != http.StatusOK {
		t.Fatalf("cancel = %d %s, want 200", first.Status, first.Body)
	}
	var cancelled harness.Subscription
	first.JSON(t, &cancelled)

	wantKeyReused(t, "same key, another subscription", keyedAgain(t, "POST", "/billing/subscriptions/"+y.ID+"/cancel", nil, key))
	if got := env.MustSubscription(t, y.ID); got.Status != "ACTIVE" {
		t.Fatalf("subscription y = %s after the refused cancel, want ACTIVE", got.Status)
	}
	again := keyedAgain(t, "POST", "/billing/subscriptions/"+x.ID+"/cancel", nil, key)
	if again.Status != http.StatusOK {
		t.Fatalf("retry = %d %s, want 200", again.Status, again.Body)
	}
	var retried harness.Subscription
	again.JSON(t, &retried)
	if retried.ID != x.ID || retried.Status != "CANCELLED" || *retried.CancelledAt != *cancelled.CancelledAt {
		t.Fatalf("retry = %+v, want the first answer %+v", retried, cancelled)
	}
	if r := env.Do(t, "POST", "/billing/subscriptions/"+x.ID+"/cancel", nil, map[string]string{"Idempotency-Key": uniqueKey("cancel")}); r.Status != http.StatusConflict || r.ErrorCode() != "SUBSCRIPTION_ALREADY_CANCELLED" {
		t.Fatalf("another key = %d %s, want 409 SUBSCRIPTION_ALREADY_CANCELLED", r.Status, r.Body)
	}
}

// A route that takes no body refuses one, whatever its Content-Type,
// before acting on anything; an empty body goes through.
func TestRound2NoBodyRoutesRefuseABody(t *testing.T) {
	t.Parallel()
	u := env.MustCreateUser(t, "Ishaan", uniqueEmail("round2.nobody"))
	sub := env.MustCreateSubscription(t, map[string]any{"user_id": u.ID, "amount": 100, "description": "Gym", "interval": "WEEKLY"})
	cases := []struct {
		name, method, path, body, contentType string
	}{
		{"cancel with garbage", "POST", "/billing/subscriptions/" + sub.ID + "/cancel", "garbage{", "text/plain"},
		{"cancel with JSON", "POST", "/billing/subscriptions/" + sub.ID + "/cancel", "{}", "application/json"},
		{"wallet create with a balance", "POST", "/wallet/create/" + u.ID, `{"balance":999999}`, "application/json"},
		{"GET with a body", "GET", "/users/" + u.ID, `{}`, "application/json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Sent around env.Do: OpenAPI 3.0 cannot say an operation takes
			// no body, so its contract check would take the refusal for one
			// the description does not make.
			req, err := http.NewRequest(tc.method, env.BaseURL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tc.contentType)
			req.Header.Set("Authorization", "Bearer "+env.AdminToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), `"VALIDATION_FAILED"`) || !strings.Contains(string(raw), `"field":"body"`) {
				t.Fatalf("%s %s with %q = %d %s, want 400 VALIDATION_FAILED on body", tc.method, tc.path, tc.body, resp.StatusCode, raw)
			}
		})
	}
	if got := env.MustSubscription(t, sub.ID); got.Status != "ACTIVE" {
		t.Fatalf("subscription = %s after the refused cancels, want ACTIVE", got.Status)
	}
	if r := env.Do(t, "GET", "/wallet/balance/"+u.ID, nil, nil); r.Status != http.StatusNotFound {
		t.Fatalf("balance after the refused open = %d %s, want 404 (no wallet)", r.Status, r.Body)
	}
	if r := env.Do(t, "POST", "/wallet/create/"+u.ID, "", map[string]string{"Content-Type": "text/plain"}); r.Status != http.StatusCreated {
		t.Fatalf("open with an empty body = %d %s, want 201", r.Status, r.Body)
	}
	if got := env.MustBalance(t, u.ID); got != 0 {
		t.Fatalf("balance = %d, want 0", got)
	}
}

// The Authorization scheme is case-insensitive (RFC 9110 section 11.1).
func TestRound2LowerCaseBearer(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		r := env.Do(t, "GET", "/users/all?limit=1", nil, map[string]string{"Authorization": scheme + " " + env.AdminToken})
		if r.Status != http.StatusOK {
			t.Fatalf("%s <token> = %d %s, want 200", scheme, r.Status, r.Body)
		}
	}
	if r := env.Do(t, "GET", "/users/all?limit=1", nil, map[string]string{"Authorization": "Basic " + env.AdminToken}); r.Status != http.StatusUnauthorized {
		t.Fatalf("Basic <token> = %d %s, want 401", r.Status, r.Body)
	}
}

package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Members of the bad-input classes an outside tester found, through the
// gateway and the real services: each is refused with the contract's
// envelope and a stable code, and changes nothing.
func TestInputClasses(t *testing.T) {
	t.Parallel()
	u := env.MustCreateUser(t, "Classes", uniqueEmail("classes"))
	env.MustCreateWallet(t, u.ID)
	env.MustTopUp(t, u.ID, 10000, "")
	bill := env.MustCreateBill(t, u.ID, 2500)
	r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("pay = %d %s", r.Status, r.Body)
	}
	var pay struct {
		ID string `json:"id"`
	}
	r.JSON(t, &pay)
	balance := env.MustBalance(t, u.ID)

	for _, tc := range []struct {
		name, method, path, body string
		wantStatus               int
		wantCode, wantField      string
	}{
		// A refund's amount sent as null once refunded the whole payment.
		{"refund amount null", "POST", "/Payment/" + pay.ID + "/refund", `{"amount":null,"reason":"typo"}`, 400, "VALIDATION_FAILED", "amount"},
		{"refund reason null", "POST", "/Payment/" + pay.ID + "/refund", `{"amount":100,"reason":null}`, 400, "VALIDATION_FAILED", "reason"},
		{"top-up currency null", "POST", "/wallet/add", `{"user_id":"` + u.ID + `","amount":100,"currency":null}`, 400, "VALIDATION_FAILED", "currency"},
		{"bill due_date null", "POST", "/billing/create", `{"user_id":"` + u.ID + `","amount":100,"description":"x","due_date":null}`, 400, "VALIDATION_FAILED", "due_date"},
		{"subscription autopay null", "POST", "/billing/subscriptions", `{"user_id":"` + u.ID + `","amount":100,"description":"x","interval":"MONTHLY","autopay":null}`, 400, "VALIDATION_FAILED", "autopay"},
		{"sign-up phone null", "POST", "/users/create", `{"name":"N","email":"` + uniqueEmail("null") + `","phone":null}`, 400, "VALIDATION_FAILED", "phone"},
		// A lone surrogate escape was stored as U+FFFD.
		{"lone surrogate in a description", "POST", "/billing/create", `{"user_id":"` + u.ID + `","amount":100,"description":"\ud800"}`, 400, "VALIDATION_FAILED", "body"},
		{"lone low surrogate in a name", "POST", "/users/create", `{"name":"Ra\udc00vi","email":"` + uniqueEmail("sur") + `"}`, 400, "VALIDATION_FAILED", "body"},
		// An id in a body is a field.
		{"top-up without user_id", "POST", "/wallet/topup", `{"amount":5000}`, 400, "VALIDATION_FAILED", "user_id"},
		{"top-up with a malformed user_id", "POST", "/wallet/topup", `{"user_id":"bad","amount":5000}`, 400, "VALIDATION_FAILED", "user_id"},
		{"pay a malformed bill_id", "POST", "/Payment/rozarpay", `{"bill_id":"bad"}`, 400, "VALIDATION_FAILED", "bill_id"},
		// An admin's reference in FinFlow's own namespace would take the
		// place of a Razorpay top-up's credit, or of a reversal.
		{"admin top-up under a top-up's id", "POST", "/wallet/add", `{"user_id":"` + u.ID + `","amount":1,"reference":"top_a73893t34mn8txjtxg6sb1h4hw"}`, 400, "VALIDATION_FAILED", "reference"},
		{"admin top-up under a reversal", "POST", "/wallet/add", `{"user_id":"` + u.ID + `","amount":1,"reference":"reversal:` + pay.ID + `"}`, 400, "VALIDATION_FAILED", "reference"},
		// RFC 3339 offsets are -23:59 to +23:59.
		{"start_at offset +24:00", "POST", "/billing/subscriptions", `{"user_id":"` + u.ID + `","amount":100,"description":"x","interval":"MONTHLY","start_at":"2027-01-01T00:00:00+24:00"}`, 400, "VALIDATION_FAILED", "start_at"},
		// A path that exists with another method.
		{"PUT a POST route", "PUT", "/Payment/pay", `{"bill_id":"` + bill.ID + `"}`, 405, "METHOD_NOT_ALLOWED", ""},
		{"DELETE a bill", "DELETE", "/billing/" + bill.ID, "", 405, "METHOD_NOT_ALLOWED", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := env.Do(t, tc.method, tc.path, body, nil)
			if r.Status != tc.wantStatus || r.ErrorCode() != tc.wantCode {
				t.Fatalf("%s %s %s = %d %s, want %d %s", tc.method, tc.path, tc.body, r.Status, r.Body, tc.wantStatus, tc.wantCode)
			}
			var e struct {
				Error struct {
					Details map[string]any `json:"details"`
				} `json:"error"`
			}
			if err := json.Unmarshal(r.Body, &e); err != nil {
				t.Fatalf("not the envelope: %s", r.Body)
			}
			if tc.wantField != "" && e.Error.Details["field"] != tc.wantField {
				t.Fatalf("details.field = %v, want %s (%s)", e.Error.Details["field"], tc.wantField, r.Body)
			}
			if tc.wantStatus == 405 && r.Header.Get("Allow") == "" {
				t.Fatalf("405 without Allow")
			}
		})
	}

	// Nothing changed: no refund, the same balance, no bill or user made
	// from the refused requests.
	if p := env.MustPayment(t, pay.ID); p.Status != "SUCCESS" {
		t.Fatalf("payment %s after the refused refunds", p.Status)
	}
	if refunds := env.MustRefunds(t, pay.ID); len(refunds) != 0 {
		t.Fatalf("refunds after refused requests: %+v", refunds)
	}
	time.Sleep(200 * time.Millisecond)
	if b := env.MustBalance(t, u.ID); b != balance {
		t.Fatalf("balance %d after refused requests, want %d", b, balance)
	}
	if bills := env.Do(t, "GET", "/billing/user/"+u.ID, nil, nil); !strings.Contains(string(bills.Body), bill.ID) || strings.Count(string(bills.Body), `"id":"bill_`) != 1 {
		t.Fatalf("bills after refused creates: %s", bills.Body)
	}

	// A method HTTP does not have is answered in the envelope, not in
	// Fiber's plain text (sent past the harness, whose description check
	// has no such method).
	for _, method := range []string{"FOO", "get", "PROPFIND"} {
		req, err := http.NewRequest(method, env.BaseURL+"/billing/"+bill.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != 400 || err != nil || e.Error.Code != "VALIDATION_FAILED" || resp.Header.Get("X-Request-Id") == "" {
			t.Fatalf("%s = %d (code %q, decode %v, request id %q), want 400 VALIDATION_FAILED in the envelope", method, resp.StatusCode, e.Error.Code, err, resp.Header.Get("X-Request-Id"))
		}
	}
}

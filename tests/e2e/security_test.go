package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/finflow/finflow/tests/harness"
)

// testKeys are the test-mode keys the gateway trusts in dev mode: the dev
// HS256 key from the test-mode secrets and the RS256 test issuer's private
// key fixture.
func testKeys(t *testing.T) (devKey []byte, rsaPriv any, rsaPubPEM string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(env.Root, "config", "test-mode-secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Gateway struct {
			DevKey string `json:"dev_jwt_key"`
			RSAPub string `json:"jwt_rs256_public_key"`
		} `json:"gateway"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(filepath.Join(env.Root, "tests", "fixtures", "test-mode-rs256-private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := jwt.ParseRSAPrivateKeyFromPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s.Gateway.DevKey), priv, s.Gateway.RSAPub
}

func TestTokensAreChecked(t *testing.T) {
	t.Parallel()
	u := env.MustCreateUser(t, "Token Holder", uniqueEmail("token"))
	devKey, rsaPriv, rsaPub := testKeys(t)
	now := time.Now()
	claims := func(exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"sub": u.ID, "role": "user", "exp": exp.Unix(), "iat": now.Unix()}
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	valid := sign(jwt.SigningMethodHS256, devKey, claims(now.Add(time.Hour)))
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "=") + "x." + parts[2]
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims(now.Add(time.Hour))).SignedString(jwt.UnsafeAllowNoneSignatureType)
	crit := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(now.Add(time.Hour)))
	crit.Header["crit"], crit.Header["x-finflow-unknown"] = []string{"x-finflow-unknown"}, true
	critical, err := crit.SignedString(devKey)
	if err != nil {
		t.Fatal(err)
	}
	critical = "Bearer " + critical
	cases := []struct {
		name, authz string
		want        int
	}{
		{"HS256 dev key", valid, 200},
		{"RS256 test issuer", sign(jwt.SigningMethodRS256, rsaPriv, claims(now.Add(time.Hour))), 200},
		{"missing", "", 401},
		{"malformed", "Bearer x.y", 401},
		{"expired", sign(jwt.SigningMethodHS256, devKey, claims(now.Add(-time.Hour))), 401},
		{"expired RS256", sign(jwt.SigningMethodRS256, rsaPriv, claims(now.Add(-time.Hour))), 401},
		{"tampered", tampered, 401},
		{"wrong key", sign(jwt.SigningMethodHS256, []byte(strings.Repeat("k", 40)), claims(now.Add(time.Hour))), 401},
		{"wrong algorithm: HS512", sign(jwt.SigningMethodHS512, devKey, claims(now.Add(time.Hour))), 401},
		{"alg none", "Bearer " + none, 401},
		{"alg confusion: HS256 with the RS256 public key", sign(jwt.SigningMethodHS256, []byte(rsaPub), claims(now.Add(time.Hour))), 401},
		{"no exp", sign(jwt.SigningMethodHS256, devKey, jwt.MapClaims{"sub": u.ID, "role": "user"}), 401},
		{"exp a string", sign(jwt.SigningMethodHS256, devKey, jwt.MapClaims{"sub": u.ID, "role": "user", "exp": fmt.Sprint(now.Add(time.Hour).Unix())}), 401},
		{"a critical extension", critical, 401},
	}
	for _, tc := range cases {
		r := env.Do(t, "GET", "/users/"+u.ID, nil, map[string]string{"Authorization": tc.authz})
		if r.Status != tc.want {
			t.Errorf("%s: GET /users/{me} = %d %s, want %d", tc.name, r.Status, r.Body, tc.want)
		}
		if tc.want == 401 && (r.ErrorCode() != "UNAUTHENTICATED" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer")) {
			t.Errorf("%s: code %s, WWW-Authenticate %q; want UNAUTHENTICATED and the Bearer scheme (RFC 6750)", tc.name, r.ErrorCode(), r.Header.Get("WWW-Authenticate"))
		}
	}
	if r := env.Do(t, "POST", "/auth/dev-token", map[string]any{"sub": u.ID, "role": "root"}, map[string]string{"Authorization": ""}); r.Status != http.StatusBadRequest {
		t.Errorf("dev token with role root = %d %s, want 400", r.Status, r.Body)
	}
}

// A user acts only on their own records; every attempt on another's is 403
// and says nothing about them.
func TestUsersActOnlyOnTheirOwn(t *testing.T) {
	t.Parallel()
	alice := env.MustCreateUser(t, "Alice", uniqueEmail("alice"))
	bob := env.MustCreateUser(t, "Bob", uniqueEmail("bob"))
	for _, u := range []harness.User{alice, bob} {
		env.MustCreateWallet(t, u.ID)
		env.MustTopUp(t, u.ID, 10000, "")
	}
	bobBill := env.MustCreateBill(t, bob.ID, 1500)
	bobPay := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": env.MustCreateBill(t, bob.ID, 700).ID}, nil)
	var bobPayment harness.Payment
	bobPay.JSON(t, &bobPayment)

	as := map[string]string{"Authorization": "Bearer " + env.Token(t, alice.ID, "user")}
	cases := []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"own user", "GET", "/users/" + alice.ID, nil, 200},
		{"own balance", "GET", "/wallet/balance/" + alice.ID, nil, 200},
		{"own bill", "POST", "/billing/create", map[string]any{"user_id": alice.ID, "amount": 500, "description": "Own"}, 201},
		{"bob's user", "GET", "/users/" + bob.ID, nil, 403},
		{"bob's balance", "GET", "/wallet/balance/" + bob.ID, nil, 403},
		{"bob's transactions", "GET", "/wallet/transactions/" + bob.ID, nil, 403},
		{"a wallet for bob", "POST", "/wallet/create/" + bob.ID, nil, 403},
		{"a bill for bob", "POST", "/billing/create", map[string]any{"user_id": bob.ID, "amount": 500, "description": "Not mine"}, 403},
		{"bob's bill", "GET", "/billing/" + bobBill.ID, nil, 403},
		{"paying bob's bill from a wallet", "POST", "/Payment/pay", map[string]any{"bill_id": bobBill.ID}, 403},
		{"paying bob's bill with razorpay", "POST", "/Payment/rozarpay", map[string]any{"bill_id": bobBill.ID}, 403},
		{"bob's payment", "GET", "/Payment/" + bobPayment.ID, nil, 403},
		{"listing users (admin only)", "GET", "/users/all", nil, 403},
		{"topping up (admin only)", "POST", "/wallet/add", map[string]any{"user_id": alice.ID, "amount": 100}, 403},
		{"dead letters (admin only)", "GET", "/admin/dead-letters", nil, 403},
	}
	for _, tc := range cases {
		r := env.Do(t, tc.method, tc.path, tc.body, as)
		if r.Status != tc.want {
			t.Errorf("%s: %s %s = %d %s, want %d", tc.name, tc.method, tc.path, r.Status, r.Body, tc.want)
			continue
		}
		if tc.want == 403 {
			if r.ErrorCode() != "FORBIDDEN" {
				t.Errorf("%s: code %s, want FORBIDDEN", tc.name, r.ErrorCode())
			}
			if strings.Contains(string(r.Body), bob.Email) || strings.Contains(string(r.Body), bob.ID) || strings.Contains(string(r.Body), "10000") {
				t.Errorf("%s: the 403 tells about bob: %s", tc.name, r.Body)
			}
		}
	}
	// Nothing of bob's changed.
	if env.MustBalance(t, bob.ID) != 10000-700 || env.MustBill(t, bobBill.ID).Status != "UNPAID" {
		t.Fatalf("alice's refused attempts changed bob's money")
	}
	// Alice pays her own bill with her own token.
	own := env.MustCreateBill(t, alice.ID, 2500)
	if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": own.ID}, as); r.Status != 201 {
		t.Fatalf("alice paying her bill = %d %s", r.Status, r.Body)
	}
}

// Internal routes refuse callers other than the payment service, even
// through the sidecars.
func TestInternalRoutesAdmitOnlyThePaymentService(t *testing.T) {
	t.Parallel()
	u := env.MustCreateUser(t, "Internal", uniqueEmail("internal"))
	env.MustCreateWallet(t, u.ID)
	env.MustTopUp(t, u.ID, 1000, "")
	debit := map[string]any{"user_id": u.ID, "amount": 100, "reference": "pay_internaltest"}
	for _, caller := range []string{"gateway", "billing", "user", "razorpay"} {
		r := env.InvokeAs(t, caller, "wallet", "POST", "/wallet/deduct", debit)
		// Refused by the wallet sidecar's access control policy, which knows
		// the caller from its mTLS certificate (the wallet app would refuse
		// it too, but it never sees the call).
		if r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), "access control policy has denied access") {
			t.Errorf("%s calling wallet deduct = %d %s, want 403 from the access control policy", caller, r.Status, r.Body)
		}
	}
	if r := env.InvokeAs(t, "gateway", "billing", "PUT", "/billing/updateStatus", map[string]any{"bill_id": env.MustCreateBill(t, u.ID, 100).ID, "status": "PAID", "payment_id": "pay_00000000000000000000000000"}); r.Status != http.StatusForbidden {
		t.Errorf("gateway calling billing updateStatus = %d %s, want 403", r.Status, r.Body)
	}
	if env.MustBalance(t, u.ID) != 1000 {
		t.Fatalf("a refused internal call moved money")
	}
}

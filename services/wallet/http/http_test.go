package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/auth/authtest"
	"github.com/finflow/finflow/platform/authz"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/peers/peerstest"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/platform/settings"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/wallet/domain"
	wallethttp "github.com/finflow/finflow/services/wallet/http"
	"github.com/finflow/finflow/services/wallet/store"
)

// keyedAPI serves the wallet routes over the real store code on an
// in-memory state, and sends requests as an admin with the gateway's token
// of an Idempotency-Key ("" for none), as the gateway does when it kept no
// record of the key: nothing stands between the requests but the wallet
// service itself.
type keyedAPI struct {
	t     *testing.T
	app   *fiber.App
	store *store.Store
}

func newKeyedAPI(t *testing.T) keyedAPI {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := store.New(sidecartest.NewMemState(), "wallet-store")
	app := server.New(server.Config{Name: "wallet", Logger: log})
	app.Use(authz.Middleware(authtest.Verifier(), ""))
	wallethttp.New(&domain.Service{Store: st, Users: &peerstest.Directory{}, Log: log, Now: time.Now,
		Setting: settings.New(log, domain.Settings...).Get}).Routes(app)
	return keyedAPI{t: t, app: app, store: st}
}

func (a keyedAPI) do(method, path, token, body string) (int, map[string]any) {
	a.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(auth.HeaderIdentity, authtest.Identity("ops", auth.RoleAdmin))
	if token != "" {
		req.Header.Set(id.HeaderIdempotencyToken, token)
	}
	resp, err := a.app.Test(req, -1)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func (a keyedAPI) balance(user string) int64 {
	a.t.Helper()
	w, err := a.store.Get(context.Background(), user)
	if err != nil {
		a.t.Fatalf("Get(%s): %v", user, err)
	}
	return w.Balance
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// add is the body of POST /wallet/add; reference "" sends none.
func add(user string, amount int, reference string) string {
	if reference == "" {
		return fmt.Sprintf(`{"user_id":%q,"amount":%d}`, user, amount)
	}
	return fmt.Sprintf(`{"user_id":%q,"amount":%d,"reference":%q}`, user, amount, reference)
}

type step struct {
	name, method, path, token, body string
	wantStatus                      int
	wantCode                        string
}

func (a keyedAPI) run(steps []step) {
	a.t.Helper()
	for _, s := range steps {
		status, body := a.do(s.method, s.path, s.token, s.body)
		if status != s.wantStatus || errCode(body) != s.wantCode {
			a.t.Fatalf("%s: %s %s %s = %d %v, want %d %s", s.name, s.method, s.path, s.body, status, body, s.wantStatus, s.wantCode)
		}
	}
}

// An admin's keyed top-up without a reference: the key names one request
// across all wallets, so its retry is applied once and the key used for
// another amount or another wallet is refused.
func TestKeyedTopUpWithoutTheGatewaysRecord(t *testing.T) {
	a := newKeyedAPI(t)
	userA, userB := id.New(id.User), id.New(id.User)
	for _, u := range []string{userA, userB} {
		if err := a.store.Create(context.Background(), domain.NewWallet(u, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	const key = "5e1f0a"
	a.run([]step{
		{"first", "POST", "/wallet/add", key, add(userA, 500, ""), 200, ""},
		{"retry", "POST", "/wallet/add", key, add(userA, 500, ""), 200, ""},
		{"same key, other amount", "POST", "/wallet/add", key, add(userA, 600, ""), 422, "IDEMPOTENCY_KEY_REUSED"},
		{"same key, other wallet", "POST", "/wallet/add", key, add(userB, 500, ""), 422, "IDEMPOTENCY_KEY_REUSED"},
		{"same key, with a reference", "POST", "/wallet/add", key, add(userA, 500, "ref-1"), 422, "IDEMPOTENCY_KEY_REUSED"},
		{"same key, opening a wallet", "POST", "/wallet/create/" + userB, key, "", 422, "IDEMPOTENCY_KEY_REUSED"},
		// A client's own reference keeps its rule: per wallet, 409 for
		// another amount.
		{"keyed with a reference", "POST", "/wallet/add", "9b7c3d", add(userA, 100, "ref-2"), 200, ""},
		{"keyed retry with a reference", "POST", "/wallet/add", "9b7c3d", add(userA, 100, "ref-2"), 200, ""},
		{"that reference, other amount, no key", "POST", "/wallet/add", "", add(userA, 200, "ref-2"), 409, "DUPLICATE_REFERENCE"},
		{"that reference, other amount, other key", "POST", "/wallet/add", "4d2e8f", add(userA, 200, "ref-2"), 409, "DUPLICATE_REFERENCE"},
		{"that reference on another wallet", "POST", "/wallet/add", "", add(userB, 100, "ref-2"), 200, ""},
	})
	if got := a.balance(userA); got != 600 {
		t.Errorf("balance of A = %d, want 600 (500 once, 100 once)", got)
	}
	if got := a.balance(userB); got != 100 {
		t.Errorf("balance of B = %d, want 100 (the key's 500 never)", got)
	}
}

// A top-up applied under a key's reference before keys were bound: the
// same key for another amount is a reused key, not a duplicate reference.
func TestKeyedTopUpAppliedBeforeKeysWereBound(t *testing.T) {
	a := newKeyedAPI(t)
	user := id.New(id.User)
	ctx := context.Background()
	if err := a.store.Create(ctx, domain.NewWallet(user, time.Now())); err != nil {
		t.Fatal(err)
	}
	const key = "0a0b0c"
	if _, err := a.store.Apply(ctx, user, domain.Operation{Type: domain.Credit, Amount: 500, Reference: "idem:" + key}); err != nil {
		t.Fatal(err)
	}
	a.run([]step{
		{"other amount", "POST", "/wallet/add", "0a0b0c", add(user, 600, ""), 422, "IDEMPOTENCY_KEY_REUSED"},
	})
	if got := a.balance(user); got != 500 {
		t.Errorf("balance = %d, want 500", got)
	}
}

// A keyed wallet opening: its retry gets the wallet it opened; the key used
// for another user's wallet is refused (and that wallet stays unopened).
func TestKeyedWalletCreateWithoutTheGatewaysRecord(t *testing.T) {
	a := newKeyedAPI(t)
	userC, userD := id.New(id.User), id.New(id.User)
	const key = "c0ffee"
	status, first := a.do("POST", "/wallet/create/"+userC, key, "")
	if status != 201 {
		t.Fatalf("first = %d %v, want 201", status, first)
	}
	status, again := a.do("POST", "/wallet/create/"+userC, key, "")
	if status != 201 || again["created_at"] != first["created_at"] || again["user_id"] != userC {
		t.Fatalf("retry = %d %v, want 201 and the wallet it opened %v", status, again, first)
	}
	a.run([]step{
		{"same key, other user", "POST", "/wallet/create/" + userD, key, "", 422, "IDEMPOTENCY_KEY_REUSED"},
		{"same key, a top-up", "POST", "/wallet/add", key, add(userC, 100, ""), 422, "IDEMPOTENCY_KEY_REUSED"},
		{"other key, that wallet", "POST", "/wallet/create/" + userC, "d00d1e", "", 409, "WALLET_EXISTS"},
		{"no key, that wallet", "POST", "/wallet/create/" + userC, "", "", 409, "WALLET_EXISTS"},
		{"the refused user's wallet opens", "POST", "/wallet/create/" + userD, "", "", 201, ""},
	})
	if got := a.balance(userC); got != 0 {
		t.Errorf("balance of C = %d, want 0", got)
	}
}

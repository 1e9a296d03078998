package http_test

import (
	"context"
	"encoding/json"
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
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/platform/settings"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/user/domain"
	userhttp "github.com/finflow/finflow/services/user/http"
	"github.com/finflow/finflow/services/user/store"
)

// The handlers over the real store code on an in-memory state: a unit test
// of the HTTP layer (the end-to-end suite covers the real sidecar).
func newApp(t *testing.T) (*fiber.App, *store.Store) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	users := store.New(sidecartest.NewMemState(), "user-store")
	app := server.New(server.Config{Name: "user", Logger: log})
	app.Use(authz.Middleware(authtest.Verifier(), ""))
	userhttp.New(&domain.Service{Store: users, Keys: users, Log: log, Now: time.Now, Setting: settings.New(log, domain.Settings...).Get}).Routes(app)
	return app, users
}

// send sends a JSON request with header and returns the status and the
// decoded body.
func send(t *testing.T, app *fiber.App, method, path, body string, header map[string]string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// newAPI sends requests as an admin.
func newAPI(t *testing.T) (func(method, path, body string) (int, map[string]any), domain.Store) {
	t.Helper()
	app, users := newApp(t)
	admin := map[string]string{auth.HeaderIdentity: authtest.Identity("ops", auth.RoleAdmin)}
	return func(method, path, body string) (int, map[string]any) {
		return send(t, app, method, path, body, admin)
	}, users
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestUserRoutes(t *testing.T) {
	do, users := newAPI(t)
	existing, _ := domain.NewUser("Existing", "taken@example.in", "", testNow)
	if _, err := users.Create(context.Background(), existing); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, path, body string
		wantStatus               int
		wantCode                 string
	}{
		{"create", "POST", "/users/create", `{"name":"A","email":"a@example.in"}`, 201, ""},
		{"create with phone", "POST", "/users/create", `{"name":"B","email":"b@example.in","phone":"+91 98765 43210"}`, 201, ""},
		{"phone null is refused: leave it out", "POST", "/users/create", `{"name":"C","email":"c@example.in","phone":null}`, 400, "VALIDATION_FAILED"},
		{"no phone", "POST", "/users/create", `{"name":"C","email":"c@example.in"}`, 201, ""},
		{"taken email other case", "POST", "/users/create", `{"name":"D","email":"TAKEN@example.in"}`, 409, "EMAIL_TAKEN"},
		{"bad email", "POST", "/users/create", `{"name":"E","email":"nope"}`, 400, "VALIDATION_FAILED"},
		{"unknown field", "POST", "/users/create", `{"name":"E","email":"e@example.in","x":1}`, 400, "VALIDATION_FAILED"},
		{"get existing", "GET", "/users/" + existing.ID, "", 200, ""},
		{"get missing", "GET", "/users/" + id.New(id.User), "", 404, "USER_NOT_FOUND"},
		{"get malformed", "GET", "/users/abc", "", 404, "USER_NOT_FOUND"},
		{"list", "GET", "/users/all", "", 200, ""},
		{"list limit zero", "GET", "/users/all?limit=0", "", 400, "VALIDATION_FAILED"},
		{"list limit above max", "GET", "/users/all?limit=201", "", 400, "VALIDATION_FAILED"},
		{"list bad cursor", "GET", "/users/all?cursor=zzz", "", 400, "VALIDATION_FAILED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(tc.method, tc.path, tc.body)
			if status != tc.wantStatus || errCode(body) != tc.wantCode {
				t.Fatalf("%s %s = %d %v, want %d %s", tc.method, tc.path, status, body, tc.wantStatus, tc.wantCode)
			}
		})
	}
}

func TestListShape(t *testing.T) {
	do, _ := newAPI(t)
	for _, e := range []string{"l1@example.in", "l2@example.in", "l3@example.in"} {
		if status, body := do("POST", "/users/create", `{"name":"L","email":"`+e+`"}`); status != 201 {
			t.Fatalf("create %s = %d %v", e, status, body)
		}
	}
	status, body := do("GET", "/users/all?limit=2", "")
	items, _ := body["items"].([]any)
	if status != 200 || len(items) != 2 || body["next_cursor"] == nil {
		t.Fatalf("first page = %d %v, want 2 items and a cursor", status, body)
	}
	_, body = do("GET", "/users/all?limit=2&cursor="+body["next_cursor"].(string), "")
	items, _ = body["items"].([]any)
	if len(items) != 1 || body["next_cursor"] != nil {
		t.Fatalf("last page = %v, want 1 item and next_cursor null", body)
	}
	u := items[0].(map[string]any)
	for _, k := range []string{"id", "name", "email", "phone", "created_at"} {
		if _, ok := u[k]; !ok {
			t.Errorf("user object lacks %q: %v", k, u)
		}
	}
	if u["phone"] != nil {
		t.Errorf("phone = %v, want null", u["phone"])
	}
}

var testNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func TestUsersSeeOnlyThemselves(t *testing.T) {
	app, users := newApp(t)
	me, _ := domain.NewUser("Me", "me@example.in", "", testNow)
	other, _ := domain.NewUser("Other", "other@example.in", "", testNow)
	for _, u := range []domain.User{me, other} {
		if _, err := users.Create(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, path, identity string
		want                 int
	}{
		{"own record", "/users/" + me.ID, authtest.Identity(me.ID, auth.RoleUser), 200},
		{"another user's record", "/users/" + other.ID, authtest.Identity(me.ID, auth.RoleUser), 403},
		{"no identity", "/users/" + me.ID, "", 401},
		{"forged identity", "/users/" + me.ID, "eyJhbGciOiJub25lIn0.e30.", 401},
		{"list as a user", "/users/all", authtest.Identity(me.ID, auth.RoleUser), 403},
		{"list as an admin", "/users/all", authtest.Identity("ops", auth.RoleAdmin), 200},
	}
	for _, tc := range cases {
		req := httptest.NewRequest("GET", tc.path, nil)
		if tc.identity != "" {
			req.Header.Set(auth.HeaderIdentity, tc.identity)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.want {
			b, _ := io.ReadAll(resp.Body)
			t.Errorf("%s: GET %s = %d %s, want %d", tc.name, tc.path, resp.StatusCode, b, tc.want)
		}
	}
}

// A keyed sign-up reached the service with no record at the gateway (its
// first answer was lost): the key's token alone must tell a retry, which
// gets the same user, from another sign-up, which is refused.
func TestKeyedSignUpWithoutTheGatewaysRecord(t *testing.T) {
	app, users := newApp(t)
	signUp := func(token, body string) (int, map[string]any) {
		t.Helper()
		var header map[string]string
		if token != "" {
			header = map[string]string{id.HeaderIdempotencyToken: token}
		}
		return send(t, app, "POST", "/users/create", body, header)
	}
	const token = "3f9a0c"
	first := `{"name":"Asha","email":"asha@example.in","phone":"+91 98765 43210"}`
	status, created := signUp(token, first)
	if status != 201 {
		t.Fatalf("first sign-up = %d %v, want 201", status, created)
	}
	cases := []struct {
		name, token, body string
		wantStatus        int
		wantCode          string
	}{
		{"retry", token, first, 201, ""},
		{"retry, phone spelt another way", token, `{"name":"Asha","email":"asha@example.in","phone":"+919876543210"}`, 201, ""},
		{"same key, other name", token, `{"name":"Ravi","email":"asha@example.in","phone":"+91 98765 43210"}`, 422, "IDEMPOTENCY_KEY_REUSED"},
		{"same key, other email", token, `{"name":"Asha","email":"ravi@example.in","phone":"+91 98765 43210"}`, 422, "IDEMPOTENCY_KEY_REUSED"},
		{"same key, other email case", token, `{"name":"Asha","email":"Asha@example.in","phone":"+91 98765 43210"}`, 422, "IDEMPOTENCY_KEY_REUSED"},
		{"same key, no phone", token, `{"name":"Asha","email":"asha@example.in"}`, 422, "IDEMPOTENCY_KEY_REUSED"},
		{"other key, same email", "7c21d4", first, 409, "EMAIL_TAKEN"},
		{"no key, same email", "", first, 409, "EMAIL_TAKEN"},
		{"the refused email is still free", "", `{"name":"Ravi","email":"ravi@example.in"}`, 201, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := signUp(tc.token, tc.body)
			if status != tc.wantStatus || errCode(body) != tc.wantCode {
				t.Fatalf("POST /users/create %s = %d %v, want %d %s", tc.body, status, body, tc.wantStatus, tc.wantCode)
			}
			if tc.wantStatus == 201 && tc.token == token && (body["id"] != created["id"] || body["created_at"] != created["created_at"]) {
				t.Fatalf("retry = %v, want the first user %v", body, created)
			}
		})
	}
	page, err := users.List(context.Background(), "", 10)
	if err != nil || len(page.Users) != 2 {
		t.Fatalf("List = %+v, %v; want Asha and Ravi, once each", page.Users, err)
	}
}

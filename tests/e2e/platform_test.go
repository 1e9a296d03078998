package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/tests/harness"
	"github.com/finflow/finflow/tools/launcher/topology"
)

func TestHealthReportsEveryService(t *testing.T) {
	resp := env.Do(t, "GET", "/health", nil, nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /health = %d %s, want 200", resp.Status, resp.Body)
	}
	var h struct {
		Status   string            `json:"status"`
		Services map[string]string `json:"services"`
	}
	resp.JSON(t, &h)
	if h.Status != "ok" {
		t.Fatalf("status = %q, want ok", h.Status)
	}
	for _, svc := range []string{"gateway", "user", "wallet", "billing", "payment", "razorpay"} {
		if h.Services[svc] != "ok" {
			t.Errorf("services[%s] = %q, want ok", svc, h.Services[svc])
		}
	}
}

// Internal routes are not reachable through the gateway, whatever the verb
// or spelling.
func TestInternalRoutesAreHidden(t *testing.T) {
	t.Parallel()
	cases := []struct{ method, path string }{
		{"POST", "/wallet/deduct"},
		{"GET", "/wallet/deduct"},
		{"PUT", "/billing/updateStatus"},
		{"POST", "/billing/updateStatus"},
		{"GET", "/billing/updateStatus"},
		{"POST", "/Payment/confirm"},
		{"GET", "/Payment/confirm"},
		{"POST", "/razorpay/create-order"},
		{"POST", "/wallet/deduct/"},
		{"POST", "/WALLET/deduct"},
		{"GET", "/users/..%2Fwallet%2Fdeduct"},
		{"GET", "/v1.0/invoke/wallet/method/wallet/deduct"},
	}
	for _, tc := range cases {
		resp := env.Do(t, tc.method, tc.path, `{"user_id":"usr_x","amount":100,"reference":"x"}`, nil)
		// 405: the path is a public route's (GET /billing/{billId},
		// GET /Payment/{paymentId}) that has no such method; it is not
		// forwarded either.
		if resp.Status != http.StatusNotFound && resp.Status != http.StatusForbidden && resp.Status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s through the gateway = %d %s, want 404, 403 or 405", tc.method, tc.path, resp.Status, resp.Body)
			continue
		}
		if resp.ErrorCode() == "" {
			t.Errorf("%s %s = %s, want the contract's error envelope", tc.method, tc.path, resp.Body)
		}
	}
}

func TestUnknownRouteIsJSON404(t *testing.T) {
	t.Parallel()
	resp := env.Do(t, "GET", "/no/such/route", nil, nil)
	if resp.Status != http.StatusNotFound || resp.ErrorCode() != "ROUTE_NOT_FOUND" {
		t.Fatalf("GET /no/such/route = %d %s, want 404 ROUTE_NOT_FOUND", resp.Status, resp.Body)
	}
}

// A request id comes back on every response, a sane client id is kept, and
// it is in the log lines of the gateway and of the service that did the
// work, across the sidecars.
func TestRequestIDEndToEnd(t *testing.T) {
	t.Parallel()
	rid := "e2e-" + strings.TrimPrefix(id.New("x"), "x_")
	u := env.Do(t, "POST", "/users/create", map[string]any{"name": "Traced", "email": uniqueEmail("traced")}, map[string]string{"X-Request-Id": rid})
	if u.Status != http.StatusCreated || u.Header.Get("X-Request-Id") != rid {
		t.Fatalf("POST /users/create = %d, X-Request-Id %q, want 201 and %q", u.Status, u.Header.Get("X-Request-Id"), rid)
	}
	if got := env.Do(t, "GET", "/users/all?limit=0", nil, nil).Header.Get("X-Request-Id"); !strings.HasPrefix(got, "req_") {
		t.Fatalf("generated request id = %q, want req_...", got)
	}
	bad := env.Do(t, "GET", "/health", nil, map[string]string{"X-Request-Id": "bad id with spaces"})
	if got := bad.Header.Get("X-Request-Id"); got == "bad id with spaces" || got == "" {
		t.Fatalf("unsafe client request id came back as %q, want a fresh one", got)
	}

	// The gateway logs one access line; the user service an access line and
	// "user created".
	checkRequestLines(t, rid, map[string]int{"gateway": 1, "user": 2})

	// A wallet payment reaches payment, wallet and billing through the
	// sidecars: each logs its access lines and what it did ("payment
	// succeeded", "wallet changed", "bill paid") with the client's id.
	var user struct {
		ID string `json:"id"`
	}
	u.JSON(t, &user)
	env.MustCreateWallet(t, user.ID)
	env.MustTopUp(t, user.ID, 5000, "")
	bill := env.MustCreateBill(t, user.ID, 1200)
	payRID := rid + "-pay"
	if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, map[string]string{"X-Request-Id": payRID}); r.Status != http.StatusCreated {
		t.Fatalf("POST /Payment/pay = %d %s", r.Status, r.Body)
	}
	checkRequestLines(t, payRID, map[string]int{"gateway": 1, "payment": 2, "wallet": 2, "billing": 3})
}

// checkRequestLines checks that each app's log has at least min lines that
// mention rid, each of them JSON carrying request_id rid.
func checkRequestLines(t *testing.T, rid string, apps map[string]int) {
	t.Helper()
	for app, min := range apps {
		lines := waitLogLines(t, app, rid, min)
		for _, l := range lines {
			var entry map[string]any
			if err := json.Unmarshal([]byte(l), &entry); err != nil {
				t.Fatalf("%s log line is not JSON: %s", app, l)
			}
			if entry["request_id"] != rid {
				t.Fatalf("%s log line carries request_id %v, want %s: %s", app, entry["request_id"], rid, l)
			}
		}
	}
}

// waitLogLines returns the lines of app's log that mention needle, waiting
// until at least min are there.
func waitLogLines(t *testing.T, app, needle string, min int) []string {
	t.Helper()
	path := filepath.Join(env.LogDir, app+"_app.log")
	deadline := time.Now().Add(10 * time.Second)
	for {
		var found []string
		f, err := os.Open(path)
		if err != nil {
			t.Fatalf("opening %s: %v", path, err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if strings.Contains(sc.Text(), needle) {
				found = append(found, sc.Text())
			}
		}
		f.Close()
		if len(found) >= min {
			return found
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s log has %d lines with %s, want at least %d", app, len(found), needle, min)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A runtime setting changed in the configuration store applies without a
// restart: the user list's default page size follows it.
func TestRuntimeSettingAppliesWithoutRestart(t *testing.T) {
	for i := 0; i < 3; i++ {
		env.MustCreateUser(t, fmt.Sprintf("Setting %d", i), uniqueEmail("setting"))
	}
	ctx := context.Background()
	pageSize := func() int {
		resp := env.Do(t, "GET", "/users/all", nil, nil)
		var p listPage
		resp.JSON(t, &p)
		return len(p.Items)
	}
	if n := pageSize(); n < 3 {
		t.Fatalf("default page = %d users, want at least 3", n)
	}
	if err := env.SetSetting(ctx, "users.list.default_limit", 2); err != nil {
		t.Fatalf("SetSetting: %v", err)
	}
	t.Cleanup(func() { _ = env.SetSetting(ctx, "users.list.default_limit", 50) })
	harness.WaitFor(t, 15*time.Second, "default page size 2", func() bool { return pageSize() == 2 })

	// An invalid value is ignored and the last good one stays.
	if err := env.Redis().Set(ctx, "users.list.default_limit", "lots||999", 0).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if n := pageSize(); n != 2 {
		t.Fatalf("after an invalid value the page size = %d, want 2 kept", n)
	}
	if err := env.SetSetting(ctx, "users.list.default_limit", 50); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 15*time.Second, "default page size back above 2", func() bool { return pageSize() > 2 })
}

// GET /health names a service that is down, and recovers when it is back.
func TestHealthNamesAServiceThatIsDown(t *testing.T) {
	if err := env.Topology.Kill("billing", topology.AppProcess); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = env.Topology.Restart(context.Background(), "billing", topology.AppProcess)
		}
	})
	var last *harness.Response
	harness.WaitFor(t, 20*time.Second, "GET /health to report billing down", func() bool {
		last = env.Do(t, "GET", "/health", nil, nil)
		return last.Status == http.StatusServiceUnavailable
	})
	var h struct {
		Services map[string]string `json:"services"`
		Error    struct {
			Code    string `json:"code"`
			Details struct {
				Failing []string `json:"failing"`
			} `json:"details"`
		} `json:"error"`
	}
	last.JSON(t, &h)
	if h.Error.Code != "UNAVAILABLE" || len(h.Error.Details.Failing) != 1 || h.Error.Details.Failing[0] != "billing" || h.Services["user"] != "ok" {
		t.Fatalf("GET /health with billing down = %s, want 503 naming only billing", last.Body)
	}
	if last.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	// A route of the dead service is a clean 503, not a hang or a 500.
	resp := env.Do(t, "GET", "/billing/"+id.New(id.Bill), nil, nil)
	if resp.Status != http.StatusServiceUnavailable || resp.ErrorCode() != "UNAVAILABLE" {
		t.Fatalf("GET /billing/{id} with billing down = %d %s, want 503 UNAVAILABLE", resp.Status, resp.Body)
	}

	if err := env.Topology.Restart(context.Background(), "billing", topology.AppProcess); err != nil {
		t.Fatalf("restarting billing: %v", err)
	}
	restarted = true
	harness.WaitFor(t, 30*time.Second, "GET /health to be 200 again", func() bool {
		return env.Do(t, "GET", "/health", nil, nil).Status == http.StatusOK
	})
}

// After a service's sidecar restarts, calls to it work at once: its
// peers' connections to the old one sit in gRPC's reconnect backoff for
// seconds (Dapr 1.14 tears them down only under its built-in retry, which
// FinFlow's resiliency policy replaces), and the services' sidecar client
// sends calls that never left again until the connection is back. Down for
// 3 s, the gateway's next reconnect attempt comes about 2 s after the
// restart; without those retries the first reads below fail with 503.
func TestCallsReachARestartedSidecarAtOnce(t *testing.T) {
	u := env.MustCreateUser(t, "Restart Reader", fmt.Sprintf("restart.%d@example.in", time.Now().UnixNano()))
	env.MustCreateWallet(t, u.ID)
	env.MustTopUp(t, u.ID, 5_000, "restart-topup-"+u.ID)
	if got := env.MustBalance(t, u.ID); got != 5_000 {
		t.Fatalf("balance = %d, want 5000", got)
	}
	if err := env.Topology.Kill("wallet", topology.SidecarProcess); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = env.Topology.Restart(context.Background(), "wallet", topology.SidecarProcess)
		}
	})
	time.Sleep(3 * time.Second)
	if err := env.Topology.Restart(context.Background(), "wallet", topology.SidecarProcess); err != nil {
		t.Fatalf("restarting the wallet sidecar: %v", err)
	}
	restarted = true
	for i := range 5 {
		r := env.Do(t, "GET", "/wallet/balance/"+u.ID, nil, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("read %d after the restart = %d %s, want 200", i+1, r.Status, r.Body)
		}
	}
	// A write through the payment service's sidecar, whose connection to
	// the wallet's was broken the same way.
	bill := env.MustCreateBill(t, u.ID, 1_000)
	if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil); r.Status != http.StatusCreated {
		t.Fatalf("paying after the restart = %d %s, want 201", r.Status, r.Body)
	}
	if got := env.MustBalance(t, u.ID); got != 4_000 {
		t.Fatalf("balance after paying = %d, want 4000", got)
	}
}

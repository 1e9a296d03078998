package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/finflow/finflow/tests/harness"
)

// TestConsoleAccess checks who gets the ops console, over plain HTTP:
// nobody without an admin token, by header or by the login cookie.
func TestConsoleAccess(t *testing.T) {
	u := env.MustCreateUser(t, "Console User", fmt.Sprintf("console.user.%d@example.in", time.Now().UnixNano()))
	userTok := env.Token(t, u.ID, "user")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(header string) *http.Response {
		req, _ := http.NewRequest("GET", env.BaseURL+"/console", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	login := func(token string) *http.Response {
		resp, err := noRedirect.PostForm(env.BaseURL+"/console/login", url.Values{"token": {token}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	cases := []struct {
		name       string
		resp       func() *http.Response
		wantStatus int
		wantBody   string
	}{
		{"anonymous gets the login form", func() *http.Response { return get("") }, 401, `action="/console/login"`},
		{"a user's token is refused", func() *http.Response { return get("Bearer " + userTok) }, 403, "for admins"},
		{"a forged token is refused", func() *http.Response { return get("Bearer not.a.token") }, 401, `action="/console/login"`},
		{"an admin's token shows the console", func() *http.Response { return get("Bearer " + env.AdminToken) }, 200, `id="money"`},
		{"login with a user's token is refused", func() *http.Response { return login(userTok) }, 403, "for admins"},
		{"login with garbage is refused", func() *http.Response { return login("garbage") }, 401, "not valid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := tc.resp()
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(body), tc.wantBody) {
				t.Fatalf("= %d, want %d with %q; body:\n%.400s", resp.StatusCode, tc.wantStatus, tc.wantBody, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type = %q, want text/html", ct)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
		})
	}
	t.Run("login sets a session cookie that signing out ends", func(t *testing.T) {
		resp := login(env.AdminToken)
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console" {
			t.Fatalf("= %d Location %q, want 303 to /console", resp.StatusCode, resp.Header.Get("Location"))
		}
		c := resp.Header.Get("Set-Cookie")
		for _, want := range []string{"finflow_console=", "HttpOnly", "SameSite=Strict", "path=/console"} {
			if !strings.Contains(c, want) {
				t.Errorf("Set-Cookie %q lacks %q", c, want)
			}
		}
		var session string
		for _, ck := range resp.Cookies() {
			if ck.Name == "finflow_console" {
				session = ck.Value
			}
		}
		if session == "" || strings.Contains(session, env.AdminToken) || strings.Contains(c, env.AdminToken) {
			t.Fatalf("cookie value %q: want a session id, never the token", session)
		}
		withCookie := func(method, path string) int {
			req, _ := http.NewRequest(method, env.BaseURL+path, nil)
			req.AddCookie(&http.Cookie{Name: "finflow_console", Value: session})
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if got := withCookie("GET", "/console"); got != 200 {
			t.Fatalf("GET /console with the session cookie = %d, want 200", got)
		}
		if got := withCookie("POST", "/console/logout"); got != http.StatusSeeOther {
			t.Fatalf("POST /console/logout = %d, want 303", got)
		}
		// Signing out ended the session in the gateway's state store, so a
		// copy of the cookie no longer works either.
		if got := withCookie("GET", "/console"); got != 401 {
			t.Fatalf("GET /console with the signed-out cookie = %d, want 401", got)
		}
	})
}

// TestConsoleInBrowser opens the console in headless Chromium, signs in
// with the admin token through its form, and checks that it shows what
// happened: every service ready with its sidecar's components and the
// payment service's subscription, a wallet payment and a Razorpay payment
// with their history, the webhook delivery, a dead letter (its kind, open),
// and the user's
// money conserved with a refund of the wallet payment counted.
// The screenshot is kept as console.png in the suite's log folder.
func TestConsoleInBrowser(t *testing.T) {
	browser := findChromium(t)

	// Something to show: a user who pays one bill from the wallet and one
	// through Razorpay.
	u, wallet := payFromWallet(t, "Console Payer")
	// Part of the wallet payment refunded: the money check counts it.
	if r := env.Do(t, "POST", "/Payment/"+wallet.ID+"/refund", map[string]any{"amount": 5_000, "reason": "console test"}, nil); r.Status != http.StatusCreated {
		t.Fatalf("refunding 5000 of %s = %d %s, want 201", wallet.ID, r.Status, r.Body)
	}
	rzpBill := env.MustCreateBill(t, u.ID, 40_000)
	rzp := env.MustPayRazorpay(t, rzpBill.ID)
	env.SimPay(t, rzp.Razorpay.OrderID, "captured", 0, true)
	env.WaitPayment(t, rzp.ID, 20*time.Second, "SUCCESS", func(p harness.Payment) bool { return p.Status == "SUCCESS" })
	// And a dead letter: a signed result for an order FinFlow never
	// created, which the payment service refuses and keeps.
	deadEvent := fmt.Sprintf("evt_console%d", time.Now().UnixNano())
	stray := harness.Webhook("payment.captured", fmt.Sprintf("pay_%014d", time.Now().UnixNano()%1e14), "order_NotFinFlows0002", 1000, "captured")
	if r := env.SendWebhook(t, stray, deadEvent, env.Sign(stray)); r.Status != http.StatusOK {
		t.Fatalf("signed stray webhook = %d %s, want 200", r.Status, r.Body)
	}

	// A fresh profile, removed once the browser is gone. Not t.TempDir:
	// Chromium's helper processes may still write to it for a moment after
	// the browser is closed, which fails t.TempDir's strict cleanup.
	profile, err := os.MkdirTemp("", "finflow-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for i := 0; i < 10 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(200 * time.Millisecond)
		}
	}()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browser),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1400, 1000),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	page := env.BaseURL + "/console?user=" + url.QueryEscape(u.ID)
	if err := chromedp.Run(ctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible("#token", chromedp.ByQuery),
		chromedp.SendKeys("#token", env.AdminToken, chromedp.ByQuery),
		chromedp.Click("#sign-in", chromedp.ByQuery),
		chromedp.WaitVisible("#services", chromedp.ByQuery),
		// Signed in (the cookie): now the page that checks this user.
		chromedp.Navigate(page),
		chromedp.WaitVisible("#services", chromedp.ByQuery),
	); err != nil {
		t.Fatalf("signing in to the console: %v", err)
	}

	// The delivery log and recent payments are written in batches (every
	// 250 ms): reload until both show, as an operator would.
	want := []string{
		`[data-payment="` + wallet.ID + `"] [data-status="SUCCESS"]`,
		`[data-payment="` + rzp.ID + `"] [data-status="SUCCESS"]`,
		`[data-delivery] [data-outcome="accepted"]`,
		// Its kind shown, and open (counted above the table).
		`[data-dead-letter="` + deadEvent + `"][data-state="open"]:not([data-kind=""])`,
		`#dead-letters-open`,
		`[data-user="` + u.ID + `"] [data-money="ok"]`,
		`[data-user="` + u.ID + `"] [data-refunded="5000"]`,
		`[data-service="payment"] [data-subscription="razorpay-results"]`,
		`[data-service="gateway"] [data-component="gateway-store"]`,
	}
	for _, app := range []string{"gateway", "user", "wallet", "billing", "payment", "razorpay"} {
		want = append(want, `[data-service="`+app+`"] [data-health="ok"]`, `[data-service="`+app+`"] [data-component="`+app+`-store"]`)
	}
	var missing []string
	deadline := time.Now().Add(15 * time.Second)
	for {
		missing = missing[:0]
		for _, sel := range want {
			var n int
			if err := chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf("document.querySelectorAll(%q).length", sel), &n)); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				missing = append(missing, sel)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
		if err := chromedp.Run(ctx, chromedp.Navigate(page), chromedp.WaitVisible("#services", chromedp.ByQuery)); err != nil {
			t.Fatal(err)
		}
	}

	var history, verdict string
	if err := chromedp.Run(ctx,
		chromedp.Text(`[data-payment="`+wallet.ID+`"]`, &history, chromedp.ByQuery),
		chromedp.Text("#money-verdict", &verdict, chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
	var shot []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&shot, 100)); err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, "console.png", shot)

	for _, sel := range missing {
		t.Errorf("the console shows no %s", sel)
	}
	if !strings.Contains(history, "₹250.00") || !strings.Contains(history, "WALLET") {
		t.Errorf("wallet payment row = %q, want the amount ₹250.00 and method WALLET", history)
	}
	if strings.Count(history, "20") < 2 { // at least two timestamped history entries
		t.Errorf("wallet payment row shows no history: %q", history)
	}
	// The suite's other tests make many users: the first page of 20 is
	// conserved, and says it covers that page only when more follow.
	var more bool
	if err := chromedp.Run(ctx, chromedp.Evaluate(`!!document.querySelector('a[href^="/console?users_cursor="]')`, &more)); err != nil {
		t.Fatal(err)
	}
	if want := map[bool]string{false: "all conserved", true: "conserved on this page"}[more]; verdict != want {
		t.Errorf("money verdict = %q, want %q (more users: %v)", verdict, want, more)
	}
}

// findChromium returns Debian's chromium (or $FINFLOW_CHROMIUM); the
// suite fails, not skips, without it: `make test` installs it.
func findChromium(t *testing.T) string {
	for _, p := range []string{os.Getenv("FINFLOW_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("no Chromium: the console test needs a headless browser (apt-get install chromium, or set FINFLOW_CHROMIUM)")
	return ""
}

// saveArtifact keeps a file in the suite's log folder and in
// var/test-artifacts, where CI keeps it.
func saveArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	for _, dir := range []string{env.LogDir, filepath.Join(env.Root, "var", "test-artifacts")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot: %s", filepath.Join(env.Root, "var", "test-artifacts", name))
}

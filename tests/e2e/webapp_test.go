package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/finflow/finflow/tests/harness"
)

// The customer web app (/app) in headless Chromium, used as a customer
// would: signing in, adding money through the checkout stand-in, paying one
// bill from the wallet and one through Razorpay, a failed checkout, the same
// with the keyboard only, and what one customer can see of another. Each
// step's screenshot is kept under var/test-artifacts/ as webapp-*.png.

// webappStep bounds one wait in the browser: a wait that never ends is a
// failure, not a hang. It is no claim about speed.
const webappStep = 60 * time.Second

// TestWebappHeaders checks over plain HTTP what the gateway sends with the
// page: the Content-Security-Policy names the checkout's origin for its
// script and its modal and nothing else, and the page cannot be framed,
// sniffed or leak its address.
func TestWebappHeaders(t *testing.T) {
	sim := useSimulatorCheckout(t)
	resp, err := http.Get(env.BaseURL + "/app")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := map[string]string{
		"Content-Type": "text/html; charset=utf-8",
		"Content-Security-Policy": "default-src 'none'; script-src 'self' " + sim + "; style-src 'self' " + sim +
			"; img-src 'self' data: " + sim + "; connect-src 'self'; frame-src " + sim +
			"; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"X-Frame-Options":        "DENY",
		"Cache-Control":          "no-store",
	}
	for h, v := range want {
		if got := resp.Header.Get(h); got != v {
			t.Errorf("GET /app: %s = %q\nwant %q", h, got, v)
		}
	}
	for _, path := range []string{"/app/app.js", "/app/api.js", "/app/money.js", "/app/app.css"} {
		r, err := http.Get(env.BaseURL + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s = %d, nosniff %q", path, r.StatusCode, r.Header.Get("X-Content-Type-Options"))
		}
	}
}

// TestWebappInBrowser is the customer's whole flow, then the same with the
// keyboard only, then what the page shows one customer of another.
func TestWebappInBrowser(t *testing.T) {
	useSimulatorCheckout(t)
	browser := startChromium(t)

	t.Run("money is shown and read as integer paise", func(t *testing.T) {
		p := openApp(t, browser)
		var got map[string]any
		p.run(chromedp.Evaluate(`import('/app/money.js').then((m) => ({
			zero: m.rupees(0), paisa: m.rupees(5), bill: m.rupees(125000), most: m.rupees(1000000000000),
			debit: m.signed(25000, false), credit: m.signed(50000, true), fraction: m.rupees(12.5), text: m.rupees('12'),
			typed: m.toPaise('1,250.75').paise, half: m.toPaise('0.5').paise, spaced: m.toPaise(' ₹ 99 ').paise,
			tooFine: m.toPaise('1.234').error || '', tooMuch: m.toPaise('10000000000.01').error || '', nothing: m.toPaise('0').error || '',
			// 0.1 + 0.2 is where floating point shows: the page must not.
			sum: m.toPaise('0.10').paise + m.toPaise('0.20').paise,
		}))`, &got, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
		// Commas only group digits: Indian (1,23,45,678) or international
		// (1,234,567) grouping, the last group three digits; "1,50" is a
		// decimal comma, not ₹150.00.
		typed := []struct {
			text  string
			paise float64 // 0: refused
			says  string  // in the refusal
		}{
			{"1,50", 0, "Use a point for paise, like 1.50."},
			{"12,34", 0, "Use a point for paise, like 12.34."},
			{"5,5", 0, "Use a point for paise, like 5.50."},
			{"1,2345", 0, "use a point for paise"},
			{"1,23,456,789", 0, "use a point for paise"},
			{"12,3456", 0, "use a point for paise"},
			{"1,50.00", 0, "use a point for paise"},
			{"0,500", 0, "use a point for paise"},
			{"1,234", 123_400, ""},
			{"12,345", 1_234_500, ""},
			{"123,456", 12_345_600, ""},
			{"1,23,45,678", 123_456_78_00, ""},
			{"1,234,567.5", 123_456_750, ""},
			{"12,34,567.89", 123_456_789, ""},
			{"1234567", 123_456_700, ""},
		}
		for _, tc := range typed {
			var r map[string]any
			p.run(chromedp.Evaluate(fmt.Sprintf(`import('/app/money.js').then((m) => m.toPaise(%q))`, tc.text), &r,
				func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
			if tc.paise != 0 && r["paise"] != tc.paise {
				t.Errorf("toPaise(%q) = %v, want %v paise", tc.text, r, tc.paise)
			}
			if msg, _ := r["error"].(string); tc.paise == 0 && (r["paise"] != nil || !strings.Contains(msg, tc.says)) {
				t.Errorf("toPaise(%q) = %v, want it refused saying %q", tc.text, r, tc.says)
			}
		}
		// An integer beyond 2^53 in an API answer stays exact: a BigInt
		// from its digits, written by rupees() digit for digit.
		var big map[string]any
		p.run(chromedp.Evaluate(`Promise.all([import('/app/api.js'), import('/app/money.js')]).then(([a, m]) => {
			const d = a.parseAnswer('{"balance":9007199254740993,"n":[-90071992547409930],"small":12,"f":2.5}');
			return { type: typeof d.balance, shown: m.rupees(d.balance), negative: m.rupees(d.n[0]), digits: m.paiseDigits(d.balance),
				small: d.small, f: d.f };
		})`, &big, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
		for k, v := range map[string]any{"type": "bigint", "shown": "₹9,00,71,99,25,47,409.93", "negative": "−₹90,07,19,92,54,74,099.30",
			"digits": "9007199254740993", "small": 12.0, "f": 2.5} {
			if big[k] != v {
				t.Errorf("an answer with integers beyond 2^53: %s = %v, want %v", k, big[k], v)
			}
		}
		want := map[string]any{
			"zero": "₹0.00", "paisa": "₹0.05", "bill": "₹1,250.00", "most": "₹10,00,00,00,000.00",
			"debit": "−₹250.00", "credit": "+₹500.00", "fraction": "₹?", "text": "₹0.12",
			"typed": 125075.0, "half": 50.0, "spaced": 9900.0, "sum": 30.0,
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
		for _, k := range []string{"tooFine", "tooMuch", "nothing"} {
			if s, _ := got[k].(string); s == "" {
				t.Errorf("%s: no error for an amount that must be refused (%v)", k, got)
			}
		}
	})

	t.Run("customer flow", func(t *testing.T) { webappCustomerFlow(t, browser) })
	t.Run("keyboard only", func(t *testing.T) { webappKeyboardFlow(t, browser) })
	t.Run("dev sign-in picks a customer", func(t *testing.T) { webappPickCustomer(t, browser) })
	t.Run("subscriptions are listed and can be cancelled", func(t *testing.T) { webappSubscriptions(t, browser) })
	t.Run("one customer sees nothing of another", func(t *testing.T) { webappOwnership(t, browser) })
	t.Run("refunds and credits on a phone's screen", func(t *testing.T) { webappRefundsOnAPhone(t, browser) })
	t.Run("a paid bill behind a page of unpaid ones", func(t *testing.T) { webappPaidBehindUnpaid(t, browser) })
	t.Run("a payment of a bill past the pages shown names the bill", func(t *testing.T) { webappOlderBillNamed(t, browser) })
	t.Run("user text is isolated and wraps, huge and tiny amounts", func(t *testing.T) { webappUserText(t, browser) })
	t.Run("a bill held by an open Razorpay payment is not called paid", func(t *testing.T) { webappHeldBill(t, browser) })
	t.Run("rate limited and unanswered payments are not failed", func(t *testing.T) { webappNotKnown(t, browser) })
	t.Run("money Razorpay took after a payment ended is followed", func(t *testing.T) { webappLateCapture(t, browser) })
}

// webappCustomerFlow: a new customer adds ₹500.00 through the checkout,
// pays ₹250.00 from the wallet and ₹400.00 through Razorpay (shown as
// "confirming" until FinFlow has the webhook), and a checkout that fails
// is shown as failed; the ledger holds the top-up and the wallet payment
// only.
func webappCustomerFlow(t *testing.T, browser context.Context) {
	p := openApp(t, browser)
	p.wait("#new-user")
	p.shot("01-sign-in")

	nonce := time.Now().UnixNano()
	p.run(
		chromedp.SendKeys("#new-name", "Asha Verma", chromedp.ByQuery),
		chromedp.SendKeys("#new-email", fmt.Sprintf("asha.%d@example.in", nonce), chromedp.ByQuery),
		chromedp.SendKeys("#new-phone", "+919812345678", chromedp.ByQuery),
	)
	p.click(`#new-user button[type="submit"]`)
	p.wait(`#who[data-user]`)
	userID := p.attr("#who", "data-user")
	p.waitText("#balance", "₹0.00")
	p.shot("02-signed-in")

	walletBill := webappBill(t, userID, 25_000, "Electricity, November")
	razorpayBill := webappBill(t, userID, 40_000, "Broadband, November")
	failingBill := webappBill(t, userID, 15_000, "Water, November")
	p.click("#refresh")
	for _, b := range []harness.Bill{walletBill, razorpayBill, failingBill} {
		p.wait(`#unpaid li[data-bill="` + b.ID + `"][data-status="UNPAID"]`)
	}

	// Add money through the checkout stand-in.
	p.run(
		chromedp.SendKeys("#topup-amount", "500", chromedp.ByQuery),
	)
	p.click("#add-money-button")
	frame := p.checkout("#pay")
	var payLabel string
	p.run(chromedp.Text("#pay", &payLabel, chromedp.ByQuery, chromedp.FromNode(frame)))
	if payLabel != "Pay ₹500.00" {
		t.Errorf("checkout's pay button = %q, want Pay ₹500.00 (the order's amount)", payLabel)
	}
	p.shot("03-checkout-add-money")
	p.run(chromedp.Click("#pay", chromedp.ByQuery, chromedp.FromNode(frame)))
	p.wait(`#activity li[data-topup][data-state="success"]`)
	p.waitAttr("#balance", "data-paise", "50000")
	topupID := p.attr(`#activity li[data-topup]`, "data-topup")
	if tu := env.MustGetTopUp(t, topupID); tu.Status != "SUCCESS" || tu.Amount != 50_000 {
		t.Errorf("top-up %s = %s %d, want SUCCESS 50000", topupID, tu.Status, tu.Amount)
	}
	p.wait(`#topups-rows tr[data-topup="` + topupID + `"][data-status="SUCCESS"]`)
	p.shot("04-money-added")

	// Pay one bill from the wallet.
	p.click(`#unpaid li[data-bill="` + walletBill.ID + `"] [data-action="pay-wallet"]`)
	p.wait(`#activity li[data-bill="` + walletBill.ID + `"][data-state="success"]`)
	p.wait(`#past-bills-rows tr[data-bill="` + walletBill.ID + `"][data-status="PAID"]`)
	p.waitAttr("#balance", "data-paise", "25000")
	p.shot("05-paid-from-wallet")

	// Pay one through Razorpay, with the webhooks held back: the checkout's
	// handler has run, FinFlow still says PENDING, and the page must say
	// "confirming", not "paid".
	env.Razorpay.Sim.SetWebhookURL("http://127.0.0.1:1/razorpay/webhook")
	restore := sync.OnceFunc(func() { env.Razorpay.Sim.SetWebhookURL(env.BaseURL + "/razorpay/webhook") })
	t.Cleanup(restore)
	p.click(`#unpaid li[data-bill="` + razorpayBill.ID + `"] [data-action="pay-razorpay"]`)
	frame = p.checkout("#pay")
	p.run(
		chromedp.Click(`input[name="method"][value="card"]`, chromedp.ByQuery, chromedp.FromNode(frame)),
		chromedp.Click("#pay", chromedp.ByQuery, chromedp.FromNode(frame)),
	)
	item := `#activity li[data-bill="` + razorpayBill.ID + `"]`
	p.wait(item + `:is([data-state="confirming"], [data-state="success"], [data-state="failed"])`)
	state := p.attr(item, "data-state")
	paymentID := p.attr(item, "data-payment")
	if pay := env.MustPayment(t, paymentID); pay.Status != "PENDING" {
		t.Fatalf("payment %s = %s with its webhooks held back; the test cannot show the page waits for them", paymentID, pay.Status)
	}
	if state != "confirming" {
		t.Fatalf("after the checkout's handler the page says %q while FinFlow says PENDING: it must say confirming", state)
	}
	var confirming string
	p.run(chromedp.Text(item, &confirming, chromedp.ByQuery))
	if !strings.Contains(confirming, "Confirming") {
		t.Errorf("while FinFlow says PENDING the page says %q, want it confirming", confirming)
	}
	p.shot("06-razorpay-confirming")
	// Drawn again while its payment is under way, the bill's buttons still
	// say they are busy.
	p.refresh()
	for _, action := range []string{"pay-wallet", "pay-razorpay"} {
		if got := p.attr(`#unpaid li[data-bill="`+razorpayBill.ID+`"] [data-action="`+action+`"]`, "aria-disabled"); got != "true" {
			t.Errorf("bill %s drawn again while its payment is confirming: %s aria-disabled = %q, want true", razorpayBill.ID, action, got)
		}
	}
	if got := p.attr(`#unpaid li[data-bill="`+razorpayBill.ID+`"]`, "data-status"); got != "UNPAID" {
		t.Errorf("bill %s shown %q before FinFlow confirmed it", razorpayBill.ID, got)
	}
	restore()
	p.wait(item + `[data-state="success"]`)
	p.wait(`#past-bills-rows tr[data-bill="` + razorpayBill.ID + `"][data-status="PAID"]`)
	if states := p.states(paymentID); strings.Join(states, " ") != "starting checkout confirming success" {
		t.Errorf("Razorpay payment went through states %v, want starting checkout confirming success", states)
	}
	p.shot("07-paid-through-razorpay")

	// A checkout that fails.
	p.click(`#unpaid li[data-bill="` + failingBill.ID + `"] [data-action="pay-razorpay"]`)
	frame = p.checkout("#decline")
	p.run(chromedp.Click("#decline", chromedp.ByQuery, chromedp.FromNode(frame)))
	failed := `#activity li[data-bill="` + failingBill.ID + `"]`
	p.wait(failed + `[data-state="failed"]`)
	failedPayment := p.attr(failed, "data-payment")
	var failedText string
	p.run(chromedp.Text(failed, &failedText, chromedp.ByQuery))
	if !strings.Contains(failedText, "failed") || !strings.Contains(failedText, "still unpaid") {
		t.Errorf("failed checkout shown as %q, want it to say the payment failed and the bill is unpaid", failedText)
	}
	p.waitInFrame(frame, "#result:not([hidden]) #done")
	p.shot("08-razorpay-failed")
	p.run(chromedp.Click("#done", chromedp.ByQuery, chromedp.FromNode(frame)))
	p.gone(".razorpay-container")
	if pay := env.MustPayment(t, failedPayment); pay.Status != "FAILED" {
		t.Errorf("failed checkout's payment = %s, want FAILED", pay.Status)
	}
	p.wait(`#payments-rows tr[data-payment="` + failedPayment + `"][data-status="FAILED"]`)
	p.wait(`#unpaid li[data-bill="` + failingBill.ID + `"][data-status="UNPAID"]`)

	// Both bills paid, the ledger right: the top-up's credit and the wallet
	// payment's debit, nothing for Razorpay's payments.
	for _, b := range []harness.Bill{walletBill, razorpayBill} {
		if got := env.MustBill(t, b.ID); got.Status != "PAID" {
			t.Errorf("bill %s = %s, want PAID", b.ID, got.Status)
		}
	}
	var ledger []map[string]string
	p.run(chromedp.Evaluate(`Array.from(document.querySelectorAll('#ledger-rows tr')).map((r) => ({
		type: r.dataset.type, amount: r.dataset.amount, text: r.textContent }))`, &ledger))
	if len(ledger) != 2 || ledger[0]["type"] != "DEBIT" || ledger[0]["amount"] != "25000" || ledger[1]["type"] != "CREDIT" || ledger[1]["amount"] != "50000" {
		t.Errorf("ledger shown = %v, want the debit of 25000 then the credit of 50000", ledger)
	} else {
		for i, want := range []string{"Paid: Electricity, November−₹250.00₹250.00", "Money added (top-up)+₹500.00₹500.00"} {
			if !strings.Contains(ledger[i]["text"], want) {
				t.Errorf("ledger row %d = %q, want it to contain %q", i, ledger[i]["text"], want)
			}
		}
	}
	if api := env.MustLedger(t, userID, 50); len(api) != 2 {
		t.Errorf("the API's ledger has %d entries, want 2", len(api))
	}
	p.waitText("#balance", "₹250.00")
	p.shot("09-account")
	p.view("readme")
	p.noErrors()
}

// webappKeyboardFlow is the main flow with the keyboard only: Tab, Enter,
// Escape and typed text, never a click.
func webappKeyboardFlow(t *testing.T, browser context.Context) {
	p := openApp(t, browser)
	p.wait("#new-user")
	p.tabTo("#new-name")
	p.keys("Kiran Rao")
	p.tabTo("#new-email")
	p.keys(fmt.Sprintf("kiran.%d@example.in", time.Now().UnixNano()))
	p.tabTo(`#new-user button[type="submit"]`)
	p.focusVisible()
	p.keys(kb.Enter)
	p.wait(`#who[data-user]`)
	p.focused("#account-title")
	userID := p.attr("#who", "data-user")
	walletBill := webappBill(t, userID, 12_000, "Mobile, November")
	razorpayBill := webappBill(t, userID, 35_000, "Gas, November")
	closedBill := webappBill(t, userID, 9_900, "Newspaper, November")

	p.tabTo("#refresh")
	p.keys(kb.Enter)
	p.wait(`#unpaid li[data-bill="` + closedBill.ID + `"]`)

	// Add ₹300.00: type, Enter, then the checkout by keyboard.
	p.tabTo("#topup-amount")
	p.keys("300")
	p.keys(kb.Enter)
	frame := p.checkout("#pay")
	p.focusWrapsInFrame(frame, "#close", "#decline")
	p.tabInFrame(frame, "#pay")
	p.shot("10-keyboard-checkout")
	p.keys(kb.Enter)
	p.wait(`#activity li[data-topup][data-state="success"]`)
	p.waitAttr("#balance", "data-paise", "30000")

	// The bills are drawn again while a bill's button has the focus (as
	// after the top-up above, whose refresh may still be running): the
	// focus stays on that bill's button, so Enter still pays that bill.
	payWallet := `#unpaid li[data-bill="` + walletBill.ID + `"] [data-action="pay-wallet"]`
	p.tabTo(payWallet)
	p.redraw()
	p.focused(payWallet)
	p.focusVisible()
	p.shot("11-keyboard-focus")
	p.keys(kb.Enter)
	p.wait(`#past-bills-rows tr[data-bill="` + walletBill.ID + `"][data-status="PAID"]`)
	p.waitAttr("#balance", "data-paise", "18000")

	p.tabTo(`#unpaid li[data-bill="` + razorpayBill.ID + `"] [data-action="pay-razorpay"]`)
	p.keys(kb.Enter)
	frame = p.checkout("#pay")
	p.tabInFrame(frame, "#pay")
	p.keys(kb.Enter)
	p.wait(`#activity li[data-bill="` + razorpayBill.ID + `"][data-state="success"]`)
	p.wait(`#past-bills-rows tr[data-bill="` + razorpayBill.ID + `"][data-status="PAID"]`)

	// Escape closes the checkout: nothing is paid, and the focus is back
	// on the button that opened it.
	opener := `#unpaid li[data-bill="` + closedBill.ID + `"] [data-action="pay-razorpay"]`
	p.tabTo(opener)
	p.keys(kb.Enter)
	p.checkout("#pay")
	p.keys(kb.Escape)
	p.gone(".razorpay-container")
	p.wait(`#activity li[data-bill="` + closedBill.ID + `"][data-state="cancelled"]`)
	p.focused(opener)
	if got := env.MustBill(t, closedBill.ID); got.Status != "UNPAID" {
		t.Errorf("bill %s after Escape = %s, want UNPAID", closedBill.ID, got.Status)
	}
	// Its payment stays PENDING until the order expires: listed as pending,
	// not as being confirmed.
	closed := `#payments-rows tr[data-payment="` + p.attr(`#activity li[data-bill="`+closedBill.ID+`"]`, "data-payment") + `"][data-status="PENDING"]`
	p.wait(closed)
	p.waitText(closed, "Pending")
	p.absent(closed, "Confirming")

	// A checkout that fails, then Escape: the page has drawn the bill's
	// card again meanwhile (the failure refreshed it), and the focus still
	// comes back to its button rather than to nowhere. In the checkout the
	// focus is visible on its white buttons too.
	p.wait(opener + `:not([aria-disabled])`)
	p.focused(opener)
	p.keys(kb.Enter)
	frame = p.checkout("#decline")
	p.tabInFrame(frame, "#decline")
	p.focusContrastInFrame(frame, "#decline")
	p.keys(kb.Enter)
	failed := `#activity li[data-bill="` + closedBill.ID + `"][data-state="failed"]`
	p.wait(failed)
	p.wait(`#payments-rows tr[data-payment="` + p.attr(failed, "data-payment") + `"][data-status="FAILED"]`)
	p.waitInFrame(frame, "#result:not([hidden]) #done")
	p.focusContrastInFrame(frame, "#done")
	p.keys(kb.Escape)
	p.gone(".razorpay-container")
	p.focused(opener)
	p.focusVisible()
	p.shot("12-keyboard-done")
	p.noErrors()
}

// webappPickCustomer: in dev mode the sign-in lists customers; picking one
// signs in as them.
func webappPickCustomer(t *testing.T, browser context.Context) {
	u := env.MustCreateUser(t, "Picked Customer", fmt.Sprintf("picked.%d@example.in", time.Now().UnixNano()))
	p := openApp(t, browser)
	button := `#users button[data-user="` + u.ID + `"]`
	for i := 0; ; i++ {
		// Either the customer is listed, or there are more to list.
		p.run(chromedp.Poll(fmt.Sprintf(`document.querySelector(%q) !== null || !document.getElementById('more-users').hidden`, button),
			nil, chromedp.WithPollingTimeout(webappStep)))
		var n int
		p.run(chromedp.Evaluate(fmt.Sprintf(`document.querySelectorAll(%q).length`, button), &n))
		if n > 0 {
			break
		}
		if i == 200 {
			t.Fatalf("customer %s is not in the dev sign-in's list", u.ID)
		}
		var before int
		p.run(chromedp.Evaluate(`document.querySelectorAll('#users li').length`, &before))
		p.click("#more-users")
		p.run(chromedp.Poll(fmt.Sprintf(`document.querySelectorAll('#users li').length > %d`, before), nil, chromedp.WithPollingTimeout(webappStep)))
	}
	p.click(button)
	p.wait(`#who[data-user="` + u.ID + `"]`)
	p.waitText("#who-name", "Picked Customer")
	p.noErrors()
}

// webappSubscriptions: a customer's subscription is listed with its
// amount, interval and next bill, and cancelling it asks first.
func webappSubscriptions(t *testing.T, browser context.Context) {
	u := env.MustCreateUser(t, "Subscriber", fmt.Sprintf("subscriber.%d@example.in", time.Now().UnixNano()))
	env.MustCreateWallet(t, u.ID)
	start := time.Now().UTC().Add(30 * 24 * time.Hour).Format(time.RFC3339)
	r := env.Do(t, "POST", "/billing/subscriptions", map[string]any{"user_id": u.ID, "amount": 49_900, "description": "Fibre, 100 Mbps",
		"interval": "MONTHLY", "start_at": start}, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("POST /billing/subscriptions = %d %s", r.Status, r.Body)
	}
	var sub struct {
		ID string `json:"id"`
	}
	r.JSON(t, &sub)

	p := openApp(t, browser)
	p.tokenSignIn(env.Token(t, u.ID, "user"))
	item := `#subscriptions-list li[data-subscription="` + sub.ID + `"]`
	p.wait(item + `[data-status="ACTIVE"]`)
	p.waitText(item, "Fibre, 100 Mbps ₹499.00 every month")
	p.waitText(item, "next bill")
	p.click(item + ` [data-action="cancel"]`)
	p.waitText(item, "No bill is made after this.")
	p.focused(item + " .confirm button")
	// The page draws its lists again while the question is open (as when
	// a payment confirms meanwhile): the question stays, and so does the
	// focus on its answer.
	p.redraw()
	p.waitText(item, "No bill is made after this.")
	p.focused(item + ` .confirm [data-action="confirm-cancel"]`)
	p.click(item + " .confirm button")
	p.wait(item + `[data-status="CANCELLED"]`)
	r = env.Do(t, "GET", "/billing/subscriptions/"+sub.ID, nil, nil)
	var got struct {
		Status string `json:"status"`
	}
	r.JSON(t, &got)
	if got.Status != "CANCELLED" {
		t.Errorf("subscription %s = %s after cancelling on the page, want CANCELLED", sub.ID, got.Status)
	}
	p.noErrors()
}

// webappRefundsOnAPhone: on a phone-sized screen, a customer whose wallet
// an operator credited (with an Idempotency-Key and no reference, as in the
// README's walk) and whose payment was partly refunded sees the refund on
// the payment and plain words in the ledger, and the page is no wider than
// the screen (the ledger's money columns were cut off).
func webappRefundsOnAPhone(t *testing.T, browser context.Context) {
	u := env.MustCreateUser(t, "Lakshmi Narayanan Subramaniam", fmt.Sprintf("lakshmi.%d@example.in", time.Now().UnixNano()))
	env.MustCreateWallet(t, u.ID)
	if r := env.Do(t, "POST", "/wallet/add", map[string]any{"user_id": u.ID, "amount": 123_456_789},
		map[string]string{"Idempotency-Key": "webapp-credit-" + u.ID}); r.Status != http.StatusOK {
		t.Fatalf("POST /wallet/add = %d %s", r.Status, r.Body)
	}
	bill := webappBill(t, u.ID, 99_999, "Annual maintenance of the water purification plant, block C")
	r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("POST /Payment/pay = %d %s", r.Status, r.Body)
	}
	var pay struct {
		ID string `json:"id"`
	}
	r.JSON(t, &pay)
	if r := env.Do(t, "POST", "/Payment/"+pay.ID+"/refund", map[string]any{"amount": 12_345, "reason": "Overcharged"}, nil); r.Status != http.StatusCreated {
		t.Fatalf("POST /Payment/%s/refund = %d %s", pay.ID, r.Status, r.Body)
	}

	p := openApp(t, browser)
	const phone = 390 // CSS px, a common phone's width
	p.run(emulation.SetDeviceMetricsOverride(phone, 844, 1, true))
	p.tokenSignIn(env.Token(t, u.ID, "user"))
	row := `#payments-rows tr[data-payment="` + pay.ID + `"]`
	p.wait(row)
	p.waitText(row, "₹123.45 refunded")
	p.run(chromedp.Poll(`document.querySelectorAll('#ledger-rows tr').length === 3`, nil, chromedp.WithPollingTimeout(webappStep)))
	var ledger []string
	p.run(chromedp.Evaluate(`Array.from(document.querySelectorAll('#ledger-rows tr')).map((r) => r.textContent)`, &ledger))
	for i, want := range []string{"Refund+₹123.45", "Paid: Annual maintenance", "Credit+₹12,34,567.89"} {
		if !strings.Contains(ledger[i], want) {
			t.Errorf("ledger row %d = %q, want it to contain %q", i, ledger[i], want)
		}
	}
	p.absent("#ledger", "idem:")
	// (A page wider than the screen also widens window.innerWidth, which
	// is why the screen's width is the one set above.)
	var width int
	p.run(chromedp.Evaluate(`document.documentElement.scrollWidth`, &width))
	if width > phone {
		t.Errorf("on a %d px screen the page is %d px wide: part of it is off the screen", phone, width)
	}
	// The ledger's amounts are in sight without scrolling the table: a
	// date breaks between the date and the time to leave them room.
	var amountInSight bool
	p.run(chromedp.Evaluate(`(() => { const cell = document.querySelector('#ledger-rows tr td.num');
		return cell.getBoundingClientRect().right <= cell.closest('.table-wrap').getBoundingClientRect().right; })()`, &amountInSight))
	if !amountInSight {
		t.Errorf("on a %d px screen the ledger's amounts are off the side of its panel", phone)
	}
	p.shot("14-phone-refund")
	p.noErrors()
}

// webappPaidBehindUnpaid: "Paid and refunded bills" is read from all the
// customer's bills; when the newest page holds only unpaid ones (a daily
// subscription nobody paid), the paid bill further back is still listed,
// not "None yet.".
func webappPaidBehindUnpaid(t *testing.T, browser context.Context) {
	u := webappCustomer(t, "Many Bills", 100_000)
	paid := webappBill(t, u.ID, 50_000, "Paid long ago")
	if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": paid.ID}, nil); r.Status != http.StatusCreated {
		t.Fatalf("POST /Payment/pay = %d %s", r.Status, r.Body)
	}
	for i := 1; i <= 21; i++ { // more than the page's 20
		webappBill(t, u.ID, 1_500, fmt.Sprintf("Newspaper, day %d", i))
	}
	p := openApp(t, browser)
	p.tokenSignIn(env.Token(t, u.ID, "user"))
	p.wait(`#past-bills-rows tr[data-bill="` + paid.ID + `"][data-status="PAID"]`)
	var none bool
	p.run(chromedp.Evaluate(`!document.getElementById('past-bills-empty').hidden`, &none))
	if none {
		t.Errorf("the paid bill is listed and the page also says %q", "None yet.")
	}
	p.noErrors()
}

// webappOlderBillNamed: the newest payment is of the oldest bill, which
// is past the first page of past bills the page loads; its row names the
// bill by its description (read on its own), never by its raw id.
func webappOlderBillNamed(t *testing.T, browser context.Context) {
	u := webappCustomer(t, "Old Bills", 200_000)
	old := webappBill(t, u.ID, 4_200, "Water, last year")
	for i := 1; i <= 21; i++ { // more than the page's 20, all paid
		b := webappBill(t, u.ID, 1_000, fmt.Sprintf("Milk, day %d", i))
		if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": b.ID}, nil); r.Status != http.StatusCreated {
			t.Fatalf("POST /Payment/pay = %d %s", r.Status, r.Body)
		}
	}
	r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": old.ID}, nil)
	var pay harness.Payment
	r.JSON(t, &pay)
	if r.Status != http.StatusCreated {
		t.Fatalf("POST /Payment/pay = %d %s", r.Status, r.Body)
	}
	p := openApp(t, browser)
	p.tokenSignIn(env.Token(t, u.ID, "user"))
	row := `#payments-rows tr[data-payment="` + pay.ID + `"]`
	p.wait(row)
	p.waitText(row, "Water, last year")
	var text string
	var loaded bool
	p.run(chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).textContent`, row), &text),
		chromedp.Evaluate(fmt.Sprintf(`document.querySelector('#past-bills-rows tr[data-bill=%q]') !== null`, old.ID), &loaded))
	if strings.Contains(text, old.ID) || loaded {
		t.Errorf("row %q (bill loaded in past bills: %v); want the bill named by its description, read on its own", text, loaded)
	}
	p.noErrors()
}

// webappOwnership: signed in with B's token, the page shows nothing of A's;
// a forged token naming A, an unsigned one and an admin's are refused in
// plain words; nothing is kept in the browser's storage, and signing out
// leaves nothing of B's on the page.
func webappOwnership(t *testing.T, browser context.Context) {
	nonce := time.Now().UnixNano()
	a := env.MustCreateUser(t, fmt.Sprintf("Owner A %d", nonce), fmt.Sprintf("owner.a.%d@example.in", nonce))
	env.MustCreateWallet(t, a.ID)
	secret := fmt.Sprintf("A's private bill %d", nonce)
	aBill := webappBill(t, a.ID, 77_700, secret)
	b := env.MustCreateUser(t, fmt.Sprintf("Owner B %d", nonce), fmt.Sprintf("owner.b.%d@example.in", nonce))
	env.MustCreateWallet(t, b.ID)

	p := openApp(t, browser)
	p.wait("#token-form")
	p.tokenSignIn(env.Token(t, b.ID, "user"))
	p.wait(`#who[data-user="` + b.ID + `"]`)
	p.waitText("#unpaid-empty", "Nothing to pay.")
	p.wait(`#ledger-empty:not([hidden])`)
	for _, leak := range []string{secret, aBill.ID, a.ID, a.Name, "777.00"} {
		p.absent("html", leak)
	}
	var stored map[string]any
	p.run(chromedp.Evaluate(`({local: localStorage.length, session: sessionStorage.length, cookie: document.cookie})`, &stored))
	if stored["local"] != 0.0 || stored["session"] != 0.0 || stored["cookie"] != "" {
		t.Errorf("the browser keeps %v; want nothing stored", stored)
	}
	p.click("#sign-out")
	p.wait("#sign-in:not([hidden])")
	p.focused("#sign-in-title")
	// The sign-in lists customers again (dev mode); nothing of B's session
	// is left.
	p.absent("#account", b.Name)
	p.absent("#who", b.Name)

	forged := []struct {
		name, token, says string
	}{
		{"signed with another key", webappJWT(t, a.ID, "user", "HS256", "not FinFlow's key"), "did not accept that token"},
		{"unsigned", webappJWT(t, a.ID, "user", "none", ""), "did not accept that token"},
		{"an admin's", env.AdminToken, "for customers"},
		{"not a token", "hello", "does not look like a FinFlow token"},
	}
	for _, f := range forged {
		// The page empties the field at every sign-in.
		p.tokenSignIn(f.token)
		p.wait("#alert:not([hidden])")
		p.waitText("#alert", f.says)
		var accountHidden bool
		p.run(chromedp.Evaluate(`document.getElementById('account').hidden`, &accountHidden))
		if !accountHidden {
			t.Errorf("%s token: the account is shown", f.name)
		}
		p.absent("#account", secret)
		p.absent("#who", a.Name)
	}
	p.shot("13-forged-token-refused")
	p.noErrors()
}

// pageRewrite changes the API's answers to the page's requests of method
// to a URL containing path: Times of them (-1: all), answered Status with
// Body and Headers instead, after the request was made (PassThrough), or
// as the API answered with each Replace regexp replaced.
type pageRewrite struct {
	Method      string            `json:"method"`
	Path        string            `json:"path"`
	Times       int               `json:"times"`
	Status      int               `json:"status,omitempty"`
	Body        string            `json:"body,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	PassThrough bool              `json:"passThrough,omitempty"`
	Replace     [][2]string       `json:"replace,omitempty"`
}

func (p *appPage) rewrite(w pageRewrite) {
	p.t.Helper()
	b, err := json.Marshal(w)
	if err != nil {
		p.t.Fatal(err)
	}
	p.run(chromedp.Evaluate(`window.__rewrites.push(`+string(b)+`)`, nil))
}

// text is what sel shows (its textContent).
func (p *appPage) text(sel string) string {
	p.t.Helper()
	var s string
	p.run(chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).textContent`, sel), &s))
	return s
}

// webappUserText: what people wrote is shown as written and cannot change
// what is around it. A bidi override (U+202E) in a description or a name
// (data from before the API refused them, here put into its answers)
// reversed "₹9.99 every month" and the like; a description of nothing
// visible showed as nothing; one long word stretched a bill's card past
// the screen. Also: a balance beyond 2^53 paise is shown exactly, a bill
// under ₹1.00 is not offered to Razorpay (which refuses it), and an
// amount typed with a decimal comma is refused in words.
func webappUserText(t *testing.T, browser context.Context) {
	u := webappCustomer(t, "Rtl Tester", 100_000)
	paid := webappBill(t, u.ID, 999, "Bidi paid")
	if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": paid.ID}, nil); r.Status != http.StatusCreated {
		t.Fatalf("POST /Payment/pay = %d %s", r.Status, r.Body)
	}
	unpaid := webappBill(t, u.ID, 999, "Bidi unpaid")
	blank := webappBill(t, u.ID, 30_000, "Blank bill")
	long := webappBill(t, u.ID, 123_456, strings.Repeat("Supercalifragilistic", 10))
	tiny := webappBill(t, u.ID, 50, "Tiny bill")
	env.MustCreateSubscription(t, map[string]any{"user_id": u.ID, "amount": 999, "description": "Bidi monthly", "interval": "MONTHLY",
		"start_at": time.Now().UTC().Add(30 * 24 * time.Hour).Format(time.RFC3339)})

	p := openApp(t, browser)
	const rlo = `\u202E` // in the JSON answer: RIGHT-TO-LEFT OVERRIDE
	p.rewrite(pageRewrite{Method: "GET", Path: "/billing/user/", Times: -1,
		Replace: [][2]string{{`"Bidi `, `"Bidi ` + rlo}, {`"Blank bill"`, `"\u200B \u202E"`}}})
	p.rewrite(pageRewrite{Method: "GET", Path: "/users/" + u.ID, Times: -1, Replace: [][2]string{{`"Rtl `, `"Rtl ` + rlo}}})
	p.rewrite(pageRewrite{Method: "GET", Path: "/wallet/balance/", Times: -1,
		Replace: [][2]string{{`"balance":\s*[0-9]+`, `"balance":9007199254740993`}}})
	p.tokenSignIn(env.Token(t, u.ID, "user"))
	p.wait(`#unpaid li[data-bill="` + tiny.ID + `"]`)
	p.wait(`#payments-rows tr[data-status="SUCCESS"]`)
	p.wait(`#subscriptions-list li[data-status="ACTIVE"]`)
	p.run(chromedp.Poll(`document.querySelectorAll('#ledger-rows tr').length === 2 && !document.getElementById('account').hasAttribute('aria-busy')`,
		nil, chromedp.WithPollingTimeout(webappStep)))
	p.click(`#subscriptions-list [data-action="cancel"]`)
	p.waitText("#subscriptions-list .confirm", "No bill is made after this.")

	// Every bidi control shown is inside an isolated user text, and the
	// page's own words and amounts read left to right where they are drawn.
	var wrong []string
	p.run(chromedp.Evaluate(`(() => {
		const wrong = [];
		const controls = /[\u202A-\u202E\u2066-\u2069]/;
		for (const root of [document.getElementById('who'), document.getElementById('account')]) {
			const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
			for (let n = walk.nextNode(); n; n = walk.nextNode()) {
				const iso = n.parentElement.closest('.user-text');
				if (controls.test(n.data) && (!iso || getComputedStyle(iso).unicodeBidi !== 'isolate')) {
					wrong.push('not isolated: ' + JSON.stringify(n.data));
				}
				const s = n.data.trim();
				if (iso || s.length < 2 || !n.parentElement.getClientRects().length) { continue; }
				const start = n.data.indexOf(s), end = start + s.length - 1;
				const at = (i) => { const r = document.createRange(); r.setStart(n, i); r.setEnd(n, i + 1); return r.getBoundingClientRect(); };
				const a = at(start), b = at(end);
				if (Math.abs(a.top - b.top) < 2 && a.left > b.left) {
					wrong.push('reversed: ' + JSON.stringify(s) + ' in ' + n.parentElement.closest('li, tr, p, h1, div').textContent);
				}
			}
		}
		for (const e of document.querySelectorAll('[aria-label]')) {
			if (controls.test(e.getAttribute('aria-label').replace(/[\u2068\u2069]/g, ''))) {
				wrong.push('aria-label: ' + JSON.stringify(e.getAttribute('aria-label')));
			}
		}
		return wrong;
	})()`, &wrong))
	for _, w := range wrong {
		t.Error(w)
	}
	for _, sel := range []string{`#unpaid li[data-bill="` + unpaid.ID + `"]`, `#past-bills-rows tr[data-bill="` + paid.ID + `"]`,
		`#payments-rows tr[data-status="SUCCESS"]`, "#ledger-rows tr", "#subscriptions-list li", "#who-name", "#account-title"} {
		if s := p.text(sel); !strings.Contains(s, "\u202e") {
			t.Errorf("%s = %q: the test put a bidi override there and it is not shown", sel, s)
		}
	}
	p.waitText(`#unpaid li[data-bill="`+blank.ID+`"] .bill-title`, "(no description)")
	p.shot("15-user-text")

	// A balance beyond 2^53 paise, exactly.
	if got, paise := p.text("#balance"), p.attr("#balance", "data-paise"); got != "₹9,00,71,99,25,47,409.93" || paise != "9007199254740993" {
		t.Errorf("a balance of 9007199254740993 paise is shown as %q, data-paise %q", got, paise)
	}

	// ₹0.50: from the wallet only.
	tinyCard := `#unpaid li[data-bill="` + tiny.ID + `"]`
	var offered int
	p.run(chromedp.Evaluate(`document.querySelectorAll('`+tinyCard+` [data-action="pay-razorpay"]').length`, &offered))
	if offered != 0 {
		t.Errorf("a bill of ₹0.50 is offered to Razorpay, which refuses less than ₹1.00")
	}
	p.waitText(tinyCard, "Razorpay takes payments from ₹1.00")
	p.wait(tinyCard + ` [data-action="pay-wallet"]`)

	// Amounts typed in Add money: a decimal comma and less than ₹1.00 are
	// refused in words, and nothing starts.
	for _, typed := range []struct{ text, says string }{{"1,50", "Use a point for paise, like 1.50."}, {"0.50", "from ₹1.00"}} {
		p.run(chromedp.SetValue("#topup-amount", typed.text, chromedp.ByQuery))
		p.click("#add-money-button")
		p.waitText("#alert", typed.says)
		p.waitAttr("#topup-amount", "aria-invalid", "true")
	}
	var started int
	p.run(chromedp.Evaluate(`document.querySelectorAll('#activity li').length`, &started))
	if started != 0 {
		t.Errorf("an amount refused in Add money started %d lines in What is happening", started)
	}

	// One long word wraps inside its card, on a wide screen and a phone's.
	for _, width := range []int64{1280, 390} {
		p.run(emulation.SetDeviceMetricsOverride(width, 844, 1, width < 600))
		var fits map[string]any
		p.run(chromedp.Evaluate(`(() => { const li = document.querySelector('#unpaid li[data-bill="`+long.ID+`"]');
			const amount = li.querySelector('.amount').getBoundingClientRect(), card = document.getElementById('bills').getBoundingClientRect();
			return { card: li.scrollWidth <= li.clientWidth, amountInPanel: amount.right <= card.right && amount.left >= card.left,
				page: document.documentElement.scrollWidth <= window.innerWidth }; })()`, &fits))
		for k, v := range fits {
			if v != true {
				t.Errorf("on a %d px screen a bill with a 200-letter word: %s does not fit (%v)", width, k, fits)
			}
		}
	}
	p.shot("16-long-word-phone")
	p.run(emulation.ClearDeviceMetricsOverride())
	p.noErrors()
}

// webappHeldBill: a Razorpay checkout opened and closed leaves its payment
// PENDING, holding the bill until its order expires. The bill's card says
// so, and "Pay from wallet" meanwhile is refused (409 BILL_ALREADY_PAID)
// in words that do not call the unpaid bill paid; nothing is taken.
func webappHeldBill(t *testing.T, browser context.Context) {
	u := webappCustomer(t, "Held Bill", 100_000)
	bill := webappBill(t, u.ID, 20_000, "Held by a checkout")
	p := openApp(t, browser)
	p.tokenSignIn(env.Token(t, u.ID, "user"))
	card := `#unpaid li[data-bill="` + bill.ID + `"]`
	p.wait(card) // signed in and drawing: the click waits until it is drawn
	p.click(card + ` [data-action="pay-razorpay"]`)
	p.checkout("#pay")
	p.keys(kb.Escape)
	p.gone(".razorpay-container")
	line := `#activity li[data-bill="` + bill.ID + `"]`
	p.wait(line + `[data-state="cancelled"]`)
	held := p.attr(line, "data-payment")
	p.wait(`#payments-rows tr[data-payment="` + held + `"][data-status="PENDING"]`)
	p.wait(card + " .pending-note")
	p.waitText(card+" .pending-note", "Razorpay payment of this bill is pending")

	p.click(card + ` [data-action="pay-wallet"]`)
	refused := `#activity li[data-bill="` + bill.ID + `"]:first-child`
	p.wait(refused + `[data-state="failed"]`)
	says := p.text(refused)
	for _, want := range []string{"still under way", "Nothing was taken from your wallet", "once that payment has ended"} {
		if !strings.Contains(says, want) {
			t.Errorf("Pay from wallet on a bill a Razorpay checkout holds says %q; want it to say %q", says, want)
		}
	}
	if strings.Contains(says, "already paid") {
		t.Errorf("Pay from wallet on an unpaid bill says %q: it calls the bill paid", says)
	}
	if got := env.MustBalance(t, u.ID); got != 100_000 {
		t.Errorf("balance after the refused wallet payment = %d, want 100000", got)
	}
	if got := env.MustBill(t, bill.ID); got.Status != "UNPAID" {
		t.Errorf("bill %s = %s, want UNPAID", bill.ID, got.Status)
	}
	// A FAILED payment the refusal recorded says why without calling the
	// bill paid.
	if id, ok := p.attrMaybe(refused, "data-payment"); ok && id != held {
		row := `#payments-rows tr[data-payment="` + id + `"]`
		p.wait(row + `[data-status="FAILED"]`)
		if s := p.text(row); !strings.Contains(s, "already made or under way") || strings.Contains(s, "had already been paid") {
			t.Errorf("the refused payment is listed as %q", s)
		}
	}
	p.shot("17-held-bill")
	p.noErrors()
}

// webappNotKnown: a payment the gateway refused with 429 did nothing, and
// one whose answer was lost (503) may or may not have paid: neither is
// shown as failed. The 429 says when to try again; the line of a try whose
// outcome was not known is replaced by the next try of the same bill, or
// says the bill is paid once FinFlow says so. A 503 that names Razorpay as
// what did not answer says so, not that FinFlow is down.
func webappNotKnown(t *testing.T, browser context.Context) {
	u := webappCustomer(t, "Not Known", 100_000)
	limited := webappBill(t, u.ID, 10_000, "Rate limited")
	lost := webappBill(t, u.ID, 20_000, "Answer lost")
	silent := webappBill(t, u.ID, 5_000, "Razorpay silent")
	p := openApp(t, browser)
	p.tokenSignIn(env.Token(t, u.ID, "user"))
	p.wait(`#unpaid li[data-bill="` + lost.ID + `"]`)

	// 429: nothing done, try again in 7 seconds; the next press pays.
	p.rewrite(pageRewrite{Method: "POST", Path: "/Payment/pay", Times: 1, Status: 429, Headers: map[string]string{"Retry-After": "7", "Content-Type": "application/json"},
		Body: `{"error":{"code":"RATE_LIMITED","message":"too many requests; retry in 7 s","details":{"retry_after_seconds":7}}}`})
	p.click(`#unpaid li[data-bill="` + limited.ID + `"] [data-action="pay-wallet"]`)
	line := `#activity li[data-bill="` + limited.ID + `"]`
	p.wait(line + `[data-state="not-done"]`)
	if s := p.text(line); !strings.Contains(s, "did nothing") || !strings.Contains(s, "in 7 seconds") || strings.Contains(s, "not known") {
		t.Errorf("a 429 is shown as %q; want it to say nothing was done and to try again in 7 seconds", s)
	}
	p.click(`#unpaid li[data-bill="` + limited.ID + `"] [data-action="pay-wallet"]`)
	p.wait(line + `[data-state="success"]`)
	var lines int
	p.run(chromedp.Evaluate(`document.querySelectorAll('`+line+`').length`, &lines))
	if lines != 1 {
		t.Errorf("after the bill was paid, What is happening has %d lines for it; want the rate-limited one gone", lines)
	}

	// The answer lost after the payment was made: not known, then paid
	// once the bills read say so; never failed.
	p.rewrite(pageRewrite{Method: "POST", Path: "/Payment/pay", Times: 1, PassThrough: true, Status: 503, Headers: map[string]string{"Content-Type": "application/json"},
		Body: `{"error":{"code":"UNAVAILABLE","message":"service unavailable"}}`})
	p.click(`#unpaid li[data-bill="` + lost.ID + `"] [data-action="pay-wallet"]`)
	line = `#activity li[data-bill="` + lost.ID + `"]`
	p.wait(line + `[data-state="success"]`)
	p.waitText(line, "The bill is paid now")
	if states := p.states(lost.ID); strings.Join(states, " ") != "starting unknown success" {
		t.Errorf("a payment whose answer was lost went through states %v, want starting unknown success", states)
	}
	p.waitAttr("#balance", "data-paise", "70000")

	// FinFlow answered, Razorpay did not (details.service "razorpay"): the
	// page says which of the two is not answering.
	p.rewrite(pageRewrite{Method: "POST", Path: "/Payment/rozarpay", Times: 1, Status: 503, Headers: map[string]string{"Content-Type": "application/json", "Retry-After": "1"},
		Body: `{"error":{"code":"UNAVAILABLE","message":"Razorpay is not answering; try again shortly","details":{"payment_id":"pay_nothere","service":"razorpay"}}}`})
	p.click(`#unpaid li[data-bill="` + silent.ID + `"] [data-action="pay-razorpay"]`)
	line = `#activity li[data-bill="` + silent.ID + `"]`
	p.wait(line + `[data-state="unknown"]`)
	if s := p.text(line); !strings.Contains(s, "Razorpay is not answering") || strings.Contains(s, "FinFlow is not answering") {
		t.Errorf("Razorpay not answering is shown as %q; want it to name Razorpay, not FinFlow", s)
	}
	p.noErrors()
}

// webappLateCapture: the customer pays in a checkout whose payment FinFlow
// has ended meanwhile (here an earlier attempt on the same order failed,
// as when an order expires while the checkout is open). The capture
// becomes a payment or top-up of its own, which the ended one's
// settled_by names, and the page follows it: it says the bill was paid,
// the money added, or the money given back because the bill was paid
// another way; never "failed, nothing was charged".
func webappLateCapture(t *testing.T, browser context.Context) {
	u := webappCustomer(t, "Late Capture", 100_000)
	late := webappBill(t, u.ID, 30_000, "Paid late")
	twice := webappBill(t, u.ID, 33_300, "Paid twice")
	p := openApp(t, browser)
	p.tokenSignIn(env.Token(t, u.ID, "user"))
	p.wait(`#unpaid li[data-bill="` + twice.ID + `"]`)

	// payAfterItEnded opens a checkout (open), has FinFlow end the try the
	// activity line names in attr (read gives its order and status): an
	// attempt on its order fails at the simulator, as Razorpay would report
	// another attempt failing. Then it runs meanwhile, pays in the
	// checkout, and waits until the line has ended. It returns the try.
	payAfterItEnded := func(open func(), line, attr string, read func(id string) (order, status string), meanwhile func()) string {
		t.Helper()
		open()
		frame := p.checkout("#pay")
		first := p.attr(line, attr)
		order, _ := read(first)
		env.SimPay(t, order, "failed", 0, true)
		harness.WaitFor(t, webappStep, "FinFlow to end the first try", func() bool { _, status := read(first); return status == "FAILED" })
		meanwhile()
		p.run(chromedp.Click("#pay", chromedp.ByQuery, chromedp.FromNode(frame)))
		p.wait(line + `:is([data-state="success"], [data-state="failed"], [data-state="unknown"])`)
		return first
	}
	payment := func(id string) (string, string) { q := env.MustPayment(t, id); return q.Razorpay.OrderID, q.Status }
	payRazorpay := func(b harness.Bill) func() {
		return func() { p.click(`#unpaid li[data-bill="` + b.ID + `"] [data-action="pay-razorpay"]`) }
	}

	// The bill still unpaid: the late payment pays it.
	line := `#activity li[data-bill="` + late.ID + `"]`
	first := payAfterItEnded(payRazorpay(late), line, "data-payment", payment, func() {})
	if s := p.text(line); p.attr(line, "data-state") != "success" || !strings.Contains(s, "Paid ₹300.00 through Razorpay") || strings.Contains(s, "nothing was charged") {
		t.Errorf("a checkout paid after FinFlow ended its payment says %q; want it to say the bill was paid by the late payment", s)
	}
	if b := env.MustBill(t, late.ID); b.Status != "PAID" || b.PaymentID == nil || *b.PaymentID != p.attr(line, "data-late") {
		t.Errorf("bill %s = %s paid by %v, want PAID by the late payment %s", late.ID, b.Status, b.PaymentID, p.attr(line, "data-late"))
	}
	p.waitText(`#payments-rows tr[data-payment="`+first+`"]`, "the money reached Razorpay later, as another payment")

	// The bill paid from the wallet meanwhile: the late payment's money is
	// given back.
	line = `#activity li[data-bill="` + twice.ID + `"]`
	payAfterItEnded(payRazorpay(twice), line, "data-payment", payment, func() {
		if r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": twice.ID}, env.As(t, u.ID)); r.Status != http.StatusCreated {
			t.Fatalf("paying %s from the wallet = %d %s", twice.ID, r.Status, r.Body)
		}
	})
	s := p.text(line)
	if p.attr(line, "data-state") != "failed" || !strings.Contains(s, "Razorpay took ₹333.00") || !strings.Contains(s, "back to you") || strings.Contains(s, "nothing was charged") {
		t.Errorf("a checkout paid after the bill was paid from the wallet says %q; want it to say Razorpay took ₹333.00 and FinFlow gives it back", s)
	}
	lateID := p.attr(line, "data-late")
	lp := env.WaitPayment(t, lateID, webappStep, "refunded", func(q harness.Payment) bool { return q.Status == "FAILED" })
	if lp.Refund == nil || lp.Razorpay == nil || env.SimGetPayment(t, lp.Razorpay.GatewayPaymentID).AmountRefunded != 33_300 {
		t.Errorf("late payment %s = %+v, want its capture of 33300 refunded at the simulator", lateID, lp)
	}
	if got := env.MustBalance(t, u.ID); got != 100_000-33_300 {
		t.Errorf("balance = %d, want %d (one wallet payment)", got, 100_000-33_300)
	}

	// A top-up: the late top-up credits the wallet.
	line = `#activity li[data-topup]`
	payAfterItEnded(func() {
		p.run(chromedp.SendKeys("#topup-amount", "200", chromedp.ByQuery))
		p.click("#add-money-button")
	}, line, "data-topup", func(id string) (string, string) { q := env.MustGetTopUp(t, id); return q.Razorpay.OrderID, q.Status }, func() {})
	if s := p.text(line); p.attr(line, "data-state") != "success" || !strings.Contains(s, "₹200.00 added to your wallet") || strings.Contains(s, "not credited") {
		t.Errorf("a checkout paid after FinFlow ended its top-up says %q; want ₹200.00 added", s)
	}
	p.waitAttr("#balance", "data-paise", fmt.Sprint(100_000-33_300+20_000))
	p.shot("18-late-capture")
	p.noErrors()
}

// attrMaybe is sel's attribute name, if it has one.
func (p *appPage) attrMaybe(sel, name string) (string, bool) {
	p.t.Helper()
	var v string
	var ok bool
	p.run(chromedp.AttributeValue(sel, name, &v, &ok, chromedp.ByQuery))
	return v, ok
}

// webappCustomer makes a customer with a wallet holding paise.
func webappCustomer(t *testing.T, name string, paise int64) harness.User {
	t.Helper()
	u := env.MustCreateUser(t, name, fmt.Sprintf("%s.%d@example.in", strings.ToLower(strings.ReplaceAll(name, " ", ".")), time.Now().UnixNano()))
	env.MustCreateWallet(t, u.ID)
	env.MustTopUp(t, u.ID, paise, "")
	return u
}

// webappBill makes a bill through the API, as the merchant would.
func webappBill(t *testing.T, userID string, amount int64, description string) harness.Bill {
	t.Helper()
	r := env.Do(t, "POST", "/billing/create", map[string]any{"user_id": userID, "amount": amount, "description": description}, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("POST /billing/create = %d %s", r.Status, r.Body)
	}
	var b harness.Bill
	r.JSON(t, &b)
	return b
}

// webappJWT makes a token FinFlow never issued: HS256 with a key it does
// not hold, or alg "none".
func webappJWT(t *testing.T, sub, role, alg, key string) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	head := enc(map[string]string{"alg": alg, "typ": "JWT"}) + "." + enc(map[string]any{"sub": sub, "role": role, "exp": time.Now().Add(time.Hour).Unix()})
	if alg == "none" {
		return head + "."
	}
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(head))
	return head + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var simCheckout sync.Once

// useSimulatorCheckout points the web app at the suite's simulator (the
// default form of the setting, with the suite's simulator port) and waits
// until the gateway serves it. It returns the simulator's origin as the
// page sees it.
func useSimulatorCheckout(t *testing.T) string {
	t.Helper()
	sim, err := url.Parse(env.SimURL())
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://127.0.0.1:" + sim.Port()
	simCheckout.Do(func() {
		value := "http://{host}:" + sim.Port() + "/v1/checkout.js"
		if err := env.Redis().Set(context.Background(), "gateway.webapp.checkout_script_url", value+"||1000", 0).Err(); err != nil {
			t.Fatal(err)
		}
	})
	harness.WaitFor(t, webappStep, "the gateway to serve the checkout setting", func() bool {
		resp, err := http.Get(env.BaseURL + "/app")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self' "+origin+";")
	})
	return origin
}

// startChromium starts one headless Chromium for the test's tabs.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	path := findChromium(t)
	// Not t.TempDir: Chromium's helpers may write to the profile for a
	// moment after the browser is gone, which fails its strict cleanup.
	profile, err := os.MkdirTemp("", "finflow-webapp-")
	if err != nil {
		t.Fatal(err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 1000),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		for i := 0; i < 10 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(200 * time.Millisecond)
		}
	})
	return ctx
}

// appPage is one tab on /app.
type appPage struct {
	t      *testing.T
	ctx    context.Context
	mu     sync.Mutex
	thrown []string
	// blocked: the browser's console errors for Content-Security-Policy
	// violations in any frame of the tab.
	blocked []string
}

// pageProbe records, in every frame, the Content-Security-Policy
// violations and each activity line's states (MutationObserver: a state
// set twice within one task is still recorded, from oldValue). It also
// lets a test change the API's answers as the page receives them
// (window.__rewrites, see rewrite): data the API no longer accepts but
// may still hold, and answers that are hard to provoke (429, a lost
// answer).
const pageProbe = `(() => {
  window.__rewrites = [];
  const realFetch = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const url = String(input && input.url ? input.url : input);
    const method = (init && init.method) || 'GET';
    const w = window.__rewrites.find((r) => r.times !== 0 && r.method === method && url.includes(r.path));
    if (!w) { return realFetch(input, init); }
    if (w.times > 0) { w.times--; }
    let status = w.status, text = w.body || '', headers = w.headers || {};
    if (!w.status || w.passThrough) {
      const res = await realFetch(input, init);
      const got = await res.text();
      if (!w.status) { status = res.status; text = got; headers = { 'Content-Type': res.headers.get('Content-Type') || '' }; }
    }
    for (const [from, to] of w.replace || []) { text = text.replace(new RegExp(from, 'g'), to); }
    return new Response(text, { status, headers });
  };
  window.__violations = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
  const log = new WeakMap();
  const push = (li, s) => { const a = log.get(li) || []; if (s && a[a.length - 1] !== s) { a.push(s); } log.set(li, a); };
  window.__states = (id) => {
    const li = Array.from(document.querySelectorAll('#activity li')).find((l) => l.dataset.payment === id || l.dataset.topup === id || l.dataset.bill === id);
    return li ? log.get(li) || [] : null;
  };
  new MutationObserver((records) => {
    const touched = new Set();
    for (const m of records) {
      if (m.type === 'attributes' && m.target.matches && m.target.matches('#activity li')) {
        push(m.target, m.oldValue);
        touched.add(m.target);
      }
      for (const n of m.addedNodes || []) {
        if (n.matches && n.matches('#activity li')) { touched.add(n); }
      }
    }
    touched.forEach((li) => push(li, li.dataset.state));
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeOldValue: true, attributeFilter: ['data-state'] });
})();`

// openApp opens /app in a new tab, recording uncaught exceptions.
func openApp(t *testing.T, browser context.Context) *appPage {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	p := &appPage{t: t, ctx: ctx}
	// The first Run opens the tab and ties it to the context it is given:
	// the tab's own, not one of run's bounded ones.
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			p.mu.Lock()
			defer p.mu.Unlock()
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			p.thrown = append(p.thrown, fmt.Sprintf("%s (%s:%d)", msg, d.URL, d.LineNumber))
		case *cdplog.EventEntryAdded:
			// The browser's own report of a blocked load, from every frame
			// of the tab: the checkout's frame (another origin) too, whose
			// securitypolicyviolation events the page's probe cannot see.
			if en := e.Entry; en != nil && en.Level == cdplog.LevelError && strings.Contains(en.Text, "Content Security Policy") {
				p.mu.Lock()
				defer p.mu.Unlock()
				p.blocked = append(p.blocked, fmt.Sprintf("%s (%s)", en.Text, en.URL))
			}
		}
	})
	p.run(
		emulation.SetFocusEmulationEnabled(true),
		chromedp.ActionFunc(func(ctx context.Context) error {
			_, err := page.AddScriptToEvaluateOnNewDocument(pageProbe).Do(ctx)
			return err
		}),
		chromedp.Navigate(env.BaseURL+"/app"),
	)
	p.wait("#sign-in:not([hidden])")
	return p
}

// run runs actions, bounded by webappStep.
func (p *appPage) run(actions ...chromedp.Action) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, webappStep)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		p.t.Fatalf("in the browser: %v\n%s", err, p.describe())
	}
}

// describe is what the page says, for a failure message.
func (p *appPage) describe() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	var s string
	_ = chromedp.Run(ctx, chromedp.Evaluate(`'alert: ' + document.getElementById('alert').textContent +
		'\nactivity: ' + Array.from(document.querySelectorAll('#activity li')).map((l) => l.dataset.state + ': ' + l.textContent).join('\n  ') +
		'\nfocused: ' + (document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : '')`, &s))
	return s
}

func (p *appPage) wait(sel string) {
	p.t.Helper()
	p.run(chromedp.WaitVisible(sel, chromedp.ByQuery))
}

// gone waits until nothing matches sel.
func (p *appPage) gone(sel string) {
	p.t.Helper()
	p.run(chromedp.Poll(fmt.Sprintf(`document.querySelector(%q) === null`, sel), nil, chromedp.WithPollingTimeout(webappStep)))
}

func (p *appPage) waitText(sel, text string) {
	p.t.Helper()
	p.run(chromedp.Poll(fmt.Sprintf(`((document.querySelector(%q) || {}).textContent || '').includes(%q)`, sel, text), nil, chromedp.WithPollingTimeout(webappStep)))
}

func (p *appPage) waitAttr(sel, attr, value string) {
	p.t.Helper()
	p.run(chromedp.Poll(fmt.Sprintf(`(document.querySelector(%q) || {getAttribute: () => null}).getAttribute(%q) === %q`, sel, attr, value), nil, chromedp.WithPollingTimeout(webappStep)))
}

func (p *appPage) attr(sel, name string) string {
	p.t.Helper()
	var v string
	var ok bool
	p.run(chromedp.AttributeValue(sel, name, &v, &ok, chromedp.ByQuery))
	if !ok {
		p.t.Fatalf("%s has no %s", sel, name)
	}
	return v
}

// absent fails if text is anywhere in what scope selects.
func (p *appPage) absent(scope, text string) {
	p.t.Helper()
	var found bool
	p.run(chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).outerHTML.includes(%q)`, scope, text), &found))
	if found {
		p.t.Errorf("%s shows %q", scope, text)
	}
}

// states is the sequence of states the activity line of a payment or
// top-up went through.
func (p *appPage) states(id string) []string {
	p.t.Helper()
	var s []string
	p.run(chromedp.Evaluate(fmt.Sprintf(`window.__states(%q) || []`, id), &s))
	return s
}

// keys types keys into whatever has the focus.
func (p *appPage) keys(keys string) {
	p.t.Helper()
	p.run(chromedp.KeyEvent(keys))
}

// tabTo presses Tab until sel has the focus.
func (p *appPage) tabTo(sel string) {
	p.t.Helper()
	for i := 0; i < 80; i++ {
		var at bool
		p.run(chromedp.Evaluate(fmt.Sprintf(`!!document.activeElement && document.activeElement.matches(%q)`, sel), &at))
		if at {
			return
		}
		p.keys(kb.Tab)
	}
	p.t.Fatalf("80 presses of Tab never reached %s\n%s", sel, p.describe())
}

// click clicks sel with the mouse once the page has drawn what it was
// loading (nothing is aria-busy): a click is aimed at where sel is drawn,
// and lists still being drawn above it would move it from under the mouse.
func (p *appPage) click(sel string) {
	p.t.Helper()
	p.run(chromedp.Poll(`document.querySelector('[aria-busy="true"]') === null`, nil, chromedp.WithPollingTimeout(webappStep)),
		chromedp.Click(sel, chromedp.ByQuery))
}

// tokenSignIn signs in with token through the token form.
func (p *appPage) tokenSignIn(token string) {
	p.t.Helper()
	p.run(chromedp.SendKeys("#token", token, chromedp.ByQuery))
	p.click(`#token-form button[type="submit"]`)
}

// refreshed is true in the page once the refresh its Refresh button
// started has drawn everything (the button's handler says "Refreshing…"
// as it starts).
const refreshed = `document.getElementById('refreshed').textContent.startsWith('Updated')`

// refresh has the page draw its lists again, as its own refreshes do,
// without moving the focus, and waits until it has.
func (p *appPage) refresh() {
	p.t.Helper()
	p.run(chromedp.Evaluate(`document.getElementById('refresh').click()`, nil),
		chromedp.Poll(refreshed, nil, chromedp.WithPollingTimeout(webappStep)))
}

// redraw has the page draw its lists again in a refresh that begins
// before the focus comes to the focused element (as when a customer tabs
// on while the page refreshes after a payment), and waits until that
// element has been replaced.
func (p *appPage) redraw() {
	p.t.Helper()
	p.run(chromedp.Evaluate(`(() => { const f = document.activeElement; window.__focusedBefore = f;
		f.blur(); document.getElementById('refresh').click(); f.focus(); })()`, nil),
		chromedp.Poll(`!window.__focusedBefore.isConnected && `+refreshed, nil, chromedp.WithPollingTimeout(webappStep)))
}

// focused fails unless sel has the focus.
func (p *appPage) focused(sel string) {
	p.t.Helper()
	var at bool
	p.run(chromedp.Poll(fmt.Sprintf(`!!document.activeElement && document.activeElement.matches(%q)`, sel), &at, chromedp.WithPollingTimeout(webappStep)))
}

// focusVisible fails unless the focused element shows a focus outline.
func (p *appPage) focusVisible() {
	p.t.Helper()
	var style map[string]string
	p.run(chromedp.Evaluate(`(() => { const s = getComputedStyle(document.activeElement);
		return {style: s.outlineStyle, width: s.outlineWidth}; })()`, &style))
	if style["style"] == "none" || style["width"] == "0px" {
		p.t.Errorf("the focused element has no visible focus outline: %v", style)
	}
}

// focusContrastInFrame fails unless the focus indicator of sel in the
// checkout's frame (its outline or the ring of its box-shadow) has a
// contrast of at least 3:1 with white (WCAG 2.1, 1.4.11).
func (p *appPage) focusContrastInFrame(frame *cdp.Node, sel string) {
	p.t.Helper()
	var props []*css.ComputedStyleProperty
	p.run(chromedp.ComputedStyle(sel+":focus", &props, chromedp.ByQuery, chromedp.FromNode(frame)))
	style := map[string]string{}
	for _, prop := range props {
		style[prop.Name] = prop.Value
	}
	best := 0.0
	if style["outline-style"] != "none" {
		best = max(best, contrastWithWhite(style["outline-color"]))
	}
	if style["box-shadow"] != "none" {
		best = max(best, contrastWithWhite(style["box-shadow"]))
	}
	if best < 3 {
		p.t.Errorf("in the checkout, the focus on %s is hard to see: outline %s %s, box-shadow %s (contrast with white %.1f:1, want 3:1)",
			sel, style["outline-style"], style["outline-color"], style["box-shadow"], best)
	}
}

// contrastWithWhite is the contrast ratio with white of the first rgb()
// or rgba() colour in a computed style value, 0 if there is none.
func contrastWithWhite(value string) float64 {
	i := strings.Index(value, "rgb")
	if i < 0 {
		return 0
	}
	var r, g, b float64
	rest := value[i:]
	rest = rest[strings.Index(rest, "(")+1:]
	if _, err := fmt.Sscanf(strings.NewReplacer(",", " ").Replace(rest), "%g %g %g", &r, &g, &b); err != nil {
		return 0
	}
	lin := func(c float64) float64 {
		c /= 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
	return 1.05 / (l + 0.05)
}

// checkout waits for the checkout modal and for sel inside its frame,
// and returns the frame's node.
func (p *appPage) checkout(sel string) *cdp.Node {
	p.t.Helper()
	p.wait(".razorpay-container iframe")
	var frames []*cdp.Node
	p.run(chromedp.Nodes(".razorpay-container iframe", &frames, chromedp.ByQuery))
	return p.waitInFrame(frames[0], sel)
}

// waitInFrame waits until sel is visible in the checkout's frame; the
// frame's node is read again until its document has loaded.
func (p *appPage) waitInFrame(frame *cdp.Node, sel string) *cdp.Node {
	p.t.Helper()
	deadline := time.Now().Add(webappStep)
	for {
		var frames []*cdp.Node
		p.run(chromedp.Nodes(".razorpay-container iframe", &frames, chromedp.ByQuery, chromedp.AtLeast(0)))
		if len(frames) > 0 && frames[0].ContentDocument != nil {
			frame = frames[0]
			var found []*cdp.Node
			ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
			err := chromedp.Run(ctx, chromedp.Nodes(sel, &found, chromedp.ByQuery, chromedp.NodeVisible, chromedp.FromNode(frame)))
			cancel()
			if err == nil && len(found) > 0 {
				return frame
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the checkout never showed %s\n%s", sel, p.describe())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tabInFrame presses Tab until sel has the focus inside the checkout's
// frame (the page's own focus is then on the frame).
func (p *appPage) tabInFrame(frame *cdp.Node, sel string) {
	p.t.Helper()
	for i := 0; i < 20; i++ {
		var found []*cdp.Node
		ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
		err := chromedp.Run(ctx, chromedp.Nodes(sel+":focus", &found, chromedp.ByQuery, chromedp.AtLeast(0), chromedp.FromNode(frame)))
		cancel()
		if err == nil && len(found) > 0 {
			return
		}
		p.keys(kb.Tab)
	}
	p.t.Fatalf("20 presses of Tab never reached %s in the checkout\n%s", sel, p.describe())
}

// focusWrapsInFrame checks the checkout keeps the keyboard in its frame:
// Tab on its last control (last) goes to its first (first) and Shift+Tab
// on the first back to the last, the merchant page's focus staying on the
// frame throughout (a modal dialog's focus trap).
func (p *appPage) focusWrapsInFrame(frame *cdp.Node, first, last string) {
	p.t.Helper()
	p.tabInFrame(frame, last)
	for _, step := range []struct {
		shift bool
		want  string
	}{{false, first}, {true, last}, {false, first}} {
		if step.shift {
			p.run(chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(input.ModifierShift)))
		} else {
			p.keys(kb.Tab)
		}
		var found []*cdp.Node
		var top string
		p.run(chromedp.Nodes(step.want+":focus", &found, chromedp.ByQuery, chromedp.AtLeast(0), chromedp.FromNode(frame)),
			chromedp.Evaluate(`document.activeElement ? document.activeElement.tagName : ''`, &top))
		if len(found) == 0 || top != "IFRAME" {
			p.t.Fatalf("Tab (shift %v) from the checkout's end: %s not focused in the frame (page focus on %q)\n%s", step.shift, step.want, top, p.describe())
		}
	}
}

// view keeps a screenshot of the top of the page, as a window shows it
// (webapp-<name>.png): the one docs/img/webapp.png is taken from.
func (p *appPage) view(name string) {
	p.t.Helper()
	var png []byte
	p.run(chromedp.Evaluate(`window.scrollTo(0, 0)`, nil), chromedp.CaptureScreenshot(&png))
	saveArtifact(p.t, "webapp-"+name+".png", png)
}

// shot keeps a screenshot of the tab as webapp-<name>.png.
func (p *appPage) shot(name string) {
	p.t.Helper()
	var png []byte
	p.run(chromedp.FullScreenshot(&png, 100))
	saveArtifact(p.t, "webapp-"+name+".png", png)
}

// noErrors fails on any uncaught exception or Content-Security-Policy
// violation the tab saw, in the page or in the checkout's frame.
func (p *appPage) noErrors() {
	p.t.Helper()
	var violations []string
	p.run(chromedp.Evaluate(`window.__violations || []`, &violations))
	for _, v := range violations {
		p.t.Errorf("Content-Security-Policy violation: %s", v)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.thrown {
		p.t.Errorf("uncaught exception in the page: %s", e)
	}
	for _, b := range p.blocked {
		p.t.Errorf("Content-Security-Policy violation in a frame of the tab: %s", b)
	}
}

package webapp

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// newApp serves the web app with the checkout setting script.
func newApp(tb testing.TB, devMode bool, script string) *fiber.App {
	tb.Helper()
	app := fiber.New(fiber.Config{StrictRouting: true, CaseSensitive: true})
	Routes(app, Options{DevMode: devMode, CheckoutScriptURL: func() string { return script }})
	return app
}

func get(tb testing.TB, app *fiber.App, target, host string, header map[string]string) (*http.Response, string) {
	tb.Helper()
	req := httptest.NewRequest("GET", target, nil)
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPage(t *testing.T) {
	cases := []struct {
		name, script, host string
		devMode            bool
		wantScript, csp    string
	}{
		{
			name: "the simulator beside the gateway", script: SimulatorCheckoutScript, host: "127.0.0.1:8080", devMode: true,
			wantScript: "http://127.0.0.1:8090/v1/checkout.js",
			csp: "default-src 'none'; script-src 'self' http://127.0.0.1:8090; style-src 'self' http://127.0.0.1:8090; " +
				"img-src 'self' data: http://127.0.0.1:8090; connect-src 'self'; frame-src http://127.0.0.1:8090; " +
				"form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
		},
		{
			name: "Razorpay's own checkout", script: RazorpayCheckoutScript, host: "pay.example.in",
			wantScript: RazorpayCheckoutScript,
			csp: "default-src 'none'; script-src 'self' https://checkout.razorpay.com; " +
				"style-src 'self' https://checkout.razorpay.com https://api.razorpay.com; " +
				"img-src 'self' data: https://checkout.razorpay.com https://api.razorpay.com; connect-src 'self'; " +
				"frame-src https://checkout.razorpay.com https://api.razorpay.com; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
		},
		{
			name: "a host that cannot stand in a URL gets no checkout", script: SimulatorCheckoutScript, host: "evil.example;script-src",
			wantScript: "",
			csp: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
				"frame-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, newApp(t, tc.devMode, tc.script), "/app", tc.host, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("GET /app = %d %s", resp.StatusCode, body)
			}
			want := map[string]string{
				"Content-Type":            "text/html; charset=utf-8",
				"Content-Security-Policy": tc.csp,
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"X-Frame-Options":         "DENY",
				"Cache-Control":           "no-store",
			}
			for h, v := range want {
				if got := resp.Header.Get(h); got != v {
					t.Errorf("%s = %q\nwant %q", h, got, v)
				}
			}
			if !strings.Contains(body, `data-checkout-script="`+tc.wantScript+`"`) {
				t.Errorf("page does not name the checkout script %q", tc.wantScript)
			}
			if dev := `data-dev-mode="true"`; strings.Contains(body, dev) != tc.devMode {
				t.Errorf("dev mode %v, but the page says %v", tc.devMode, strings.Contains(body, dev))
			}
		})
	}
}

func TestResolveCheckout(t *testing.T) {
	cases := []struct {
		setting, host string
		ok            bool
		script        string
		origins       []string
	}{
		{SimulatorCheckoutScript, "127.0.0.1:8080", true, "http://127.0.0.1:8090/v1/checkout.js", []string{"http://127.0.0.1:8090"}},
		{SimulatorCheckoutScript, "localhost", true, "http://localhost:8090/v1/checkout.js", []string{"http://localhost:8090"}},
		{SimulatorCheckoutScript, "[::1]:8080", true, "http://[::1]:8090/v1/checkout.js", []string{"http://[::1]:8090"}},
		{SimulatorCheckoutScript, "finflow.internal:8080", true, "http://finflow.internal:8090/v1/checkout.js", []string{"http://finflow.internal:8090"}},
		{"  https://checkout.razorpay.com/v1/checkout.js ", "x", true, RazorpayCheckoutScript, []string{"https://checkout.razorpay.com", "https://api.razorpay.com"}},
		{"http://127.0.0.1:41234/v1/checkout.js", "anything:1", true, "http://127.0.0.1:41234/v1/checkout.js", []string{"http://127.0.0.1:41234"}},
		{SimulatorCheckoutScript, "", false, "", nil},
		{SimulatorCheckoutScript, "a b", false, "", nil},
		{SimulatorCheckoutScript, "evil.example;script-src *", false, "", nil},
		{SimulatorCheckoutScript, "'unsafe-inline'", false, "", nil},
		{SimulatorCheckoutScript, "-leading.dash", false, "", nil},
		{"javascript:alert(1)", "x", false, "", nil},
		{"ftp://example.in/checkout.js", "x", false, "", nil},
		{"https://user:pw@example.in/checkout.js", "x", false, "", nil},
		{"https://example.in/checkout.js#frag", "x", false, "", nil},
		{"//example.in/checkout.js", "x", false, "", nil},
		{"https://exa_mple.in/checkout.js", "x", false, "", nil},
		{"", "x", false, "", nil},
	}
	for _, tc := range cases {
		co, ok := ResolveCheckout(tc.setting, tc.host)
		if ok != tc.ok || co.Script != tc.script || strings.Join(co.Origins, " ") != strings.Join(tc.origins, " ") {
			t.Errorf("ResolveCheckout(%q, %q) = %+v, %v; want script %q origins %v, %v", tc.setting, tc.host, co, ok, tc.script, tc.origins, tc.ok)
		}
	}
}

func TestValidCheckoutScriptURL(t *testing.T) {
	cases := []struct {
		v    string
		want bool
	}{
		{SimulatorCheckoutScript, true},
		{RazorpayCheckoutScript, true},
		{"http://{host}:9999/v1/checkout.js", true},
		{"https://{host}/checkout.js", true},
		{"http://127.0.0.1:8090/v1/checkout.js", true},
		{"http://x/{host}/checkout.js", false}, // the placeholder only stands for the host
		{"http://{host}.{host}/c.js", false},
		{"http://{host}:8090/v1/checkout.js?v={host}", false},
		{"checkout.js", false},
		{"data:text/javascript,alert(1)", false},
		{"", false},
	}
	for _, tc := range cases {
		if got := ValidCheckoutScriptURL(tc.v); got != tc.want {
			t.Errorf("ValidCheckoutScriptURL(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
	for _, s := range Settings {
		if !s.Valid(s.Default) {
			t.Errorf("the default of %s (%q) is not valid", s.Key, s.Default)
		}
	}
}

func TestAssets(t *testing.T) {
	app := newApp(t, false, SimulatorCheckoutScript)
	for _, file := range []string{"app.js", "api.js", "money.js", "app.css"} {
		resp, body := get(t, app, "/app/"+file, "", nil)
		ct := map[bool]string{true: "text/css; charset=utf-8", false: "text/javascript; charset=utf-8"}[strings.HasSuffix(file, ".css")]
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct || body == "" {
			t.Errorf("GET /app/%s = %d %q (%d bytes), want 200 %q", file, resp.StatusCode, resp.Header.Get("Content-Type"), len(body), ct)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET /app/%s: no nosniff", file)
		}
		etag := resp.Header.Get("ETag")
		again, _ := get(t, app, "/app/"+file, "", map[string]string{"If-None-Match": etag})
		if etag == "" || again.StatusCode != http.StatusNotModified {
			t.Errorf("GET /app/%s with If-None-Match %q = %d, want 304", file, etag, again.StatusCode)
		}
	}
	for _, path := range []string{"/app/index.html", "/app/nothing.js", "/app/..%2fwebapp.go", "/app/app.js/x"} {
		if resp, _ := get(t, app, path, "", nil); resp.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404", path, resp.StatusCode)
		}
	}
	// A path that is no file is not found whatever the method; a file is
	// only for GET (and HEAD).
	for path, want := range map[string]int{"/app/nothing.js": 404, "/app/x": 404, "/app/app.js": 405, "/app": 405} {
		resp, err := app.Test(httptest.NewRequest("POST", path, nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("POST %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
	if resp, _ := get(t, app, "/app/", "", nil); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/app" {
		t.Errorf("GET /app/ = %d to %q, want 301 to /app", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestAssetsKeepTheRules reads the page's own files for what its Content-
// Security-Policy and its handling of tokens and money forbid: inline
// scripts and styles (which the policy would block), storage of any kind,
// HTML built from strings, and floating-point money.
func TestAssetsKeepTheRules(t *testing.T) {
	forbidden := []struct {
		what string
		re   *regexp.Regexp
	}{
		{"web storage", regexp.MustCompile(`localStorage|sessionStorage|indexedDB|document\.cookie|caches\.open`)},
		{"HTML from strings", regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write`)},
		{"code from strings", regexp.MustCompile(`\beval\(|new Function\(`)},
		{"floating-point money", regexp.MustCompile(`parseFloat|toFixed|/ ?100\b|\* ?100\b|\* ?0\.01`)},
		// res.json() reads integers beyond 2^53 rounded: answers go
		// through api.js's parseAnswer, which keeps them exact.
		{"answers parsed with doubles", regexp.MustCompile(`\.json\(\)`)},
		{"inline script", regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`)},
		{"event handler attribute", regexp.MustCompile(`<[^>]+\son[a-z]+=`)},
		{"style attribute", regexp.MustCompile(`<[^>]+\sstyle=|setAttribute\(\s*'style'`)},
	}
	err := fs.WalkDir(assets, "assets", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		for _, f := range forbidden {
			if loc := f.re.FindIndex(b); loc != nil {
				t.Errorf("%s has %s: %q", p, f.what, b[loc[0]:loc[1]])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUserTextIsIsolated reads app.css for what keeps text a person wrote
// from changing the page around it: the class app.js gives it isolates
// its direction (bidi controls in it stay in it) and lets a long word
// wrap; and app.js writes no API field straight into textContent, where
// neither would hold.
func TestUserTextIsIsolated(t *testing.T) {
	css, err := assets.ReadFile("assets/app.css")
	if err != nil {
		t.Fatal(err)
	}
	rule := regexp.MustCompile(`\.user-text \{([^}]*)\}`).FindSubmatch(css)
	if rule == nil {
		t.Fatal("app.css has no .user-text rule")
	}
	for _, want := range []string{"unicode-bidi: isolate", "overflow-wrap: anywhere"} {
		if !strings.Contains(string(rule[1]), want) {
			t.Errorf(".user-text {%s} lacks %q", rule[1], want)
		}
	}
	js, err := assets.ReadFile("assets/app.js")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), "'user-text'") {
		t.Error("app.js gives no element the class user-text")
	}
	if m := regexp.MustCompile(`textContent = [^;]*\.(description|name|email|reference)\b`).Find(js); m != nil {
		t.Errorf("app.js writes user text without isolating it: %s", m)
	}
}

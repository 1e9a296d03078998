// Package webapp serves FinFlow's customer web app at /app: one small page
// (plain HTML, CSS and JavaScript modules, embedded in the gateway) on
// which a customer signs in, sees their wallet, ledger, bills, payments,
// top-ups and subscriptions, and pays a bill from the wallet or through
// Razorpay's Standard Checkout, or adds money to the wallet.
//
// The page speaks only the public API, through the same gateway, with a
// bearer token it keeps in memory (never in storage or a cookie). It is
// sent with a Content-Security-Policy that admits scripts, connections and
// frames only from the gateway's own origin and the checkout's: Razorpay's
// checkout.js with real keys, or the Razorpay simulator's stand-in
// offline. Where the checkout script comes from is the runtime setting
// gateway.webapp.checkout_script_url (see docs/webapp.md).
package webapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/service"
	"github.com/finflow/finflow/platform/settings"
)

// SettingCheckoutScriptURL is the runtime setting naming the Standard
// Checkout script the page loads. HostPlaceholder in its host stands for
// the host name the page was opened at (so the simulator's stand-in is
// found beside the gateway however the page is reached).
const SettingCheckoutScriptURL = "gateway.webapp.checkout_script_url"

// HostPlaceholder is replaced, in the checkout script URL, by the host
// name of the page's own address.
const HostPlaceholder = "{host}"

// Checkout scripts: the simulator's stand-in (the default, as `make run`
// starts the simulator on port 8090) and Razorpay's own.
const (
	SimulatorCheckoutScript = "http://" + HostPlaceholder + ":8090/v1/checkout.js"
	RazorpayCheckoutScript  = "https://checkout.razorpay.com/v1/checkout.js"
)

// Settings declares the web app's runtime settings and their defaults.
var Settings = []settings.String{
	{Key: SettingCheckoutScriptURL, Default: SimulatorCheckoutScript, Valid: ValidCheckoutScriptURL},
}

// checkoutFrameOrigins are the origins a checkout script opens its modal
// from, besides its own: Razorpay's script frames api.razorpay.com.
var checkoutFrameOrigins = map[string][]string{
	"https://checkout.razorpay.com": {"https://api.razorpay.com"},
}

//go:embed assets
var assets embed.FS

var page = template.Must(template.ParseFS(assets, "assets/index.html"))

// Options configure the app.
type Options struct {
	// DevMode offers the dev sign-in (pick or create a customer; the
	// gateway's POST /auth/dev-token exists only in dev mode too).
	DevMode bool
	// CheckoutScriptURL returns the current checkout script setting.
	CheckoutScriptURL func() string
}

// Mount serves the app on r, with its settings watched in the gateway's
// configuration store until ctx ends.
func Mount(ctx context.Context, r fiber.Router, d *service.Deps, devMode bool) {
	set := settings.New(d.Log).WithStrings(Settings...)
	set.Watch(ctx, d.Sidecar, d.Env.String("SETTINGS_STORE", service.SettingsStore))
	Routes(r, Options{DevMode: devMode, CheckoutScriptURL: func() string { return set.Text(SettingCheckoutScriptURL) }})
}

// asset is one embedded file, served with its validator.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Routes registers GET /app (the page), GET /app/ (a redirect to it) and
// GET /app/<file> for the page's scripts and style.
func Routes(r fiber.Router, o Options) {
	files := map[string]asset{}
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	err := fs.WalkDir(assets, "assets", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		ct, served := types[path.Ext(p)]
		if !served {
			return nil
		}
		b, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		files[path.Base(p)] = asset{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("webapp: reading the embedded assets: " + err.Error())
	}
	r.Get("/app", func(c *fiber.Ctx) error { return servePage(c, o) })
	r.Get("/app/", func(c *fiber.Ctx) error { return c.Redirect("/app", fiber.StatusMovedPermanently) })
	// One route per file, so that a path with no file is 404 whatever the
	// method (not 405, which would say it is a resource of other methods).
	for name, a := range files {
		r.Get("/app/"+name, func(c *fiber.Ctx) error { return serveAsset(c, a) })
	}
}

// serveAsset answers a GET of one of the page's files, revalidated by ETag.
func serveAsset(c *fiber.Ctx, a asset) error {
	securityHeaders(c)
	c.Set(fiber.HeaderContentType, a.contentType)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderETag, a.etag)
	if c.Get(fiber.HeaderIfNoneMatch) == a.etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	return c.Send(a.body)
}

// pageData is what the page template is given.
type pageData struct {
	DevMode        bool
	CheckoutScript string
}

// servePage renders the page for the address it was asked at: the
// checkout's origins go into its Content-Security-Policy.
func servePage(c *fiber.Ctx, o Options) error {
	co, ok := ResolveCheckout(o.CheckoutScriptURL(), c.Hostname())
	if !ok {
		// An address the checkout cannot be placed beside: the page works
		// without Razorpay and says so.
		co = Checkout{}
	}
	var b bytes.Buffer
	if err := page.Execute(&b, pageData{DevMode: o.DevMode, CheckoutScript: co.Script}); err != nil {
		return fmt.Errorf("rendering the web app: %w", err)
	}
	securityHeaders(c)
	c.Set("Content-Security-Policy", co.Policy())
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(b.Bytes())
}

// securityHeaders are sent with the page and each of its files.
func securityHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
}

// Checkout is where the page's checkout script comes from.
type Checkout struct {
	// Script is the script's URL ("" when there is none).
	Script string
	// Origins are the origins the checkout needs: the script's own first,
	// then those of its modal.
	Origins []string
}

// Policy is the page's Content-Security-Policy: its own origin for
// scripts, styles, images and API calls; the checkout script's origin for
// scripts, and every checkout origin for its style, images and modal; nothing else, no plugins,
// no form posts, and no framing of the page.
func (co Checkout) Policy() string {
	with := func(base string) string { return strings.Join(append([]string{base}, co.Origins...), " ") }
	scripts, frames := "'self'", "'none'"
	if len(co.Origins) > 0 {
		scripts += " " + co.Origins[0]
		frames = strings.Join(co.Origins, " ")
	}
	return "default-src 'none'; script-src " + scripts + "; style-src " + with("'self'") +
		"; img-src " + with("'self' data:") + "; connect-src 'self'; frame-src " + frames +
		"; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
}

// hostName matches a DNS name or an IPv4 address; bracketedIPv6 an IPv6
// literal as it stands in a URL.
var (
	hostName      = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)
	bracketedIPv6 = regexp.MustCompile(`^\[[0-9A-Fa-f:.]{2,45}\]$`)
)

// ResolveCheckout turns the checkout script setting into the script's URL
// and origins for a page asked for at requestHost (a Host header, with or
// without a port). It reports false when the setting is not a usable URL,
// or names HostPlaceholder and requestHost is not a plain host name.
func ResolveCheckout(setting, requestHost string) (Checkout, bool) {
	raw := strings.TrimSpace(setting)
	if strings.Contains(raw, HostPlaceholder) {
		h := requestHost
		if host, _, err := net.SplitHostPort(requestHost); err == nil {
			h = host
			if strings.Contains(h, ":") {
				h = "[" + h + "]"
			}
		}
		if !hostName.MatchString(h) && !bracketedIPv6.MatchString(h) {
			return Checkout{}, false
		}
		raw = strings.Replace(raw, HostPlaceholder, h, 1)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return Checkout{}, false
	}
	h := u.Hostname()
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if !hostName.MatchString(h) && !bracketedIPv6.MatchString(h) {
		return Checkout{}, false
	}
	origin := u.Scheme + "://" + u.Host
	return Checkout{Script: u.String(), Origins: append([]string{origin}, checkoutFrameOrigins[origin]...)}, true
}

// ValidCheckoutScriptURL accepts a checkout script setting: an http or
// https URL, whose host may be HostPlaceholder.
func ValidCheckoutScriptURL(v string) bool {
	if strings.Count(v, HostPlaceholder) > 1 {
		return false
	}
	co, ok := ResolveCheckout(v, "placeholder.invalid")
	if !ok {
		return false
	}
	if strings.Contains(v, HostPlaceholder) {
		u, err := url.Parse(co.Script)
		return err == nil && u.Hostname() == "placeholder.invalid"
	}
	return true
}

// Package http is the gateway's Fiber app: it routes every public contract
// path to its service through Dapr service invocation (never to a service
// port), checks what it can before spending a hop (path ids, JSON shape,
// body size), keeps the contract's error envelope on every answer, and
// serves GET /health over every service behind it.
package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	nethttp "net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/server"
	"github.com/finflow/finflow/platform/settings"
	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/gateway/api"
	"github.com/finflow/finflow/services/gateway/domain"
	"github.com/finflow/finflow/services/gateway/ratelimit"
)

// recordGrace is how long the gateway may take to record the outcome of a
// keyed request after it stopped waiting for the answer.
const recordGrace = 2 * time.Second

// Limiter counts requests per caller (package ratelimit, in Redis).
type Limiter interface {
	Allow(ctx context.Context, caller string, limit int64, window time.Duration) (ratelimit.Decision, error)
}

// ErrRateLimited is answered 429 with Retry-After.
var ErrRateLimited = apperr.New(apperr.KindRateLimited, apperr.CodeRateLimited, "too many requests; slow down")

// Invoker calls a service through the sidecar.
type Invoker interface {
	Invoke(ctx context.Context, appID, method, path string, body []byte, header nethttp.Header) (*sidecar.Response, error)
	Healthy(ctx context.Context) error
}

// Idempotency keeps the records of keyed requests (see package store).
type Idempotency interface {
	Begin(ctx context.Context, token string, rec domain.Record) error
	Get(ctx context.Context, token string) (rec domain.Record, etag string, found bool, err error)
	TakeOver(ctx context.Context, token string, rec domain.Record, etag string) error
	Finish(ctx context.Context, token string, rec domain.Record) error
	Abandon(ctx context.Context, token string) error
}

// Gateway serves the public API.
type Gateway struct {
	dapr     Invoker
	idem     Idempotency
	tokens   *domain.Tokens
	signer   *auth.Signer
	limiter  Limiter
	settings *settings.Settings
	log      *slog.Logger
	now      func() time.Time
}

// New returns a Gateway that reaches services through dapr, keeps
// idempotency records in idem, checks clients' tokens with tokens and
// vouches for them to the services with signer.
func New(dapr Invoker, idem Idempotency, tokens *domain.Tokens, signer *auth.Signer, limiter Limiter, s *settings.Settings, log *slog.Logger) *Gateway {
	return &Gateway{dapr: dapr, idem: idem, tokens: tokens, signer: signer, limiter: limiter, settings: s, log: log, now: time.Now}
}

// Limit counts a request the gateway serves itself, not a contract route
// (the ops console's), against the caller's budget, as limit does: an
// anonymous caller's by address, a user's or an admin's by identity.
func (g *Gateway) Limit(c *fiber.Ctx, ident auth.Identity) error {
	return g.limit(c, domain.Route{}, ident)
}

// limit counts the request against the caller's budget: a user's or an
// admin's by identity, anyone else's (and every failed login) by address,
// webhooks by address with their own budget. If Redis does not answer, the
// request is let through and the failure logged: the limiter protects
// capacity, it is not an authorisation.
func (g *Gateway) limit(c *fiber.Ctx, r domain.Route, ident auth.Identity) error {
	caller, key := "ip:"+c.IP(), domain.SettingRateAnonPerMinute
	switch {
	case r.Body == domain.BodyRaw:
		caller, key = "webhook:"+c.IP(), domain.SettingRateWebhookPerMinute
	case ident.Admin():
		caller, key = "admin:"+ident.Sub, domain.SettingRateAdminPerMinute
	case ident.Sub != "":
		caller, key = "user:"+ident.Sub, domain.SettingRateUserPerMinute
	}
	d, err := g.limiter.Allow(c.UserContext(), caller, g.settings.Get(key), time.Minute)
	if err != nil {
		server.Log(c, g.log).Warn("rate limiter unavailable; request let through", "err", err.Error())
		return nil
	}
	if d.Allowed {
		return nil
	}
	secs := int64(d.RetryAfter/time.Second) + 1
	c.Set(fiber.HeaderRetryAfter, strconv.FormatInt(secs, 10))
	return ErrRateLimited.With(fmt.Sprintf("too many requests; retry in %d s", secs), map[string]any{"retry_after_seconds": secs})
}

// Routes registers the public routes, GET /health and GET /openapi.json on
// app, and in dev mode POST /auth/dev-token. Every GET route answers HEAD
// too, exactly as GET without the body (as app.Get does for /health). The
// ops console is mounted beside them (package console/http), with the
// gateway's Limit and Readiness.
func (g *Gateway) Routes(app *fiber.App) {
	app.Use(answerHeaders)
	app.Get("/health", g.own(g.health))
	app.Get("/openapi.json", g.own(func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(api.OpenAPI)
	}))
	if g.tokens.DevMode() {
		app.Post(devTokenRoute.Path, g.admit(devTokenRoute, g.devToken))
	}
	// Before the routes whose :param would take them (Fiber matches in
	// the order registered).
	for _, sh := range domain.Shadows(domain.Routes) {
		h := methodNotAllowed(sh.Allow)
		app.Add(sh.Method, sh.Path, h)
		if sh.Method == fiber.MethodGet {
			app.Add(fiber.MethodHead, sh.Path, h)
		}
	}
	for _, r := range domain.Routes {
		h := g.forward(r)
		app.Add(r.Method, r.Path, h)
		if r.Method == fiber.MethodGet {
			// The service is asked with GET (r.Method); fasthttp leaves
			// the body out of the answer to a HEAD.
			app.Add(fiber.MethodHead, r.Path, h)
		}
	}
}

// answerHeaders gives every answer of the gateway, errors included, what a
// browser or a cache in between needs to treat it as private data: never
// stored (Cache-Control: no-store, unless the handler said otherwise, as
// the web app's files do), and never sniffed into another type
// (X-Content-Type-Options: nosniff). Balances, ledgers and payments pass
// through here.
func answerHeaders(c *fiber.Ctx) error {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	err := c.Next()
	if len(c.Response().Header.Peek(fiber.HeaderCacheControl)) == 0 {
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	return err
}

// own serves one of the gateway's own public GETs (GET /health, GET
// /openapi.json) with what every route that takes nothing gets: counted
// against the caller's budget by address (a /health fans out to six
// readiness probes, so unlimited it would be an amplifier), headers each
// at most once, no query parameter and no body (400).
func (g *Gateway) own(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := g.Limit(c, auth.Identity{}); err != nil {
			return err
		}
		// The checks of a contract route that takes nothing (no body, no
		// query, no parameter), without its hop.
		if _, err := g.prepare(c, domain.Route{}); err != nil {
			return err
		}
		return h(c)
	}
}

// methodNotAllowed answers a path that exists with other methods (allow)
// the way Fiber answers one that no route of the method could take: 405
// METHOD_NOT_ALLOWED with Allow.
func methodNotAllowed(allow []string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderAllow, strings.Join(allow, ", "))
		return fiber.ErrMethodNotAllowed
	}
}

// identityTTL bounds how long a forwarded identity is valid: one request.
const identityTTL = 60 * time.Second

// authenticate checks the caller's token (required except on public
// routes; on those a token, if sent, must still be valid), applies the
// gateway's own authorisation (admin-only routes, a user naming another
// user in the path), and returns the signed identity to forward ("" for an
// anonymous public request).
func (g *Gateway) authenticate(c *fiber.Ctx, r domain.Route, param string) (auth.Identity, string, error) {
	header := c.Get(fiber.HeaderAuthorization)
	if r.Body == domain.BodyRaw || (r.Public && header == "") {
		return auth.Identity{}, "", nil
	}
	ident, err := g.tokens.Verify(header, g.now())
	if err != nil {
		return auth.Identity{}, "", err
	}
	switch {
	case r.AdminOnly && !ident.Admin():
		return ident, "", auth.ErrForbidden.With("only an admin may do this", nil)
	case r.OwnParam && !ident.Admin() && param != ident.Sub:
		return ident, "", auth.ErrForbidden
	}
	signed, err := g.signer.Sign(ident, identityTTL, g.now())
	if err != nil {
		return auth.Identity{}, "", fmt.Errorf("signing the identity: %w", err)
	}
	return ident, signed, nil
}

// devTokenRoute is POST /auth/dev-token as the gateway's checks see it: a
// public route (a token, if sent, must be valid) with a JSON body and no
// query, so it is admitted as every contract route is.
var devTokenRoute = domain.Route{Method: fiber.MethodPost, Path: "/auth/dev-token", Body: domain.BodyJSON, Public: true}

type devTokenRequest struct {
	Sub  string `json:"sub"`
	Role string `json:"role"`
}

// devToken issues a token signed with the local dev key (dev mode only)
// for a body admit has checked. A valid Idempotency-Key is accepted, as on
// every POST; issuing a token changes nothing, so a repeat is simply
// issued another one.
func (g *Gateway) devToken(c *fiber.Ctx, req call, _ auth.Identity) error {
	var body devTokenRequest
	if err := server.Decode(req.body, &body); err != nil {
		return err
	}
	token, err := g.tokens.DevToken(body.Sub, body.Role, time.Hour, g.now())
	switch {
	case errors.Is(err, auth.ErrInvalidRole):
		return apperr.Invalid("role", "%v", err)
	case errors.Is(err, auth.ErrInvalidSub):
		return apperr.Invalid("sub", "%v", err)
	case err != nil:
		return err
	}
	return c.JSON(fiber.Map{"token": token, "token_type": "Bearer", "expires_in": 3600})
}

// forwardedHeaders are the request headers a service may need.
var forwardedHeaders = []string{
	fiber.HeaderContentType,
	"X-Razorpay-Signature",
	"X-Razorpay-Event-Id",
}

// call is a request ready to be sent to a service.
type call struct {
	path   string
	body   []byte
	header nethttp.Header
}

// admit returns the handler of route r: every request goes through the
// same steps, in this order. The caller is authenticated; the request is
// counted against the caller's budget, every request, including one that
// is then refused for its token or its input; a failed authentication or
// authorisation is answered; only then is the input checked (prepare), and
// serve runs with the checked request. So a caller without a valid token
// gets 401 on every non-public route whatever it sends (its input is not
// judged for it), and bad input spends the budget as good input does.
//
// A user naming another user's id in the path (OwnParam) is refused before
// the id is checked: a malformed id from a user is 403, not 404, which
// tells nothing; an admin's malformed id is still 404.
func (g *Gateway) admit(r domain.Route, serve func(c *fiber.Ctx, req call, ident auth.Identity) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ident, signed, authErr := g.authenticate(c, r, c.Params(r.Param))
		if err := g.limit(c, r, ident); err != nil {
			return err
		}
		if authErr != nil {
			return authErr
		}
		req, err := g.prepare(c, r)
		if err != nil {
			return err
		}
		if signed != "" {
			req.header.Set(auth.HeaderIdentity, signed)
		}
		return serve(c, req, ident)
	}
}

// forward returns the handler of contract route r: admitted, then sent to
// its service (through keyed when it carries an Idempotency-Key).
func (g *Gateway) forward(r domain.Route) fiber.Handler {
	return g.admit(r, func(c *fiber.Ctx, req call, ident auth.Identity) error {
		if key, sent := idempotencyKey(c); sent && r.Keyed() {
			return g.keyed(c, r, req, key, ident)
		}
		resp, err := g.invoke(c, r, req)
		if err != nil {
			return err
		}
		return g.relay(c, r, resp)
	})
}

// meaningfulHeaders are the request headers the contract gives a meaning;
// each may be sent at most once (two would leave it to chance which one
// is acted on).
var meaningfulHeaders = []string{
	fiber.HeaderAuthorization,
	domain.HeaderIdempotencyKey,
	"X-Razorpay-Signature",
	"X-Razorpay-Event-Id",
}

// idempotencyKey returns the request's Idempotency-Key and whether the
// header was sent at all: a key sent empty is still a key (and invalid),
// never the absence of one.
func idempotencyKey(c *fiber.Ctx) (string, bool) {
	values := c.Request().Header.PeekAll(domain.HeaderIdempotencyKey)
	if len(values) == 0 {
		return "", false
	}
	return string(values[0]), true
}

// checkHeaders refuses a meaningful header sent more than once.
func checkHeaders(c *fiber.Ctx) error {
	for _, h := range meaningfulHeaders {
		if n := len(c.Request().Header.PeekAll(h)); n > 1 {
			return apperr.Invalid(h, "%s was sent %d times; send it once", h, n)
		}
	}
	return nil
}

// checkQuery refuses query parameters the route does not take, any
// parameter sent twice, and any sent empty (`?status=`, a bare `?status`:
// a client whose variable was empty would otherwise get the unfiltered
// list; the OpenAPI description refuses empty values too). A name the
// route does not take is quoted back cut to printable ASCII, in the
// message and in details.field alike.
func checkQuery(c *fiber.Ctx, r domain.Route) error {
	var err error
	seen := map[string]bool{}
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
		key := string(k)
		switch {
		case err != nil:
		case !r.TakesQuery(key):
			shown := apperr.Printable(key, 64)
			err = apperr.Invalid(shown, "unknown query parameter %q", shown)
		case seen[key]:
			err = apperr.Invalid(key, "query parameter %q appears more than once", key)
		case len(v) == 0:
			err = apperr.Invalid(key, "query parameter %q is empty: leave it out, or give it a value", key)
		}
		seen[key] = true
	})
	return err
}

// prepare checks what the gateway can check without a hop (headers, the
// Idempotency-Key of a keyed route, path id, query, media type and JSON
// shape) and builds the request for the service from checked parts only.
func (g *Gateway) prepare(c *fiber.Ctx, r domain.Route) (call, error) {
	if err := checkHeaders(c); err != nil {
		return call{}, err
	}
	if key, sent := idempotencyKey(c); sent && r.Keyed() {
		if err := domain.ValidateKey(key); err != nil {
			return call{}, err
		}
	}
	param := ""
	if r.Param != "" {
		param = c.Params(r.Param)
		if err := r.CheckParam(param); err != nil {
			return call{}, err
		}
	}
	var body []byte
	switch r.Body {
	case domain.BodyNone:
		// What the contract does not take is not acted on: a body here is
		// refused whatever its Content-Type (the raw bytes, before any
		// Content-Encoding is undone: a compressed empty body is a body).
		if len(c.Request().Body()) > 0 {
			return call{}, apperr.Invalid("body", "this route takes no body")
		}
	case domain.BodyJSON:
		if err := server.CheckJSONMediaType(c.Get(fiber.HeaderContentType), c.Get(fiber.HeaderContentEncoding)); err != nil {
			return call{}, err
		}
		body = c.Body()
		if err := server.CheckJSONObject(body); err != nil {
			return call{}, err
		}
	case domain.BodyRaw:
		body = c.Body()
	}
	path := r.TargetPath(param)
	if r.Body != domain.BodyRaw {
		// The webhook's URL is the merchant's to choose; its query is not
		// FinFlow's and is not passed on.
		if err := checkQuery(c, r); err != nil {
			return call{}, err
		}
		if q := c.Request().URI().QueryString(); len(q) > 0 {
			path += "?" + string(q)
		}
	}
	hdr := nethttp.Header{server.HeaderRequestID: {server.RequestID(c)}}
	for _, h := range forwardedHeaders {
		if v := c.Get(h); v != "" {
			hdr.Set(h, v)
		}
	}
	if r.Body == domain.BodyJSON {
		hdr.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	}
	return call{path: path, body: body, header: hdr}, nil
}

// invoke sends the request to the route's service through the sidecar. A
// failure to get an answer is 503 UNAVAILABLE naming the service: "not
// answering" when the request certainly never reached it (or reads
// nothing), and, for a request that may change state (POST, PUT, PATCH,
// DELETE) sent without getting its answer back (a timeout, a connection
// broken off, an answer that is not one), an unknown outcome
// (unknownOutcome): it may well have been carried out.
func (g *Gateway) invoke(c *fiber.Ctx, r domain.Route, req call) (*sidecar.Response, error) {
	ctx, cancel := context.WithTimeout(c.UserContext(), time.Duration(g.settings.Get(domain.SettingInvokeTimeoutMS))*time.Millisecond)
	defer cancel()
	resp, err := g.dapr.Invoke(ctx, r.App, r.Method, req.path, req.body, req.header)
	if err != nil {
		if r.Writes() && !notSent(err) {
			return nil, unknownOutcome(c, r.App, err)
		}
		e := apperr.Unavailable(fmt.Sprintf("the %s service is not answering; try again shortly", r.App), err)
		e.Details = map[string]any{contract.DetailService: r.App}
		return nil, e
	}
	if !json.Valid(resp.Body) {
		// Every FinFlow answer is JSON. Anything else (an empty 200 seen
		// once while a service was restarting) is not an answer: the
		// outcome is unknown, so the client is told to retry, and a keyed
		// retry runs again, de-duplicated by the service.
		server.Log(c, g.log).Error("service answered something that is not JSON",
			"target", r.App, "status", resp.Status, "content_type", resp.Header.Get(fiber.HeaderContentType),
			"body_bytes", len(resp.Body), "body", truncate(resp.Body, 200))
		if r.Writes() {
			return nil, unknownOutcome(c, r.App, nil)
		}
		e := apperr.Unavailable(fmt.Sprintf("the %s service gave no valid answer; try again shortly", r.App), nil)
		e.Details = map[string]any{contract.DetailService: r.App}
		return nil, e
	}
	return resp, nil
}

// notSent reports whether a failed invocation certainly never reached the
// service, as the sidecar's error tells (sidecar.NotSent: the target could
// not be dialled or resolved, its app refused the connection). Anything
// else (a deadline, a broken connection, a failure the gateway cannot
// read) may have reached it.
func notSent(err error) bool {
	var ie *sidecar.InvokeError
	return errors.As(err, &ie) && sidecar.NotSent(ie.DaprCode, ie.Message)
}

// unknownOutcome is the answer to a request that may change state and was
// sent to app without its answer coming back: 503 UNAVAILABLE (the
// contract's status for it, with Retry-After), saying that the request may
// have been carried out, with details {"service": app, "outcome":
// "unknown"}. A request with an Idempotency-Key is safe to send again with
// the same key (the services derive what they create from it); one
// without is not, so its client is told to read first.
func unknownOutcome(c *fiber.Ctx, app string, cause error) *apperr.Error {
	msg := fmt.Sprintf("the %s service did not answer after the request reached it: it may have been carried out. ", app)
	if _, keyed := idempotencyKey(c); keyed {
		msg += "Send it again with the same Idempotency-Key (it is never carried out twice), or read the resource to see whether it was"
	} else {
		msg += "Read the resource to see whether it was before sending it again (with an Idempotency-Key, a retry is never carried out twice)"
	}
	e := apperr.Unavailable(msg, cause)
	e.Details = map[string]any{contract.DetailService: app, "outcome": "unknown"}
	return e
}

// scope is the caller a key belongs to: keys of different callers never
// meet. A user or an admin is scoped by identity; an anonymous caller (a
// sign-up without a token) by address, c.IP(), the identity the rate
// limiter counts it by, so two anonymous clients sending the same key
// never see each other's answers.
func scope(c *fiber.Ctx, ident auth.Identity) string {
	if ident.Sub == "" {
		return "ip:" + c.IP()
	}
	return ident.Role + ":" + ident.Sub
}

// keyed runs a request that carries an Idempotency-Key with the contract's
// semantics: the first answer is kept 24 hours and replayed to a repeat of
// the same request (with Idempotent-Replayed: true); the same key with a
// different request is 422 IDEMPOTENCY_KEY_REUSED, and while the first is
// still running 409 IDEMPOTENCY_KEY_IN_USE. The services also get a token
// of the key and derive the ids they create from it, so a request whose
// answer was lost (no record kept) is de-duplicated by them when retried.
// The key was checked by prepare.
func (g *Gateway) keyed(c *fiber.Ctx, r domain.Route, req call, key string, ident auth.Identity) error {
	ctx := c.UserContext()
	token := domain.Token(scope(c, ident), key)
	fp := domain.Fingerprint(r.Method, req.path, req.body)
	req.header.Set(id.HeaderIdempotencyToken, token)
	now := g.now().UTC()
	// The record is in flight until the gateway stops waiting for the
	// answer (the invoke timeout), plus time to record the outcome; after
	// that a retry may take it over.
	invokeTimeout := time.Duration(g.settings.Get(domain.SettingInvokeTimeoutMS)) * time.Millisecond
	started := domain.Record{Fingerprint: fp, StartedAt: now, Deadline: now.Add(invokeTimeout + recordGrace)}

	err := g.idem.Begin(ctx, token, started)
	if errors.Is(err, domain.ErrRecordExists) {
		prev, etag, found, err := g.idem.Get(ctx, token)
		if err != nil {
			return err
		}
		if !found {
			// Abandoned or expired just now: a concurrent request took it.
			return g.keyInUse(c, time.Time{})
		}
		decision, err := domain.Decide(prev, fp, g.now())
		if errors.Is(err, domain.ErrKeyInUse) {
			return g.keyInUse(c, prev.Deadline)
		} else if err != nil {
			return err
		}
		if decision == domain.Replay {
			c.Set(domain.HeaderReplayed, "true")
			if prev.ContentType != "" {
				c.Set(fiber.HeaderContentType, prev.ContentType)
			}
			return c.Status(prev.Status).Send(prev.Body)
		}
		if err := g.idem.TakeOver(ctx, token, started, etag); err != nil {
			if errors.Is(err, sidecar.ErrETagMismatch) {
				return g.keyInUse(c, time.Time{})
			}
			return err
		}
		server.Log(c, g.log).Warn("taking over an idempotent request past its deadline", "started_at", prev.StartedAt, "deadline", prev.Deadline)
	} else if err != nil {
		return err
	}

	resp, err := g.invoke(c, r, req)
	if err != nil || !domain.Kept(resp.Status, errorCode(resp)) {
		// No answer, a failure, a refused request that changed nothing, or
		// the key another request's: keep no record, so a retry runs again
		// (de-duplicated downstream).
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordGrace)
		if aerr := g.idem.Abandon(actx, token); aerr != nil {
			server.Log(c, g.log).Warn("dropping an idempotency record", "err", aerr.Error())
		}
		cancel()
		if err != nil {
			return err
		}
		return g.relay(c, r, resp)
	}
	done := started
	done.Done, done.Status, done.ContentType, done.Body = true, resp.Status, resp.Header.Get(fiber.HeaderContentType), resp.Body
	if err := g.idem.Finish(ctx, token, done); err != nil {
		// The answer still goes out; a retry would run again and be
		// de-duplicated by the service.
		server.Log(c, g.log).Warn("recording an idempotent answer", "err", err.Error())
	}
	return g.relay(c, r, resp)
}

// keyInUse answers 409 IDEMPOTENCY_KEY_IN_USE with Retry-After: the
// seconds until the first request's record may be taken over (its
// deadline, rounded up), or 1 when another request has just taken the
// record (deadline zero). The deadline also covers a first attempt whose
// record the gateway could not drop after a failure (a 503 answered while
// the store was down): a retry is told when it can run again rather than
// retrying blindly.
func (g *Gateway) keyInUse(c *fiber.Ctx, deadline time.Time) error {
	secs := int64(1)
	if left := deadline.Sub(g.now()); left > 0 {
		secs = int64((left + time.Second - 1) / time.Second)
	}
	c.Set(fiber.HeaderRetryAfter, strconv.FormatInt(secs, 10))
	return domain.ErrKeyInUse.With(fmt.Sprintf("a request with this Idempotency-Key is still being processed, or its outcome is being recorded; retry in %d s with the same key", secs),
		map[string]any{"retry_after_seconds": secs})
}

// relay copies a service's answer to the client, keeping the contract's
// envelope even if a service (or something between) answered an error
// without it.
func (g *Gateway) relay(c *fiber.Ctx, r domain.Route, resp *sidecar.Response) error {
	app := r.App
	if resp.Status >= 400 && !isEnvelope(resp.Body) {
		server.Log(c, g.log).Error("service answered an error without the contract's envelope",
			"service", app, "status", resp.Status, "body", truncate(resp.Body, 200))
		if resp.Status >= 500 && r.Writes() {
			// Not the service's own answer (its errors have the envelope):
			// something between lost it, and the request may have been
			// carried out.
			return unknownOutcome(c, app, nil)
		}
		if resp.Status >= 500 {
			return apperr.Unavailable(fmt.Sprintf("the %s service failed; try again shortly", app), nil)
		}
		return apperr.New(apperr.KindForStatus(resp.Status), "UPSTREAM_ERROR", fmt.Sprintf("the %s service refused the request", app))
	}
	if ct := resp.Header.Get(fiber.HeaderContentType); ct != "" {
		c.Set(fiber.HeaderContentType, ct)
	}
	for _, h := range []string{fiber.HeaderRetryAfter, "Idempotent-Replayed", fiber.HeaderLocation} {
		if v := resp.Header.Get(h); v != "" {
			c.Set(h, v)
		}
	}
	return c.Status(resp.Status).Send(resp.Body)
}

// errorCode is the contract's error code of a service's 409 or 422 answer
// ("" for any other answer, or one without the envelope).
func errorCode(resp *sidecar.Response) string {
	if resp.Status != fiber.StatusConflict && resp.Status != fiber.StatusUnprocessableEntity {
		return ""
	}
	var b apperr.Body
	if json.Unmarshal(resp.Body, &b) != nil {
		return ""
	}
	return b.Error.Code
}

func isEnvelope(body []byte) bool {
	var b apperr.Body
	return json.Unmarshal(body, &b) == nil && b.Error.Code != ""
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

type healthResponse struct {
	Status   string            `json:"status"`
	Services map[string]string `json:"services"`
	Error    *apperr.BodyError `json:"error,omitempty"`
}

// health asks every service's readiness probe through Dapr (so it checks
// sidecar, the sidecar-to-sidecar path, the app and its state store) and
// the gateway's own sidecar, all at once, within the health timeout.
func (g *Gateway) health(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), time.Duration(g.settings.Get(domain.SettingHealthTimeoutMS))*time.Millisecond)
	defer cancel()
	results := g.Readiness(ctx, server.RequestID(c))

	// Anyone may ask: the answer says which services are down, and the
	// reasons (addresses, ports, errors of the sidecars) go to the log and
	// the ops console only.
	var failing []string
	for name, state := range results {
		if state != "ok" {
			failing = append(failing, name)
			server.Log(c, g.log).Warn("service not ready", "service", name, "reason", state)
			results[name] = "unavailable"
		}
	}
	if len(failing) == 0 {
		return c.JSON(healthResponse{Status: "ok", Services: results})
	}
	sort.Strings(failing)
	c.Set(fiber.HeaderRetryAfter, "5")
	return c.Status(fiber.StatusServiceUnavailable).JSON(healthResponse{
		Status:   "unavailable",
		Services: results,
		Error: &apperr.BodyError{
			Code:    apperr.CodeUnavailable,
			Message: "not answering: " + strings.Join(failing, ", "),
			Details: map[string]any{"failing": failing},
		},
	})
}

// probeResend bounds a readiness probe's resends of a call that never
// left: enough for the one resend that gets past daprd 1.14's empty first
// lookup of an app id (sidecar.NotSent), which made the first GET /health
// after a start report a service down; short enough that a peer whose
// sidecar is down is reported at once.
const probeResend = 300 * time.Millisecond

// Readiness asks the gateway's own sidecar and every backend's /readyz, all
// at once, and returns "ok" or "unavailable: <why>" per service (GET
// /health and the ops console).
func (g *Gateway) Readiness(ctx context.Context, rid string) map[string]string {
	results := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	record := func(name string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			results[name] = "unavailable: " + err.Error()
			return
		}
		results[name] = "ok"
	}
	wg.Add(1)
	go func() { defer wg.Done(); record("gateway", g.dapr.Healthy(ctx)) }()
	for _, app := range domain.Backends {
		wg.Add(1)
		go func(app string) {
			defer wg.Done()
			// A probe reports what it finds: a call that could not go out
			// (a peer's sidecar down or just restarted) is sent again only
			// within probeResend.
			resp, err := g.dapr.Invoke(sidecar.ResendFor(ctx, probeResend), app, "GET", "/readyz", nil, nethttp.Header{server.HeaderRequestID: {rid}})
			if err == nil && resp.Status != 200 {
				err = fmt.Errorf("readiness answered %d", resp.Status)
			}
			record(app, err)
		}(app)
	}
	wg.Wait()
	return results
}

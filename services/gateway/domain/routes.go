// Package domain holds the gateway's routing rules: which public path goes
// to which service, which internal paths stay hidden, and how path ids are
// checked before a request spends a hop.
package domain

import (
	"fmt"
	"slices"
	"strings"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
)

// BodyKind says what a route's request body is.
type BodyKind int

// Body kinds.
const (
	BodyNone BodyKind = iota // no body: a non-empty one is refused (400 VALIDATION_FAILED on body)
	BodyJSON                 // a JSON object, checked at the gateway
	BodyRaw                  // passed on byte for byte (webhooks: the signature covers the raw body)
)

// Route is one public route of the contract.
type Route struct {
	Method string
	// Path is the Fiber pattern, for example /users/:id.
	Path string
	// App is the Dapr app id of the service that serves it.
	App string
	// Target, when set, is the service's path (otherwise Path), with the
	// same :Param. (A service path with the id at its end lets the callee's
	// access policy name it: Dapr 1.14's policies match "*" only as the last
	// segment, and a rule for a path hides the rules for paths below it.)
	Target string
	// Param names the path parameter that holds an id, "" if none.
	Param string
	// Prefix is the id prefix Param must carry.
	Prefix string
	// NotFound is the error for a malformed id: an id that cannot exist is
	// simply not found.
	NotFound *apperr.Error
	Body     BodyKind
	// Public routes need no token (sign-up, the webhook). AdminOnly routes
	// refuse users. OwnParam means the path parameter is a user id, and a
	// user may only name themselves (the service checks again).
	Public    bool
	AdminOnly bool
	OwnParam  bool
	// Query lists the query parameters the route takes; any other is
	// refused (VALIDATION_FAILED naming it).
	Query []string
}

// TakesQuery reports whether the route takes query parameter name.
func (r Route) TakesQuery(name string) bool {
	for _, q := range r.Query {
		if q == name {
			return true
		}
	}
	return false
}

// paging is the query of a listing: ?limit=&cursor=.
var paging = []string{"limit", "cursor"}

// Not-found errors for malformed ids, with the services' own codes.
var (
	ErrUserNotFound    = contract.ErrUserNotFound
	ErrWalletNotFound  = contract.ErrWalletNotFound
	ErrBillNotFound    = contract.ErrBillNotFound
	ErrPaymentNotFound = contract.ErrPaymentNotFound
	ErrTopUpNotFound   = contract.ErrTopUpNotFound
	// ErrSubscriptionNotFound is the billing service's code for it.
	ErrSubscriptionNotFound = contract.ErrSubscriptionNotFound
)

// Routes is the public API, exactly as the contract lists it. Anything else,
// and in particular the internal routes (POST /wallet/deduct,
// PUT /billing/updateStatus, POST /Payment/confirm,
// POST /razorpay/create-order), is not routed: 404 ROUTE_NOT_FOUND.
var Routes = []Route{
	{Method: "POST", Path: "/users/create", App: contract.AppUser, Body: BodyJSON, Public: true},
	{Method: "GET", Path: "/users/all", App: contract.AppUser, AdminOnly: true, Query: paging},
	{Method: "GET", Path: "/users/:id", App: contract.AppUser, Param: "id", Prefix: id.User, NotFound: ErrUserNotFound, OwnParam: true},

	{Method: "POST", Path: "/wallet/create/:userId", App: contract.AppWallet, Param: "userId", Prefix: id.User, NotFound: ErrUserNotFound, OwnParam: true},
	{Method: "GET", Path: "/wallet/balance/:userId", App: contract.AppWallet, Param: "userId", Prefix: id.User, NotFound: ErrWalletNotFound, OwnParam: true},
	{Method: "POST", Path: "/wallet/add", App: contract.AppWallet, Body: BodyJSON, AdminOnly: true},
	{Method: "GET", Path: "/wallet/transactions/:userId", App: contract.AppWallet, Param: "userId", Prefix: id.User, NotFound: ErrWalletNotFound, OwnParam: true, Query: paging},

	{Method: "POST", Path: "/billing/create", App: contract.AppBilling, Body: BodyJSON},
	{Method: "GET", Path: "/billing/:billId", App: contract.AppBilling, Param: "billId", Prefix: id.Bill, NotFound: ErrBillNotFound},
	// A user's bills and subscriptions, and subscriptions (admins make them).
	{Method: "GET", Path: "/billing/user/:userId", App: contract.AppBilling, Target: "/bills/of/:userId", Param: "userId", Prefix: id.User, NotFound: ErrUserNotFound, OwnParam: true, Query: []string{"status", "limit", "cursor"}},
	{Method: "GET", Path: "/billing/user/:userId/subscriptions", App: contract.AppBilling, Target: "/subscriptions/of/:userId", Param: "userId", Prefix: id.User, NotFound: ErrUserNotFound, OwnParam: true, Query: paging},
	{Method: "POST", Path: "/billing/subscriptions", App: contract.AppBilling, Target: "/subscriptions/create", Body: BodyJSON, AdminOnly: true},
	{Method: "GET", Path: "/billing/subscriptions/:subscriptionId", App: contract.AppBilling, Target: "/subscriptions/one/:subscriptionId", Param: "subscriptionId", Prefix: id.Subscription, NotFound: ErrSubscriptionNotFound},
	{Method: "POST", Path: "/billing/subscriptions/:subscriptionId/cancel", App: contract.AppBilling, Target: "/subscriptions/cancel/:subscriptionId", Param: "subscriptionId", Prefix: id.Subscription, NotFound: ErrSubscriptionNotFound},

	{Method: "POST", Path: "/Payment/pay", App: contract.AppPayment, Body: BodyJSON},
	{Method: "POST", Path: "/Payment/rozarpay", App: contract.AppPayment, Body: BodyJSON},
	{Method: "GET", Path: "/Payment/:paymentId", App: contract.AppPayment, Param: "paymentId", Prefix: id.Payment, NotFound: ErrPaymentNotFound},
	{Method: "GET", Path: "/Payment/user/:userId", App: contract.AppPayment, Target: "/payments/of/:userId", Param: "userId", Prefix: id.User, NotFound: ErrUserNotFound, OwnParam: true, Query: []string{"status", "method", "limit", "cursor"}},
	{Method: "POST", Path: "/Payment/:paymentId/refund", App: contract.AppPayment, Target: "/refunds/of/:paymentId", Param: "paymentId", Prefix: id.Payment, NotFound: ErrPaymentNotFound, Body: BodyJSON, AdminOnly: true},
	{Method: "GET", Path: "/Payment/:paymentId/refunds", App: contract.AppPayment, Target: "/refunds/of/:paymentId", Param: "paymentId", Prefix: id.Payment, NotFound: ErrPaymentNotFound, Query: paging},

	// Wallet top-ups through Razorpay: the payment service runs them.
	{Method: "POST", Path: "/wallet/topup", App: contract.AppPayment, Target: "/topups/create", Body: BodyJSON},
	{Method: "GET", Path: "/wallet/topup/:topupId", App: contract.AppPayment, Target: "/topups/one/:topupId", Param: "topupId", Prefix: id.TopUp, NotFound: ErrTopUpNotFound},
	{Method: "GET", Path: "/wallet/user/:userId/topups", App: contract.AppPayment, Target: "/topups/of/:userId", Param: "userId", Prefix: id.User, NotFound: ErrUserNotFound, OwnParam: true, Query: []string{"status", "limit", "cursor"}},

	{Method: "POST", Path: "/razorpay/webhook", App: contract.AppRazorpay, Body: BodyRaw, Public: true},

	// Operators: the Razorpay results the payment service refused.
	{Method: "GET", Path: "/admin/dead-letters", App: contract.AppPayment, Target: "/Payment/dead-letters", AdminOnly: true},
}

// Backends are the services behind the gateway, in the order GET /health
// reports them.
var Backends = []string{contract.AppUser, contract.AppWallet, contract.AppBilling, contract.AppPayment, contract.AppRazorpay}

// Keyed reports whether the route honours Idempotency-Key: every POST and
// PUT except the webhook, which Razorpay de-duplicates by event id.
func (r Route) Keyed() bool {
	return (r.Method == "POST" || r.Method == "PUT") && r.Body != BodyRaw
}

// Writes reports whether the route's request may change state (every
// method but GET and HEAD): one whose answer is lost has an unknown
// outcome, where a lost read has none.
func (r Route) Writes() bool {
	return r.Method != "GET" && r.Method != "HEAD"
}

// Target returns the path to invoke on the service for route r, built from
// the pattern and the already checked parameter value, never from the raw
// request path.
func (r Route) TargetPath(param string) string {
	path := r.Path
	if r.Target != "" {
		path = r.Target
	}
	if r.Param == "" {
		return path
	}
	return strings.Replace(path, ":"+r.Param, param, 1)
}

// CheckParam returns r.NotFound when param is not a well-formed id of the
// route's kind. An id of another kind (a top-up's top_ id on a /Payment/
// route, a bill's on /Payment/{paymentId}) names no resource of the route's
// kind either, so it is the same 404 with the same code, but its message
// says what the id is instead and where it is read; a top-up on the refund
// route is told that only a bill's payment can be refunded.
func (r Route) CheckParam(param string) error {
	if r.Param == "" || id.Valid(r.Prefix, param) {
		return nil
	}
	for _, other := range id.Prefixes {
		if other != r.Prefix && id.Valid(other, param) {
			return r.NotFound.With(r.otherKind(other, param), nil)
		}
	}
	return r.NotFound
}

// kinds names what each id prefix identifies, for messages.
var kinds = map[string]string{
	id.User:         "user",
	id.Bill:         "bill",
	id.Payment:      "payment",
	id.Transaction:  "wallet transaction",
	id.TopUp:        "wallet top-up",
	id.Refund:       "refund",
	id.Subscription: "subscription",
}

// readers is where an id of each kind is read (GET, the id appended);
// a kind without one (a wallet transaction, a refund) is read through
// what it belongs to.
var readers = map[string]string{
	id.User:         "/users/",
	id.Bill:         "/billing/",
	id.Payment:      "/Payment/",
	id.TopUp:        "/wallet/topup/",
	id.Subscription: "/billing/subscriptions/",
}

// otherKind is the message for param, a well-formed id of kind other, on
// route r, which takes an id of r.Prefix.
func (r Route) otherKind(other, param string) string {
	msg := fmt.Sprintf("%s is a %s, not a %s", param, kinds[other], kinds[r.Prefix])
	if other == id.TopUp && r.Prefix == id.Payment && r.Method == "POST" && strings.HasSuffix(r.Path, "/refund") {
		msg += ": a wallet top-up cannot be refunded, only a bill's payment can"
	}
	switch reader, ok := readers[other]; {
	case ok:
		msg += fmt.Sprintf(" (read it at GET %s%s)", reader, param)
	case other == id.Refund:
		msg += " (a refund is read with its payment's, at GET /Payment/{paymentId}/refunds)"
	case other == id.Transaction:
		msg += " (a wallet transaction is read in its wallet's ledger, at GET /wallet/transactions/{userId})"
	}
	return msg
}

// Shadow is a literal path of the contract that a route of another method
// would take for one of its own (GET /billing/create is GET
// /billing/{billId} with the id "create"): it is answered 405 with the
// path's own methods in Allow, as a path that exists with another method
// is, not as an unknown id.
type Shadow struct {
	Method string
	Path   string
	Allow  []string // the methods Path has, as routed
}

// Shadows returns every Shadow of routes, in their order.
func Shadows(routes []Route) []Shadow {
	methods := map[string][]string{} // a literal path's own methods
	var paths []string
	for _, r := range routes {
		if strings.Contains(r.Path, ":") {
			continue
		}
		if _, seen := methods[r.Path]; !seen {
			paths = append(paths, r.Path)
		}
		methods[r.Path] = append(methods[r.Path], r.Method)
	}
	var out []Shadow
	for _, p := range paths {
		taken := map[string]bool{}
		for _, r := range routes {
			if slices.Contains(methods[p], r.Method) || taken[r.Method] || !patternMatches(r.Path, p) {
				continue
			}
			taken[r.Method] = true
			out = append(out, Shadow{Method: r.Method, Path: p, Allow: methods[p]})
		}
	}
	return out
}

// patternMatches reports whether the route pattern (literal segments and
// :params) matches the literal path.
func patternMatches(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if !strings.HasPrefix(ps[i], ":") && ps[i] != xs[i] {
			return false
		}
	}
	return true
}

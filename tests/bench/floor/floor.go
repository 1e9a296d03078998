// Package floor describes the benchmark's floor: a plan of the sidecar hops
// and state round trips one FinFlow request makes, per request kind and
// app, measured on FinFlow from its sidecars' metrics and replayed by
// floorapp with handlers that do nothing else.
package floor

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// PlanEnv is the environment variable that carries the plan (JSON) to the
// floor apps.
const PlanEnv = "FINFLOW_FLOOR_PLAN"

// Headers that carry a request's kind to the apps behind the gateway, and
// whether this call is the first to that app for the request (the one that
// does the app's share of the plan).
const (
	HeaderKind  = "X-Floor-Kind"
	HeaderFirst = "X-Floor-First"
)

// Step is one app's share of a request: its state round trips on its own
// store, direct Redis commands (the gateway's rate limiter), and the apps
// it invokes, in order (an app appears once per invocation).
type Step struct {
	Gets    int      `json:"gets"`
	Sets    int      `json:"sets"`
	Deletes int      `json:"deletes"`
	Redis   int      `json:"redis,omitempty"`
	Calls   []string `json:"calls,omitempty"`
	// Reply is the size in bytes of the answer the app sends back through
	// the sidecars when it is the route's app (the client's answer: a
	// payment, a page of 20 bills); 0 for a small one.
	Reply int `json:"reply,omitempty"`
	// BulkKeys, when above 0, makes one of the step's Gets a bulk read of
	// that many keys: a page of listed records. Dapr 1.14's Redis store
	// has no bulk read of its own, so the sidecar reads each key with its
	// own Redis command, and a bulk read costs about as many key reads as
	// it has keys, all within one state round trip.
	BulkKeys int `json:"bulk_keys,omitempty"`
}

// StateOps is the step's number of state round trips.
func (s Step) StateOps() int { return s.Gets + s.Sets + s.Deletes }

// Plan maps a request kind to each app's step.
type Plan map[string]map[string]Step

// Step returns app's step for kind (zero when it has none).
func (p Plan) Step(kind, app string) Step { return p[kind][app] }

// Totals returns the request kind's invocations and state round trips over
// every app.
func (p Plan) Totals(kind string) (hops, stateOps int) {
	for _, s := range p[kind] {
		hops += len(s.Calls)
		stateOps += s.StateOps()
	}
	return hops, stateOps
}

// Describe renders kind's plan in one line, apps in name order:
// "gateway: 3 state, 1 redis, -> payment; payment: ...".
func (p Plan) Describe(kind string) string {
	apps := make([]string, 0, len(p[kind]))
	for app := range p[kind] {
		apps = append(apps, app)
	}
	sort.Strings(apps)
	var parts []string
	for _, app := range apps {
		s := p[kind][app]
		d := fmt.Sprintf("%s: %dG %dS %dD", app, s.Gets, s.Sets, s.Deletes)
		if s.Redis > 0 {
			d += fmt.Sprintf(" +%d redis", s.Redis)
		}
		if s.BulkKeys > 0 {
			d += fmt.Sprintf(" (one G a bulk read of %d keys)", s.BulkKeys)
		}
		if s.Reply > 0 {
			d += fmt.Sprintf(" (answers %d B)", s.Reply)
		}
		if len(s.Calls) > 0 {
			d += " -> " + strings.Join(s.Calls, ", ")
		}
		parts = append(parts, d)
	}
	return strings.Join(parts, "; ")
}

// ParsePlan decodes a plan; an empty string is an empty plan.
func ParsePlan(raw string) (Plan, error) {
	p := Plan{}
	if strings.TrimSpace(raw) == "" {
		return p, nil
	}
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return nil, fmt.Errorf("%s: %w", PlanEnv, err)
	}
	return p, nil
}

// Encode returns the plan as JSON for PlanEnv.
func (p Plan) Encode() string {
	raw, _ := json.Marshal(p)
	return string(raw)
}

// Route is a public route the floor gateway serves, as FinFlow's does.
type Route struct {
	Kind   string
	Method string
	Path   string // Fiber pattern
	App    string // the app it invokes
}

// Target is the path invoked on the route's app.
func (r Route) Target(id string) string {
	switch r.Kind {
	case KindPay:
		return "/Payment/pay"
	case KindBalance:
		return "/wallet/balance/" + id
	case KindBills:
		return "/bills/of/" + id
	case KindPayments:
		return "/payments/of/" + id
	default:
		return "/Payment/" + id
	}
}

// Request kinds the benchmark measures: a wallet payment, reads of a
// balance and of a payment's status, and a customer's listings (the first
// page of their bills, of their payments).
const (
	KindPay      = "pay"
	KindBalance  = "balance"
	KindStatus   = "status"
	KindBills    = "bills"
	KindPayments = "payments"
)

// Kinds are every request kind, in the report's order.
var Kinds = []string{KindPay, KindBalance, KindStatus, KindBills, KindPayments}

// Routes are the floor gateway's public routes.
var Routes = []Route{
	{KindPay, http.MethodPost, "/Payment/pay", "payment"},
	{KindBalance, http.MethodGet, "/wallet/balance/:id", "wallet"},
	{KindBills, http.MethodGet, "/billing/user/:id", "billing"},
	{KindPayments, http.MethodGet, "/Payment/user/:id", "payment"},
	{KindStatus, http.MethodGet, "/Payment/:id", "payment"},
}

// RouteApp is the app a request of kind enters through (the one that
// answers the client), "" for an unknown kind.
func RouteApp(kind string) string {
	for _, r := range Routes {
		if r.Kind == kind {
			return r.App
		}
	}
	return ""
}

// MinimumPay is the minimum-hop wallet payment of docs/minimum-hop.md as a
// floor plan: the fewest invocations and state round trips a correct
// wallet payment needs in this architecture, each app's share done by a
// handler that does nothing else.
//
//	gateway  the idempotency record (insert) and its answer (write); the
//	         rate limiter's one Redis command; -> payment
//	payment  the user's list append and the payment record with its claim
//	         (one transaction), the final record (a write from the copy it
//	         wrote); -> billing (read the bill), wallet (debit),
//	         billing (mark PAID)
//	billing  the bill read, then PAID written from that copy
//	wallet   the debit written from the copy of the wallet document
//
// The pending index costs a fraction of a write per payment under load
// (group commit) and is left out.
var MinimumPay = map[string]Step{
	"gateway": {Sets: 2, Redis: 1, Calls: []string{"payment"}},
	"payment": {Sets: 3, Calls: []string{"billing", "wallet", "billing"}},
	"billing": {Gets: 1, Sets: 1},
	"wallet":  {Sets: 1},
}

// CallPath is the route the floor invokes for the n-th call (from 0) of a
// request to app dst: routes FinFlow's payment service calls, which the
// access policies allow.
func CallPath(dst string, n int) (method, path string) {
	switch dst {
	case "wallet":
		return http.MethodPost, "/wallet/deduct"
	case "billing":
		if n == 0 {
			return http.MethodGet, "/billing/bill_floor"
		}
		return http.MethodPut, "/billing/updateStatus"
	default:
		return http.MethodGet, "/readyz"
	}
}

// Header returns the headers of a floor call.
func Header(kind string, first bool) http.Header {
	f := "0"
	if first {
		f = "1"
	}
	return http.Header{HeaderKind: {kind}, HeaderFirst: {f}, "Content-Type": {"application/json"}}
}

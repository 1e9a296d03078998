package harness

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	gatewaydomain "github.com/finflow/finflow/services/gateway/domain"
)

// ForgetIdempotencyKey deletes the gateway's record of an Idempotency-Key
// sent with the bearer token bearer (a token of Env.Token, or AdminToken),
// as the gateway drops it when its answer to the first request was a 503
// (a service slow or paused): the next request with the key reaches the
// service, which has only the key's token (X-Idempotency-Token) to tell a
// retry from another request. It fails the test when the gateway holds no
// record of the key and never held one at that address, so a test never
// believes it reached the service when the gateway answered (the scope rule
// below would no longer be the gateway's). A key whose record was deleted
// here before may hold none: the gateway keeps no record of an answer that
// is not the key's own (a 5xx, a 400, the service's IDEMPOTENCY_KEY_REUSED).
func (e *Env) ForgetIdempotencyKey(tb testing.TB, bearer, key string) {
	tb.Helper()
	sub, role := tokenIdentity(tb, bearer)
	// The gateway scopes a key by its caller's identity (role:sub).
	token := gatewaydomain.Token(role+":"+sub, key)
	// The gateway's state store keeps its keys as "gateway||<key>"
	// (keyPrefix appid): idem/<token> and idem/<token>/answer.
	record := "gateway||idem/" + token
	var n int64
	var err error
	if e.backends != nil {
		// PROFILE=postgres: the gateway's state is its table in the suite's
		// database.
		n, err = e.backends.deleteState(context.Background(), "gateway_state", record, record+"/answer")
	} else {
		n, err = e.rdb.Del(context.Background(), record, record+"/answer").Result()
	}
	if err != nil {
		tb.Fatalf("deleting the gateway's record of Idempotency-Key %q: %v", key, err)
	}
	if _, before := forgotten.Load(record); n == 0 && !before {
		tb.Fatalf("the gateway holds no record of Idempotency-Key %q for %s:%s (at %s)", key, role, sub, record)
	}
	forgotten.Store(record, true)
}

// forgotten holds the addresses of the gateway's records that
// ForgetIdempotencyKey found and deleted: the address is the gateway's.
var forgotten sync.Map

// tokenIdentity reads the sub and role claims of a bearer token (the
// harness's own dev tokens: their signature is not its concern).
func tokenIdentity(tb testing.TB, bearer string) (sub, role string) {
	tb.Helper()
	parts := strings.Split(bearer, ".")
	if len(parts) != 3 {
		tb.Fatalf("bearer token is not a JWT (%d parts)", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatalf("decoding the bearer token's claims: %v", err)
	}
	var claims struct {
		Sub  string `json:"sub"`
		Role string `json:"role"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil || claims.Sub == "" || claims.Role == "" {
		tb.Fatalf("bearer token's claims %s lack sub or role (%v)", raw, err)
	}
	return claims.Sub, claims.Role
}

// StateValues returns the values of app's state keys that begin with
// prefix (without the store's "<app>||" key prefix), by key, read straight
// from the backend of the suite's profile (Redis hashes, or the app's table
// in PostgreSQL): for a test that must see what a refused request did not
// write.
func (e *Env) StateValues(tb testing.TB, app, prefix string) map[string]string {
	tb.Helper()
	ctx := context.Background()
	out := map[string]string{}
	full := app + "||" + prefix
	if e.backends != nil {
		vals, err := e.backends.stateValues(ctx, app+"_state", full)
		if err != nil {
			tb.Fatalf("reading %s state %s*: %v", app, full, err)
		}
		return vals
	}
	keys, err := e.rdb.Keys(ctx, full+"*").Result()
	if err != nil {
		tb.Fatalf("listing %s state %s*: %v", app, full, err)
	}
	for _, k := range keys {
		v, err := e.rdb.HGet(ctx, k, "data").Result()
		if err != nil {
			tb.Fatalf("reading %s: %v", k, err)
		}
		out[k] = v
	}
	return out
}

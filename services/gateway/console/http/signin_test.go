package http_test

import (
	nethttp "net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/gateway/console/store"
)

// The sign-in takes the token alone, or the Authorization header value it
// came in, with its scheme in any case (RFC 9110 section 11.1), as the
// gateway reads the header; any other scheme is refused.
func TestConsoleSignInReadsTheSchemeAsTheGatewayDoes(t *testing.T) {
	adminTok := strings.TrimPrefix(bearer("ops-admin", "admin"), "Bearer ")
	cases := []struct {
		name, token string
		want        int
	}{
		{"the token", adminTok, nethttp.StatusSeeOther},
		{"Bearer", "Bearer " + adminTok, nethttp.StatusSeeOther},
		{"bearer", "bearer " + adminTok, nethttp.StatusSeeOther},
		{"BEARER", "BEARER " + adminTok, nethttp.StatusSeeOther},
		{"spaces around", "  Bearer  " + adminTok + " ", nethttp.StatusSeeOther},
		{"Basic", "Basic " + adminTok, nethttp.StatusUnauthorized},
		{"no token", "Bearer ", nethttp.StatusUnauthorized},
		{"two tokens", "Bearer " + adminTok + " " + adminTok, nethttp.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := consoleApp(t, store.NewSessions(sidecartest.NewMemState(), "gateway-store"), &limiter{})
			req := httptest.NewRequest("POST", "/console/login", strings.NewReader(url.Values{"token": {tc.token}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.want || (tc.want == nethttp.StatusSeeOther) != (sessionCookie(resp) != nil) {
				t.Fatalf("sign-in with %q = %d, cookie %v; want %d", tc.token, resp.StatusCode, sessionCookie(resp), tc.want)
			}
		})
	}
}

package e2e

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
)

// Every app serves Prometheus metrics on its own loopback address, not on
// the public gateway port: requests by route pattern and status with
// latency histograms, and the payment service's payments by method and
// final state.
func TestEveryAppServesMetrics(t *testing.T) {
	payFromNewWallet(t, nil)

	for app, addr := range env.Metrics {
		text := scrape(t, addr)
		if !regexp.MustCompile(`finflow_http_requests_total\{[^}]*service="` + app + `"[^}]*\} [1-9]`).MatchString(text) {
			t.Errorf("%s: no request counts at %s", app, addr)
		}
	}
	gw := scrape(t, env.Metrics["gateway"])
	if n := value(gw, `finflow_http_requests_total{method="POST",route="/Payment/pay",service="gateway",status="201"}`); n < 1 {
		t.Errorf("gateway: POST /Payment/pay 201 counted %v times", n)
	}
	if n := value(gw, `finflow_http_request_duration_seconds_count{method="POST",route="/Payment/pay",service="gateway"}`); n < 1 {
		t.Errorf("gateway: no latency observed for POST /Payment/pay")
	}
	if n := value(scrape(t, env.Metrics["payment"]), `finflow_payments_total{method="WALLET",status="SUCCESS"}`); n < 1 {
		t.Errorf("payment: WALLET SUCCESS counted %v times", n)
	}
	// Raw paths never become labels, and the public port does not serve them.
	if regexp.MustCompile(`route="/users/usr_`).MatchString(gw) {
		t.Errorf("gateway metrics carry raw paths as labels")
	}
	if r := env.Do(t, "GET", "/metrics", nil, nil); r.Status != http.StatusNotFound {
		t.Errorf("GET /metrics on the public port = %d, want 404", r.Status)
	}
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scraping %s: %v", addr, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping %s = %d: %.500s", addr, resp.StatusCode, raw)
	}
	return string(raw)
}

// value returns the sample of the series named exactly series (-1 when
// absent).
func value(text, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

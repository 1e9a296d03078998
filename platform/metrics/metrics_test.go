package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/metrics"
)

// Requests and domain counters show up at /metrics in Prometheus's text
// format, labelled by route pattern; a taken address fails at once.
func TestServeMetrics(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := metrics.New("gateway")
	m.ObserveRequest("/health", "GET", 503, time.Millisecond)
	m.ObserveRequest("/users/:id", "GET", 200, 3*time.Millisecond)
	m.ObserveRequest("/users/:id", "GET", 200, 5*time.Millisecond)
	m.Counter("payments_total", "Payments by method and final state.", "method", "status").WithLabelValues("WALLET", "SUCCESS").Inc()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := m.Serve(ctx, "127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`finflow_http_requests_total{method="GET",route="/health",service="gateway",status="503"} 1`,
		`finflow_http_requests_total{method="GET",route="/users/:id",service="gateway",status="200"} 2`,
		`finflow_http_request_duration_seconds_count{method="GET",route="/users/:id",service="gateway"} 2`,
		`finflow_payments_total{method="WALLET",status="SUCCESS"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if _, err := metrics.New("user").Serve(ctx, addr, log); err == nil {
		t.Errorf("a second listener on %s started", addr)
	}
}

// Package metrics is FinFlow's Prometheus instrumentation. Every app
// counts its HTTP requests by route pattern, method and status, with a
// latency histogram; services add their own counters (payments by method
// and final state, webhook outcomes, reconciliation actions). Each app
// serves them at /metrics on its own metrics address (METRICS_ADDR), apart
// from the API port, so that scraping needs no token and the public
// gateway port never shows them.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/finflow/finflow/platform/server"
)

// Namespace prefixes every FinFlow metric.
const Namespace = "finflow"

// Metrics is one app's registry.
type Metrics struct {
	// Registry holds the app's metrics, Go's runtime and process metrics
	// included.
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New returns the registry of the app named service, with the HTTP
// metrics registered.
func New(service string) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	labels := prometheus.Labels{"service": service}
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status.", ConstLabels: labels}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "http_request_duration_seconds",
			Help:        "Time to serve an HTTP request, by route pattern and method.",
			ConstLabels: labels, Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// ObserveRequest records one served request. route is the route's pattern
// (/users/:id), never the raw path, so that label values stay bounded.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	method = methodLabel(method)
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

// methodLabel maps a request's method to a constant label value: one of
// the HTTP methods, or OTHER. Fiber's c.Method() shares memory with the
// request buffer, which the next request overwrites; a label value kept
// from it once turned a series into "GETT" and made every scrape fail with
// a duplicate. Constants also keep clients from minting series with
// made-up methods.
func methodLabel(m string) string {
	for _, known := range httpMethods {
		if m == known {
			return known
		}
	}
	return "OTHER"
}

var httpMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE"}

// Counter registers a counter named finflow_<name> with the given labels.
func (m *Metrics) Counter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	m.Registry.MustRegister(c)
	return c
}

// Serve serves /metrics on addr until ctx is done, and returns the address
// it listens on. It returns once the listener is open, so that a taken port
// fails the start at once.
func (m *Metrics) Serve(ctx context.Context, addr string, log *slog.Logger) (string, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	bound, err := server.ServeAux(ctx, addr, mux)
	if err != nil {
		return "", fmt.Errorf("metrics listener on %s: %w", addr, err)
	}
	log.Info("serving metrics", "addr", bound)
	return bound, nil
}

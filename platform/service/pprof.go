package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"

	"github.com/finflow/finflow/platform/server"
)

// servePprof serves Go's profiles (net/http/pprof) on addr, which must be a
// loopback address: profiles show the service's internals and are for the
// machine's operator only. It is off unless PPROF_ADDR is set (`make bench
// BENCH_PROFILE=1` sets it).
func servePprof(ctx context.Context, addr string, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("PPROF_ADDR %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return errors.New("PPROF_ADDR must be a loopback address such as 127.0.0.1:6060")
	}
	// Contention too (/debug/pprof/mutex and /block): where requests wait
	// on locks, which a CPU profile does not show. A sample of 1 in 10
	// events keeps the cost small.
	runtime.SetMutexProfileFraction(10)
	runtime.SetBlockProfileRate(10_000) // one blocking event per 10 µs blocked
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	bound, err := server.ServeAux(ctx, addr, mux)
	if err != nil {
		return fmt.Errorf("pprof listener: %w", err)
	}
	log.Info("serving profiles", "addr", bound)
	return nil
}

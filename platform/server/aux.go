package server

import (
	"context"
	"net"
	"net/http"
	"time"
)

// ServeAux serves h (plain net/http) on addr until ctx is done, for the
// listeners a service keeps beside its API (metrics, profiles). It returns
// the address it listens on once the listener is open, so that a taken
// port fails the start at once.
func ServeAux(ctx context.Context, addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return ln.Addr().String(), nil
}

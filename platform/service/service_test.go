package service

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// The probe mode a container health check runs: ok only when the service
// beside it answers GET /readyz with 200.
func TestHealthcheck(t *testing.T) {
	ready := true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path != "/readyz":
			http.NotFound(w, r)
		case ready:
			_, _ = w.Write([]byte(`{"status":"ok"}`))
		default:
			http.Error(w, `{"error":{"code":"UNAVAILABLE","message":"state store wallet-store is not answering"}}`, http.StatusServiceUnavailable)
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := strconv.Itoa(closed.Addr().(*net.TCPAddr).Port)
	closed.Close()

	for _, tc := range []struct {
		name, port, bind string
		ready            bool
		want             string // "" for ready
	}{
		{"ready", port, "", true, ""},
		{"ready, bound to every interface (the gateway)", port, "0.0.0.0", true, ""},
		{"not ready: the store is down", port, "", false, "503"},
		{"nothing listening", closedPort, "", true, "refused"},
		{"a malformed port", "eighty", "", true, "APP_PORT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ready = tc.ready
			t.Setenv("APP_PORT", tc.port)
			t.Setenv("BIND_HOST", tc.bind)
			if tc.bind == "" {
				t.Setenv("BIND_HOST", "127.0.0.1")
			}
			err := Healthcheck(context.Background(), Spec{Name: "wallet", DefaultPort: 8082})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("not ready: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

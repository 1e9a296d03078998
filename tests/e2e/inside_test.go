package e2e

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Only its own sidecar may call an app: a process that finds an app's port
// and calls it directly, without the sidecar's app token, is refused, even
// when it claims to be the payment service.
func TestAppPortsNeedTheSidecarsToken(t *testing.T) {
	t.Parallel()
	for _, app := range []string{"user", "wallet", "billing", "payment", "razorpay"} {
		a := env.Topology.App(app)
		for _, token := range []string{"", "wrong-token"} {
			req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/wallet/deduct", a.AppPort),
				strings.NewReader(`{"user_id":"usr_x","amount":1,"reference":"pay_x"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("dapr-caller-app-id", "payment")
			if token != "" {
				req.Header.Set("dapr-api-token", token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("calling %s directly: %v", app, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s called directly with token %q = %d %s, want 401", app, token, resp.StatusCode, body)
			}
		}
	}
}

// Only its app may call a sidecar: Dapr's API token is required.
func TestSidecarsNeedTheAppsToken(t *testing.T) {
	t.Parallel()
	a := env.Topology.App("wallet")
	for _, path := range []string{"/v1.0/state/wallet-store/anything", "/v1.0/invoke/wallet/method/readyz", "/v1.0/secrets/finflow-secrets/gateway"} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", a.DaprHTTPPort, path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s on the wallet sidecar without its token = %d, want 401", path, resp.StatusCode)
		}
	}
}

// Apps and sidecars listen on loopback only (in the tests the gateway too;
// `make run` binds the gateway's public port on every interface). One
// exception is Dapr's: daprd 1.14 ignores --metrics-listen-address
// (pkg/metrics/options.go ToOptions drops it), so each sidecar's
// Prometheus port listens on every interface. It serves read-only metrics.
func TestEverythingListensOnLoopback(t *testing.T) {
	t.Parallel()
	listening := map[int][]string{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			t.Skipf("no %s: not Linux", file)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" { // LISTEN
				continue
			}
			hostHex, portHex, _ := strings.Cut(fields[1], ":")
			port, _ := strconv.ParseInt(portHex, 16, 32)
			listening[int(port)] = append(listening[int(port)], hostHex)
		}
		f.Close()
	}
	loopback := map[string]bool{"0100007F": true, "00000000000000000000000001000000": true}
	for _, a := range env.Topology.Apps() {
		for name, port := range map[string]int{"app": a.AppPort, "dapr http": a.DaprHTTPPort, "dapr grpc": a.DaprGRPCPort, "internal grpc": a.DaprInternalGRPCPort} {
			hosts := listening[port]
			if len(hosts) == 0 {
				t.Errorf("%s %s port %d: nothing listens", a.AppID, name, port)
			}
			for _, h := range hosts {
				if !loopback[h] {
					t.Errorf("%s %s port %d listens on %s, not loopback", a.AppID, name, port, h)
				}
			}
		}
	}
	// The run's Sentry too: its certificate service, health and metrics.
	s, ok := env.Topology.Sentry()
	if !ok {
		t.Fatal("the suite runs without Sentry")
	}
	u, err := url.Parse(s.Healthz)
	if err != nil {
		t.Fatal(err)
	}
	for name, addr := range map[string]string{"certificates": s.Addr, "healthz": u.Host, "metrics": s.Metrics} {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		hosts := listening[port]
		if len(hosts) == 0 {
			t.Errorf("sentry %s port %d: nothing listens", name, port)
		}
		for _, h := range hosts {
			if !loopback[h] {
				t.Errorf("sentry %s port %d listens on %s, not loopback", name, port, h)
			}
		}
	}
}

// Sidecar-to-sidecar traffic is mutual TLS with certificates from the run's
// own Sentry: a process without such a certificate cannot talk to a
// sidecar's internal API, so it cannot pose as another app.
func TestSidecarsRequireMutualTLS(t *testing.T) {
	t.Parallel()
	a := env.Topology.App("wallet")
	addr := fmt.Sprintf("127.0.0.1:%d", a.DaprInternalGRPCPort)
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}) //nolint:gosec // the point is to try without a client certificate
	if err == nil {
		// TLS 1.3 reports a missing client certificate on the first read.
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
		_, err = conn.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
		if err == nil {
			_, err = conn.Read(make([]byte, 1))
		}
		conn.Close()
	}
	if err == nil {
		t.Fatalf("the wallet sidecar's internal API accepted a TLS client without a certificate")
	}
	// And a plaintext client gets no HTTP/2 answer either.
	plain, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	_ = plain.SetDeadline(time.Now().Add(2 * time.Second))
	_, _ = plain.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	buf := make([]byte, 9)
	if n, _ := io.ReadFull(plain, buf); n == 9 && buf[3] == 0x4 { // a SETTINGS frame
		t.Fatalf("the wallet sidecar's internal API speaks plaintext HTTP/2")
	}
}

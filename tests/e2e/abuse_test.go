package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A user who sends too many requests gets 429 with Retry-After; other
// callers are not affected. The limit is a runtime setting, lowered for
// this test and restored.
func TestRateLimit(t *testing.T) {
	ctx := context.Background()
	u := env.MustCreateUser(t, "Busy", uniqueEmail("busy"))
	if err := env.SetSetting(ctx, "gateway.ratelimit.user_per_minute", 5); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.SetSetting(ctx, "gateway.ratelimit.user_per_minute", 600) })
	as := map[string]string{"Authorization": "Bearer " + env.Token(t, u.ID, "user")}
	// Wait until the gateway has the new limit, spending the budget on it.
	var limited bool
	var retryAfter string
	for i := 0; i < 40 && !limited; i++ {
		r := env.Do(t, "GET", "/users/"+u.ID, nil, as)
		switch r.Status {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			limited, retryAfter = true, r.Header.Get("Retry-After")
			if r.ErrorCode() != "RATE_LIMITED" {
				t.Fatalf("429 with code %s", r.ErrorCode())
			}
		default:
			t.Fatalf("GET = %d %s", r.Status, r.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !limited {
		t.Fatalf("never limited after 40 requests at a limit of 5 a minute")
	}
	if secs, err := strconv.Atoi(retryAfter); err != nil || secs < 1 || secs > 60 {
		t.Fatalf("Retry-After = %q, want 1..60 seconds", retryAfter)
	}
	// Another caller (the admin) is not limited by this user's budget.
	if r := env.Do(t, "GET", "/users/"+u.ID, nil, nil); r.Status != http.StatusOK {
		t.Fatalf("admin after the user was limited = %d", r.Status)
	}
}

// A client that sends its request too slowly is cut off by the read
// timeout (2 s in the tests) instead of holding a connection.
func TestSlowClientIsCutOff(t *testing.T) {
	t.Parallel()
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.BaseURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := conn.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")); err != nil {
		t.Fatal(err)
	}
	// Dribble a header byte every 500 ms, never finishing the request.
	done := make(chan []byte, 1)
	go func() {
		_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		answer, _ := io.ReadAll(conn)
		done <- answer
	}()
	for {
		select {
		case answer := <-done:
			if took := time.Since(start); took > 8*time.Second {
				t.Fatalf("slow client held the connection %s", took)
			}
			// The server says why before closing: 408 with a stable code.
			if !strings.HasPrefix(string(answer), "HTTP/1.1 408") || !strings.Contains(string(answer), `"REQUEST_TIMEOUT"`) {
				t.Fatalf("slow client got %q, want 408 REQUEST_TIMEOUT", answer)
			}
			return
		case <-time.After(500 * time.Millisecond):
			if _, err := conn.Write([]byte("a")); err != nil {
				return // closed by the server
			}
			if time.Since(start) > 12*time.Second {
				t.Fatalf("slow client still connected after 12 s")
			}
		}
	}
}

// Oversized headers are refused without reaching a service: 431
// HEADERS_TOO_LARGE (RFC 6585), in the contract's error body.
func TestOversizedHeadersAreRefused(t *testing.T) {
	t.Parallel()
	req, _ := http.NewRequest("GET", env.BaseURL+"/health", nil)
	req.Header.Set("X-Big", strings.Repeat("h", 32<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return // the server closed the connection: refused
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !strings.Contains(string(body), `"code":"HEADERS_TOO_LARGE"`) {
		t.Fatalf("32 KiB header = %d %s, want 431 HEADERS_TOO_LARGE", resp.StatusCode, body)
	}
}

// The log check that runs after every suite finds a secret when there is
// one (so a clean result means something).
func TestSecretsInLogsFindsALeak(t *testing.T) {
	dir := filepath.Join(env.LogDir, "selftest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	leak := filepath.Join(dir, "leak.log")
	if err := os.WriteFile(leak, []byte(fmt.Sprintf("oops Authorization: Bearer %s\n", env.AdminToken)), 0o644); err != nil {
		t.Fatal(err)
	}
	found := env.SecretsInLogs()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || !strings.Contains(found[0], "admin token") {
		t.Fatalf("SecretsInLogs = %v, want the planted admin token", found)
	}
	if left := env.SecretsInLogs(); len(left) != 0 {
		t.Fatalf("secrets in the real logs: %v", left)
	}
}

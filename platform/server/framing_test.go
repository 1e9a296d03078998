package server_test

import (
	"context"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/server"
)

// serveReal serves the test app on a real listener until the test ends,
// and returns its address.
func serveReal(t *testing.T) string {
	t.Helper()
	app := newApp(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, app, ln, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// serveRaw serves the test app (serveReal) and returns a function that
// writes raw bytes on a new connection and returns everything the server
// answers until it closes the connection (or 3 s pass).
func serveRaw(t *testing.T) func(raw string) string {
	t.Helper()
	addr := serveReal(t)
	return func(raw string) string {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, raw); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		got, _ := io.ReadAll(conn)
		return string(got)
	}
}

// statusLine is the start of an answer.
var statusLine = regexp.MustCompile(`(?m)^HTTP/1\.1 \d{3} `)

// A request whose length another hop could read differently is refused
// (400 on headers) and its connection closed, so what follows on it is
// never taken for a request; a malformed header is refused without
// echoing the request (its bearer token) back.
func TestAmbiguousFramingIsRefused(t *testing.T) {
	send := serveRaw(t)
	const body = `{"name":"a"}`
	pipelined := "GET /internal HTTP/1.1\r\nHost: x\r\n\r\n"
	cases := []struct {
		name    string
		raw     string
		want    string // in the first answer
		answers int    // how many answers come before the connection closes
	}{
		{"two different Content-Lengths",
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\nContent-Length: 12\r\n\r\n" + body + pipelined,
			`"field":"headers"`, 1},
		{"Content-Length and chunked",
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 17\r\n\r\nc\r\n" + body + "\r\n0\r\n\r\n" + pipelined,
			`"field":"headers"`, 1},
		{"a folded header line",
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Note: a\r\n b\r\nContent-Length: 12\r\n\r\n" + body,
			`"field":"headers"`, 1},
		{"the same Content-Length twice is one",
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12\r\nContent-Length: 12\r\nConnection: close\r\n\r\n" + body,
			`{"name":"a",`, 1},
		{"chunked alone",
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nc\r\n" + body + "\r\n0\r\n\r\n",
			`{"name":"a",`, 1},
		{"a malformed Content-Length does not echo the request",
			"POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekrit-token\r\nX-Secret: hunter2\r\nContent-Length: -1\r\n\r\n",
			`"field":"request"`, 1},
	}
	// A request head that fasthttp reads as something other than what was
	// sent (a lost path, another host, a body by the wrong length) is
	// refused the same way: 400 naming headers or request, connection
	// closed before the pipelined request after it.
	get := func(line, headers string) string {
		return line + "\r\n" + headers + "\r\n" + pipelined
	}
	const (
		health  = "GET /health HTTP/1.1"
		headers = `"field":"headers"`
		request = `"field":"request"`
		ok      = `{"path":"/health","status":"ok"}`
	)
	cases = append(cases, []struct {
		name    string
		raw     string
		want    string
		answers int
	}{
		{"Host with a space", get(health, "Host: a b\r\n"), headers, 1},
		{"Host with a slash", get(health, "Host: a/b\r\n"), headers, 1},
		{"Host with a query", get(health, "Host: a?x=1\r\n"), headers, 1},
		{"Host with a fragment", get(health, "Host: a#f\r\n"), headers, 1},
		{"Host with an unclosed bracket", get(health, "Host: [::1\r\n"), headers, 1},
		{"Host with a port that is not digits", get(health, "Host: a:x\r\n"), headers, 1},
		{"Host percent-encoded", get(health, "Host: %2F\r\n"), headers, 1},
		{"Host with a tab inside", get(health, "Host: a\tb\r\n"), headers, 1},
		{"Host with a tab around it", get(health, "Host:\tx\t\r\n"), headers, 1},
		{"Host with a backslash", get(health, "Host: a\\b\r\n"), headers, 1},
		{"Host with user info", get(health, "Host: user@a\r\n"), headers, 1},
		{"Host not ASCII", get(health, "Host: \u00e9.in\r\n"), headers, 1},
		{"Host a port with no name", get(health, "Host: :80\r\n"), headers, 1},
		{"Host a port past 65535", get(health, "Host: a:65536\r\n"), headers, 1},
		{"Host a bracketed IPv4", get(health, "Host: [127.0.0.1]\r\n"), headers, 1},
		{"Host an IPv6 with a zone", get(health, "Host: [fe80::1%25eth0]\r\n"), headers, 1},
		{"Host junk after the bracket", get(health, "Host: [::1]x\r\n"), headers, 1},
		{"Host given twice", get(health, "Host: a\r\nHost: b\r\n"), headers, 1},
		{"Host given twice, the same", get(health, "Host: a\r\nhost: a\r\n"), headers, 1},
		{"no Host on HTTP/1.1", get(health, ""), headers, 1},
		{"a bad Host on HTTP/1.0", get("GET /health HTTP/1.0", "Host: a b\r\n"), headers, 1},
		{"a request line with an extra part", get("GET /health x HTTP/1.1", "Host: x\r\n"), request, 1},
		{"a request line with two spaces", get("GET  /health HTTP/1.1", "Host: x\r\n"), request, 1},
		{"a request line with a trailing space", get("GET /health HTTP/1.1 ", "Host: x\r\n"), request, 1},
		{"a control character in the target", get("GET /hea\x01lth HTTP/1.1", "Host: x\r\n"), request, 1},
		{"a tab in the target", get("GET /health\tx HTTP/1.1", "Host: x\r\n"), request, 1},
		{"a bare CR in the target", get("GET /hea\rlth HTTP/1.1", "Host: x\r\n"), request, 1},
		{"HTTP/9.9", get("GET /health HTTP/9.9", "Host: x\r\n"), request, 1},
		{"HTTP/2.0 in text", get("GET /health HTTP/2.0", "Host: x\r\n"), request, 1},
		{"a version in lower case", get("GET /health http/1.1", "Host: x\r\n"), request, 1},
		{"a bare CR after the version", get("GET /health HTTP/1.1\rX", "Host: x\r\n"), request, 1},
		{"a target that is not a path", get("GET health HTTP/1.1", "Host: x\r\n"), request, 1},
		{"* on GET", get("GET * HTTP/1.1", "Host: x\r\n"), request, 1},
		{"an absolute target with a bad host", get("GET http://x:y/health HTTP/1.1", "Host: x\r\n"), request, 1},
		{"an absolute target with no host", get("GET http:///health HTTP/1.1", "Host: x\r\n"), request, 1},
		{"an absolute target of another scheme", get("GET ftp://x/health HTTP/1.1", "Host: x\r\n"), request, 1},
		{"a header name that is not a token", get(health, "Host: x\r\nX\x01Y: 1\r\n"), headers, 1},
		{"a NUL in a header value", get(health, "Host: x\r\nX-Note: a\x00b\r\n"), headers, 1},
		{"a bare CR in a header value", get(health, "Host: x\r\nX-Note: a\rb\r\n"), headers, 1},
		{"another control character is the route's to refuse", get(health, "Host: x\r\nX-Note: a\x7fb\r\nConnection: close\r\n"), ok, 1},
		{"Transfer-Encoding identity",
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: identity\r\n\r\n" + body + pipelined, headers, 1},
		{"chunked not the final coding",
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked, gzip\r\n\r\nc\r\n" + body + "\r\n0\r\n\r\n" + pipelined, headers, 1},
		{"a coding FinFlow does not know before chunked",
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\nc\r\n" + body + "\r\n0\r\n\r\n" + pipelined, headers, 1},
		{"chunked twice",
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\nc\r\n" + body + "\r\n0\r\n\r\n" + pipelined, headers, 1},
		{"Transfer-Encoding on HTTP/1.0",
			"POST /echo HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nc\r\n" + body + "\r\n0\r\n\r\n" + pipelined, headers, 1},
		// What is well formed is served, with its path.
		{"a host name and port", get(health, "Host: a-b.c_d~e:8080\r\nConnection: close\r\n"), ok, 1},
		{"an app id as Host", get(health, "Host: payment\r\nConnection: close\r\n"), ok, 1},
		{"an IPv4 address and port", get(health, "Host: 127.0.0.1:3500\r\nConnection: close\r\n"), ok, 1},
		{"an IPv6 address and port", get(health, "Host: [::1]:80\r\nConnection: close\r\n"), ok, 1},
		{"an IPvFuture", get(health, "Host: [v1.fe80::a+en1]\r\nConnection: close\r\n"), ok, 1},
		{"an empty Host", get(health, "Host:\r\nConnection: close\r\n"), ok, 1},
		{"an empty port", get(health, "Host: a:\r\nConnection: close\r\n"), ok, 1},
		{"HTTP/1.0 with no Host", get("GET /health HTTP/1.0", ""), ok, 1},
		{"an absolute target", get("GET http://x:80/health HTTP/1.1", "Host: y\r\nConnection: close\r\n"), ok, 1},
		{"an absolute target names the host", get("GET http://x/health HTTP/1.1", "Connection: close\r\n"), ok, 1},
		{"spaces around Host", get(health, "Host:  x \r\nConnection: close\r\n"), ok, 1},
	}...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := send(tc.raw)
			if n := len(statusLine.FindAllString(got, -1)); n != tc.answers || !strings.Contains(got, tc.want) {
				t.Fatalf("answered %d times, want %d with %s:\n%s", n, tc.answers, tc.want, got)
			}
			if strings.Contains(tc.want, "field") && !strings.HasPrefix(got, "HTTP/1.1 400 ") {
				t.Fatalf("answered %.40q, want 400", got)
			}
			for _, leak := range []string{"sekrit", "hunter2", "Buffer size", "contents:"} {
				if strings.Contains(got, leak) {
					t.Fatalf("the answer echoes the request (%q):\n%s", leak, got)
				}
			}
		})
	}
}

// A request line and headers over HeaderLimit are 431 HEADERS_TOO_LARGE
// (RFC 6585 §5), whichever part is long, never echoed back, and the
// connection closed; just under the limit is taken.
func TestHeadersOverTheLimitAre431(t *testing.T) {
	send := serveRaw(t)
	secret := "Authorization: Bearer sekrit-" + strings.Repeat("t", 64) + "\r\n"
	for _, tc := range []struct {
		name string
		raw  string
		want string
	}{
		{"one long header", "GET /health HTTP/1.1\r\nHost: x\r\n" + secret + "X-Big: " + strings.Repeat("h", server.HeaderLimit) + "\r\n\r\n", "HTTP/1.1 431 "},
		{"many headers", "GET /health HTTP/1.1\r\nHost: x\r\n" + secret + strings.Repeat("X-Many: "+strings.Repeat("m", 90)+"\r\n", server.HeaderLimit/100+1) + "\r\n", "HTTP/1.1 431 "},
		{"a long path", "GET /health?" + strings.Repeat("q", server.HeaderLimit) + " HTTP/1.1\r\nHost: x\r\n" + secret + "\r\n", "HTTP/1.1 431 "},
		{"under the limit", "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: " + strings.Repeat("h", server.HeaderLimit-200) + "\r\n\r\n", "HTTP/1.1 200 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := send(tc.raw)
			if !strings.HasPrefix(got, tc.want) || len(statusLine.FindAllString(got, -1)) != 1 {
				t.Fatalf("answered %.300q, want one answer %q", got, tc.want)
			}
			if strings.HasPrefix(tc.want, "HTTP/1.1 431") && !strings.Contains(got, `"code":"HEADERS_TOO_LARGE"`) {
				t.Fatalf("answered %.300q, want code HEADERS_TOO_LARGE", got)
			}
			for _, leak := range []string{"sekrit", "hhhhhhhh", "mmmmmmmm", "qqqqqqqq", "Buffer size"} {
				if strings.HasPrefix(tc.want, "HTTP/1.1 431") && strings.Contains(got, leak) {
					t.Fatalf("the answer echoes the request (%q):\n%.300s", leak, got)
				}
			}
		})
	}
}

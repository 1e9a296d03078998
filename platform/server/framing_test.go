package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

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
	// post is a POST of JSON to /echo with more header lines (each
	// ending in CRLF), then the empty line and rest.
	post := func(headers, rest string) string {
		return "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers + "\r\n" + rest
	}
	cases := []struct {
		name    string
		raw     string
		want    string // in the first answer
		answers int    // how many answers come before the connection closes
	}{
		{"two different Content-Lengths",
			post("Content-Length: 5000\r\nContent-Length: 12\r\n", body+pipelined),
			`"field":"headers"`, 1},
		{"Content-Length and chunked",
			post("Transfer-Encoding: chunked\r\nContent-Length: 17\r\n", "c\r\n"+body+"\r\n0\r\n\r\n"+pipelined),
			`"field":"headers"`, 1},
		{"a folded header line",
			post("X-Note: a\r\n b\r\nContent-Length: 12\r\n", body),
			`"field":"headers"`, 1},
		{"the same Content-Length twice is one",
			post("Content-Length: 12\r\nContent-Length: 12\r\nConnection: close\r\n", body),
			`{"name":"a",`, 1},
		{"chunked alone",
			post("Transfer-Encoding: chunked\r\nConnection: close\r\n", "c\r\n"+body+"\r\n0\r\n\r\n"),
			`{"name":"a",`, 1},
		{"a malformed Content-Length does not echo the request",
			"POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekrit-token\r\nX-Secret: hunter2\r\nContent-Length: -1\r\n\r\n",
			`"field":"headers"`, 1},
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
			post("Transfer-Encoding: identity\r\n", body+pipelined), headers, 1},
		{"chunked not the final coding",
			post("Transfer-Encoding: chunked, gzip\r\n", "c\r\n"+body+"\r\n0\r\n\r\n"+pipelined), headers, 1},
		{"a coding FinFlow does not know before chunked",
			post("Transfer-Encoding: gzip, chunked\r\n", "c\r\n"+body+"\r\n0\r\n\r\n"+pipelined), headers, 1},
		{"chunked twice",
			post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "c\r\n"+body+"\r\n0\r\n\r\n"+pipelined), headers, 1},
		{"Transfer-Encoding on HTTP/1.0",
			"POST /echo HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nc\r\n" + body + "\r\n0\r\n\r\n" + pipelined, headers, 1},
		// The rest of RFC 9112's syntax for a request head.
		{"no version (HTTP/0.9)", get("GET /health", ""), request, 1},
		{"no version, alone on the connection", "GET /health\r\n\r\n", request, 1},
		{"a bare LF after the request line", "GET /health HTTP/1.1\nHost: x\r\n\r\n" + pipelined, request, 1},
		{"a bare LF after a header line", get(health, "Host: x\nX-Note: a\r\n"), headers, 1},
		{"a bare LF as the empty line", "GET /health HTTP/1.1\r\nHost: x\r\n\n" + pipelined, headers, 1},
		{"a bare LF before the request line", "\n" + get(health, "Host: x\r\n"), request, 1},
		{"a header line without a colon", get(health, "Host: x\r\nX-Foo bar\r\n"), headers, 1},
		{"a header line without a colon, alone on the connection", "GET /health HTTP/1.1\r\nHost: x\r\nX-Foo bar\r\n\r\n", headers, 1},
		{"whitespace before the first header line", get(health, " Host: x\r\n"), headers, 1},
		{"a space between a header name and its colon", get(health, "Host : x\r\n"), headers, 1},
		{"a tab between a header name and its colon", get(health, "Host: x\r\nX-Note\t: a\r\n"), headers, 1},
		{"an empty header name", get(health, "Host: x\r\n: a\r\n"), headers, 1},
		{"a NUL in the Host", get(health, "Host: x\x00y\r\n"), headers, 1},
		{"a NUL in the request line", get("GET /hea\x00lth HTTP/1.1", "Host: x\r\n"), request, 1},
		{"no method", get(" /health HTTP/1.1", "Host: x\r\n"), request, 1},
		{"only a method", get("GET", "Host: x\r\n"), request, 1},
		{"a head over 8 KiB", get(health, "Host: x\r\nX-Big: "+strings.Repeat("b", 8<<10)+"\r\n"), headers, 1},
		{"an absolute target naming another host than Host", get("GET http://x/health HTTP/1.1", "Host: y\r\n"), request, 1},
		{"an absolute target naming another port than Host", get("GET http://x:8080/health HTTP/1.1", "Host: x\r\n"), request, 1},
		{"an absolute target beside an empty Host", get("GET http://x/health HTTP/1.1", "Host:\r\n"), request, 1},
		{"a Content-Length with a plus sign",
			post("Content-Length: +12\r\n", body+pipelined), headers, 1},
		{"a Content-Length with a space inside",
			post("Content-Length: 1 2\r\n", body+pipelined), headers, 1},
		{"a Content-Length with a tab before it",
			post("Content-Length:\t12\r\n", body+pipelined), headers, 1},
		{"a Content-Length list of equal values",
			post("Content-Length: 12, 12\r\n", body+pipelined), headers, 1},
		{"a Content-Length list of different values",
			post("Content-Length: 12, 5000\r\n", body+pipelined), headers, 1},
		{"a Content-Length in hex",
			post("Content-Length: 0xc\r\n", body+pipelined), headers, 1},
		{"an empty Content-Length",
			post("Content-Length:\r\n", body+pipelined), headers, 1},
		{"Transfer-Encoding then Content-Length",
			post("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", "c\r\n"+body+"\r\n0\r\n\r\n"+pipelined), headers, 1},
		// A chunked body whose framing is malformed ends the connection.
		{"a chunk size that is not hex",
			post("Transfer-Encoding: chunked\r\n", "cz\r\n"+body+"\r\n0\r\n\r\n"+pipelined), request, 1},
		{"a chunk size with a sign",
			post("Transfer-Encoding: chunked\r\n", "-c\r\n"+body+"\r\n0\r\n\r\n"+pipelined), request, 1},
		{"a chunk's data longer than its size",
			post("Transfer-Encoding: chunked\r\n", "5\r\n"+body+"\r\n0\r\n\r\n"+pipelined), request, 1},
		{"a bare LF in a chunk extension",
			post("Transfer-Encoding: chunked\r\n", "c;a\nb\r\n"+body+"\r\n0\r\n\r\n"+pipelined), request, 1},
		{"a trailer line without a colon",
			post("Transfer-Encoding: chunked\r\n", "c\r\n"+body+"\r\n0\r\nX-Trailer\r\n\r\n"), request, 1},
		{"a folded trailer line",
			post("Transfer-Encoding: chunked\r\n", "c\r\n"+body+"\r\n0\r\nX-Trailer: 1\r\n 2\r\n\r\n"), request, 1},
		// An expectation FinFlow cannot meet is 417; a body announced
		// over the limit is 413 before it is sent (no 100 Continue).
		{"Expect something else",
			post("Expect: 200-ok\r\nContent-Length: 12\r\n", body+pipelined),
			`"code":"EXPECTATION_FAILED"`, 1},
		{"Expect 100-continue and something else",
			post("Expect: 100-continue, x\r\nContent-Length: 12\r\n", body+pipelined),
			`"code":"EXPECTATION_FAILED"`, 1},
		{"Expect 100-continue twice",
			post("Expect: 100-continue\r\nExpect: 100-continue\r\nContent-Length: 12\r\n", body+pipelined),
			`"code":"EXPECTATION_FAILED"`, 1},
		{"Expect 100-continue with a body over the limit",
			post("Expect: 100-continue\r\nContent-Length: 65537\r\n", ""),
			`"code":"BODY_TOO_LARGE"`, 1},
		{"Expect 100-continue with a body far over the limit",
			post("Expect: 100-continue\r\nContent-Length: 99999999999999999999999\r\n", ""),
			`"code":"BODY_TOO_LARGE"`, 1},
		// What is well formed is served, with its path.
		{"a host name and port", get(health, "Host: a-b.c_d~e:8080\r\nConnection: close\r\n"), ok, 1},
		{"an app id as Host", get(health, "Host: payment\r\nConnection: close\r\n"), ok, 1},
		{"an IPv4 address and port", get(health, "Host: 127.0.0.1:3500\r\nConnection: close\r\n"), ok, 1},
		{"an IPv6 address and port", get(health, "Host: [::1]:80\r\nConnection: close\r\n"), ok, 1},
		{"an IPvFuture", get(health, "Host: [v1.fe80::a+en1]\r\nConnection: close\r\n"), ok, 1},
		{"an empty Host", get(health, "Host:\r\nConnection: close\r\n"), ok, 1},
		{"an empty port", get(health, "Host: a:\r\nConnection: close\r\n"), ok, 1},
		{"HTTP/1.0 with no Host", get("GET /health HTTP/1.0", ""), ok, 1},
		{"an absolute target", get("GET http://x:80/health HTTP/1.1", "Host: x\r\nConnection: close\r\n"), ok, 1},
		{"an absolute target and Host the same but for case and default port", get("GET HTTP://X/health HTTP/1.1", "Host: x:80\r\nConnection: close\r\n"), ok, 1},
		{"an absolute https target and Host with its default port", get("GET https://x/health HTTP/1.1", "Host: x:443\r\nConnection: close\r\n"), ok, 1},
		{"an absolute IPv6 target and Host", get("GET http://[::1]:8080/health HTTP/1.1", "Host: [::1]:8080\r\nConnection: close\r\n"), ok, 1},
		{"an empty line before the request line", "\r\n" + get(health, "Host: x\r\nConnection: close\r\n"), ok, 1},
		{"tabs and spaces around a value", get(health, "Host: x\r\nX-Note:\t a \t\r\nConnection: close\r\n"), ok, 1},
		{"an empty header value", get(health, "Host: x\r\nX-Note:\r\nConnection: close\r\n"), ok, 1},
		{"a Content-Length with leading zeros",
			post("Content-Length: 0012\r\nConnection: close\r\n", body), `{"name":"a",`, 1},
		{"chunked with an extension and a trailer",
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n" +
				"5;a=b\r\n" + body[:5] + "\r\n7 ; c\r\n" + body[5:] + "\r\n0\r\nX-Trailer: 1\r\n\r\n", `{"name":"a",`, 1},
		// Expect: 100-continue is met (fasthttp's interim answer, then the
		// final one), in any letter case; on HTTP/1.0 it is ignored.
		{"Expect 100-continue",
			post("Expect: 100-continue\r\nContent-Length: 12\r\nConnection: close\r\n", body),
			"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK", 2},
		{"Expect 100-Continue in another case",
			post("Expect: 100-Continue\r\nContent-Length: 12\r\nConnection: close\r\n", body),
			"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK", 2},
		{"Expect 100-continue on HTTP/1.0 is ignored",
			"POST /echo HTTP/1.0\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 12\r\n\r\n" + body,
			"HTTP/1.1 200 OK", 1},
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
			for code, status := range map[string]string{"BODY_TOO_LARGE": "413", "EXPECTATION_FAILED": "417"} {
				if strings.Contains(tc.want, code) && !strings.HasPrefix(got, "HTTP/1.1 "+status+" ") {
					t.Fatalf("answered %.40q, want %s", got, status)
				}
			}
			if strings.Contains(got, "100 Continue") && !strings.Contains(tc.want, "100 Continue") {
				t.Fatalf("answered 100 Continue to a request it refuses:\n%s", got)
			}
			if !strings.HasPrefix(tc.want, "{") && !strings.HasPrefix(tc.want, "HTTP/") && !strings.Contains(got, "Connection: close") {
				t.Fatalf("a refusal that does not close the connection:\n%s", got)
			}
			for _, leak := range []string{"sekrit", "hunter2", "Buffer size", "contents:"} {
				if strings.Contains(got, leak) {
					t.Fatalf("the answer echoes the request (%q):\n%s", leak, got)
				}
			}
		})
	}
}

// Every request on a kept-alive connection has its head checked, after
// bodies of every framing: the checker follows each body to its end, so
// it finds the next head where fasthttp does. A refused head is answered
// in turn, after the answers before it, and ends the connection.
func TestHeadsAreCheckedOnEveryRequest(t *testing.T) {
	send := serveRaw(t)
	const body = `{"name":"a"}`
	health := "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
	post := "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n" + body
	chunked := "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"3\r\n" + body[:3] + "\r\n9;x=y\r\n" + body[3:] + "\r\n0\r\nX-T: 1\r\n\r\n"
	getWithBody := "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nGET /"
	last := "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	cases := []struct {
		name   string
		raw    string
		status []string // the answers' statuses, in order
	}{
		{"three kept alive", health + post + last, []string{"200", "200", "200"}},
		{"after a chunked body", chunked + chunked + last, []string{"200", "200", "200"}},
		{"after a GET with a body", getWithBody + last, []string{"200", "200"}},
		{"a refused second head", health + "GET /health\r\n\r\n" + last, []string{"200", "400"}},
		{"a refused head after a body", post + "GET /health HTTP/1.1\r\nHost: x\r\nX-Foo bar\r\n\r\n" + last, []string{"200", "400"}},
		{"a refused head after a chunked body", chunked + "GET /health HTTP/1.1\r\nHost : x\r\n\r\n" + last, []string{"200", "400"}},
		{"a head hidden in a body is body", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\nGET /health\r\n\r\nxxxxx" + last, []string{"400", "200"}},
		{"empty lines between requests", health + "\r\n\r\n" + last, []string{"200", "200"}},
		{"Expect after a request", health + "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 70000\r\n\r\n", []string{"200", "413"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := send(tc.raw)
			var status []string
			// An answer follows the body before it on the same line.
			for _, m := range regexp.MustCompile(`HTTP/1\.1 (\d{3}) `).FindAllStringSubmatch(got, -1) {
				status = append(status, m[1])
			}
			if strings.Join(status, " ") != strings.Join(tc.status, " ") {
				t.Fatalf("answered %v, want %v:\n%s", status, tc.status, got)
			}
		})
	}
}

// A client that waits for 100 Continue (Go's net/http with
// ExpectContinueTimeout, as curl does for large bodies) is told 413 for a
// body over the limit without sending it, and sends one within the limit
// once the server asks for it.
func TestExpectContinueFromARealClient(t *testing.T) {
	addr := serveReal(t)
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Hour}}
	for _, size := range []int{100, server.BodyLimit + 1} {
		body := &watchedBody{r: strings.NewReader(`{"name":"` + strings.Repeat("a", size) + `"}`)}
		req, err := http.NewRequest("POST", "http://"+addr+"/echo", body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(size) + 11
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Expect", "100-continue")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST %d bytes: %v", size, err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case size < server.BodyLimit && (resp.StatusCode != 200 || !body.read):
			t.Fatalf("POST %d bytes = %d %.100s (body sent: %v), want 200", size, resp.StatusCode, raw, body.read)
		case size > server.BodyLimit && (resp.StatusCode != 413 || body.read || !strings.Contains(string(raw), `"BODY_TOO_LARGE"`)):
			t.Fatalf("POST %d bytes = %d %.100s (body sent: %v), want 413 BODY_TOO_LARGE before the body", size, resp.StatusCode, raw, body.read)
		}
	}
}

// watchedBody is a request body that records whether it was read.
type watchedBody struct {
	r    io.Reader
	read bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.read = true
	return b.r.Read(p)
}

// A client that stalls in the middle of a head, on the first request of a
// connection or a later one, is answered 408 REQUEST_TIMEOUT once the
// read timeout passes (the head checker holds the head back until it is
// whole, and gives it the read timeout from its first byte).
func TestStalledHeadIsTimedOut(t *testing.T) {
	app := server.New(server.Config{Name: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ReadTimeout: 300 * time.Millisecond})
	app.Get("/health", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, app, ln, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	for name, raw := range map[string]string{
		"first request":  "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: a",
		"second request": "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nX-Slow: a",
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, raw); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, _ := io.ReadAll(conn)
			if !strings.Contains(string(got), "HTTP/1.1 408 ") || !strings.Contains(string(got), `"REQUEST_TIMEOUT"`) {
				t.Fatalf("a stalled head got:\n%s", got)
			}
		})
	}
}

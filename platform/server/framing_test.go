package server_test

import (
	"context"
	"io"
	"net"
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
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := send(tc.raw)
			if n := strings.Count(got, "HTTP/1.1 "); n != tc.answers || !strings.Contains(got, tc.want) {
				t.Fatalf("answered %d times, want %d with %s:\n%s", n, tc.answers, tc.want, got)
			}
			for _, leak := range []string{"sekrit", "hunter2", "Buffer size", "contents:"} {
				if strings.Contains(got, leak) {
					t.Fatalf("the answer echoes the request (%q):\n%s", leak, got)
				}
			}
		})
	}
}

package server

import (
	"bufio"
	"bytes"
	"errors"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/finflow/finflow/platform/apperr"
)

// Any bytes either make a head that fasthttp reads exactly as the checker
// did (the same length, method, target, version and body framing), or are
// refused as 400, 413 or 417 in the contract's envelope; never a panic.
// The seeds are the heads of framing_test.go, accepted and refused.
func FuzzRequestHead(f *testing.F) {
	for _, seed := range []string{
		"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
		"\r\nGET /health HTTP/1.0\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nContent-Length: 12\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 12\r\n\r\n",
		"POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 12\r\n\r\n",
		"GET http://x:80/health HTTP/1.1\r\nHost: X\r\n\r\n",
		"GET /health HTTP/1.1\r\nHost:\r\nX-Note:\t a \t\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
		"GET /health\r\n\r\n",
		"GET /health HTTP/1.1\nHost: x\r\n\r\n",
		"GET /health HTTP/1.1\r\nHost: x\r\n\n",
		"GET /health HTTP/1.1\r\nHost: x\r\nX-Foo bar\r\n\r\n",
		"GET /health HTTP/1.1\r\n Host: x\r\n\r\n",
		"GET /health HTTP/1.1\r\nHost : x\r\n\r\n",
		"GET /health HTTP/1.1\r\nHost: x\r\n: a\r\n\r\n",
		"GET /health HTTP/1.1\r\nHost: x\x00y\r\n\r\n",
		"GET /hea\rlth HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET http://x/health HTTP/1.1\r\nHost: y\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +12\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 12, 12\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 65537\r\n\r\n",
		"GET /health HTTP/9.9\r\nHost: x\r\n\r\n",
		"GET  /health HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, h, refusal := readHead(b)
		var body bodyState
		var edits []edit
		if refusal == nil && n > 0 {
			body, edits, refusal = checkHead(&h)
		}
		if refusal != nil {
			if status, _ := apperr.HTTP(refusal); status != 400 && status != 413 && status != 417 {
				t.Fatalf("%q refused with %d", b, status)
			}
			var ae *apperr.Error
			if !errors.As(refusal, &ae) || ae.Kind == apperr.KindInvalid && ae.Details["field"] == nil {
				t.Fatalf("%q refused without a field: %v", b, refusal)
			}
			return
		}
		if n == 0 {
			return // an incomplete head: more is needed
		}
		head := applyEdits(b[:n], edits)
		const tail = "\x00next"
		r := bufio.NewReaderSize(bytes.NewReader(append(append([]byte(nil), head...), tail...)), headLimit+len(tail))
		var fh fasthttp.RequestHeader
		if err := fh.Read(r); err != nil {
			t.Fatalf("%q accepted, fasthttp cannot read it: %v", head, err)
		}
		wantLength := body.left
		if body.chunked {
			wantLength = -1
		}
		gotLength := int64(fh.ContentLength())
		if gotLength == -2 {
			gotLength = 0 // no Content-Length nor Transfer-Encoding: no body
		}
		switch {
		case r.Buffered() != len(tail):
			t.Fatalf("%q accepted as %d bytes, fasthttp read %d", head, len(head), len(head)+len(tail)-r.Buffered())
		case string(fh.Method()) != string(h.method) || string(fh.RequestURI()) != string(h.target) || string(fh.Protocol()) != string(h.version):
			t.Fatalf("%q accepted as %s %s %s, fasthttp read %s %s %s", head, h.method, h.target, h.version, fh.Method(), fh.RequestURI(), fh.Protocol())
		case gotLength != wantLength && !(wantLength > 1<<31 && gotLength < 0):
			t.Fatalf("%q accepted with a body of %d, fasthttp reads %d", head, wantLength, gotLength)
		}
	})
}

// A chunked body is followed to its end, wherever the reads split it,
// and its framing errors are found.
func TestChunkedBodyIsFollowed(t *testing.T) {
	cases := []struct {
		body string
		ok   bool
	}{
		{"0\r\n\r\n", true},
		{"5\r\nhello\r\n0\r\n\r\n", true},
		{"5;a=b\r\nhello\r\nA \t;x\r\n0123456789\r\n000\r\nX-T: 1\r\nY: 2\r\n\r\n", true},
		{"5\r\nhello\r\n0\r\nX-T\r\n\r\n", false},
		{"5\r\nhello\r\n0\r\n X-T: 1\r\n\r\n", false},
		{"5\r\nhelloX\r\n0\r\n\r\n", false},
		{"5x\r\nhello\r\n0\r\n\r\n", false},
		{";\r\nhello\r\n0\r\n\r\n", false},
		{"5\nhello\r\n0\r\n\r\n", false},
		{"5;\x00\r\nhello\r\n0\r\n\r\n", false},
		{"123456789\r\n", false},
		{"0\r\n\r\r", false},
	}
	for _, tc := range cases {
		for split := 1; split <= len(tc.body); split++ {
			s := bodyState{chunked: true}
			const next = "GET / HTTP/1.1\r\n"
			in := []byte(tc.body + next)
			taken := 0
			var err error
			for len(in) > 0 && s.active() && err == nil {
				step := min(split, len(in))
				var n int
				n, err = s.feed(in[:step])
				taken += n
				in = in[n:]
			}
			switch {
			case tc.ok && (err != nil || taken != len(tc.body)):
				t.Fatalf("%q split every %d: took %d bytes (%v), want %d", tc.body, split, taken, err, len(tc.body))
			case !tc.ok && err == nil:
				t.Fatalf("%q split every %d: took %d bytes and no error", tc.body, split, taken)
			}
		}
	}
}

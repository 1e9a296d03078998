package server

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/finflow/finflow/platform/apperr"
)

// headLimit is the longest request head (request line, header lines and the
// empty line after them, with any empty lines before) a FinFlow server
// reads. It is also fasthttp's read buffer, which bounds the head fasthttp
// can parse, so a head this checker has not seen whole never fits there.
const headLimit = 8 << 10

// refusedHead is what fasthttp is given in place of a refused head: a
// request it parses without complaint, so that it answers in turn (after
// any earlier pipelined request) with what unambiguousFraming writes for
// the refusal. Nothing of the connection after it is ever read.
const refusedHead = "GET / HTTP/1.1\r\nHost: refused.invalid\r\nConnection: close\r\n\r\n"

// headListener hands each accepted connection to fasthttp as a headConn.
type headListener struct {
	net.Listener
	readTimeout time.Duration
}

// Accept implements net.Listener.
func (l headListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &headConn{Conn: c, readTimeout: l.readTimeout}, nil
}

// headConn is a server connection that reads every request head in full,
// exactly as the client sent it, and checks it (readHead, checkHead)
// before fasthttp sees a byte of it: fasthttp's own parser takes some
// heads without a trace of what was wrong (a request line without a
// version reads as HTTP/1.0) and waits for others until the read timeout
// (a header line without a colon). A refused head is replaced by
// refusedHead, its refusal kept for unambiguousFraming, and the
// connection ends there. The bodies between heads (Content-Length or
// chunked, as checkHead framed them) pass through as they come; a chunked
// body whose framing is malformed ends the stream with an error, which
// fasthttp answers 400 and closes on.
//
// fasthttp reads a connection and runs its handler on one goroutine, one
// request after the other, so the fields need no lock.
type headConn struct {
	net.Conn
	readTimeout time.Duration

	in   queue     // read from the connection, not yet handed on
	out  queue     // handed on to fasthttp, not yet read by it
	body bodyState // the body being passed through, if any
	err  error     // what every Read returns once out is empty

	timed     bool          // the head being read has had its read timeout set
	heads     uint64        // heads handed on, refusedHead included
	refused   *apperr.Error // why head number refusedAt was refused
	refusedAt uint64
	scratch   [4 << 10]byte
}

// refusal returns why the head of the connection's request number n (as
// fasthttp counts them, from 1) was refused, or nil.
func (c *headConn) refusal(n uint64) *apperr.Error {
	if c.refused != nil && n >= c.refusedAt {
		return c.refused
	}
	return nil
}

// Read implements net.Conn: it returns only bytes that are part of a head
// checked whole, or of the body after it.
func (c *headConn) Read(p []byte) (int, error) {
	for {
		if c.out.len() > 0 {
			return c.out.take(p), nil
		}
		if c.err != nil {
			return 0, c.err
		}
		if c.in.len() == 0 && c.body.left > 0 && !c.body.chunked {
			// The rest of a Content-Length body, straight from the
			// connection.
			n, err := c.Conn.Read(p[:min(int64(len(p)), c.body.left)])
			c.body.left -= int64(n)
			return n, err
		}
		if c.in.len() > 0 && c.advance() {
			continue
		}
		c.fill()
	}
}

// advance moves what it can of in to out: a whole checked head (or
// refusedHead), or body bytes. It reports false when in holds only the
// start of a head.
func (c *headConn) advance() bool {
	in := c.in.bytes()
	if c.body.active() {
		n, err := c.body.feed(in)
		c.out.push(in[:n])
		c.in.skip(n)
		if err != nil {
			c.err = err
			c.in.skip(c.in.len())
		}
		return true
	}
	n, h, refusal := readHead(in)
	if refusal == nil && n == 0 {
		return false
	}
	var head []byte
	if refusal == nil {
		var edits []edit
		c.body, edits, refusal = checkHead(&h)
		head = applyEdits(in[:n], edits)
	}
	c.heads++
	if refusal != nil {
		c.refused, c.refusedAt = refusal, c.heads
		c.out.push([]byte(refusedHead))
		c.in.skip(c.in.len())
		c.err = io.EOF
		return true
	}
	c.out.push(head)
	c.in.skip(n)
	c.timed = false
	return true
}

// fill reads more of the connection into in. A read error is kept for
// Read to return, after what is in (the start of a head, which fasthttp
// cannot take for a whole one: every line of it ends in CRLF and none is
// empty), so a client that stalls mid-head is answered 408 as before.
func (c *headConn) fill() {
	inHead := !c.body.active() && c.heads > 0 && !c.timed && c.readTimeout > 0
	if inHead && c.in.len() > 0 {
		c.setReadTimeout()
	}
	n, err := c.Conn.Read(c.scratch[:])
	if inHead && n > 0 {
		c.setReadTimeout()
	}
	c.in.push(c.scratch[:n])
	if err != nil {
		c.out.push(c.in.bytes())
		c.in.skip(c.in.len())
		c.err = err
	}
}

// setReadTimeout gives the head being read the read timeout, once:
// fasthttp waits for a kept-alive connection's next request with the idle
// timeout, then gives the request the read timeout from its first byte;
// that byte is here, and fasthttp will not see it until the head is
// whole.
func (c *headConn) setReadTimeout() {
	if !c.timed {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.readTimeout))
		c.timed = true
	}
}

// queue is a byte FIFO that reuses its array once emptied.
type queue struct {
	buf []byte
	off int
}

func (q *queue) len() int      { return len(q.buf) - q.off }
func (q *queue) bytes() []byte { return q.buf[q.off:] }

func (q *queue) push(b []byte) {
	if q.off == len(q.buf) {
		q.buf, q.off = q.buf[:0], 0
	}
	q.buf = append(q.buf, b...)
}

func (q *queue) skip(n int) { q.off += n }

func (q *queue) take(p []byte) int {
	n := copy(p, q.bytes())
	q.off += n
	return n
}

// rawHead is a request head as the client sent it, split into its lines.
type rawHead struct {
	method, target, version []byte
	fields                  []rawField
}

// rawField is one header line: its name, its value as fasthttp keeps it
// (spaces around it removed, tabs kept) and where the line (CRLF
// included) lies in the head.
type rawField struct {
	name, value []byte
	start, end  int
}

// readHead reads one request head at the start of b. It returns the
// head's length once b holds all of it, 0 while it needs more, or the
// refusal of the first line that breaks RFC 9112's syntax as soon as that
// line is complete (so a client is answered at once, not after the read
// timeout):
//
//   - every line ends in CRLF: a bare LF ends no line, a CR nothing else
//     (RFC 9112 2.2); empty lines before the request line are skipped;
//   - the request line is method SP target SP version (RFC 9112 3):
//     requestLineProblem;
//   - a header line is a token, a colon, and a value (RFC 9112 5): not
//     folded onto the line before it (5.2), no whitespace before the
//     colon (5.1), no NUL in the value (RFC 9110 5.5);
//   - the whole head fits in headLimit.
func readHead(b []byte) (int, rawHead, *apperr.Error) {
	var h rawHead
	pos := 0
	for bytes.HasPrefix(b[pos:], []byte("\r\n")) {
		pos += 2
	}
	first := true
	for {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			if len(b) >= headLimit {
				return 0, h, apperr.Invalid("headers", "request headers are too large")
			}
			return 0, h, nil
		}
		start, end := pos, pos+i+1
		if end > headLimit {
			return 0, h, apperr.Invalid("headers", "request headers are too large")
		}
		field := "headers"
		if first {
			field = "request"
		}
		line := b[start : end-1]
		if len(line) == 0 || line[len(line)-1] != '\r' {
			return 0, h, apperr.Invalid(field, "a line of the request head ends in LF without CR before it; end every line with CRLF")
		}
		line = line[:len(line)-1]
		if bytes.IndexByte(line, '\r') >= 0 {
			return 0, h, apperr.Invalid(field, "the request head has a CR that does not end a line")
		}
		pos = end
		if first {
			first = false
			var problem string
			h.method, h.target, h.version, problem = requestLineProblem(line)
			if problem != "" {
				return 0, h, apperr.Invalid("request", "%s", problem)
			}
			continue
		}
		if len(line) == 0 {
			return pos, h, nil
		}
		f, problem := headerLineProblem(line)
		if problem != "" {
			return 0, h, apperr.Invalid("headers", "%s", problem)
		}
		f.start, f.end = start, end
		h.fields = append(h.fields, f)
	}
}

// requestLineProblem splits a request line (without its CRLF) into
// method, target and version, and says what is wrong with it ("" when
// nothing is): not three parts separated by single spaces (a line with no
// version at all is HTTP/0.9's, which fasthttp would read as HTTP/1.0), a
// version other than HTTP/1.1 or HTTP/1.0 (exactly so spelt), a control
// character in the target, or a target that is neither a path nor an
// absolute http(s) URI with a valid host (nor * on OPTIONS). Whether the
// method is one FinFlow serves is knownMethods' to say.
func requestLineProblem(line []byte) (method, target, version []byte, problem string) {
	parts := bytes.Split(line, []byte{' '})
	switch {
	case len(parts) == 2 && len(parts[0]) > 0 && len(parts[1]) > 0:
		return nil, nil, nil, "the request line has no HTTP version (HTTP/0.9's form is not served); send method, target and HTTP/1.1"
	case len(parts) > 3:
		return nil, nil, nil, "the request line has more than three parts (method, target, version); a space in a path or query is sent as %20"
	case len(parts) != 3 || len(parts[0]) == 0 || len(parts[1]) == 0:
		return nil, nil, nil, "the request line is not a method, a target and an HTTP version separated by single spaces"
	}
	method, target, version = parts[0], parts[1], parts[2]
	if p := version; !bytes.Equal(p, []byte("HTTP/1.1")) && !bytes.Equal(p, []byte("HTTP/1.0")) {
		return nil, nil, nil, fmt.Sprintf("HTTP version \"%s\" is not served; send HTTP/1.1 or HTTP/1.0", apperr.Printable(string(p), 40))
	}
	if problem := targetProblem(method, target); problem != "" {
		return nil, nil, nil, problem
	}
	return method, target, version, ""
}

// targetProblem says what is wrong with a request target ("" when
// nothing is); see requestLineProblem.
func targetProblem(method, target []byte) string {
	for _, c := range target {
		if c < ' ' || c == 0x7f {
			return "the request target has a control character in it; send it percent-encoded"
		}
	}
	switch {
	case target[0] == '/':
		return ""
	case string(target) == "*" && string(method) == fiber.MethodOptions:
		return ""
	}
	const notATarget = "the request target is neither a path starting with / nor an absolute http or https URI"
	authority, ok := targetAuthority(target)
	if !ok {
		return notATarget
	}
	if len(authority) == 0 {
		return "the request target is an http URI with no host"
	}
	if p := hostProblem(authority); p != "" {
		return "the request target's host: " + p
	}
	return ""
}

// targetAuthority returns the authority (host[:port]) of an absolute
// http or https target, and false for any other target.
func targetAuthority(target []byte) ([]byte, bool) {
	scheme, rest, ok := bytes.Cut(target, []byte("://"))
	if !ok || !bytes.EqualFold(scheme, []byte("http")) && !bytes.EqualFold(scheme, []byte("https")) {
		return nil, false
	}
	if i := bytes.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return rest, true
}

// headerLineProblem splits a header line (without its CRLF) into name
// and value, and says what is wrong with it ("" when nothing is); see
// readHead.
func headerLineProblem(line []byte) (rawField, string) {
	if line[0] == ' ' || line[0] == '\t' {
		return rawField{}, "a header line starts with whitespace (a line folded onto the one before it, obsolete line folding) and is not accepted"
	}
	name, value, ok := bytes.Cut(line, []byte{':'})
	if !ok {
		return rawField{}, fmt.Sprintf("header line \"%s\" has no colon; send name: value", apperr.Printable(string(line), 64))
	}
	if len(name) > 0 && (name[len(name)-1] == ' ' || name[len(name)-1] == '\t') {
		return rawField{}, fmt.Sprintf("header name \"%s\" is followed by whitespace before its colon", apperr.Printable(string(bytes.TrimRight(name, " \t")), 64))
	}
	if !isToken(name) {
		return rawField{}, fmt.Sprintf("header name \"%s\" has a character a header name cannot have", apperr.Printable(string(name), 64))
	}
	// NUL is what RFC 9110 5.5 calls dangerous beside CR and LF (which
	// cannot be here: readHead has ended the line there); other control
	// characters are left to the route that reads the header, which
	// names it.
	if bytes.IndexByte(value, 0) >= 0 {
		return rawField{}, fmt.Sprintf("header %s has a NUL character in its value", apperr.Printable(string(name), 64))
	}
	// The value as fasthttp keeps it: without the spaces around it, but
	// with any tab (a Host of "\tx" is not x to its router).
	return rawField{name: name, value: bytes.Trim(value, " ")}, ""
}

// edit replaces bytes [start, end) of a head with with.
type edit struct {
	start, end int
	with       string
}

// applyEdits returns head with edits (in order, not overlapping) made;
// head itself when there are none.
func applyEdits(head []byte, edits []edit) []byte {
	if len(edits) == 0 {
		return head
	}
	out := make([]byte, 0, len(head))
	at := 0
	for _, e := range edits {
		out = append(out, head[at:e.start]...)
		out = append(out, e.with...)
		at = e.end
	}
	return append(out, head[at:]...)
}

// checkHead applies the rules about the head as a whole (see
// unambiguousFraming) to h, read by readHead. It returns how the body
// after it is framed and the edits to make before fasthttp reads it
// (an Expect fasthttp would misread), or the refusal.
func checkHead(h *rawHead) (bodyState, []edit, *apperr.Error) {
	http11 := string(h.version) == "HTTP/1.1"
	var length, host, coding, expect []byte
	lengths, hosts, codings, expects := 0, 0, 0, 0
	var expectField rawField
	for _, f := range h.fields {
		switch {
		case bytes.EqualFold(f.name, []byte("Content-Length")):
			if !isDigits(f.value) {
				return bodyState{}, nil, apperr.Invalid("headers", "Content-Length \"%s\" is not a number of bytes: send one value, digits only", apperr.Printable(string(f.value), 40))
			}
			if lengths > 0 && !bytes.Equal(f.value, length) {
				return bodyState{}, nil, apperr.Invalid("headers", "Content-Length is given more than once, with different values")
			}
			length, lengths = f.value, lengths+1
		case bytes.EqualFold(f.name, []byte("Transfer-Encoding")):
			coding, codings = f.value, codings+1
		case bytes.EqualFold(f.name, []byte("Host")):
			host, hosts = f.value, hosts+1
		case bytes.EqualFold(f.name, []byte("Expect")):
			expect, expects, expectField = f.value, expects+1, f
		}
	}
	authority, absolute := targetAuthority(h.target)
	headers := func(msg string, args ...any) (bodyState, []edit, *apperr.Error) {
		return bodyState{}, nil, apperr.Invalid("headers", msg, args...)
	}
	switch {
	case codings > 0 && lengths > 0:
		return headers("a request has Content-Length or Transfer-Encoding, not both")
	case codings > 0 && !http11:
		return headers("an HTTP/1.0 request cannot have Transfer-Encoding; send Content-Length")
	case codings > 1 || codings == 1 && !bytes.EqualFold(coding, []byte("chunked")):
		return headers("Transfer-Encoding is accepted only as chunked, given once")
	case hosts == 0 && http11 && !absolute:
		// With an absolute target the host is the target's (RFC 9112
		// 3.2.2), so there is no doubt which it is; Go's
		// httputil.DumpRequest (Fiber's app.Test) sends such a request
		// without Host.
		return headers("an HTTP/1.1 request must have a Host header")
	case hosts > 1:
		return headers("Host is given more than once; send it once")
	case hosts == 1:
		if p := hostProblem(host); p != "" {
			return headers("Host: %s", p)
		}
		if absolute && !sameAuthority(h.target, authority, host) {
			return bodyState{}, nil, apperr.Invalid("request", "the request target names host \"%s\" and the Host header \"%s\": send the same host in both",
				apperr.Printable(string(authority), 64), apperr.Printable(string(host), 64))
		}
	}
	var body bodyState
	switch {
	case codings == 1:
		body.chunked = true
	case lengths > 0:
		body.left = contentLength(length)
	}
	var edits []edit
	if expects > 0 {
		if expects > 1 || !bytes.EqualFold(expect, []byte("100-continue")) {
			return bodyState{}, nil, apperr.New(apperr.KindExpectationFailed, apperr.CodeExpectationFailed,
				fmt.Sprintf("Expect \"%s\" cannot be met: the only expectation served is 100-continue, given once", apperr.Printable(string(expect), 64)))
		}
		switch {
		case !http11:
			// RFC 9110 10.1.1: a 100-continue expectation on an
			// HTTP/1.0 request is ignored (fasthttp would answer it
			// with an HTTP/1.1 interim response the client cannot read).
			edits = append(edits, edit{expectField.start, expectField.end, ""})
		case body.left > BodyLimit:
			// Answered before the body is sent: no 100 Continue.
			return bodyState{}, nil, apperr.New(apperr.KindTooLarge, apperr.CodeBodyTooLarge,
				fmt.Sprintf("request body is larger than %d bytes (Content-Length %s); it was not read", BodyLimit, apperr.Printable(string(length), 20)))
		case !bytes.Equal(expect, []byte("100-continue")):
			// The expectation is case-insensitive; fasthttp sends its 100
			// Continue only for the lower-case spelling.
			edits = append(edits, edit{expectField.start, expectField.end, "Expect: 100-continue\r\n"})
		}
	}
	return body, edits, nil
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// contentLength reads a Content-Length of digits (isDigits); one too
// large for an int64 is read as the largest.
func contentLength(s []byte) int64 {
	n, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return 1<<63 - 1
	}
	return n
}

// sameAuthority reports whether an absolute target's authority and a
// Host value name the same host and port: the host compared without
// regard to letter case, a missing or empty port read as the scheme's
// (80 for http, 443 for https).
func sameAuthority(target, authority, host []byte) bool {
	defaultPort := "80"
	if bytes.HasPrefix(bytes.ToLower(target), []byte("https:")) {
		defaultPort = "443"
	}
	split := func(v []byte) (string, string) {
		name, port := v, []byte(nil)
		if i := bytes.LastIndexByte(v, ':'); i >= 0 && !bytes.Contains(v[i:], []byte("]")) {
			name, port = v[:i], v[i+1:]
		}
		p := string(port)
		for len(p) > 1 && p[0] == '0' {
			p = p[1:]
		}
		if p == "" {
			p = defaultPort
		}
		return string(bytes.ToLower(name)), p
	}
	an, ap := split(authority)
	hn, hp := split(host)
	return an == hn && ap == hp
}

// bodyState follows a request body through a headConn: how much of a
// Content-Length body is left, or where a chunked body is in its framing
// (RFC 9112 7.1).
type bodyState struct {
	left    int64 // bytes of the Content-Length body, or of the chunk's data, still to come
	chunked bool  // a chunked body, not yet ended
	phase   chunkPhase
	digits  int // hex digits of the chunk size so far
	size    int64
	line    int  // bytes of the trailer line (or section) so far
	colon   bool // the trailer line has had its colon
}

// chunkPhase is where a chunked body is: what the next byte must be.
type chunkPhase int

const (
	chunkSize    chunkPhase = iota // a hex digit (or, after one, ; SP HTAB CR)
	chunkExt                       // an extension's byte, or CR
	chunkSizeLF                    // LF after the size line's CR
	chunkData                      // data (left of it)
	chunkDataCR                    // CR after the data
	chunkDataLF                    // LF after that
	trailerStart                   // a trailer line's first byte, or CR of the empty line
	trailerLine                    // a trailer line's byte, or CR
	trailerLF                      // LF after a trailer line's CR
	trailerEndLF                   // LF of the empty line that ends the body
)

// active reports whether a body is still coming.
func (s *bodyState) active() bool { return s.left > 0 || s.chunked }

// errChunked is the start of every malformed-chunked-body error.
const errChunked = "the chunked body is malformed: "

// feed takes the bytes b that follow on the connection and returns how
// many of them belong to the body (all, or up to its end) and, for a
// chunked body whose framing is wrong at b[n], the error to end the
// connection with. What a chunked body may hold is what both RFC 9112 7.1
// and fasthttp read the same way: a size of 1 to 8 hex digits, an
// extension of printable characters after ";" or whitespace, data, CRLF,
// and after the last chunk trailer lines of name: value (at most
// headLimit bytes in all) and an empty line.
func (s *bodyState) feed(b []byte) (int, error) {
	if !s.chunked {
		n := int64(len(b))
		if n > s.left {
			n = s.left
		}
		s.left -= n
		return int(n), nil
	}
	bad := func(i int, why string) (int, error) { return i, fmt.Errorf("%s%s", errChunked, why) }
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch s.phase {
		case chunkSize:
			switch {
			case isHex(c):
				if s.digits == 8 {
					return bad(i, "a chunk size has more than 8 hex digits")
				}
				s.size = s.size<<4 | int64(unhex(c))
				s.digits++
			case s.digits == 0:
				return bad(i, "a chunk does not start with its size in hex")
			case c == '\r':
				s.phase = chunkSizeLF
			case c == ';' || c == ' ' || c == '\t':
				s.phase = chunkExt
			default:
				return bad(i, "a chunk size is followed by something other than an extension or CRLF")
			}
		case chunkExt:
			switch {
			case c == '\r':
				s.phase = chunkSizeLF
			case c < ' ' && c != '\t' || c == 0x7f:
				return bad(i, "a chunk extension has a control character in it")
			}
		case chunkSizeLF:
			if c != '\n' {
				return bad(i, "a chunk size line's CR is not followed by LF")
			}
			s.digits = 0
			if s.size == 0 {
				s.phase, s.line = trailerStart, 0
				continue
			}
			s.phase, s.left, s.size = chunkData, s.size, 0
		case chunkData:
			n := int64(len(b) - i)
			if n > s.left {
				n = s.left
			}
			s.left -= n
			i += int(n) - 1
			if s.left == 0 {
				s.phase = chunkDataCR
			}
		case chunkDataCR:
			if c != '\r' {
				return bad(i, "a chunk's data is not followed by CRLF")
			}
			s.phase = chunkDataLF
		case chunkDataLF:
			if c != '\n' {
				return bad(i, "a chunk's data is not followed by CRLF")
			}
			s.phase = chunkSize
		case trailerStart, trailerLine:
			s.line++
			if s.line > headLimit {
				return bad(i, "the trailer section is too large")
			}
			switch {
			case c == '\r' && s.phase == trailerStart:
				s.phase = trailerEndLF
			case c == '\r' && !s.colon:
				return bad(i, "a trailer line has no colon")
			case c == '\r':
				s.phase = trailerLF
			case s.phase == trailerStart && (c == ' ' || c == '\t'):
				return bad(i, "a trailer line is folded onto the one before it")
			case c < ' ' && c != '\t' || c == 0x7f:
				return bad(i, "a trailer line has a control character in it")
			default:
				s.colon = s.colon || c == ':'
				s.phase = trailerLine
			}
		case trailerLF:
			if c != '\n' {
				return bad(i, "a trailer line's CR is not followed by LF")
			}
			s.phase, s.colon = trailerStart, false
		case trailerEndLF:
			if c != '\n' {
				return bad(i, "the body's last CR is not followed by LF")
			}
			*s = bodyState{}
			return i + 1, nil
		}
	}
	return len(b), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// headRefusal returns why the request in ctx is refused before any
// route, or nil. A request read through a headConn was checked there,
// byte for byte; one served otherwise (Fiber's app.Test) is checked here
// on its head as fasthttp parsed it: the request line rebuilt from its
// parts (so HTTP/0.9's form, read as HTTP/1.0, passes) and the header
// lines as received.
func headRefusal(ctx *fasthttp.RequestCtx) *apperr.Error {
	if hc, ok := ctx.Conn().(*headConn); ok {
		return hc.refusal(ctx.ConnRequestNum())
	}
	h := &ctx.Request.Header
	raw := make([]byte, 0, 64+len(h.RequestURI())+len(h.RawHeaders()))
	raw = append(raw, h.Method()...)
	raw = append(raw, ' ')
	raw = append(raw, h.RequestURI()...)
	raw = append(raw, ' ')
	raw = append(raw, h.Protocol()...)
	raw = append(raw, "\r\n"...)
	if headers := h.RawHeaders(); len(headers) > 0 {
		raw = append(raw, headers...)
	} else {
		raw = append(raw, "\r\n"...)
	}
	n, head, refusal := readHead(raw)
	if refusal != nil {
		return refusal
	}
	if n == 0 {
		return apperr.Invalid("headers", "the request head does not end in an empty line")
	}
	_, _, refusal = checkHead(&head)
	return refusal
}

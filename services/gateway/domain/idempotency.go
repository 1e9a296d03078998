package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
)

// HeaderIdempotencyKey is the client's header (Stripe's convention).
const HeaderIdempotencyKey = "Idempotency-Key"

// HeaderReplayed marks a response that repeats the first one of a key.
const HeaderReplayed = "Idempotent-Replayed"

// Idempotency errors.
var (
	ErrKeyReused = apperr.New(apperr.KindUnprocessable, contract.CodeIdempotencyKeyReused,
		"this Idempotency-Key was used with a different request; use a new key for a new request")
	ErrKeyInUse = apperr.New(apperr.KindConflict, "IDEMPOTENCY_KEY_IN_USE",
		"a request with this Idempotency-Key is still being processed; retry when it has finished")
)

// Kept reports whether a service's answer to a keyed request (its status,
// and its error code when it is an error) is recorded as the key's answer,
// to be replayed to the key's repeats. Not kept: a failure or no answer
// (5xx), a refused request that changed nothing (400), and the service's
// own word that the key is another request's (IDEMPOTENCY_KEY_REUSED,
// IDEMPOTENCY_KEY_IN_USE): recorded under this request's body, that answer
// would refuse the key's first request when it is retried with its own
// body (the outside tester's report: after a 503 of unknown outcome, a
// retry with another body took the key for 24 hours).
func Kept(status int, code string) bool {
	switch {
	case status >= 500 || status == 400:
		return false
	case code == contract.CodeIdempotencyKeyReused || code == ErrKeyInUse.Code:
		return false
	}
	return true
}

// ValidateKey checks an Idempotency-Key: 1 to 255 printable ASCII
// characters.
func ValidateKey(key string) error {
	if len(key) == 0 || len(key) > 255 {
		return apperr.Invalid(HeaderIdempotencyKey, "Idempotency-Key must be 1 to 255 characters")
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return apperr.Invalid(HeaderIdempotencyKey, "Idempotency-Key must be printable ASCII")
		}
	}
	return nil
}

// Token is what identifies a keyed request downstream: a hash of the
// caller's scope and the key, so keys of different callers never meet.
func Token(scope, key string) string {
	sum := sha256.Sum256([]byte(scope + "\x00" + key))
	return hex.EncodeToString(sum[:])
}

// Fingerprint identifies a request's content: method, path and body, with a
// JSON body compared by meaning (key order and spacing do not matter).
func Fingerprint(method, path string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(method + " " + path + "\n"))
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if len(bytes.TrimSpace(body)) > 0 && dec.Decode(&v) == nil {
		canon, _ := json.Marshal(v) // maps marshal with sorted keys
		h.Write(canon)
	} else {
		h.Write(body)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ErrRecordExists is returned when a key already has a record.
var ErrRecordExists = errors.New("idempotency key already has a record")

// Record is what the gateway keeps for a key: the request's fingerprint
// and, once it has an answer, the answer. While the request runs, Deadline
// is when its gateway stops waiting for the answer.
type Record struct {
	Fingerprint string    `json:"fingerprint"`
	Done        bool      `json:"done"`
	StartedAt   time.Time `json:"started_at"`
	Deadline    time.Time `json:"deadline,omitzero"`
	Status      int       `json:"status,omitempty"`
	ContentType string    `json:"content_type,omitempty"`
	Body        []byte    `json:"body,omitempty"`
}

// LegacyStaleAfter is how long a running record without a Deadline (made
// by an older gateway) is taken to be running.
const LegacyStaleAfter = time.Minute

// Decision is what to do with a keyed request given an earlier record.
type Decision int

// Decisions.
const (
	Proceed  Decision = iota // no usable record: run the request
	Replay                   // answer with the record's response
	TakeOver                 // the earlier attempt died without an answer: run it again
)

// Decide applies the contract's rules to a request with fingerprint fp
// that found rec: a different request is ErrKeyReused, a finished one is
// replayed, one still running is ErrKeyInUse until its deadline. Past the
// deadline its gateway has given up on it (or died), so it is taken over;
// the services de-duplicate the rerun by the key's token.
func Decide(rec Record, fp string, now time.Time) (Decision, error) {
	if rec.Fingerprint != fp {
		return 0, ErrKeyReused
	}
	if rec.Done {
		return Replay, nil
	}
	deadline := rec.Deadline
	if deadline.IsZero() {
		deadline = rec.StartedAt.Add(LegacyStaleAfter)
	}
	if now.After(deadline) {
		return TakeOver, nil
	}
	return 0, ErrKeyInUse
}

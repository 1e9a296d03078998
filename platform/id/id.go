// Package id makes and checks FinFlow's opaque identifiers: a type prefix, an
// underscore and 26 characters of lower-case Crockford base32 drawn from 128
// random bits (for example usr_01j9x3...).
package id

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// The prefixes of FinFlow's identifiers.
const (
	User        = "usr"
	Bill        = "bill"
	Payment     = "pay"
	Transaction = "wtx"
	TopUp       = "top"
	Refund      = "rfd"
	// Subscription is a recurring bill's schedule (the billing service).
	Subscription = "sub"
)

// Prefixes are all of them, for a rule about every kind of FinFlow id (an
// admin's wallet reference may take none of them).
var Prefixes = []string{User, Bill, Payment, Transaction, TopUp, Refund, Subscription}

// bodyLen is the length of the random part: 128 bits in base32 is 26 chars.
const bodyLen = 26

var encoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// New returns a fresh identifier with the given prefix.
func New(prefix string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on Linux; if it does, nothing is safe.
		panic("id: crypto/rand failed: " + err.Error())
	}
	return prefix + "_" + encoding.EncodeToString(b[:])
}

// Derive returns the identifier with the given prefix that belongs to an
// idempotency token: the same token always gives the same id, different
// tokens give unrelated ids. Services use it so that a retried keyed
// request creates the same entity again (and finds it already there)
// instead of a second one.
func Derive(prefix, token string) string {
	sum := sha256.Sum256([]byte(prefix + ":" + token))
	return prefix + "_" + encoding.EncodeToString(sum[:16])
}

// HeaderIdempotencyToken carries, from the gateway to the services, a hash
// of the caller and the client's Idempotency-Key. It is set only by the
// gateway (clients cannot send it through).
const HeaderIdempotencyToken = "X-Idempotency-Token"

// Valid reports whether s is a well-formed identifier with the given prefix.
// It checks shape only, so callers can reject junk before any lookup.
func Valid(prefix, s string) bool {
	body, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(body) != bodyLen {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') || c == 'i' || c == 'l' || c == 'o' || c == 'u' {
			return false
		}
	}
	return true
}

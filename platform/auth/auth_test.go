package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func newPair(t *testing.T, seedByte byte) (*Signer, *Verifier) {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = seedByte
	s, err := NewSigner(base64.StdEncoding.EncodeToString(seed))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(base64.StdEncoding.EncodeToString(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

const testUser = "usr_72hg0z6zszxxdq02mk6shjwk7m"

// The gateway signs one token per identity and lifetime while at least half
// of that lifetime is left, then a new one.
func TestSignReusesATokenForHalfItsLifetime(t *testing.T) {
	s, _ := newPair(t, 1)
	t0 := time.Unix(1_800_000_000, 0)
	user := Identity{Sub: testUser, Role: RoleUser}
	first, err := s.Sign(user, time.Minute, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		ident Identity
		ttl   time.Duration
		at    time.Time
		same  bool
	}{
		{"same identity, at once", user, time.Minute, t0, true},
		{"same identity, 30 s later (half left)", user, time.Minute, t0.Add(30 * time.Second), true},
		{"same identity, 31 s later (less than half left)", user, time.Minute, t0.Add(31 * time.Second), false},
		{"same identity, before it was issued (a clock that went back)", user, time.Minute, t0.Add(-time.Second), false},
		{"another lifetime", user, 2 * time.Minute, t0, false},
		{"another role", Identity{Sub: testUser, Role: RoleAdmin}, time.Minute, t0, false},
		{"another user", Identity{Sub: "usr_0000000000000000000000000a", Role: RoleUser}, time.Minute, t0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.cache.put(signed{user, time.Minute}, signedToken{token: first, issued: t0, exp: t0.Add(time.Minute)})
			got, err := s.Sign(tc.ident, tc.ttl, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			if (got == first) != tc.same {
				t.Fatalf("same token = %v, want %v", got == first, tc.same)
			}
		})
	}
}

// A service verifies a token's signature once and then answers the same
// bytes from its cache until the token expires; anything else is checked
// in full every time.
func TestVerifyRemembersOnlyGoodTokensUntilTheyExpire(t *testing.T) {
	s, v := newPair(t, 2)
	now := time.Now()
	v.now = func() time.Time { return now }
	user := Identity{Sub: testUser, Role: RoleUser}
	good, err := s.Sign(user, time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v.Verify(good); err != nil || got != user {
		t.Fatalf("Verify = %v, %v; want %v", got, err, user)
	}
	// The cache answers now: even with the key swapped for another, the
	// token verified before is still accepted...
	_, other := newPair(t, 3)
	v.key = other.key
	if got, err := v.Verify(good); err != nil || got != user {
		t.Fatalf("Verify of a remembered token = %v, %v; want %v", got, err, user)
	}
	// ...and a token never verified is not.
	fresh, _ := s.Sign(Identity{Sub: testUser, Role: RoleAdmin}, 2*time.Minute, now)
	if _, err := v.Verify(fresh); err == nil {
		t.Fatal("a token signed with another key verified")
	}

	// Past its expiry and the leeway, a remembered token is refused.
	now = now.Add(time.Minute + identityLeeway + time.Second)
	if _, err := v.Verify(good); err == nil {
		t.Fatal("an expired token was accepted from the cache")
	}
}

func TestVerifyRefusals(t *testing.T) {
	s, v := newPair(t, 4)
	forger, _ := newPair(t, 5)
	now := time.Now()
	user := Identity{Sub: testUser, Role: RoleUser}
	good, _ := s.Sign(user, time.Minute, now)
	forged, _ := forger.Sign(user, time.Minute, now)
	expired, _ := s.Sign(user, time.Second, now.Add(-time.Hour))
	badSub, _ := s.Sign(Identity{Sub: "bob", Role: RoleUser}, time.Minute, now)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"role":"admin","sub":%q,"iss":"finflow-gateway","exp":%d}`, testUser, now.Add(time.Minute).Unix()))) + "." + parts[2]
	for name, token := range map[string]string{
		"signed with another key": forged, "expired": expired, "not a user id": badSub,
		"claims changed after signing": tampered, "empty": "", "garbage": "a.b.c",
	} {
		t.Run(name, func(t *testing.T) {
			for try := 0; try < 2; try++ { // refused again: nothing was remembered
				if got, err := v.Verify(token); err == nil {
					t.Fatalf("try %d: accepted as %v", try+1, got)
				}
			}
		})
	}
	if _, ok := v.verified.cache.get(forged); ok {
		t.Fatal("a forged token was remembered")
	}
}

// The caches stay bounded however many identities pass, and a token in use
// stays while others come and go (it is the least recently used that goes,
// not the whole cache).
func TestTokenCacheIsBounded(t *testing.T) {
	var tc tokenCache[int, signedToken]
	const inUse = -1
	tc.put(inUse, signedToken{})
	for i := 0; i < 3*tokenCacheSize; i++ {
		tc.put(i, signedToken{})
		if n := tc.cache().Len(); n > tokenCacheSize {
			t.Fatalf("%d entries after %d puts", n, i+1)
		}
		if _, ok := tc.get(inUse); !ok {
			t.Fatalf("the token in use was dropped after %d other puts", i+1)
		}
	}
	if _, ok := tc.get(0); ok {
		t.Fatal("the first token put, never used again, is still kept")
	}
}

// A token handed over as a view of a buffer that is reused afterwards (as
// Fiber's zero-copy strings are) is remembered as it was: the next request's
// token in the same buffer is verified for itself.
func TestVerifyKeepsItsOwnCopyOfTheToken(t *testing.T) {
	s, v := newPair(t, 6)
	now := time.Now()
	alice := Identity{Sub: "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa", Role: RoleUser}
	bob := Identity{Sub: "usr_bbbbbbbbbbbbbbbbbbbbbbbbbb", Role: RoleUser}
	ta, _ := s.Sign(alice, time.Minute, now)
	tb, _ := s.Sign(bob, time.Minute, now)
	if len(ta) != len(tb) {
		t.Fatalf("tokens of %d and %d bytes; the test needs equal lengths", len(ta), len(tb))
	}
	buf := []byte(ta)
	if got, err := v.Verify(unsafe.String(&buf[0], len(buf))); err != nil || got != alice {
		t.Fatalf("Verify(alice's token) = %v, %v", got, err)
	}
	copy(buf, tb) // the buffer now holds the next request's token
	if got, err := v.Verify(unsafe.String(&buf[0], len(buf))); err != nil || got != bob {
		t.Fatalf("Verify(bob's token, same buffer) = %v, %v; want %v", got, err, bob)
	}
	if got, err := v.Verify(ta); err != nil || got != alice {
		t.Fatalf("Verify(alice's token) again = %v, %v; want %v", got, err, alice)
	}
}

// An identity is a user's usr_ id, or an admin's subject of printable
// ASCII without spaces; a role is user or admin. Which half is wrong is
// told by the error.
func TestValidIdentity(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sub, role string
		want      error // nil, ErrInvalidSub or ErrInvalidRole
	}{
		{"a user", testUser, RoleUser, nil},
		{"an admin", "ops", RoleAdmin, nil},
		{"an admin with a dashed name", "ops-admin", RoleAdmin, nil},
		{"an admin named by a user id", testUser, RoleAdmin, nil},
		{"an admin named by an email", "ops@finflow.in", RoleAdmin, nil},
		{"an admin of every printable character", "!~azAZ09|_.:/", RoleAdmin, nil},
		{"an admin of the longest subject", strings.Repeat("a", 128), RoleAdmin, nil},
		{"an admin of a subject too long", strings.Repeat("a", 129), RoleAdmin, ErrInvalidSub},
		{"an admin of no subject", "", RoleAdmin, ErrInvalidSub},
		{"an admin with a NUL", "ops\x00", RoleAdmin, ErrInvalidSub},
		{"an admin with a newline", "ops\nadmin", RoleAdmin, ErrInvalidSub},
		{"an admin with a tab", "ops\t", RoleAdmin, ErrInvalidSub},
		{"an admin with an escape", "ops\x1b[31m", RoleAdmin, ErrInvalidSub},
		{"an admin with DEL", "ops\x7f", RoleAdmin, ErrInvalidSub},
		{"an admin with a space", "ops admin", RoleAdmin, ErrInvalidSub},
		{"an admin with a non-ASCII letter", "opé", RoleAdmin, ErrInvalidSub},
		{"an admin with invalid UTF-8", "ops\xff", RoleAdmin, ErrInvalidSub},
		{"a user not a user id", "bob", RoleUser, ErrInvalidSub},
		{"a user with a NUL after the id", testUser + "\x00", RoleUser, ErrInvalidSub},
		{"a user of no subject", "", RoleUser, ErrInvalidSub},
		{"no role", "ops", "", ErrInvalidRole},
		{"another role", "ops", "root", ErrInvalidRole},
		{"a role in capitals", "ops", "ADMIN", ErrInvalidRole},
		{"a role with a NUL", "ops", "admin\x00", ErrInvalidRole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidIdentity(tc.sub, tc.role)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("ValidIdentity(%q, %q) = %v, want %v", tc.sub, tc.role, err, tc.want)
			}
		})
	}
}

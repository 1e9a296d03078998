// Package ratelimit counts requests per caller in Redis, so that a limit
// holds across every gateway replica: a fixed window per caller, counted
// and expired by one atomic script.
package ratelimit

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// script counts one request in the caller's current window and returns the
// count (the window expires by itself).
var script = redis.NewScript(`
local n = redis.call("INCR", KEYS[1])
if n == 1 then
  redis.call("PEXPIRE", KEYS[1], ARGV[1])
end
return n
`)

// Limiter counts requests in Redis.
type Limiter struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// New returns a Limiter on rdb; keys start with prefix.
func New(rdb redis.UniversalClient, prefix string) *Limiter {
	return &Limiter{rdb: rdb, prefix: prefix, now: time.Now}
}

// Decision is the outcome of Allow.
type Decision struct {
	Allowed    bool
	Remaining  int64
	RetryAfter time.Duration // until the window ends, when not allowed
}

// Allow counts one request of caller against limit requests per window.
func (l *Limiter) Allow(ctx context.Context, caller string, limit int64, window time.Duration) (Decision, error) {
	now := l.now()
	slot := now.UnixMilli() / window.Milliseconds()
	key := l.prefix + caller + ":" + strconv.FormatInt(slot, 10)
	n, err := script.Run(ctx, l.rdb, []string{key}, window.Milliseconds()).Int64()
	if err != nil {
		return Decision{Allowed: true}, err
	}
	if n > limit {
		end := time.UnixMilli((slot + 1) * window.Milliseconds())
		return Decision{RetryAfter: end.Sub(now)}, nil
	}
	return Decision{Allowed: true, Remaining: limit - n}, nil
}

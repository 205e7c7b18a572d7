package store

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
)

// RateLimiter keeps per-client request rates in Redis, so every gateway
// instance enforces one limit: the generic cell rate algorithm (GCRA, a
// token bucket kept as one timestamp per client), one script call per
// request, with Redis's own clock so that instances with skewed clocks
// still agree.
type RateLimiter struct {
	rdb redis.UniversalClient
}

// NewRateLimiter returns a limiter on rdb.
func NewRateLimiter(rdb redis.UniversalClient) *RateLimiter { return &RateLimiter{rdb: rdb} }

// RateDecision is the outcome of one Allow.
type RateDecision struct {
	Allowed bool
	// Remaining is how many more requests the bucket admits right now.
	Remaining int
	// RetryAfter (when not allowed) is how long until one request is
	// admitted again; Reset how long until the bucket is full again.
	RetryAfter, Reset time.Duration
}

// rateScript: KEYS[1] the client's bucket; ARGV[1] emission interval and
// ARGV[2] tolerance (interval × burst), both in microseconds. It returns
// {allowed 0|1, retry after µs, reset µs, remaining}.
var rateScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new = tat + interval
if new - tolerance > now then
  return {0, new - tolerance - now, tat - now, 0}
end
redis.call('SET', KEYS[1], string.format('%d', new), 'PX', math.floor((new - now) / 1000) + 1)
return {1, 0, new - now, math.floor((tolerance - (new - now)) / interval)}
`)

// Allow takes one request of client from its bucket: perSecond requests a
// second on average, up to burst at once. Errors: Invalid for a rate ≤ 0
// or burst < 1, Unavailable (Redis failed or ctx ended; the caller decides
// whether to fail open).
func (l *RateLimiter) Allow(ctx context.Context, client string, perSecond float64, burst int) (RateDecision, error) {
	if !(perSecond > 0) || burst < 1 {
		return RateDecision{}, erpgate.Errorf(erpgate.Invalid, "rate limit: rate %v/s and burst %d must be positive", perSecond, burst)
	}
	interval := math.Max(1, math.Round(1e6/perSecond))
	res, err := rateScript.Run(ctx, l.rdb, []string{"rl:" + client},
		int64(interval), int64(interval)*int64(burst)).Int64Slice()
	if err != nil {
		return RateDecision{}, unavailable(err)
	}
	if len(res) != 4 {
		return RateDecision{}, erpgate.Wrap(erpgate.Internal, fmt.Errorf("rate script answered %v", res), "internal error")
	}
	return RateDecision{Allowed: res[0] == 1, RetryAfter: time.Duration(res[1]) * time.Microsecond,
		Reset: time.Duration(res[2]) * time.Microsecond, Remaining: int(res[3])}, nil
}

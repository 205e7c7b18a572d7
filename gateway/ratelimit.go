package gateway

// Per-client rate limits, shared by every instance through Redis
// (store.RateLimiter: GCRA, one script call per request).
//
// A client over its limit gets 429 (REST: problem+json rate_limited; SOAP:
// a Server fault) with Retry-After. Every answer of a limited client
// carries RateLimit-Limit (the burst), RateLimit-Remaining and
// RateLimit-Reset (seconds until the bucket is full again), as in
// draft-ietf-httpapi-ratelimit-headers-06 / -07.
//
// While a client is refused, this instance refuses its further requests
// itself until the Retry-After has passed, without asking Redis: a flood
// then costs Redis about one call per admitted request plus one per
// refusal period, not one per request. When Redis fails or is slower than
// rateLimitTimeout, this instance decides with a bucket of its own (the
// same limit, kept in memory): the limit then holds per instance, not for
// all together — N instances admit up to N times it (fail open towards a
// larger limit, never towards refusing everybody); counted in
// erpgate_ratelimit_errors_total.

import (
	"context"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"erpgate"
	"erpgate/store"
)

// RateLimiter is what the gateway needs of the shared limiter.
// Allow's errors: Invalid (a bad limit), Unavailable (Redis).
type RateLimiter interface {
	Allow(ctx context.Context, client string, perSecond float64, burst int) (store.RateDecision, error)
}

var _ RateLimiter = (*store.RateLimiter)(nil)

// RateLimit is a client's request rate limit.
type RateLimit struct {
	// PerSecond is the sustained rate; 0 means no limit.
	PerSecond float64 `json:"per_second"`
	// Burst is how many requests may come at once (default: one second's
	// worth, at least 1).
	Burst int `json:"burst,omitempty"`
}

func (l RateLimit) burst() int {
	if l.Burst > 0 {
		return l.Burst
	}
	return max(1, int(math.Ceil(l.PerSecond)))
}

// rateLimitTimeout bounds the limiter's Redis call; beyond it the request
// is let through.
const rateLimitTimeout = 100 * time.Millisecond

type rateLimits struct {
	limiter   RateLimiter
	def       RateLimit
	keys      *Keyring
	now       func() time.Time
	refused   sync.Map // client id → time.Time until which this instance refuses it
	local     sync.Map // client id → *localBucket, used while Redis fails
	decisions *prometheus.CounterVec
	errors    prometheus.Counter
}

// localBucket is GCRA in memory: tat is the theoretical arrival time.
type localBucket struct {
	mu  sync.Mutex
	tat time.Time
}

// allow is store.RateLimiter's script, for one instance.
func (b *localBucket) allow(now time.Time, perSecond float64, burst int) store.RateDecision {
	b.mu.Lock()
	defer b.mu.Unlock()
	interval := time.Duration(float64(time.Second) / perSecond)
	tolerance := interval * time.Duration(burst)
	tat := b.tat
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	if wait := next.Sub(now) - tolerance; wait > 0 {
		return store.RateDecision{RetryAfter: wait, Reset: tat.Sub(now)}
	}
	b.tat = next
	return store.RateDecision{Allowed: true, Reset: next.Sub(now), Remaining: int((tolerance - next.Sub(now)) / interval)}
}

func newRateLimits(l RateLimiter, def RateLimit, keys *Keyring, now func() time.Time, reg prometheus.Registerer) (*rateLimits, error) {
	r := &rateLimits{limiter: l, def: def, keys: keys, now: now}
	r.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "erpgate_ratelimit_requests_total",
		Help: "Requests of rate-limited clients by client id and outcome (allowed; limited: answered 429).",
	}, []string{"client", "outcome"})
	r.errors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "erpgate_ratelimit_errors_total",
		Help: "Rate limit checks whose Redis call failed or took longer than 100 ms; this instance decided them with its own bucket.",
	})
	for _, c := range []prometheus.Collector{r.decisions, r.errors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// The series of every client that can be limited exist from the start.
	for id, cl := range keys.byID {
		if cl.Kind == KindShop || cl.Kind == KindSupplier {
			for _, o := range []string{"allowed", "limited"} {
				r.decisions.WithLabelValues(id, o)
			}
		}
	}
	return r, nil
}

// limitOf returns client's limit: its own from the config, else the default.
func (r *rateLimits) limitOf(client string) RateLimit {
	if cl, ok := r.keys.byID[client]; ok && cl.RateLimit != nil {
		return *cl.RateLimit
	}
	return r.def
}

// admit takes one request of client from its bucket; it returns a
// RateLimited error when the client is over its limit.
func (r *rateLimits) admit(c echo.Context, client string) error {
	if r == nil || r.limiter == nil {
		return nil
	}
	lim := r.limitOf(client)
	if !(lim.PerSecond > 0) {
		return nil
	}
	h := c.Response().Header()
	burst := lim.burst()
	h.Set("RateLimit-Limit", strconv.Itoa(burst))
	now := r.now()
	if v, ok := r.refused.Load(client); ok {
		if until := v.(time.Time); now.Before(until) {
			h.Set("RateLimit-Remaining", "0")
			h.Set("RateLimit-Reset", seconds(until.Sub(now)))
			r.decisions.WithLabelValues(client, "limited").Inc()
			return r.limited(lim, until.Sub(now))
		}
		r.refused.Delete(client)
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), rateLimitTimeout)
	d, err := r.limiter.Allow(ctx, client, lim.PerSecond, burst)
	cancel()
	if err != nil {
		r.errors.Inc()
		b, _ := r.local.LoadOrStore(client, new(localBucket))
		d = b.(*localBucket).allow(now, lim.PerSecond, burst)
	}
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", seconds(d.Reset))
	if d.Allowed {
		r.decisions.WithLabelValues(client, "allowed").Inc()
		return nil
	}
	r.refused.Store(client, now.Add(d.RetryAfter))
	r.decisions.WithLabelValues(client, "limited").Inc()
	return r.limited(lim, d.RetryAfter)
}

func (r *rateLimits) limited(lim RateLimit, wait time.Duration) error {
	return &erpgate.Error{Code: erpgate.RateLimited, RetryAfter: wait,
		Message: "rate limit of " + strconv.FormatFloat(lim.PerSecond, 'f', -1, 64) + " requests/s (burst " +
			strconv.Itoa(lim.burst()) + ") exceeded: retry after " + seconds(wait) + " s"}
}

// seconds is d in whole seconds, rounded up, at least 1.
func seconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10)
}

// rateLimited is the middleware of routes behind requireKind or
// requireSupplier: it admits the authenticated principal's request.
func (s *Server) rateLimited() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := s.rates.admit(c, principal(c).ClientID); err != nil {
				return err
			}
			return next(c)
		}
	}
}

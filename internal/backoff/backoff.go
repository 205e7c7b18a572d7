// Package backoff is the one retry-wait policy of erpgate: the ERP delivery
// workers (erp.DispatcherConfig.Backoff) and the webhook deliveries
// (tracking.Webhooks) wait by it after a transient failure.
package backoff

import (
	"math"
	"time"
)

// Policy computes how long a message waits after a transient failure before
// it is delivered again: exponential in the number of deliveries so far,
// capped, and jittered so that messages that failed together (an ERP outage)
// do not come back together.
type Policy struct {
	Base   time.Duration // wait after the first failed delivery
	Max    time.Duration // cap on any wait
	Jitter float64       // fraction in [0, 1] by which a wait is randomly shortened
}

// Delay returns the wait after n failed deliveries (n ≥ 1): Base·2^(n−1),
// capped at Max, then shortened by Jitter·u of itself, where u in [0, 1) is
// a random draw supplied by the caller (so tests are deterministic). It never
// returns less than a millisecond or more than Max.
func (b Policy) Delay(n int64, u float64) time.Duration {
	if n < 1 {
		n = 1
	}
	d := b.Max
	// 2^(n−1) overflows long before n reaches 63; compare in float to cap
	// without overflow.
	if exp := math.Ldexp(float64(b.Base), int(min(n-1, 62))); exp < float64(b.Max) {
		d = time.Duration(exp)
	}
	u = min(max(u, 0), 1)
	j := min(max(b.Jitter, 0), 1)
	d -= time.Duration(float64(d) * j * u)
	return max(d, time.Millisecond)
}

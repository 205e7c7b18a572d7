package store_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/store"
)

// TestRateLimiterBurstThenLimit: a fresh bucket admits burst requests at
// once, then refuses with a wait of about one interval; other clients have
// their own buckets. On miniredis (the embedded mode) and real Redis.
func TestRateLimiterBurstThenLimit(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		l := store.NewRateLimiter(rdb)
		for i := range 5 {
			d, err := l.Allow(ctx, "shop-a", 1, 5)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Allowed || d.Remaining != 4-i {
				t.Fatalf("request %d: %+v, want allowed with %d remaining", i, d, 4-i)
			}
		}
		d, err := l.Allow(ctx, "shop-a", 1, 5)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 1e9 || d.Remaining != 0 {
			t.Errorf("sixth request: %+v, want refused, retry within 1 s", d)
		}
		if d, _ := l.Allow(ctx, "shop-b", 1, 5); !d.Allowed {
			t.Errorf("another client shares the bucket: %+v", d)
		}
		if _, err := l.Allow(ctx, "shop-a", 0, 5); erpgate.ErrorCode(err) != erpgate.Invalid {
			t.Errorf("rate 0: %v, want invalid", err)
		}
	})
}

// TestRateLimiterRedisDown: a dead Redis is Unavailable (the gateway then
// fails open).
func TestRateLimiterRedisDown(t *testing.T) {
	l := store.NewRateLimiter(downClient(t))
	if _, err := l.Allow(context.Background(), "shop-a", 10, 10); erpgate.ErrorCode(err) != erpgate.Unavailable {
		t.Errorf("Allow on a dead Redis: %v, want unavailable", err)
	}
}

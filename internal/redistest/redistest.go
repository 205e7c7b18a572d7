// Package redistest gives tests a Redis: a real redis-server for integration
// tests, miniredis for fast unit tests.
//
// Real(t) connects to the server named by ERPGATE_REDIS_ADDR (the README's
// test command starts one with AOF and sets it). Each test gets a database of
// its own (1–15), taken with a lock so that concurrent test binaries never
// share one, and flushed before and after. When ERPGATE_REDIS_ADDR is unset
// the test is skipped with a message, unless ERPGATE_REDIS_REQUIRED=1, in
// which case it fails: CI must never silently skip integration tests.
//
// StartCluster starts a Redis Cluster of the test's own (3 primaries, 3
// replicas, scripts/redis-cluster.sh) for drills that kill, restart and
// reshard its nodes; it fails, never skips, without redis-server.
package redistest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Addr returns the address of the real test Redis, failing or skipping t as
// described in the package comment when there is none.
func Addr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("ERPGATE_REDIS_ADDR")
	if addr == "" {
		if os.Getenv("ERPGATE_REDIS_REQUIRED") == "1" {
			t.Fatal("ERPGATE_REDIS_REQUIRED=1 but ERPGATE_REDIS_ADDR is not set: integration tests need a real redis-server (use scripts/test.sh)")
		}
		t.Skip("integration test: set ERPGATE_REDIS_ADDR to a real redis-server (scripts/test.sh does)")
	}
	return addr
}

// Real returns a client on a private, empty database of the real test Redis.
func Real(t testing.TB) *redis.Client {
	t.Helper()
	addr := Addr(t)
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: addr, DB: 0})
	defer admin.Close()
	if err := admin.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s (ERPGATE_REDIS_ADDR) unreachable: %v", addr, err)
	}
	lockVal := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	deadline := time.Now().Add(2 * time.Minute)
	for {
		for db := 1; db <= 15; db++ {
			key := fmt.Sprintf("erpgate:test:lock:%d", db)
			ok, err := admin.SetNX(ctx, key, lockVal, 10*time.Minute).Result()
			if err != nil {
				t.Fatalf("redis lock: %v", err)
			}
			if !ok {
				continue
			}
			c := redis.NewClient(&redis.Options{Addr: addr, DB: db})
			if err := c.FlushDB(ctx).Err(); err != nil {
				t.Fatalf("flushdb: %v", err)
			}
			t.Cleanup(func() {
				c.FlushDB(context.Background())
				c.Close()
				a := redis.NewClient(&redis.Options{Addr: addr, DB: 0})
				if v, _ := a.Get(context.Background(), key).Result(); v == lockVal {
					a.Del(context.Background(), key)
				}
				a.Close()
			})
			return c
		}
		if time.Now().After(deadline) {
			t.Fatal("no free test database on the test Redis after 2 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Mini returns a client on a fresh in-memory miniredis, closed at cleanup.
func Mini(t testing.TB) (*redis.Client, *miniredis.Miniredis) {
	t.Helper()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	return c, m
}

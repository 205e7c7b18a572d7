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
// # Redis Cluster
//
// With ERPGATE_REDIS_URL=redis+cluster://h1:p1,h2:p2,... set (scripts/test.sh
// sets it for its second pass), Universal(t) gives a cluster client on the
// whole cluster instead, flushed (FLUSHALL on every primary) before the
// test. A cluster has only database 0, so such tests are serialised across
// all test binaries by a lock (an flock on a file named after the URL:
// a lock key in Redis would be flushed with the data it guards). The same
// suite thus runs on one node and on a cluster; Real(t), which returns a
// single node's *redis.Client, then fails, except for the tests listed in
// singleNodeOnly with the reason they cannot run on a cluster.
//
// StartCluster starts a Redis Cluster of the test's own (3 primaries, 3
// replicas, scripts/redis-cluster.sh) for drills that kill, restart and
// reshard its nodes; it fails, never skips, without redis-server.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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

// ClusterURL returns ERPGATE_REDIS_URL when it names a Redis Cluster
// (redis+cluster://...), else "".
func ClusterURL() string {
	if u := os.Getenv("ERPGATE_REDIS_URL"); strings.HasPrefix(u, "redis+cluster://") {
		return u
	}
	return ""
}

// Universal returns a client on an empty real Redis: on the cluster of
// ERPGATE_REDIS_URL when it names one, else Real(t).
func Universal(t testing.TB) redis.UniversalClient {
	t.Helper()
	u := ClusterURL()
	if u == "" {
		return Real(t)
	}
	return clusterClient(t, u)
}

// singleNodeOnly names the tests (top-level names) that use Real(t) and
// cannot run on a Redis Cluster by nature, with why. They run in the
// single-node pass; in the cluster pass they are skipped with that reason.
var singleNodeOnly = map[string]string{
	"TestDispatcherSurvivesRedisOutage": "cuts the connection with a TCP proxy in front of one node; cluster clients learn the nodes' own addresses and bypass it",
}

// Real returns a client on a private, empty database of the real test Redis.
// In the cluster pass (ERPGATE_REDIS_URL names a cluster) it skips the
// tests listed in singleNodeOnly and fails every other: such a test must
// use Universal.
func Real(t testing.TB) *redis.Client {
	t.Helper()
	if ClusterURL() != "" {
		name, _, _ := strings.Cut(t.Name(), "/")
		if why, ok := singleNodeOnly[name]; ok {
			t.Skip("single node only (runs in the single-node pass): " + why)
		}
		t.Fatal("redistest.Real in the cluster pass: use redistest.Universal, or list the test in redistest.singleNodeOnly with the reason")
	}
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

// clusterClient returns a client on the cluster at url (seeds), flushed,
// holding the cluster lock until the test ends.
func clusterClient(t testing.TB, url string) redis.UniversalClient {
	t.Helper()
	rest := strings.TrimPrefix(url, "redis+cluster://")
	password := ""
	if auth, hosts, ok := strings.Cut(rest, "@"); ok {
		password, rest = strings.TrimPrefix(auth, ":"), hosts
	}
	rest, _, _ = strings.Cut(rest, "?")
	lockCluster(t, url)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(strings.TrimSuffix(rest, "/"), ","), Password: password})
	ctx := context.Background()
	flush := func() error {
		return c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return n.FlushAll(ctx).Err() })
	}
	if err := flush(); err != nil {
		c.Close()
		t.Fatalf("redis cluster %s (ERPGATE_REDIS_URL): flushall: %v", url, err)
	}
	t.Cleanup(func() {
		flush()
		c.Close()
	})
	return c
}

// lockCluster takes the lock of the cluster at url for the rest of t: an
// exclusive flock on a file named after the URL, shared by every test
// binary on this machine; it is released when t ends (or its process
// dies).
func lockCluster(t testing.TB, url string) {
	t.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("erpgate-redistest-%08x.lock", crc32.ChecksumIEEE([]byte(url))))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("cluster lock: %v", err)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			t.Fatalf("cluster lock %s: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { f.Close() }) // closing the file releases the lock
}

// Keys returns the keys matching pattern on every primary of rdb (KEYS on a
// cluster client asks one node only).
func Keys(t testing.TB, rdb redis.UniversalClient, pattern string) []string {
	t.Helper()
	ctx := context.Background()
	c, ok := rdb.(*redis.ClusterClient)
	if !ok {
		keys, err := rdb.Keys(ctx, pattern).Result()
		if err != nil {
			t.Fatalf("KEYS %s: %v", pattern, err)
		}
		return keys
	}
	var mu sync.Mutex
	var keys []string
	err := c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		k, err := n.Keys(ctx, pattern).Result()
		mu.Lock()
		keys = append(keys, k...)
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatalf("KEYS %s: %v", pattern, err)
	}
	return keys
}

// Another returns a second client, with a pool of its own, on the same
// database (or cluster) as rdb — as a second gateway instance has — closed
// at cleanup.
func Another(t testing.TB, rdb redis.UniversalClient) redis.UniversalClient {
	t.Helper()
	var c redis.UniversalClient
	switch r := rdb.(type) {
	case *redis.Client:
		c = redis.NewClient(r.Options())
	case *redis.ClusterClient:
		c = redis.NewClusterClient(r.Options())
	default:
		t.Fatalf("redistest.Another: unsupported client %T", rdb)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// URL returns a --redis-url naming rdb's database (or cluster).
func URL(t testing.TB, rdb redis.UniversalClient) string {
	t.Helper()
	switch r := rdb.(type) {
	case *redis.Client:
		return fmt.Sprintf("redis://%s/%d", r.Options().Addr, r.Options().DB)
	case *redis.ClusterClient:
		return "redis+cluster://" + strings.Join(r.Options().Addrs, ",")
	}
	t.Fatalf("redistest.URL: unsupported client %T", rdb)
	return ""
}

// SingleNode returns rdb as a single node's client, for a test that needs
// one by nature. On a cluster it skips the tests listed in singleNodeOnly
// with their reason and fails every other.
func SingleNode(t testing.TB, rdb redis.UniversalClient) *redis.Client {
	t.Helper()
	if c, ok := rdb.(*redis.Client); ok {
		return c
	}
	name, _, _ := strings.Cut(t.Name(), "/")
	if why, ok := singleNodeOnly[name]; ok {
		t.Skip("single node only (runs in the single-node pass): " + why)
	}
	t.Fatalf("%s needs a single node: list it in redistest.singleNodeOnly with the reason", name)
	return nil
}

// Flush empties rdb's database (every primary of a cluster).
func Flush(t testing.TB, rdb redis.UniversalClient) {
	t.Helper()
	ctx := context.Background()
	var err error
	if c, ok := rdb.(*redis.ClusterClient); ok {
		err = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return n.FlushAll(ctx).Err() })
	} else {
		err = rdb.FlushDB(ctx).Err()
	}
	if err != nil {
		t.Fatalf("flush: %v", err)
	}
}

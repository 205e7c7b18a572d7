package tracking

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// loader counts loads of each order and returns "<order>#<n>".
type loader struct {
	mu sync.Mutex
	n  map[string]int
}

func (l *loader) load(id string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.n == nil {
			l.n = map[string]int{}
		}
		l.n[id]++
		return fmt.Sprintf("%s#%d", id, l.n[id]), nil
	}
}

func newTestCache(t *testing.T, maxBytes int, reg prometheus.Registerer) *ReadCache[string] {
	t.Helper()
	c, err := NewReadCache(ReadCacheConfig[string]{MaxBytes: maxBytes, Registerer: reg, Size: func(s string) int { return len(s) }})
	if err != nil {
		t.Fatal(err)
	}
	c.SetLive(true)
	return c
}

func get(t *testing.T, c *ReadCache[string], id string, load func(context.Context) (string, error)) string {
	t.Helper()
	v, err := c.Get(context.Background(), id, load)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestReadCacheHitsUntilInvalidated(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := newTestCache(t, 1<<20, reg)
	var l loader
	if v := get(t, c, "o1", l.load("o1")); v != "o1#1" {
		t.Fatalf("first read = %q", v)
	}
	if v := get(t, c, "o1", l.load("o1")); v != "o1#1" {
		t.Fatalf("second read = %q, want the cached o1#1", v)
	}
	c.Invalidate("o2") // another order: o1 stays
	if v := get(t, c, "o1", l.load("o1")); v != "o1#1" {
		t.Fatalf("after invalidating o2 = %q", v)
	}
	c.Invalidate("o1")
	if v := get(t, c, "o1", l.load("o1")); v != "o1#2" {
		t.Fatalf("after invalidating o1 = %q, want a fresh load o1#2", v)
	}
	lookups, _ := c.lookups.GetMetricWithLabelValues("hit")
	if got := testutil.ToFloat64(lookups); got != 2 {
		t.Fatalf("hits = %v, want 2", got)
	}
	if n, b := c.Len(); n != 1 || b != len("o1#2") {
		t.Fatalf("Len = %d entries, %d bytes", n, b)
	}
}

// A load that an invalidation overtook must not be stored: the value it read
// may predate the event.
func TestReadCacheLoadRacingInvalidationIsNotStored(t *testing.T) {
	c := newTestCache(t, 1<<20, nil)
	var l loader
	v := get(t, c, "o1", func(ctx context.Context) (string, error) {
		s, _ := l.load("o1")(ctx)
		c.Invalidate("o1") // the event lands while we were reading
		return s, nil
	})
	if v != "o1#1" {
		t.Fatalf("racing read returned %q", v)
	}
	if got := get(t, c, "o1", l.load("o1")); got != "o1#2" {
		t.Fatalf("next read = %q: the raced value was cached", got)
	}
}

// Of two loads in flight, the one begun before an invalidation is dropped and
// the one begun after it is kept.
func TestReadCacheOnlyLoadsBegunAfterInvalidationAreStored(t *testing.T) {
	c := newTestCache(t, 1<<20, nil)
	releaseA := make(chan struct{})
	startedA := make(chan struct{})
	doneA := make(chan string)
	go func() {
		v, _ := c.Get(context.Background(), "o1", func(context.Context) (string, error) {
			close(startedA)
			<-releaseA
			return "stale", nil
		})
		doneA <- v
	}()
	<-startedA
	c.Invalidate("o1")
	got := get(t, c, "o1", func(context.Context) (string, error) { return "fresh", nil })
	if got != "fresh" {
		t.Fatalf("B = %q", got)
	}
	close(releaseA)
	if v := <-doneA; v != "stale" {
		t.Fatalf("A = %q", v)
	}
	if v := get(t, c, "o1", func(context.Context) (string, error) { return "reloaded", nil }); v != "fresh" {
		t.Fatalf("cached = %q, want B's fresh value (A's stale one must not overwrite it)", v)
	}
}

func TestReadCacheResetAndNotLive(t *testing.T) {
	c := newTestCache(t, 1<<20, nil)
	var l loader
	get(t, c, "o1", l.load("o1"))
	// A reset while a load runs drops the cache and that load's result.
	v := get(t, c, "o2", func(ctx context.Context) (string, error) {
		c.Reset()
		return l.load("o2")(ctx)
	})
	if v != "o2#1" {
		t.Fatalf("o2 = %q", v)
	}
	if n, _ := c.Len(); n != 0 {
		t.Fatalf("%d entries after Reset", n)
	}
	get(t, c, "o1", l.load("o1"))
	c.SetLive(false)
	for i := 2; i <= 3; i++ {
		if v := get(t, c, "o1", l.load("o1")); v != fmt.Sprintf("o1#%d", i+1) {
			t.Fatalf("not live: read %d = %q, want a load every time", i, v)
		}
	}
	if n, _ := c.Len(); n != 0 {
		t.Fatalf("not live but holds %d entries", n)
	}
	c.SetLive(true)
	get(t, c, "o1", l.load("o1"))
	if v := get(t, c, "o1", l.load("o1")); v != "o1#5" {
		t.Fatalf("live again: %q, want cached o1#5", v)
	}
}

func TestReadCacheErrorsAreNotCached(t *testing.T) {
	c := newTestCache(t, 1<<20, nil)
	boom := errors.New("redis down")
	if _, err := c.Get(context.Background(), "o1", func(context.Context) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if v := get(t, c, "o1", func(context.Context) (string, error) { return "ok", nil }); v != "ok" {
		t.Fatalf("after error = %q", v)
	}
}

func TestReadCacheStaysWithinBytes(t *testing.T) {
	const max = 1600 // entries up to max/16 = 100 bytes are cached
	c := newTestCache(t, max, nil)
	val := func(context.Context) (string, error) { return string(make([]byte, 90)), nil }
	for i := range 200 {
		get(t, c, fmt.Sprint("o", i), val)
		if _, b := c.Len(); b > max {
			t.Fatalf("after %d inserts the cache holds %d bytes > %d", i+1, b, max)
		}
	}
	if n, _ := c.Len(); n != max/90 {
		t.Fatalf("holds %d entries, want %d (full)", n, max/90)
	}
	big := func(context.Context) (string, error) { return string(make([]byte, 101)), nil }
	get(t, c, "big", big)
	var loads int
	get(t, c, "big", func(ctx context.Context) (string, error) { loads++; return big(ctx) })
	if loads != 1 {
		t.Fatal("an entry larger than MaxBytes/16 was cached")
	}
}

func TestReadCacheConcurrentUse(t *testing.T) {
	c := newTestCache(t, 1<<16, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				id := fmt.Sprint("o", (i*7+g)%50)
				if i%10 == 0 {
					c.Invalidate(id)
				}
				v, err := c.Get(context.Background(), id, func(context.Context) (string, error) { return id, nil })
				if err != nil || v != id {
					t.Errorf("Get(%s) = %q, %v", id, v, err)
					return
				}
			}
		})
	}
	wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.fills) != 0 {
		t.Fatalf("%d fill records leaked", len(c.fills))
	}
	sum := 0
	for _, e := range c.entries {
		sum += e.size
	}
	if sum != c.bytes {
		t.Fatalf("accounted %d bytes, entries hold %d", c.bytes, sum)
	}
}

package tracking

import (
	"context"
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// ReadCache keeps what tracking reads derive from an order's timeline (the
// rendered answer, the events) in memory, so that customers refreshing a
// tracking page cost no Redis round trip until the timeline changes.
//
// Invalidation follows the timeline's writers, never a TTL:
//   - every event appended by any instance is announced on trk:feed; the
//     Hub's OnFeed hook calls Invalidate for it;
//   - events this instance appends are invalidated synchronously as well
//     (StoreConfig.OnAppend), so a client reads its own writes here at once;
//   - when the Hub cannot vouch that it saw every feed entry (OnGap) the
//     whole cache is dropped, and while the Hub is not following the feed
//     (SetLive(false)) the cache answers nothing and stores nothing.
//
// A read that raced an invalidation is not stored: Get notes the order's
// invalidation count before loading and stores the result only if no
// invalidation (and no reset) happened meanwhile. So an entry is never older
// than the newest event the Hub has seen; what this instance may lag behind
// is only an event another instance appended that the Hub has not read yet
// (its XREAD BLOCK returns as soon as the feed grows: typically well under
// a millisecond on one Redis).
//
// The cache is bounded by bytes (the size function the owner gives); when
// full it evicts entries at random (Go's map order), which needs no list
// upkeep on the read path. Values are shared between readers and must be
// treated as immutable.
type ReadCache[V any] struct {
	size     func(V) int
	maxBytes int
	maxEntry int

	mu      sync.Mutex
	live    bool
	epoch   uint64 // bumped by Reset: fills begun before are stale
	bytes   int
	entries map[string]cached[V]
	fills   map[string]*fill // orders being loaded now

	lookups           *prometheus.CounterVec
	hit, miss, bypass prometheus.Counter // lookups' series, resolved once
	held              prometheus.GaugeFunc
	heldB             prometheus.GaugeFunc
}

type cached[V any] struct {
	v    V
	size int
}

// fill tracks the loads in flight for one order: how many, and how often the
// order was invalidated while they ran.
type fill struct {
	n   int
	inv uint64
}

// ReadCacheConfig configures a ReadCache.
type ReadCacheConfig[V any] struct {
	// MaxBytes bounds the sum of Size over the entries; required (> 0).
	MaxBytes int
	// Size returns the memory an entry holds, in bytes; required.
	Size func(V) int
	// Registerer receives erpgate_tracking_cache_lookups_total{result} and
	// the entries/bytes gauges; nil registers nothing.
	Registerer prometheus.Registerer
}

// NewReadCache returns an empty cache that is not live yet (see SetLive).
func NewReadCache[V any](cfg ReadCacheConfig[V]) (*ReadCache[V], error) {
	if cfg.MaxBytes <= 0 || cfg.Size == nil {
		return nil, errors.New("tracking: ReadCacheConfig needs MaxBytes > 0 and Size")
	}
	c := &ReadCache[V]{
		size: cfg.Size, maxBytes: cfg.MaxBytes, maxEntry: max(cfg.MaxBytes/16, 1),
		entries: make(map[string]cached[V]), fills: make(map[string]*fill),
	}
	lookups, err := register(cfg.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "erpgate_tracking_cache_lookups_total",
		Help: "Tracking reads by how the read cache answered: hit, miss (loaded from Redis) or bypass (cache not live).",
	}, []string{"result"}))
	if err != nil {
		return nil, err
	}
	c.lookups = lookups
	c.hit, c.miss, c.bypass = lookups.WithLabelValues("hit"), lookups.WithLabelValues("miss"), lookups.WithLabelValues("bypass")
	c.held, err = register(cfg.Registerer, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "erpgate_tracking_cache_entries",
		Help: "Orders whose tracking answer the read cache holds.",
	}, func() float64 { n, _ := c.Len(); return float64(n) }))
	if err != nil {
		return nil, err
	}
	c.heldB, err = register(cfg.Registerer, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "erpgate_tracking_cache_bytes",
		Help: "Bytes the tracking read cache holds (by its own accounting).",
	}, func() float64 { _, b := c.Len(); return float64(b) }))
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Get returns the cached value of orderID, or loads it with load and caches
// it when no invalidation raced the load. Errors from load are returned and
// never cached.
func (c *ReadCache[V]) Get(ctx context.Context, orderID string, load func(context.Context) (V, error)) (V, error) {
	c.mu.Lock()
	if !c.live {
		c.mu.Unlock()
		c.bypass.Inc()
		return load(ctx)
	}
	if e, ok := c.entries[orderID]; ok {
		c.mu.Unlock()
		c.hit.Inc()
		return e.v, nil
	}
	f := c.fills[orderID]
	if f == nil {
		f = &fill{}
		c.fills[orderID] = f
	}
	f.n++
	epoch, inv := c.epoch, f.inv
	c.mu.Unlock()
	c.miss.Inc()

	v, err := load(ctx)
	sz := 0
	if err == nil {
		sz = c.size(v)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if f.n--; f.n == 0 {
		delete(c.fills, orderID)
	}
	if err != nil || !c.live || c.epoch != epoch || f.inv != inv || sz > c.maxEntry {
		return v, err
	}
	if old, ok := c.entries[orderID]; ok {
		c.bytes -= old.size // a concurrent load stored first; same data
	}
	for c.bytes+sz > c.maxBytes && len(c.entries) > 0 {
		for k, e := range c.entries { // random victim
			delete(c.entries, k)
			c.bytes -= e.size
			break
		}
	}
	c.entries[orderID] = cached[V]{v: v, size: sz}
	c.bytes += sz
	return v, nil
}

// Invalidate drops orderID's entry and marks loads of it in flight stale.
// The Hub calls it (OnFeed) for every event any instance appends.
func (c *ReadCache[V]) Invalidate(orderID string) {
	c.mu.Lock()
	if e, ok := c.entries[orderID]; ok {
		delete(c.entries, orderID)
		c.bytes -= e.size
	}
	if f := c.fills[orderID]; f != nil {
		f.inv++
	}
	c.mu.Unlock()
}

// Reset drops every entry and marks every load in flight stale (the Hub's
// OnGap: events may have been missed).
func (c *ReadCache[V]) Reset() {
	c.mu.Lock()
	c.epoch++
	clear(c.entries)
	c.bytes = 0
	c.mu.Unlock()
}

// SetLive turns the cache on (the Hub follows the feed) or off (it does not:
// nothing would invalidate entries). Turning it off also drops everything.
func (c *ReadCache[V]) SetLive(live bool) {
	c.mu.Lock()
	c.live = live
	if !live {
		c.epoch++
		clear(c.entries)
		c.bytes = 0
	}
	c.mu.Unlock()
}

// Account adds delta bytes to orderID's entry, for what its value came to
// hold after it was stored (a page rendered on first use), and evicts other
// entries at random while the cache is over its bound. Nothing happens when
// the entry is gone (it was invalidated meanwhile).
func (c *ReadCache[V]) Account(orderID string, delta int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[orderID]
	if !ok {
		return
	}
	e.size += delta
	c.entries[orderID] = e
	c.bytes += delta
	for c.bytes > c.maxBytes && len(c.entries) > 1 {
		for k, x := range c.entries { // random victim, not this one
			if k == orderID {
				continue
			}
			delete(c.entries, k)
			c.bytes -= x.size
			break
		}
	}
}

// Len returns the number of entries and their accounted bytes.
func (c *ReadCache[V]) Len() (entries, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), c.bytes
}

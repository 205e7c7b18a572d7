package store_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"erpgate/internal/redistest"
)

// BenchmarkAccept measures one accept (one Lua round trip writing the order,
// two idempotency records, two tracking entries and the outbox entry) against
// the real Redis of ERPGATE_REDIS_ADDR; it is skipped without one.
func BenchmarkAccept(b *testing.B) {
	rdb := redistest.Universal(b)
	s := newStore(b, rdb)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := "ord_" + strconv.Itoa(i)
		i++
		if _, err := s.Accept(ctx, intake(id, "shop-a", id, "fp", "key-"+id)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAcceptParallel is BenchmarkAccept from GOMAXPROCS goroutines: the
// throughput one gateway instance gets from one Redis.
func BenchmarkAcceptParallel(b *testing.B) {
	rdb := redistest.Universal(b)
	s := newStore(b, rdb)
	ctx := context.Background()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := "ord_" + strconv.FormatInt(n.Add(1), 10)
			if _, err := s.Accept(ctx, intake(id, "shop-a", id, "fp", "")); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAcceptReplay measures a replay (the shop retrying a known order).
func BenchmarkAcceptReplay(b *testing.B) {
	rdb := redistest.Universal(b)
	s := newStore(b, rdb)
	ctx := context.Background()
	in := intake("ord_1", "shop-a", "EXT-1", "fp", "")
	if _, err := s.Accept(ctx, in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if a, err := s.Accept(ctx, in); err != nil || !a.Replayed {
			b.Fatal(a, err)
		}
	}
}

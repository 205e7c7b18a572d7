package supplier

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"erpgate"
	"erpgate/erp"
	"erpgate/supply"
)

// memCache is the cache half of Store in memory; the rest is unused here.
type memCache struct {
	Store
	vals map[string][]byte
	gens map[string]int64
}

func (m *memCache) CacheGet(_ context.Context, key string) ([]byte, bool, error) {
	v, ok := m.vals[key]
	return v, ok, nil
}

func (m *memCache) CacheSet(_ context.Context, key string, val []byte, _ time.Duration) error {
	m.vals[key] = val
	return nil
}

func (m *memCache) CacheGenerations(_ context.Context, scopes ...string) ([]int64, error) {
	out := make([]int64, len(scopes))
	for i, s := range scopes {
		out[i] = m.gens[s]
	}
	return out, nil
}

func (m *memCache) BumpCacheGenerations(_ context.Context, scopes ...string) error {
	for _, s := range scopes {
		m.gens[s]++
	}
	return nil
}

// oneItemERP answers the catalog with one item, or err.
type oneItemERP struct {
	erp.SupplyChain
	calls int
	err   error
}

func (e *oneItemERP) CatalogItem(_ context.Context, sku string) (erp.CatalogItem, error) {
	e.calls++
	if e.err != nil {
		return erp.CatalogItem{}, e.err
	}
	return erp.CatalogItem{SKU: sku, Name: "Mixer", Inbound: []erp.InboundSupply{{PONumber: "PO-1", Status: supply.StatusIssued}}}, nil
}

// TestReadThrough: the service without any HTTP around it. A fresh copy is
// served from the cache within the TTL; an invalidation or the TTL makes
// the next read ask the ERP; while the ERP does not answer (or may not be
// asked) the last copy is served as stale; without a copy the caller gets
// Unavailable.
func TestReadThrough(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	active := true
	chain := &oneItemERP{}
	cache := &memCache{vals: map[string][]byte{}, gens: map[string]int64{}}
	s, err := New(Config{ERP: chain, Store: cache, Active: func() bool { return active }}, nil,
		func() time.Time { return now }, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	read := func(wantCalls int, wantStale bool) {
		t.Helper()
		it, stale, err := s.CatalogItem(ctx, "SKU-1")
		if err != nil || it.Name != "Mixer" || stale != wantStale || chain.calls != wantCalls {
			t.Fatalf("got %+v stale %v err %v after %d ERP calls; want Mixer, stale %v, %d calls", it, stale, err, chain.calls, wantStale, wantCalls)
		}
	}
	read(1, false) // from the ERP
	read(1, false) // from the cache
	_ = cache.BumpCacheGenerations(ctx, catalogScope)
	read(2, false) // invalidated
	now = now.Add(DefaultCacheTTL)
	read(3, false) // expired
	chain.err = &erp.Error{Kind: erp.KindTransient, Code: "timeout", Err: errors.New("down")}
	now = now.Add(DefaultCacheTTL)
	read(4, true) // asked, did not answer: the last copy
	active = false
	read(4, true) // paused: not asked at all

	if _, _, err := s.CatalogItem(ctx, "SKU-2"); erpgate.ErrorCode(err) != erpgate.Unavailable || chain.calls != 4 {
		t.Errorf("paused without a copy: got %v after %d calls, want Unavailable without a call", err, chain.calls)
	}
}

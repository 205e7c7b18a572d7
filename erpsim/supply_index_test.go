package erpsim

import (
	"fmt"
	"testing"
)

// TestBackorderIndexesKeepOnlyOpenOrders: thousands of backorders of one
// sku fill purchase order after purchase order; the index pegging scans
// keeps only the newest that can still take one (so a backorder costs what is
// open, not the whole book), a repeated call finds the order it waits on,
// and the inbound quantity still counts every open purchase order.
func TestBackorderIndexesKeepOnlyOpenOrders(t *testing.T) {
	s := New(Config{})
	t.Cleanup(s.Close)
	const sku = "SKU-1011" // reorder quantity 5
	first := map[string]string{}
	for i := range 2000 {
		ref := fmt.Sprintf("ord_%04d", i)
		waits, err := s.IssueBackorderPO(ref, []ShortLine{{SKU: sku, Quantity: 2}})
		if err != nil || len(waits) != 1 {
			t.Fatalf("backorder %d: waits %v, %v", i, waits, err)
		}
		first[ref] = waits[0]
	}
	b := s.supplyBookOf()
	b.mu.Lock()
	peggable, pos := len(b.peggable[sku]), len(b.list)
	b.mu.Unlock()
	// Each purchase order takes two backorders of 2 (5 free, then 1).
	if pos != 1000 {
		t.Fatalf("%d purchase orders, want 1000 (two backorders each)", pos)
	}
	// Each has 1 of 5 left: not enough for a backorder of 2, but free.
	if peggable > pegWindow {
		t.Errorf("pegging index holds %d purchase orders, want at most %d (the newest)", peggable, pegWindow)
	}
	for _, ref := range []string{"ord_0000", "ord_0777", "ord_1999"} {
		waits, err := s.IssueBackorderPO(ref, []ShortLine{{SKU: sku, Quantity: 2}})
		if err != nil || len(waits) != 1 || waits[0] != first[ref] {
			t.Errorf("repeated backorder of %s: waits %v, %v; want [%s]", ref, waits, err, first[ref])
		}
	}
	b.mu.Lock()
	in, pos2 := b.inbound(sku), len(b.list)
	b.mu.Unlock()
	if pos2 != pos {
		t.Errorf("repeated calls issued %d new purchase orders, want 0", pos2-pos)
	}
	if in != 5*1000 {
		t.Errorf("inbound %d, want %d (1000 open purchase orders of 5)", in, 5*1000)
	}
}

// BenchmarkIssueBackorderPO: the cost of one backorder with b.N already
// in the book; flat per operation since the indexes (it grew with the book
// before: go test -run X -bench IssueBackorderPO ./erpsim).
func BenchmarkIssueBackorderPO(b *testing.B) {
	s := New(Config{})
	b.Cleanup(s.Close)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.IssueBackorderPO(fmt.Sprintf("ord_%d", i), []ShortLine{{SKU: "SKU-1011", Quantity: 2}}); err != nil {
			b.Fatal(err)
		}
	}
}

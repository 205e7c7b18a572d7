package partition

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// The slot function must agree with Redis Cluster's (values from CLUSTER
// KEYSLOT on Redis 7).
func TestSlotMatchesRedis(t *testing.T) {
	for key, want := range map[string]uint16{
		"foo":              12182,
		"bar":              5061,
		"123456789":        12739,
		"{user1000}.a":     3443,
		"{user1000}.b":     3443,
		"user1000":         3443,
		"foo{}{bar}":       8363,
		"foo{{bar}}zap":    4015,
		"foo{bar}{zap}":    5061,
		"{}":               15257,
		"{p0.0}":           Slot("p0.0"),
		"ord:{p3.1}:ord_x": Slot("p3.1"),
	} {
		if got := Slot(key); got != want {
			t.Errorf("Slot(%q) = %d, want %d", key, got, want)
		}
	}
}

func TestTagsSpreadEvenly(t *testing.T) {
	for _, n := range []int{1, 3, 16, 100, Max} {
		s := MustNew(n)
		if s.N() != n {
			t.Fatalf("N = %d, want %d", s.N(), n)
		}
		for p := range n {
			tag := s.Tag(p)
			slot := int(Slot(tag))
			if lo, hi := p*Slots/n, (p+1)*Slots/n; slot < lo || slot >= hi {
				t.Fatalf("n=%d: tag %s of partition %d is in slot %d, outside [%d,%d)", n, tag, p, slot, lo, hi)
			}
			if Slot("ord:"+tag+":ord_abc") != Slot("outbox:"+tag) {
				t.Fatalf("keys under tag %s are in different slots", tag)
			}
		}
	}
	// Three primaries with redis-cli's even split: 16 partitions as 5/5/6.
	s := MustNew(16)
	per := map[int]int{}
	for p := range 16 {
		per[int(Slot(s.Tag(p)))*3/Slots]++
	}
	for node, k := range per {
		if k < 5 || k > 6 {
			t.Fatalf("node %d holds %d of 16 partitions, want 5 or 6: %v", node, k, per)
		}
	}
}

func TestNewRejectsOutOfRange(t *testing.T) {
	for _, n := range []int{0, -1, Max + 1} {
		if _, err := New(n); err == nil {
			t.Errorf("New(%d) accepted", n)
		}
	}
}

func TestNewIDLandsInPartition(t *testing.T) {
	s := MustNew(16)
	r := rand.New(rand.NewPCG(1, 2))
	gen := func() string { return "ord_" + strconv.FormatUint(r.Uint64(), 36) }
	for p := range 16 {
		for range 20 {
			if id := s.NewID(p, gen); s.Of(id) != p {
				t.Fatalf("NewID(%d) = %s in partition %d", p, id, s.Of(id))
			}
		}
	}
	if Join("ab", "c") == Join("a", "bc") {
		t.Fatal("Join is ambiguous")
	}
}

func BenchmarkNewID(b *testing.B) {
	s := MustNew(Default)
	r := rand.New(rand.NewPCG(1, 2))
	gen := func() string { return "ord_" + strconv.FormatUint(r.Uint64(), 36) }
	for i := 0; b.Loop(); i++ {
		s.NewID(i%Default, gen)
	}
}

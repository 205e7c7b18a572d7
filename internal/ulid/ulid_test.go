package ulid

import (
	"strings"
	"testing"
	"time"
)

// TestNew: ids carry the prefix, 26 Crockford digits, and sort by time.
func TestNew(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a, b := New("ord_", t0), New("ord_", t0.Add(time.Millisecond))
	if !strings.HasPrefix(a, "ord_") || len(a) != 30 {
		t.Fatalf("New = %q, want ord_ and 26 digits", a)
	}
	for _, c := range a[4:] {
		if !strings.ContainsRune(crockford, c) {
			t.Fatalf("New = %q: %q is no Crockford digit", a, c)
		}
	}
	if a >= b {
		t.Errorf("got %q >= %q, want ids sorted by time", a, b)
	}
	if New("sd_", t0) == New("sd_", t0) {
		t.Error("two ids of the same millisecond are equal")
	}
}

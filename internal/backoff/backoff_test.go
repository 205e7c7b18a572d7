package backoff

import (
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	b := Policy{Base: time.Second, Max: time.Minute, Jitter: 0.5}
	tests := []struct {
		n    int64
		u    float64
		want time.Duration
	}{
		{1, 0, time.Second},
		{2, 0, 2 * time.Second},
		{3, 0, 4 * time.Second},
		{6, 0, 32 * time.Second},
		{7, 0, time.Minute}, // 64s capped
		{1000, 0, time.Minute},
		{1 << 62, 0, time.Minute}, // no overflow
		{0, 0, time.Second},       // treated as the first
		{-5, 0, time.Second},
		{1, 1, 500 * time.Millisecond}, // full jitter shortens by half
		{3, 0.5, 3 * time.Second},      // 4s − 4s·0.5·0.5
		{7, 2, 30 * time.Second},       // u clamped to 1
	}
	for _, tt := range tests {
		if got := b.Delay(tt.n, tt.u); got != tt.want {
			t.Errorf("Delay(%d, %v) = %v, want %v", tt.n, tt.u, got, tt.want)
		}
	}
}

func TestBackoffDelayBounds(t *testing.T) {
	b := Policy{Base: time.Microsecond, Max: time.Hour, Jitter: 1}
	if got := b.Delay(1, 0.999999); got != time.Millisecond {
		t.Errorf("Delay with tiny base = %v, want the 1ms floor", got)
	}
	b = Policy{Base: time.Second, Max: 10 * time.Second, Jitter: 0.3}
	for n := int64(1); n < 100; n++ {
		for _, u := range []float64{0, 0.25, 0.5, 0.99} {
			if got := b.Delay(n, u); got > b.Max || got < 7*time.Second/10 && n > 4 {
				t.Fatalf("Delay(%d, %v) = %v, outside [0.7·Max, Max] once capped", n, u, got)
			}
		}
	}
}

package loadtest

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactQuantile is the reference: the smallest value with at least q of all
// values at or below it (the definition Histogram.Quantile approximates).
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func TestHistogramQuantileAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	dists := []struct {
		name string
		gen  func() time.Duration
	}{
		{"log-uniform 1ns..100s", func() time.Duration { return time.Duration(math.Pow(10, r.Float64()*11)) }},
		{"exponential mean 2ms", func() time.Duration { return time.Duration(r.ExpFloat64() * 2e6) }},
		{"small exact values", func() time.Duration { return time.Duration(r.IntN(300)) }},
		{"constant 5ms", func() time.Duration { return 5 * time.Millisecond }},
		{"bimodal 1ms / 900ms", func() time.Duration {
			if r.IntN(100) == 0 {
				return 900*time.Millisecond + time.Duration(r.IntN(1e6))
			}
			return time.Millisecond + time.Duration(r.IntN(1e5))
		}},
	}
	quantiles := []float64{0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999}
	for _, d := range dists {
		t.Run(d.name, func(t *testing.T) {
			h := NewHistogram()
			vals := make([]time.Duration, 20000)
			for i := range vals {
				vals[i] = d.gen()
				h.Record(vals[i])
			}
			slices.Sort(vals)
			for _, q := range quantiles {
				got, want := h.Quantile(q), exactQuantile(vals, q)
				if diff := math.Abs(float64(got - want)); diff > float64(want)*RelativeError+1 {
					t.Errorf("Quantile(%v) = %v, want %v within %.2f%% (off by %.3f%%)", q, got, want, RelativeError*100, 100*diff/float64(want))
				}
			}
			if got, want := h.Max(), vals[len(vals)-1]; got != want {
				t.Errorf("Max() = %v, want exactly %v", got, want)
			}
			if got, want := h.Min(), vals[0]; got != want {
				t.Errorf("Min() = %v, want exactly %v", got, want)
			}
			if got, want := h.Count(), uint64(len(vals)); got != want {
				t.Errorf("Count() = %d, want %d", got, want)
			}
		})
	}
}

func TestHistogramBuckets(t *testing.T) {
	// Every value lies in the bucket its index names, buckets are ordered
	// and no wider than the promised relative error.
	prev := -1
	check := func(v uint64) {
		i := bucketIndex(v)
		lo, w := bucketBounds(i)
		if v < lo || v >= lo+w {
			t.Fatalf("value %d: bucket %d is [%d, %d)", v, i, lo, lo+w)
		}
		if i < prev {
			t.Fatalf("value %d: bucket %d after bucket %d: not monotone", v, i, prev)
		}
		if w > 1 && float64(w)/float64(lo) > RelativeError { // width-1 buckets are exact
			t.Fatalf("bucket %d: width %d at %d exceeds relative error %v", i, w, lo, RelativeError)
		}
		prev = i
	}
	for v := uint64(0); v < 5000; v++ {
		check(v)
	}
	for v := uint64(5000); v < maxTrack; v = v*21/20 + 1 {
		check(v)
	}
	check(maxTrack)
	if got, want := bucketIndex(maxTrack), numBuckets-1; got != want {
		t.Errorf("bucketIndex(maxTrack) = %d, want the last bucket %d", got, want)
	}
}

func TestHistogramMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b, both := NewHistogram(), NewHistogram(), NewHistogram()
	for i := 0; i < 5000; i++ {
		v := time.Duration(r.ExpFloat64() * 1e6)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
		both.Record(v)
	}
	a.Merge(b)
	if *a != *both {
		t.Fatalf("merged histogram differs from the histogram of all values: got %+v, want %+v", a.Summary(), both.Summary())
	}
	empty := NewHistogram()
	empty.Merge(nil)
	empty.Merge(NewHistogram())
	if got := empty.Count(); got != 0 {
		t.Errorf("merging empties: Count() = %d, want 0", got)
	}
}

func TestHistogramEdges(t *testing.T) {
	h := NewHistogram()
	if got := h.Quantile(0.99); got != 0 {
		t.Errorf("empty Quantile = %v, want 0", got)
	}
	h.Record(-time.Second) // clock went backwards: counts as zero
	h.Record(time.Hour)    // beyond the tracked range: clamped, max still exact
	if got, want := h.Min(), time.Duration(0); got != want {
		t.Errorf("Min() = %v, want %v", got, want)
	}
	if got, want := h.Max(), time.Hour; got != want {
		t.Errorf("Max() = %v, want %v", got, want)
	}
	if got, want := h.Quantile(1), time.Hour; got != want {
		t.Errorf("Quantile(1) = %v, want %v", got, want)
	}
	if got := h.Quantile(0.99); got > time.Hour || got < time.Duration(maxTrack)/2 {
		t.Errorf("Quantile(0.99) = %v, want near the top of the range", got)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	h := NewHistogram()
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i&0xfffff) * 1000)
	}
}

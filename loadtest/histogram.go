package loadtest

import (
	"math"
	"math/bits"
	"time"
)

// The histogram is log-linear in the manner of HdrHistogram: values below
// 2^subBits are counted exactly; above that, every power-of-two range
// [2^k, 2^(k+1)) is split into 2^(subBits-1) equal buckets. A bucket is then at
// most 1/2^(subBits-1) of its lowest value wide, so any quantile it reports is
// within 1/128 (0.79 %) of the exact sample quantile, whatever the scale.
const (
	subBits     = 8
	subCount    = 1 << subBits // exact buckets for values below this
	halfCount   = subCount / 2 // linear buckets per power of two above it
	maxExponent = 40           // values are clamped below 2^40 ns (about 18 minutes)
	numBuckets  = subCount + (maxExponent-subBits)*halfCount
	maxTrack    = 1<<maxExponent - 1
)

// RelativeError is the largest relative difference between a quantile the
// Histogram reports and the exact quantile of the recorded values.
const RelativeError = 1.0 / halfCount

// Histogram counts durations (in nanoseconds) in log-linear buckets with a
// bounded relative error (see RelativeError), like HdrHistogram with about two
// significant digits. Its size is fixed (about 35 KiB) whatever it holds, two
// histograms merge exactly, and it keeps the exact minimum, maximum and sum.
//
// A Histogram is not safe for concurrent use; the runner guards its
// histograms with one mutex.
type Histogram struct {
	counts [numBuckets]uint64
	total  uint64
	min    int64
	max    int64
	sum    float64 // nanoseconds; float so that long runs cannot overflow
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram { return &Histogram{} }

// bucketIndex returns the bucket of v (0 ≤ v ≤ maxTrack).
func bucketIndex(v uint64) int {
	if v < subCount {
		return int(v)
	}
	e := bits.Len64(v) - subBits // ≥ 1; v>>e lies in [halfCount, subCount)
	return subCount + (e-1)*halfCount + int(v>>e) - halfCount
}

// bucketBounds returns the lowest value of bucket i and its width.
func bucketBounds(i int) (lo, width uint64) {
	if i < subCount {
		return uint64(i), 1
	}
	j := i - subCount
	e := uint(j/halfCount + 1)
	m := uint64(j%halfCount + halfCount)
	return m << e, 1 << e
}

// Record adds one duration. Negative durations count as zero; durations
// beyond the tracked range (about 18 minutes) count in the top bucket but
// still set the exact maximum.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	if u > maxTrack {
		u = maxTrack
	}
	h.counts[bucketIndex(u)]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total++
	h.sum += float64(v)
}

// Merge adds every count of o to h. Merging is exact: the result is the
// histogram of the union of both sets of values.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.total += o.total
	h.sum += o.sum
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total }

// Min returns the smallest recorded value (0 when empty).
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Max returns the largest recorded value, exactly (0 when empty).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean returns the arithmetic mean (0 when empty).
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.total))
}

// Quantile returns the value at quantile q (0 ≤ q ≤ 1): the smallest
// recorded value v such that at least q of all values are ≤ v, within
// RelativeError. It returns 0 for an empty histogram. Quantile(1) is the exact
// maximum and Quantile(0) the exact minimum.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	if q <= 0 {
		return time.Duration(h.min)
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen < rank {
			continue
		}
		lo, w := bucketBounds(i)
		// The midpoint halves the worst-case error; the exact extremes bound it.
		v := int64(lo + w/2)
		if w == 1 {
			v = int64(lo)
		}
		return time.Duration(min(max(v, h.min), h.max))
	}
	return time.Duration(h.max)
}

// Percentiles are the summary figures the tool reports for a histogram.
type Percentiles struct {
	Count uint64        `json:"count"`
	Mean  time.Duration `json:"mean_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p99_9_ns"`
	Max   time.Duration `json:"max_ns"`
}

// Summary returns h's count, mean, p50, p90, p99, p99.9 and max.
func (h *Histogram) Summary() Percentiles {
	return Percentiles{
		Count: h.total, Mean: h.Mean(),
		P50: h.Quantile(0.50), P90: h.Quantile(0.90), P99: h.Quantile(0.99), P999: h.Quantile(0.999),
		Max: h.Max(),
	}
}

package loadtest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// recorder collects every measurement of a run under one mutex. One lock
// per request is cheap next to an HTTP round trip, and it keeps the
// per-second windows exact (no record lost in a window swap).
type recorder struct {
	mu       sync.Mutex
	start    time.Time
	stepEnds []time.Duration // cumulative end offset of each step

	all         Histogram
	ops         [numOps]opAcc
	steps       []stepAcc
	errors      map[string]int64
	sent        int64
	ok          int64
	completed   int64
	lateN       int64
	notStartedN int64
	acks        []Ack
	ambiguous   int64
	lastEnd     time.Time

	// The current one-second window, by completion time.
	win                    Histogram
	winIdx                 int
	winSent, winOK, winErr int64
	series                 []Sample
}

type opAcc struct {
	sent, ok int64
	errors   map[string]int64
	hist     Histogram
}

type stepAcc struct {
	ok, errors, late, notStarted, okInWindow int64
	hist                                     Histogram
}

func newRecorder(start time.Time, s Schedule) *recorder {
	rec := &recorder{start: start, errors: map[string]int64{}, steps: make([]stepAcc, len(s.Steps))}
	var end time.Duration
	for _, st := range s.Steps {
		end += st.Duration
		rec.stepEnds = append(rec.stepEnds, end)
	}
	for i := range rec.ops {
		rec.ops[i].errors = map[string]int64{}
	}
	return rec
}

func (rec *recorder) second(t time.Time) int {
	d := t.Sub(rec.start)
	if d < 0 {
		return 0
	}
	return int(d / time.Second)
}

// advance closes every window before second idx. Callers hold mu.
func (rec *recorder) advance(idx int) {
	for rec.winIdx < idx {
		rec.closeWindow()
	}
}

// closeWindow appends the current window to the series and opens the next.
func (rec *recorder) closeWindow() {
	rec.series = append(rec.series, Sample{
		Second: rec.winIdx, Sent: rec.winSent, OK: rec.winOK, Errors: rec.winErr,
		P50: rec.win.Quantile(0.5), P90: rec.win.Quantile(0.9), P99: rec.win.Quantile(0.99), Max: rec.win.Max(),
	})
	rec.win.Reset()
	rec.winSent, rec.winOK, rec.winErr = 0, 0, 0
	rec.winIdx++
}

// started counts a request as it is sent.
func (rec *recorder) started(op Op, t time.Time) {
	rec.mu.Lock()
	rec.advance(rec.second(t))
	rec.sent++
	rec.ops[op].sent++
	rec.winSent++
	rec.mu.Unlock()
}

// late counts a request that started later than it should have.
func (rec *recorder) late(a Arrival) {
	rec.mu.Lock()
	rec.lateN++
	rec.steps[a.Step].late++
	rec.mu.Unlock()
}

// done records a finished request; its latency runs from the intended time.
func (rec *recorder) done(j job, out outcome, end time.Time) {
	lat := end.Sub(j.due)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.advance(rec.second(end))
	rec.completed++
	rec.all.Record(lat)
	o := &rec.ops[out.op]
	o.hist.Record(lat)
	st := &rec.steps[j.arr.Step]
	st.hist.Record(lat)
	rec.win.Record(lat)
	if end.After(rec.lastEnd) {
		rec.lastEnd = end
	}
	if out.kind == "" {
		rec.ok++
		o.ok++
		st.ok++
		rec.winOK++
		if s := rec.stepAt(end.Sub(rec.start)); s >= 0 {
			rec.steps[s].okInWindow++
		}
	} else {
		rec.errors[out.kind]++
		o.errors[out.kind]++
		st.errors++
		rec.winErr++
	}
	if out.ack != nil {
		rec.acks = append(rec.acks, *out.ack)
	}
	if out.ambiguous {
		rec.ambiguous++
	}
}

// notStarted records a due request that was never sent: an error, and a
// latency of at least the time it waited.
func (rec *recorder) notStarted(a Arrival, due, now time.Time) {
	lat := now.Sub(due)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.advance(rec.second(now))
	rec.notStartedN++
	rec.errors[KindNotStarted]++
	rec.all.Record(lat)
	st := &rec.steps[a.Step]
	st.notStarted++
	st.errors++
	st.hist.Record(lat)
	rec.win.Record(lat)
	rec.winErr++
}

// stepAt returns the step whose time window holds offset, or -1 past the end.
func (rec *recorder) stepAt(off time.Duration) int {
	for i, end := range rec.stepEnds {
		if off < end {
			return i
		}
	}
	return -1
}

// progressLine renders the last complete second and the totals.
func (rec *recorder) progressLine(now time.Time) string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.advance(rec.second(now))
	var last Sample
	if n := len(rec.series); n > 0 {
		last = rec.series[n-1]
	}
	errs := int64(0)
	for _, v := range rec.errors {
		errs += v
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%4ds] sent %d ok %d err %d", rec.second(now), rec.sent, rec.ok, errs)
	if errs > 0 {
		b.WriteString(" (")
		for i, k := range slices.Sorted(maps.Keys(rec.errors)) {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%s=%d", k, rec.errors[k])
		}
		b.WriteByte(')')
	}
	fmt.Fprintf(&b, " | last 1s: sent %d/s done %d/s p99 %s | inflight %d late %d",
		last.Sent, last.OK+last.Errors, fmtDur(last.P99), rec.sent-rec.completed, rec.lateN)
	return b.String()
}

// result closes the windows and assembles the Result.
func (rec *recorder) result(stopAt time.Time) *Result {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.advance(rec.second(stopAt))
	if rec.winSent+rec.winOK+rec.winErr > 0 {
		rec.closeWindow()
	}
	res := &Result{
		Started: rec.start, Sent: rec.sent, OK: rec.ok, Late: rec.lateN, NotStarted: rec.notStartedN,
		Errors: maps.Clone(rec.errors), Latency: rec.all.Summary(), Series: rec.series,
		AckedOrders: len(rec.acks), Acked: rec.acks, AmbiguousOrders: rec.ambiguous,
	}
	if !rec.lastEnd.IsZero() {
		res.Elapsed = rec.lastEnd.Sub(rec.start)
	}
	for i := range rec.ops {
		o := &rec.ops[i]
		if o.sent == 0 && len(o.errors) == 0 {
			continue
		}
		res.Ops = append(res.Ops, OpResult{Op: Op(i).String(), Sent: o.sent, OK: o.ok, Errors: maps.Clone(o.errors), Latency: o.hist.Summary()})
	}
	var begin time.Duration
	for i := range rec.steps {
		st := &rec.steps[i]
		dur := rec.stepEnds[i] - begin
		sr := StepResult{
			Step: i + 1, Duration: dur, OK: st.ok, Errors: st.errors, Late: st.late, NotStarted: st.notStarted,
			OKPerSecond: float64(st.okInWindow) / dur.Seconds(), Latency: st.hist.Summary(),
		}
		res.Steps = append(res.Steps, sr)
		begin = rec.stepEnds[i]
	}
	return res
}

// fmtDur renders a latency compactly with three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d)
	case d < time.Millisecond:
		return fmt.Sprintf("%.3gµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.3gms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.3gs", d.Seconds())
	}
}

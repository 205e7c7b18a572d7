package loadtest

import (
	"strings"
	"testing"
	"time"
)

// The recorder with injected times: per-second windows by completion time,
// per-step figures by intended time, the progress line.
func TestRecorderWindowsAndProgress(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	sch := Schedule{Steps: []Step{{Rate: 10, Duration: time.Second}, {Rate: 10, Duration: time.Second}}}
	rec := newRecorder(start, sch)
	at := func(d time.Duration) time.Time { return start.Add(d) }

	j0 := job{arr: Arrival{Index: 0, Step: 0}, op: OpREST, due: at(0)}
	j1 := job{arr: Arrival{Index: 1, Step: 0}, op: OpREST, due: at(500 * time.Millisecond)}
	j2 := job{arr: Arrival{Index: 2, Step: 1}, op: OpHealth, due: at(1200 * time.Millisecond)}
	rec.started(OpREST, at(0))
	rec.done(j0, outcome{op: OpREST, ack: &Ack{ID: "a"}}, at(10*time.Millisecond))
	rec.started(OpREST, at(500*time.Millisecond))
	// j1 completes in second 1, 700 ms after it was due.
	rec.done(j1, outcome{op: OpREST, kind: "http_500", ambiguous: true}, at(1200*time.Millisecond))
	rec.late(j2.arr)
	rec.started(OpHealth, at(1300*time.Millisecond))
	rec.done(j2, outcome{op: OpHealth}, at(1400*time.Millisecond))

	line := rec.progressLine(at(2 * time.Second))
	for _, want := range []string{"[   2s]", "sent 3 ok 2 err 1 (http_500=1)", "last 1s: sent 1/s done 2/s", "late 1"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}

	rec.notStarted(Arrival{Index: 3, Step: 1}, at(1500*time.Millisecond), at(3*time.Second))

	res := rec.result(at(3 * time.Second))
	if got, want := len(res.Series), 4; got != want {
		t.Fatalf("%d seconds in the series, want %d: %+v", got, want, res.Series)
	}
	s0, s1, s3 := res.Series[0], res.Series[1], res.Series[3]
	if s0.Sent != 2 || s0.OK != 1 || s0.Errors != 0 {
		t.Errorf("second 0 = %+v, want sent 2 ok 1 errors 0", s0)
	}
	if s1.Sent != 1 || s1.OK != 1 || s1.Errors != 1 || s1.Max != 700*time.Millisecond {
		t.Errorf("second 1 = %+v, want sent 1 ok 1 errors 1 max 700ms", s1)
	}
	if s3.Errors != 1 || s3.Max != 1500*time.Millisecond {
		t.Errorf("second 3 = %+v, want the not-started request with its 1.5 s wait", s3)
	}
	if res.Steps[0].OK != 1 || res.Steps[0].Errors != 1 || res.Steps[1].OK != 1 || res.Steps[1].NotStarted != 1 || res.Steps[1].Late != 1 {
		t.Errorf("steps %+v: want step 1 ok 1 err 1, step 2 ok 1 not started 1 late 1", res.Steps)
	}
	// OKPerSecond counts completions inside the step's window: j0 in step 1,
	// j2 (completed at 1.4 s) in step 2.
	if res.Steps[0].OKPerSecond != 1 || res.Steps[1].OKPerSecond != 1 {
		t.Errorf("ok/s by step = %v, %v; want 1, 1", res.Steps[0].OKPerSecond, res.Steps[1].OKPerSecond)
	}
	if res.AmbiguousOrders != 1 || res.AckedOrders != 1 || res.NotStarted != 1 || res.Errors[KindNotStarted] != 1 {
		t.Errorf("ambiguous %d acked %d not started %d: want 1 each", res.AmbiguousOrders, res.AckedOrders, res.NotStarted)
	}
	if got, want := res.Latency.Max, 1500*time.Millisecond; got != want {
		t.Errorf("latency max = %v, want %v", got, want)
	}
	if got, want := res.Elapsed, 1400*time.Millisecond; got != want {
		t.Errorf("elapsed = %v, want %v (last completion)", got, want)
	}
}

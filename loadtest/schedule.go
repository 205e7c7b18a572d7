package loadtest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Limits of a schedule: they keep every run bounded in time and in memory
// (the runner keeps one record per acknowledged order for verification).
const (
	MaxRate     = 1_000_000        // requests per second
	MaxDuration = 6 * time.Hour    // total schedule length
	MaxRequests = 50_000_000       // requests in one run
	MaxSteps    = 100              // steps in a stepped schedule
	minStep     = time.Millisecond // shorter steps are almost certainly a typo
)

// Step is a stretch of the schedule at one constant arrival rate.
type Step struct {
	Rate     float64       // requests per second, > 0
	Duration time.Duration // > 0
}

// Schedule is an open-loop arrival plan: a sequence of constant-rate steps.
// Request i of a step with rate r that starts at offset s is intended to be
// sent at s + i/r, whatever happened to earlier requests. Latency is measured
// from that intended time, so a slow server cannot hide its queueing delay by
// slowing the generator down (no coordinated omission).
type Schedule struct {
	Steps []Step
}

// ConstantRate returns a one-step schedule.
func ConstantRate(rate float64, d time.Duration) Schedule {
	return Schedule{Steps: []Step{{Rate: rate, Duration: d}}}
}

// ParseSteps parses "RATE:DURATION,RATE:DURATION,…", e.g. "1000:10s,2000:10s".
func ParseSteps(s string) (Schedule, error) {
	var sch Schedule
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		r, d, ok := strings.Cut(part, ":")
		if !ok {
			return Schedule{}, fmt.Errorf("step %q: want RATE:DURATION, e.g. 1000:10s", part)
		}
		rate, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil {
			return Schedule{}, fmt.Errorf("step %q: rate: %v", part, err)
		}
		dur, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return Schedule{}, fmt.Errorf("step %q: duration: %v", part, err)
		}
		sch.Steps = append(sch.Steps, Step{Rate: rate, Duration: dur})
	}
	return sch, sch.Validate()
}

// String renders the schedule in ParseSteps form.
func (s Schedule) String() string {
	parts := make([]string, len(s.Steps))
	for i, st := range s.Steps {
		parts[i] = strconv.FormatFloat(st.Rate, 'f', -1, 64) + ":" + st.Duration.String()
	}
	return strings.Join(parts, ",")
}

// Validate checks the limits.
func (s Schedule) Validate() error {
	if len(s.Steps) == 0 {
		return fmt.Errorf("schedule: no steps")
	}
	if len(s.Steps) > MaxSteps {
		return fmt.Errorf("schedule: %d steps, at most %d", len(s.Steps), MaxSteps)
	}
	for i, st := range s.Steps {
		if !(st.Rate > 0) || st.Rate > MaxRate || math.IsInf(st.Rate, 0) {
			return fmt.Errorf("schedule: step %d: rate %v must be in (0, %d]", i+1, st.Rate, MaxRate)
		}
		if st.Duration < minStep {
			return fmt.Errorf("schedule: step %d: duration %v must be at least %v", i+1, st.Duration, minStep)
		}
	}
	if d := s.Duration(); d > MaxDuration {
		return fmt.Errorf("schedule: total duration %v exceeds %v", d, MaxDuration)
	}
	if n := s.Total(); n > MaxRequests {
		return fmt.Errorf("schedule: %d requests exceed the limit of %d", n, MaxRequests)
	}
	if s.Total() == 0 {
		return fmt.Errorf("schedule: rate × duration yields no requests")
	}
	return nil
}

// Duration returns the schedule's total length.
func (s Schedule) Duration() time.Duration {
	var d time.Duration
	for _, st := range s.Steps {
		d += st.Duration
	}
	return d
}

// stepCount is the number of requests a step sends: one every 1/rate,
// starting at the step's start, strictly before its end.
func (st Step) count() int {
	return int(math.Ceil(st.Rate * st.Duration.Seconds()))
}

// Total returns the number of requests the schedule sends.
func (s Schedule) Total() int {
	n := 0
	for _, st := range s.Steps {
		n += st.count()
	}
	return n
}

// Arrival is one planned request: its index, the step it belongs to and its
// intended send time as an offset from the start of the run.
type Arrival struct {
	Index  int
	Step   int
	Offset time.Duration
}

// Arrivals calls fn for every planned request in order, stopping early when
// fn returns false. It is bounded by Total().
func (s Schedule) Arrivals(fn func(Arrival) bool) {
	i := 0
	var start time.Duration
	for si, st := range s.Steps {
		n := st.count()
		interval := float64(time.Second) / st.Rate
		for k := 0; k < n; k++ {
			if !fn(Arrival{Index: i, Step: si, Offset: start + time.Duration(float64(k)*interval)}) {
				return
			}
			i++
		}
		start += st.Duration
	}
}

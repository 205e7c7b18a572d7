package erp

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestBreakerLifecycle(t *testing.T) {
	clk := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	var changes []string
	b := NewBreaker(3, 30*time.Second, clk.Now, func(from, to BreakerState) {
		changes = append(changes, fmt.Sprintf("%v>%v", from, to))
	})
	want := func(s BreakerState) {
		t.Helper()
		if got := b.State(); got != s {
			t.Fatalf("state = %v, want %v", got, s)
		}
	}
	want(BreakerClosed)

	// Failures must be consecutive: a success resets the count.
	b.Failure()
	b.Failure()
	b.Success()
	b.Failure()
	b.Failure()
	want(BreakerClosed)
	if !b.Allow() {
		t.Fatal("closed breaker refused a call")
	}
	b.Failure()
	want(BreakerOpen)
	if b.Allow() {
		t.Fatal("open breaker allowed a call")
	}

	clk.Advance(29 * time.Second)
	want(BreakerOpen)
	b.Failure() // a late failure of a call started before opening does not extend
	clk.Advance(time.Second)
	want(BreakerHalfOpen)

	// One probe at a time.
	if !b.Allow() {
		t.Fatal("half-open breaker refused the probe")
	}
	if b.Allow() {
		t.Fatal("half-open breaker allowed a second probe")
	}
	b.Failure() // the probe failed: open again, for a full period
	want(BreakerOpen)
	clk.Advance(29 * time.Second)
	want(BreakerOpen)
	clk.Advance(time.Second)
	if !b.Allow() {
		t.Fatal("half-open breaker refused the probe")
	}
	b.Success()
	want(BreakerClosed)

	// After closing the failure count starts from zero.
	b.Failure()
	b.Failure()
	want(BreakerClosed)

	got := fmt.Sprint(changes)
	if w := "[closed>open open>half-open half-open>open open>half-open half-open>closed]"; got != w {
		t.Errorf("changes = %s, want %s", got, w)
	}
}

func TestBreakerSingleProbeUnderConcurrency(t *testing.T) {
	clk := &clock{t: time.Unix(0, 0)}
	b := NewBreaker(1, time.Second, clk.Now, nil)
	b.Failure()
	clk.Advance(time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 50 {
		wg.Go(func() {
			if b.Allow() {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != 1 {
		t.Errorf("%d probes allowed, want 1", allowed)
	}
}

func TestBreakerThresholdFloor(t *testing.T) {
	b := NewBreaker(0, time.Second, nil, nil)
	b.Failure()
	if got := b.State(); got != BreakerOpen {
		t.Errorf("threshold 0 after one failure: %v, want open", got)
	}
}

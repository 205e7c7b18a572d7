package cmdb

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type recorder struct {
	mu    sync.Mutex
	beats []Instance
	fail  int // the first fail heartbeats fail
	done  chan struct{}
	want  int
}

func (r *recorder) Heartbeat(_ context.Context, in Instance) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.beats = append(r.beats, in)
	if len(r.beats) == r.want {
		close(r.done)
	}
	if len(r.beats) <= r.fail {
		return errors.New("redis down")
	}
	return nil
}

// TestHeartbeatRenewsAndSurvivesFailures: the first heartbeat is at once,
// each carries a new LastSeen and the same Started, and a failing registry
// does not stop the loop.
func TestHeartbeatRenewsAndSurvivesFailures(t *testing.T) {
	r := &recorder{fail: 2, want: 4, done: make(chan struct{})}
	var mu sync.Mutex
	clock := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Heartbeat(ctx, r, Instance{ID: "gw-1", Version: "1.4.0"}, time.Millisecond, now, nil) }()
	<-r.done
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Heartbeat returned %v, want nil on cancel", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, b := range r.beats[:4] {
		if b.ID != "gw-1" || b.Version != "1.4.0" || !b.Started.Equal(r.beats[0].Started) {
			t.Errorf("beat %d: got %+v", i, b)
		}
		if i > 0 && !b.LastSeen.After(r.beats[i-1].LastSeen) {
			t.Errorf("beat %d: LastSeen %v not after %v", i, b.LastSeen, r.beats[i-1].LastSeen)
		}
	}
}

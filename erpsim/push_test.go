package erpsim_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"erpgate/erpsim"
	"erpgate/soap/erpv2cb"
)

// TestPushIsAtLeastOnceAndInOrder: a receiver that first refuses the
// token, then is unavailable, then loses answers (records the call but
// answers 503) still gets every change of every order, in sequence per
// order; repeats carry the same EventId.
func TestPushIsAtLeastOnceAndInOrder(t *testing.T) {
	clk := newLCClock()
	rc := newPushReceiver(t, func(n int, _ *erpv2cb.SalesOrderStatusChanged) int {
		switch {
		case n <= 3:
			return http.StatusUnauthorized
		case n <= 8:
			return http.StatusServiceUnavailable
		case n%3 == 0:
			return http.StatusBadGateway // recorded, but the answer is lost
		}
		return 0
	})
	sim, _, c := newSim(t, erpsim.Config{Clock: clk.Now, Lifecycle: manualLifecycle(10 * time.Second), CallbackURL: rc.URL, CallbackToken: "tok"})
	t.Cleanup(sim.Close)
	erpsim.SetPushBackoff(sim, time.Millisecond, 5*time.Millisecond)
	refs := []string{"ord_a", "ord_b", "ord_c", "ord_d", "ord_e", "ord_f"}
	for _, ref := range refs {
		if _, err := create(t.Context(), c, salesOrder(ref)); err != nil {
			t.Fatal(err)
		}
	}
	for range 6 {
		clk.Add(10 * time.Second)
		sim.Advance()
	}
	ci := waitPushed(t, sim, uint64(5*len(refs)))
	if ci.Retried == 0 || ci.Failed != 0 || ci.Dropped != 0 || ci.Recorded != uint64(5*len(refs)) {
		t.Errorf("callback counters = %+v, want retries, no failures or drops, %d recorded", ci, 5*len(refs))
	}
	calls := rc.calls()
	byRef := distinctPushes(calls)
	for _, ref := range refs {
		var trail []string
		for i, m := range byRef[ref] {
			trail = append(trail, string(val(m.Status)))
			if m.Sequence != int32(i+1) {
				t.Errorf("%s: change %d has sequence %d, want %d (in order)", ref, i, m.Sequence, i+1)
			}
		}
		if want := []string{"confirmed", "allocated", "picked", "shipped", "delivered"}; !slices.Equal(trail, want) {
			t.Errorf("%s: statuses received %v, want %v", ref, trail, want)
		}
	}
	// A repeat is the same change again: same id, same content.
	first := map[string]*erpv2cb.SalesOrderStatusChanged{}
	repeats := 0
	for _, m := range calls {
		if f, ok := first[m.EventId]; ok {
			repeats++
			if *f.Status != *m.Status || f.Sequence != m.Sequence || f.ExternalReference != m.ExternalReference {
				t.Errorf("repeat of %s differs: %+v vs %+v", m.EventId, m, f)
			}
			continue
		}
		first[m.EventId] = m
	}
	if repeats == 0 {
		t.Error("no repeated deliveries seen; the test should produce some")
	}
}

func TestPushClientFaultIsFinal(t *testing.T) {
	clk := newLCClock()
	rc := newPushReceiver(t, func(_ int, m *erpv2cb.SalesOrderStatusChanged) int {
		if m.ExternalReference == "ord_unknown" {
			return -1
		}
		return 0
	})
	sim, _, c := newSim(t, erpsim.Config{Clock: clk.Now, Lifecycle: manualLifecycle(10 * time.Second), CallbackURL: rc.URL})
	t.Cleanup(sim.Close)
	erpsim.SetPushBackoff(sim, time.Millisecond, 5*time.Millisecond)
	for _, ref := range []string{"ord_unknown", "ord_ok"} {
		if _, err := create(t.Context(), c, salesOrder(ref)); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(time.Minute)
	sim.Advance()
	ci := waitPushed(t, sim, 10)
	if ci.Failed != 5 || ci.Recorded != 5 || ci.Retried != 0 {
		t.Errorf("counters = %+v, want 5 failed (not retried) and 5 recorded", ci)
	}
	n := 0
	for _, m := range rc.calls() {
		if m.ExternalReference == "ord_unknown" {
			n++
		}
	}
	if n != 5 {
		t.Errorf("ord_unknown got %d calls, want 5 (each change once, never repeated)", n)
	}
}

func TestCallbackSetAtRuntime(t *testing.T) {
	clk := newLCClock()
	var calls atomic.Int32
	rc := newPushReceiver(t, func(int, *erpv2cb.SalesOrderStatusChanged) int { calls.Add(1); return 0 })
	sim, srv, c := newSim(t, erpsim.Config{Clock: clk.Now, Lifecycle: manualLifecycle(10 * time.Second)})
	t.Cleanup(sim.Close)
	if _, err := create(t.Context(), c, salesOrder("ord_1")); err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Second)
	sim.Advance() // confirmation: nowhere to push it
	if ci := sim.Callback(); ci.Queued != 0 || ci.URL != "" {
		t.Errorf("without a URL: %+v, want nothing queued", ci)
	}
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/sim/callback",
		strings.NewReader(fmt.Sprintf(`{"url":%q,"token":"late-token"}`, rc.URL)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := lcReadAll(res); res.StatusCode != http.StatusOK || !strings.Contains(body, `"token_set":true`) || strings.Contains(body, "late-token") {
		t.Errorf("PUT /sim/callback = %d %s, want 200 without the token itself", res.StatusCode, body)
	}
	clk.Add(10 * time.Second)
	sim.Advance()
	waitPushed(t, sim, 1)
	got := rc.calls()
	if len(got) != 1 || val(got[0].Status) != "allocated" || got[0].Sequence != 2 || rc.auth[0] != "Bearer late-token" {
		t.Errorf("pushes = %+v (auth %v), want only the allocation (sequence 2) with the new token", got, rc.auth)
	}
}

func TestCloseDropsQueuedPushes(t *testing.T) {
	clk := newLCClock()
	rc := newPushReceiver(t, func(int, *erpv2cb.SalesOrderStatusChanged) int { return http.StatusServiceUnavailable })
	sim, _, c := newSim(t, erpsim.Config{Clock: clk.Now, Lifecycle: manualLifecycle(10 * time.Second), CallbackURL: rc.URL})
	erpsim.SetPushBackoff(sim, time.Millisecond, 2*time.Millisecond)
	if _, err := create(t.Context(), c, salesOrder("ord_1")); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	sim.Advance()
	deadline := time.Now().Add(10 * time.Second)
	for sim.Callback().Retried < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no retries within 10s: %+v", sim.Callback())
		}
		time.Sleep(time.Millisecond)
	}
	sim.Close()
	if ci := sim.Callback(); ci.Queued != 0 || ci.Dropped != 5 || ci.Sent != 0 {
		t.Errorf("after Close: %+v, want the 5 queued changes dropped", ci)
	}
}

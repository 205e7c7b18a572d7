package loadtest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"erpgate/loadtest"
	"erpgate/loadtest/loadtesttest"
)

func acks(ids ...string) []loadtest.Ack {
	out := make([]loadtest.Ack, len(ids))
	for i, id := range ids {
		out[i] = loadtest.Ack{ID: id, ExternalID: "lt-run-" + id, Channel: "rest"}
	}
	return out
}

func verifyCfg(simURL string, versions ...string) loadtest.VerifyConfig {
	return loadtest.VerifyConfig{SimURL: simURL, Versions: versions, Timeout: 300 * time.Millisecond, Poll: 20 * time.Millisecond}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		versions []string
		setup    func(e *loadtesttest.ERP)
		acked    []loadtest.Ack
		want     loadtest.Verification // only the counted fields are compared
		failed   bool
	}{
		{
			name:  "every order once",
			setup: func(e *loadtesttest.ERP) { e.Create("v2", "a"); e.Create("v2", "b") },
			acked: acks("a", "b"),
			want:  loadtest.Verification{Acked: 2},
		},
		{
			name:   "planted loss",
			setup:  func(e *loadtesttest.ERP) { e.Create("v2", "a") },
			acked:  acks("a", "b"),
			want:   loadtest.Verification{Acked: 2, Lost: 1},
			failed: true,
		},
		{
			name:   "planted duplicate",
			setup:  func(e *loadtesttest.ERP) { e.Create("v2", "a"); e.CreateTwice("v2", "b") },
			acked:  acks("a", "b"),
			want:   loadtest.Verification{Acked: 2, Duplicated: 1},
			failed: true,
		},
		{
			name:  "retried create deduplicated by the ERP is fine",
			setup: func(e *loadtesttest.ERP) { e.Create("v2", "a"); e.Create("v2", "a") },
			acked: acks("a"),
			want:  loadtest.Verification{Acked: 1, Retried: 1},
		},
		{
			name:     "missing in v1 only",
			versions: []string{"v1", "v2"},
			setup:    func(e *loadtesttest.ERP) { e.Create("v2", "a"); e.Create("v1", "b"); e.Create("v2", "b") },
			acked:    acks("a", "b"),
			want:     loadtest.Verification{Acked: 2, Lost: 1},
			failed:   true,
		},
		{
			name:  "an order in the wrong version does not count",
			setup: func(e *loadtesttest.ERP) { e.Create("v1", "a") },
			acked: acks("a"),
			want:  loadtest.Verification{Acked: 1, Lost: 1}, failed: true,
		},
		{
			name:  "one id acknowledged for two different orders",
			setup: func(e *loadtesttest.ERP) { e.Create("v2", "a") },
			acked: []loadtest.Ack{{ID: "a", ExternalID: "lt-run-1"}, {ID: "a", ExternalID: "lt-run-2"}},
			want:  loadtest.Verification{Acked: 1, Lost: 1, SharedIDs: 1}, failed: true,
		},
		{
			name:  "the same acknowledgement twice is one order",
			setup: func(e *loadtesttest.ERP) { e.Create("v2", "a") },
			acked: []loadtest.Ack{{ID: "a", ExternalID: "lt-run-1"}, {ID: "a", ExternalID: "lt-run-1"}},
			want:  loadtest.Verification{Acked: 1},
		},
	}
	for _, tt := range tests {
		for _, noCursor := range []bool{false, true} {
			name := tt.name
			if noCursor {
				name += " (simulator without cursor)"
			}
			t.Run(name, func(t *testing.T) {
				erp := loadtesttest.NewERP()
				erp.NoCursor = noCursor
				sim := httptest.NewServer(erp)
				defer sim.Close()
				cfg := verifyCfg(sim.URL, tt.versions...)
				base, err := loadtest.Snapshot(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				tt.setup(erp)
				v, err := loadtest.Verify(context.Background(), cfg, base, tt.acked, 0)
				if err != nil {
					t.Fatal(err)
				}
				got := [5]int{v.Acked, v.Lost, v.Duplicated, v.Retried, v.SharedIDs}
				want := [5]int{tt.want.Acked, tt.want.Lost, tt.want.Duplicated, tt.want.Retried, tt.want.SharedIDs}
				if got != want {
					t.Errorf("acked, lost, duplicated, retried, shared = %v, want %v", got, want)
				}
				if v.Failed != tt.failed {
					t.Errorf("Failed = %v (%s), want %v", v.Failed, v.Reason, tt.failed)
				}
				if tt.want.Lost > 0 && (len(v.LostExamples) == 0 || v.Settled) {
					t.Errorf("lost examples %v settled %v: want examples and not settled", v.LostExamples, v.Settled)
				}
			})
		}
	}
}

// With cursors, each poll reads only the orders created since the last one:
// a run that waits many polls for its last order reads the others about
// twice (once as they come, once in the final full read), not once per
// poll; a late duplicate is still caught, and create_calls (Retried) of
// orders read early are current.
func TestVerifyReadsIncrementally(t *testing.T) {
	t.Parallel()
	erp := loadtesttest.NewERP()
	sim := httptest.NewServer(erp)
	defer sim.Close()
	for i := range 50 {
		erp.Create("v2", "old"+strconv.Itoa(i)) // before the run
	}
	cfg := verifyCfg(sim.URL)
	cfg.Timeout = 10 * time.Second
	base, err := loadtest.Snapshot(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 100 {
		id := "n" + strconv.Itoa(i)
		ids = append(ids, id)
		erp.Create("v2", id)
	}
	ids = append(ids, "late")
	readsBefore := erp.Reads()
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(300 * time.Millisecond) // many 20 ms polls
		erp.Create("v2", "n5")             // a retried create of an early order
		erp.CreateTwice("v2", "late")      // the last order arrives twice
	}()
	v, err := loadtest.Verify(context.Background(), cfg, base, acks(ids...), 0)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if v.Polls < 5 {
		t.Fatalf("polls = %d, want several (the test needs them)", v.Polls)
	}
	if !v.Failed || v.Duplicated != 1 || v.Lost != 0 || v.Retried != 1 {
		t.Errorf("failed %v lost %d duplicated %d retried %d: want the late duplicate caught and n5's retry counted", v.Failed, v.Lost, v.Duplicated, v.Retried)
	}
	// 100 + 2 new elements once as they came, once in the final full read.
	if got, limit := erp.Reads()-readsBefore, 2*102; got > limit || v.OrdersRead != got {
		t.Errorf("read %d elements (verification says %d), want at most %d over %d polls", got, v.OrdersRead, limit, v.Polls)
	}
}

// Orders reset under the verifier make its counts meaningless: an error.
func TestVerifySimulatorReset(t *testing.T) {
	t.Parallel()
	erp := loadtesttest.NewERP()
	sim := httptest.NewServer(erp)
	defer sim.Close()
	erp.Create("v2", "a")
	erp.Create("v2", "b")
	cfg := verifyCfg(sim.URL)
	base, err := loadtest.Snapshot(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	erp.Reset()
	if _, err := loadtest.Verify(context.Background(), cfg, base, acks("c"), 0); err == nil || !strings.Contains(err.Error(), "reset") {
		t.Errorf("Verify after a reset: err = %v, want one saying the orders were reset", err)
	}
}

// Orders keep arriving after the run; Verify waits for them.
func TestVerifyWaitsForDelivery(t *testing.T) {
	t.Parallel()
	erp := loadtesttest.NewERP()
	sim := httptest.NewServer(erp)
	defer sim.Close()
	cfg := verifyCfg(sim.URL)
	cfg.Timeout = 10 * time.Second
	go func() {
		time.Sleep(100 * time.Millisecond)
		erp.Create("v2", "late")
	}()
	v, err := loadtest.Verify(context.Background(), cfg, nil, acks("late"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if v.Failed || !v.Settled || v.Polls < 2 {
		t.Errorf("failed %v settled %v polls %d: want a pass after waiting", v.Failed, v.Settled, v.Polls)
	}
}

// The gateway stored and delivered an order it answered with 500: it is in
// the ERP but not acknowledged. One such order is explained by one
// ambiguous request; without that it fails the run. Orders of other runs
// and orders that were there before are not this run's.
func TestVerifyUnexpected(t *testing.T) {
	t.Parallel()
	erp := loadtesttest.NewERP()
	gw := &loadtesttest.Gateway{ERP: erp}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	sim := httptest.NewServer(erp)
	defer sim.Close()

	post := func(ext string) {
		body := `{"external_id":"` + ext + `"}`
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/orders", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+loadtest.DefaultShopKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post("lt-old-1") // before the run: in the baseline
	cfg := verifyCfg(sim.URL)
	cfg.Target, cfg.ShopKey, cfg.RunID = srv.URL, loadtest.DefaultShopKey, "lt-run"
	base, err := loadtest.Snapshot(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if base.Len() != 1 {
		t.Fatalf("baseline holds %d orders, want 1", base.Len())
	}
	post("lt-run-1")   // ours, acknowledged below
	post("lt-run-2")   // ours, never acknowledged
	post("lt-other-1") // another run's, concurrently
	erp.Create("v2", "ord_unknown")

	for _, ambiguous := range []int64{0, 1} {
		v, err := loadtest.Verify(context.Background(), cfg, base, []loadtest.Ack{{ID: "ord_00000002", ExternalID: "lt-run-1"}}, ambiguous)
		if err != nil {
			t.Fatal(err)
		}
		got := [4]int{v.Lost, v.Unexpected, v.Foreign, v.Unattributed}
		// ord_unknown: the gateway does not know it (404) → foreign.
		if want := [4]int{0, 1, 2, 0}; got != want {
			t.Errorf("ambiguous %d: lost, unexpected, foreign, unattributed = %v, want %v", ambiguous, got, want)
		}
		if wantFail := ambiguous == 0; v.Failed != wantFail {
			t.Errorf("ambiguous %d: Failed = %v (%s), want %v", ambiguous, v.Failed, v.Reason, wantFail)
		}
		if len(v.UnexpectedExamples) != 1 || !strings.Contains(v.UnexpectedExamples[0], "lt-run-2") {
			t.Errorf("unexpected examples %v, want the one for lt-run-2", v.UnexpectedExamples)
		}
	}

	// Without a gateway to ask, new unacknowledged orders are unattributed
	// and cannot fail the run.
	cfg.Target = ""
	v, err := loadtest.Verify(context.Background(), cfg, base, []loadtest.Ack{{ID: "ord_00000002", ExternalID: "lt-run-1"}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v.Unattributed != 3 || v.Failed {
		t.Errorf("unattributed %d failed %v, want 3 and a pass", v.Unattributed, v.Failed)
	}
}

func TestVerifySimulatorDown(t *testing.T) {
	t.Parallel()
	sim := httptest.NewServer(http.NotFoundHandler())
	sim.Close()
	if _, err := loadtest.Verify(context.Background(), verifyCfg(sim.URL), nil, acks("a"), 0); err == nil {
		t.Error("Verify against a dead simulator: want an error")
	}
	if _, err := loadtest.Snapshot(context.Background(), verifyCfg("http://192.0.2.1:1")); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("Snapshot of a remote simulator: err = %v, want a loopback refusal", err)
	}
}

// After the wait, an order the ERP lacks is lost only when the gateway has
// no such order or says the ERP created it; one the gateway still has
// queued is not lost: the run is NOT SETTLED, with the backlog counted.
func TestVerifyTellsQueuedFromLost(t *testing.T) {
	t.Parallel()
	erp := loadtesttest.NewERP()
	gw := &loadtesttest.Gateway{ERP: erp,
		Queue:  func(n int) bool { return n >= 4 }, // 4, 5, 6 wait in a backlog
		Forget: func(n int) bool { return n == 2 }, // the gateway lost it
		Lose:   func(n int) bool { return n == 3 }} // the gateway says delivered; the ERP lacks it
	srv := httptest.NewServer(gw)
	defer srv.Close()
	sim := httptest.NewServer(erp)
	defer sim.Close()
	var acked []loadtest.Ack
	for i := 1; i <= 6; i++ {
		ext := "lt-run-" + strconv.Itoa(i)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/orders", strings.NewReader(`{"external_id":"`+ext+`"}`))
		req.Header.Set("Authorization", "Bearer "+loadtest.DefaultShopKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		acked = append(acked, loadtest.Ack{ID: "ord_0000000" + strconv.Itoa(i), ExternalID: ext})
	}
	cfg := verifyCfg(sim.URL)
	cfg.Target, cfg.ShopKey, cfg.RunID = srv.URL, loadtest.DefaultShopKey, "lt-run"

	v, err := loadtest.Verify(context.Background(), cfg, nil, acked, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := [4]int{v.Lost, v.Queued, v.ByVersion["v2"].Queued, v.Unchecked}, [4]int{2, 3, 3, 0}; got != want {
		t.Errorf("lost, queued, v2 queued, unchecked = %v, want %v", got, want)
	}
	if !v.Failed || v.Settled || !strings.Contains(v.Reason, "2 lost") {
		t.Errorf("failed %v settled %v reason %q: want failed for the 2 lost", v.Failed, v.Settled, v.Reason)
	}
	if len(v.LostExamples) != 2 || !strings.Contains(strings.Join(v.LostExamples, " "), "no such order") ||
		!strings.Contains(strings.Join(v.LostExamples, " "), "says the ERP created it") {
		t.Errorf("lost examples %q, want one of each kind", v.LostExamples)
	}

	// Only queued orders missing: not settled, not failed. (The baseline
	// holds order 1, which is not among these acknowledgements.)
	base, err := loadtest.Snapshot(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err = loadtest.Verify(context.Background(), cfg, base, acked[3:], 0)
	if err != nil {
		t.Fatal(err)
	}
	if v.Failed || v.Settled || v.Lost != 0 || v.Queued != 3 || !strings.HasPrefix(v.Verdict(), "NOT SETTLED: 3 deliveries still queued") {
		t.Errorf("failed %v settled %v lost %d queued %d verdict %q: want not settled with 3 queued", v.Failed, v.Settled, v.Lost, v.Queued, v.Verdict())
	}

	// The backlog drains during the wait: a pass.
	cfg.Timeout = 10 * time.Second
	go func() {
		time.Sleep(100 * time.Millisecond)
		gw.DeliverQueued()
	}()
	v, err = loadtest.Verify(context.Background(), cfg, base, acked[3:], 0)
	if err != nil {
		t.Fatal(err)
	}
	if v.Failed || !v.Settled || v.Verdict() != "PASS" {
		t.Errorf("after the backlog drained: failed %v settled %v verdict %q, want PASS", v.Failed, v.Settled, v.Verdict())
	}
}

package tracking

import (
	"context"
	"sync"
	"testing"

	"erpgate"
)

func TestWebhookDeadLetterReplayAndDiscard(t *testing.T) {
	env := newWHEnv(t)
	ctx := context.Background()
	var mu sync.Mutex
	down := true
	poisoned := map[string]bool{}
	rcv, srv := newReceiver(t, env.clk, func(p WebhookPayload, _ int) bool {
		mu.Lock()
		defer mu.Unlock()
		return down && poisoned[p.ID]
	})
	sub := Subscription{ID: "bo", ShopID: "shop-a", URL: srv.URL, Secret: secret}
	cfg := env.config(sub)
	cfg.MaxAttempts = 2
	w, _ := env.start(t, cfg)

	mu.Lock()
	for _, typ := range []string{TypeConfirmed, TypePicked} {
		poisoned[mustAppend(t, env.store, "ord_a1", Event{Type: typ, Source: SourceERP}).ID] = true
	}
	mu.Unlock()
	mustAppend(t, env.store, "ord_a1", Event{Type: TypeShipped, Source: SourceERP})
	eventually(t, "the event after the dead ones", func() bool { return len(rcv.received()) >= 1 })
	dead, err := w.DeadLetters(ctx, 10) // newest first
	if err != nil || len(dead) != 2 {
		t.Fatalf("dead letters = %+v, %v; want 2", dead, err)
	}
	picked, confirmed := dead[0], dead[1]

	if got, err := w.DeadLetter(ctx, confirmed.ID); err != nil || got != confirmed {
		t.Errorf("DeadLetter(%s) = %+v, %v; want %+v", confirmed.ID, got, err, confirmed)
	}
	if _, err := w.DeadLetter(ctx, "nope"); erpgate.ErrorCode(err) != erpgate.NotFound {
		t.Errorf("DeadLetter(nope) error %v, want not_found", err)
	}

	// The receiver still fails: the replay says so and the dead letter stays.
	if _, err := w.ReplayDeadLetter(ctx, confirmed.ID, "ops/ann", ""); erpgate.ErrorCode(err) != erpgate.Unavailable {
		t.Errorf("replay to a failing receiver: error %v, want unavailable", err)
	}
	if _, err := w.DeadLetter(ctx, confirmed.ID); err != nil {
		t.Errorf("dead letter gone after a failed replay: %v", err)
	}

	mu.Lock()
	down = false
	mu.Unlock()
	a, err := w.ReplayDeadLetter(ctx, confirmed.ID, "ops/ann", "receiver fixed")
	if err != nil {
		t.Fatal(err)
	}
	if a.Action != "replay" || a.DeadLetterID != confirmed.ID || a.EventID != confirmed.EventID || a.OrderID != "ord_a1" ||
		a.SubscriptionID != "bo" || a.Actor != "ops/ann" || a.Reason != "receiver fixed" || a.Time.IsZero() {
		t.Errorf("replay action = %+v", a)
	}
	got := rcv.received()
	if last := got[len(got)-1]; last.ID != confirmed.EventID || last.Type != TypeConfirmed {
		t.Errorf("receiver got %+v last, want the replayed %s", last, confirmed.EventID)
	}
	if _, err := w.ReplayDeadLetter(ctx, confirmed.ID, "ops/ann", ""); erpgate.ErrorCode(err) != erpgate.NotFound {
		t.Errorf("second replay error %v, want not_found", err)
	}

	d, err := w.DiscardDeadLetter(ctx, picked.ID, "ops/bob", "shop said skip it")
	if err != nil || d.Action != "discard" || d.EventID != picked.EventID {
		t.Fatalf("discard = %+v, %v", d, err)
	}
	if n := len(rcv.received()); n != len(got) {
		t.Errorf("discard delivered something: %d events, want %d", n, len(got))
	}
	if left, _ := w.DeadLetters(ctx, 10); len(left) != 0 {
		t.Errorf("dead letters left: %+v", left)
	}
	log, err := w.DeadLetterActions(ctx, 10)
	if err != nil || len(log) != 2 || log[0].ID != d.ID || log[1].ID != a.ID || log[1].Actor != "ops/ann" ||
		!log[1].Time.Equal(a.Time) || log[0].Reason != "shop said skip it" {
		t.Errorf("actions = %+v, %v; want [discard, replay]", log, err)
	}
}

package store_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"erpgate"
)

func TestDeadLetterInspectReplayDiscardRecorded(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, rdb)
		ob := s.Outbox()
		acceptN(t, s, rdb, 2)
		ms := read(t, ob, "v2", "c1", 10)
		for i := range ms {
			if err := ob.DeadLetter(ctx, "v2", ms[i], "erp timeout"); err != nil {
				t.Fatal(err)
			}
		}
		dl, err := ob.DeadLetters(ctx, "", 10)
		if err != nil || len(dl) != 2 {
			t.Fatalf("DeadLetters = %+v, %v; want 2", dl, err)
		}

		got, err := ob.DeadLetterByID(ctx, dl[1].ID)
		if err != nil || got != dl[1] {
			t.Errorf("DeadLetterByID(%s) = %+v, %v; want %+v", dl[1].ID, got, err, dl[1])
		}
		for _, id := range []string{"0-1", "not-an-id", "", "1-2-3"} {
			if _, err := ob.DeadLetterByID(ctx, id); code(err) != erpgate.NotFound {
				t.Errorf("DeadLetterByID(%q) error %v, want not_found", id, err)
			}
		}

		if _, err := ob.ReplayDeadLetter(ctx, dl[0].ID, "v9", "ops/ann", ""); code(err) != erpgate.Invalid {
			t.Errorf("replay into v9: error %v, want invalid", err)
		}
		// Replay into the other target: a new outbox entry for v1 only.
		a, err := ob.ReplayDeadLetter(ctx, dl[0].ID, "v1", "ops/ann", "v2 refuses it; v1 takes it")
		if err != nil {
			t.Fatal(err)
		}
		if a.Action != "replay" || a.DeadLetterID != dl[0].ID || a.OrderID != "ord_0" || a.From != "v2" ||
			a.Target != "v1" || a.OutboxID == "" || a.Actor != "ops/ann" || !a.At.Equal(t0) {
			t.Errorf("replay action = %+v", a)
		}
		v1 := read(t, ob, "v1", "c2", 10)
		if last := v1[len(v1)-1]; last.ID != a.OutboxID || last.OrderID != "ord_0" || last.Only != "v1" {
			t.Errorf("v1 reads %+v last, want the replay %s of ord_0 for v1 only", last, a.OutboxID)
		}
		// Acting again on the same dead letter is not found, and records nothing.
		if _, err := ob.ReplayDeadLetter(ctx, dl[0].ID, "v2", "ops/ann", ""); code(err) != erpgate.NotFound {
			t.Errorf("second replay error %v, want not_found", err)
		}
		if _, err := ob.DiscardDeadLetter(ctx, dl[0].ID, "ops/ann", ""); code(err) != erpgate.NotFound {
			t.Errorf("discard of a replayed dead letter error %v, want not_found", err)
		}

		d, err := ob.DiscardDeadLetter(ctx, dl[1].ID, "ops/bob", "test order")
		if err != nil {
			t.Fatal(err)
		}
		if d.Action != "discard" || d.OrderID != "ord_1" || d.Target != "" || d.OutboxID != "" || d.Actor != "ops/bob" {
			t.Errorf("discard action = %+v", d)
		}
		if n, _ := ob.DeadLetterCount(ctx); n != 0 {
			t.Errorf("dead letters left = %d, want 0", n)
		}
		if v2 := read(t, ob, "v2", "c1", 10); len(v2) != 1 || v2[0].Only != "v1" {
			t.Errorf("v2 reads %+v after discard, want only v1's replay (which it skips)", v2)
		}

		log, err := ob.DeadLetterActions(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != 2 || log[0] != d || log[1] != a {
			t.Errorf("DeadLetterActions = %+v, want [%+v %+v]", log, d, a)
		}
	})
}

package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
	"erpgate/internal/redistest"
	"erpgate/store"
)

// acceptN accepts n orders ord_0 … ord_<n-1> and returns their outbox ids.
func acceptN(t *testing.T, s *store.Store, rdb redis.UniversalClient, n int) []string {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		id := fmt.Sprintf("ord_%d", i)
		if _, err := s.Accept(ctx, intake(id, "shop-a", id, "fp", "")); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for _, x := range rdb.XRange(ctx, "outbox:{p0.0}", "-", "+").Val() {
		ids = append(ids, x.ID)
	}
	return ids
}

func read(t *testing.T, ob *store.Outbox, target, consumer string, n int) []erp.Message {
	t.Helper()
	ms, err := ob.Read(context.Background(), target, consumer, 0, n, 10*time.Millisecond)
	if err != nil {
		t.Fatalf("Read(%s): %v", target, err)
	}
	return ms
}

func ids(ms []erp.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// pendingOf returns consumer and delivery count of a pending entry.
func pendingOf(t *testing.T, rdb redis.UniversalClient, target, id string) (string, int64, bool) {
	t.Helper()
	p := rdb.XPendingExt(context.Background(), &redis.XPendingExtArgs{Stream: "outbox:{p0.0}", Group: "erp-" + target, Start: id, End: id, Count: 1}).Val()
	if len(p) == 0 {
		return "", 0, false
	}
	return p[0].Consumer, p[0].RetryCount, true
}

func TestOutboxReadAck(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, rdb)
		ob := s.Outbox()
		if ms := read(t, ob, "v2", "c1", 10); len(ms) != 0 {
			t.Fatalf("Read on empty outbox = %v, want none", ms)
		}
		want := acceptN(t, s, rdb, 3)
		ms := read(t, ob, "v2", "c1", 10)
		if got := ids(ms); !slices.Equal(got, want) {
			t.Fatalf("Read ids = %v, want %v", got, want)
		}
		m := ms[0]
		if m.Type != erp.TypeOrderCreate || m.OrderID != "ord_0" || m.Deliveries != 1 || !m.At.Equal(t0) || m.Only != "" {
			t.Errorf("message = %+v, want order.create ord_0, 1 delivery, at %v", m, t0)
		}
		// Each group sees every entry.
		if got := ids(read(t, ob, "v1", "c1", 10)); !slices.Equal(got, want) {
			t.Errorf("v1 Read ids = %v, want %v", got, want)
		}
		if err := ob.Ack(ctx, "v2", 0, want[0], want[1]); err != nil {
			t.Fatal(err)
		}
		if _, _, ok := pendingOf(t, rdb, "v2", want[0]); ok {
			t.Error("acked entry still pending")
		}
		if _, _, ok := pendingOf(t, rdb, "v2", want[2]); !ok {
			t.Error("unacked entry not pending")
		}
		if ms := read(t, ob, "v2", "c2", 10); len(ms) != 0 {
			t.Errorf("second Read = %v, want none (entries are read once per group)", ids(ms))
		}
	})
}

func TestOutboxDeferAndDue(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, rdb)
		ob := s.Outbox()
		want := acceptN(t, s, rdb, 3)
		read(t, ob, "v2", "c1", 10)

		// Entry 0 failed once: due in 10s. Entry 1 was handed back uncharged.
		if err := ob.Defer(ctx, "v2", erp.Message{ID: want[0]}, t0.Add(10*time.Second), 1); err != nil {
			t.Fatal(err)
		}
		if err := ob.Defer(ctx, "v2", erp.Message{ID: want[1]}, t0.Add(20*time.Second), 0); err != nil {
			t.Fatal(err)
		}
		if c, n, _ := pendingOf(t, rdb, "v2", want[0]); c != "_backoff" || n != 1 {
			t.Errorf("deferred entry owned by %q with %d deliveries, want _backoff with 1", c, n)
		}
		// Deferring an entry no longer pending does nothing.
		if err := ob.Ack(ctx, "v2", 0, want[2]); err != nil {
			t.Fatal(err)
		}
		if err := ob.Defer(ctx, "v2", erp.Message{ID: want[2]}, t0, 1); err != nil {
			t.Fatal(err)
		}
		if _, _, ok := pendingOf(t, rdb, "v2", want[2]); ok {
			t.Error("Defer resurrected an acked entry")
		}

		steps := []struct {
			now  time.Time
			want []string
			n    int64
		}{
			{t0.Add(9 * time.Second), nil, 0},
			{t0.Add(10 * time.Second), want[:1], 2},
			{t0.Add(15 * time.Second), nil, 0},
			{t0.Add(time.Hour), want[1:2], 1},
		}
		for _, st := range steps {
			ms, err := ob.Due(ctx, "v2", "c2", 0, st.now, 10)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(ms); !slices.Equal(got, st.want) {
				t.Fatalf("Due(%v) = %v, want %v", st.now.Sub(t0), got, st.want)
			}
			for _, m := range ms {
				if m.Deliveries != st.n || m.OrderID == "" {
					t.Errorf("due message %+v, want %d deliveries and an order id", m, st.n)
				}
				if c, n, _ := pendingOf(t, rdb, "v2", m.ID); c != "c2" || n != st.n {
					t.Errorf("claimed entry owned by %q with %d deliveries, want c2 with %d", c, n, st.n)
				}
			}
		}
		if n := rdb.ZCard(ctx, "outbox:retry:{p0.0}:v2").Val(); n != 0 {
			t.Errorf("retry schedule holds %d entries after all were due, want 0", n)
		}
	})
}

func TestOutboxDueDropsStaleSchedules(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, rdb)
		ob := s.Outbox()
		want := acceptN(t, s, rdb, 2)
		read(t, ob, "v2", "c1", 10)
		for _, id := range want {
			if err := ob.Defer(ctx, "v2", erp.Message{ID: id}, t0, 1); err != nil {
				t.Fatal(err)
			}
		}
		// Entry 0 finished meanwhile; entry 1 was reclaimed by a live consumer.
		ob.Ack(ctx, "v2", 0, want[0])
		rdb.XClaim(ctx, &redis.XClaimArgs{Stream: "outbox:{p0.0}", Group: "erp-v2", Consumer: "c9", Messages: want[1:]})
		ms, err := ob.Due(ctx, "v2", "c2", 0, t0, 10)
		if err != nil || len(ms) != 0 {
			t.Fatalf("Due = %v, %v; want nothing (neither entry is parked)", ids(ms), err)
		}
		if c, _, _ := pendingOf(t, rdb, "v2", want[1]); c != "c9" {
			t.Errorf("entry 1 owned by %q, want c9 (not stolen)", c)
		}
		if n := rdb.ZCard(ctx, "outbox:retry:{p0.0}:v2").Val(); n != 0 {
			t.Errorf("stale schedules left: %d", n)
		}
	})
}

func TestOutboxReclaim(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, rdb)
		ob := s.Outbox()
		want := acceptN(t, s, rdb, 3)
		read(t, ob, "v2", "dead-consumer", 10) // read, never acked

		if ms, err := ob.Reclaim(ctx, "v2", "c2", 0, time.Hour, 10); err != nil || len(ms) != 0 {
			t.Fatalf("Reclaim(min idle 1h) = %v, %v; want nothing (entries are young)", ids(ms), err)
		}
		// The cursor walks the pending list: two calls of two cover all three.
		var got []erp.Message
		for range 2 {
			ms, err := ob.Reclaim(ctx, "v2", "c2", 0, 0, 2)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ms...)
		}
		if g := ids(got); !slices.Equal(g, want) {
			t.Fatalf("reclaimed %v, want %v", g, want)
		}
		for _, m := range got {
			if m.Deliveries != 2 || m.OrderID == "" {
				t.Errorf("reclaimed %+v, want 2 deliveries", m)
			}
			if c, _, _ := pendingOf(t, rdb, "v2", m.ID); c != "c2" {
				t.Errorf("entry owned by %q, want c2", c)
			}
		}
	})
}

func TestOutboxDeadLetterAndReplay(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, rdb)
		ob := s.Outbox()
		want := acceptN(t, s, rdb, 2)
		ms := read(t, ob, "v2", "c1", 10)
		ms[0].Deliveries = 10
		if err := ob.DeadLetter(ctx, "v2", ms[0], "erp timeout"); err != nil {
			t.Fatal(err)
		}
		// A second dead-lettering of the same entry (a racing worker) records nothing.
		if err := ob.DeadLetter(ctx, "v2", ms[0], "again"); err != nil {
			t.Fatal(err)
		}
		if _, _, ok := pendingOf(t, rdb, "v2", want[0]); ok {
			t.Error("dead-lettered entry still pending")
		}
		dl, err := ob.DeadLetters(ctx, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(dl) != 1 {
			t.Fatalf("dead letters = %+v, want 1", dl)
		}
		d := dl[0]
		if d.Type != erp.TypeOrderCreate || d.OrderID != "ord_0" || d.Target != "v2" || d.Reason != "erp timeout" ||
			d.Deliveries != 10 || d.Entry != want[0] || !d.At.Equal(t0) || !d.DeadAt.Equal(t0) {
			t.Errorf("dead letter = %+v", d)
		}
		if n, _ := ob.DeadLetterCount(ctx); n != 1 {
			t.Errorf("DeadLetterCount = %d, want 1", n)
		}

		if _, err := ob.Replay(ctx, "v9", d.ID); code(err) != erpgate.Invalid {
			t.Errorf("Replay into unknown target error %v, want invalid", err)
		}
		// Replaying into v1 (all of v1's dead letters: none) changes nothing.
		if n, err := ob.Replay(ctx, "v1"); err != nil || n != 0 {
			t.Errorf("Replay(v1, all) = %d, %v; want 0", n, err)
		}
		n, err := ob.Replay(ctx, "v2")
		if err != nil || n != 1 {
			t.Fatalf("Replay(v2, all) = %d, %v; want 1", n, err)
		}
		if n, _ := ob.DeadLetterCount(ctx); n != 0 {
			t.Errorf("DeadLetterCount after replay = %d, want 0", n)
		}
		// v2 gets the replay as a fresh delivery; v1 sees it marked for v2 only.
		for _, tg := range []string{"v2", "v1"} {
			got := read(t, ob, tg, "c2", 10)
			if tg == "v1" {
				got = got[len(got)-1:] // v1 had not read the two originals yet
			}
			if len(got) != 1 {
				t.Fatalf("%s read %v, want the replay", tg, ids(got))
			}
			r := got[0]
			if r.OrderID != "ord_0" || r.Only != "v2" || r.Deliveries != 1 || !r.At.Equal(t0) {
				t.Errorf("%s replay message = %+v, want ord_0 only v2 at t0", tg, r)
			}
		}
		if n, err := ob.Replay(ctx, "v2", d.ID); err != nil || n != 0 {
			t.Errorf("second Replay of the same id = %d, %v; want 0", n, err)
		}
		if _, err := ob.Replay(ctx, "v2", "not-an-id"); code(err) != erpgate.Invalid {
			t.Errorf("Replay of a malformed id error %v, want invalid", err)
		}
	})
}

func TestOutboxStats(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		now := time.Now()
		s := store.New(rdb, store.Options{Now: func() time.Time { return now.Add(time.Minute) }, Partitions: 1})
		if err := s.Init(ctx); err != nil {
			t.Fatal(err)
		}
		ob := s.Outbox()
		st, err := ob.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range st {
			if g.Pending != 0 || g.Lag != 0 || g.Oldest != 0 {
				t.Errorf("empty outbox stats %+v, want zeros", g)
			}
		}
		acceptN(t, s, rdb, 4)
		ms := read(t, ob, "v2", "c1", 3)
		ob.Ack(ctx, "v2", 0, ms[0].ID)
		st, err = ob.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		byT := map[string]store.GroupStats{}
		for _, g := range st {
			byT[g.Target] = g
		}
		if g := byT["v2"]; g.Pending != 2 || g.Lag != 1 || g.Oldest < 50*time.Second {
			t.Errorf("v2 stats %+v, want 2 pending, lag 1, oldest about a minute", g)
		}
		if g := byT["v1"]; g.Pending != 0 || g.Lag != 4 || g.Oldest < 50*time.Second {
			t.Errorf("v1 stats %+v, want 0 pending, lag 4, oldest about a minute", g)
		}
	})
}

func TestOutboxTrimNeverDropsUnacked(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, rdb)
		ob := s.Outbox()
		all := acceptN(t, s, rdb, 6)
		left := func() []string {
			var out []string
			for _, x := range rdb.XRange(ctx, "outbox:{p0.0}", "-", "+").Val() {
				out = append(out, x.ID)
			}
			return out
		}
		trim := func(wantLeft []string) {
			t.Helper()
			if _, err := ob.Trim(ctx); err != nil {
				t.Fatalf("Trim: %v", err)
			}
			if got := left(); !slices.Equal(got, wantLeft) {
				t.Fatalf("after trim outbox holds %v, want %v", got, wantLeft)
			}
		}

		// v2 has done everything; v1 has read nothing: nothing may go.
		read(t, ob, "v2", "c", 10)
		ob.Ack(ctx, "v2", 0, all...)
		trim(all)

		// v1 read four, acked 0, 1 and 3; 2 is pending (deferred): keep from 2.
		ms := read(t, ob, "v1", "c", 4)
		ob.Ack(ctx, "v1", 0, ms[0].ID, ms[1].ID, ms[3].ID)
		if err := ob.Defer(ctx, "v1", erp.Message{ID: ms[2].ID}, t0.Add(time.Hour), 1); err != nil {
			t.Fatal(err)
		}
		trim(all[2:])

		// 2 done: the next needed is v1's first undelivered entry, 4.
		ob.Ack(ctx, "v1", 0, ms[2].ID)
		trim(all[4:])

		// A group created later at the start of what is left keeps it all.
		rdb.XGroupCreate(ctx, "outbox:{p0.0}", "erp-v3", "0")
		ms = read(t, ob, "v1", "c", 10)
		ob.Ack(ctx, "v1", 0, ids(ms)...)
		trim(all[4:])
	})
}

func TestOutboxPruneConsumers(t *testing.T) {
	rdb := redistest.Universal(t)
	ctx := context.Background()
	s := newStore(t, rdb)
	ob := s.Outbox()
	all := acceptN(t, s, rdb, 3)
	read(t, ob, "v2", "idle", 1) // reads entry 0 and finishes it
	ob.Ack(ctx, "v2", 0, all[0])
	ms := read(t, ob, "v2", "busy", 2) // holds entry 1; parks entry 2
	if err := ob.Defer(ctx, "v2", erp.Message{ID: all[2]}, t0, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := ob.PruneConsumers(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	names := func() []string {
		var out []string
		for _, c := range rdb.XInfoConsumers(ctx, "outbox:{p0.0}", "erp-v2").Val() {
			out = append(out, c.Name)
		}
		slices.Sort(out)
		return out
	}
	if got := strings.Join(names(), ","); got != "_backoff,busy,idle" {
		t.Errorf("after prune with 1h idle: consumers %s, want all kept", got)
	}
	if _, err := ob.PruneConsumers(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(), ","); got != "_backoff,busy" {
		t.Errorf("after prune: consumers %s, want _backoff,busy (idle had nothing pending)", got)
	}
	if _, _, ok := pendingOf(t, rdb, "v2", ms[0].ID); !ok {
		t.Error("pruning lost a pending entry")
	}
}

func TestCollector(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, rdb)
		ob := s.Outbox()
		acceptN(t, s, rdb, 3)
		ms := read(t, ob, "v2", "c", 3)
		ob.Ack(ctx, "v2", 0, ms[0].ID)
		ob.DeadLetter(ctx, "v2", ms[1], "test")

		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(s.Collector())
		if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
			t.Errorf("lint: %v %v", problems, err)
		}
		want := `
# HELP erpgate_outbox_dead_letters Current length of the outbox dead-letter stream.
# TYPE erpgate_outbox_dead_letters gauge
erpgate_outbox_dead_letters 1
# HELP erpgate_outbox_pending_messages Outbox entries a target has not acknowledged yet (in flight, deferred or not yet read).
# TYPE erpgate_outbox_pending_messages gauge
erpgate_outbox_pending_messages{target="v1"} 3
erpgate_outbox_pending_messages{target="v2"} 1
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "erpgate_outbox_dead_letters", "erpgate_outbox_pending_messages"); err != nil {
			t.Error(err)
		}
	})
}

func TestCollectorRedisDown(t *testing.T) {
	s := store.New(downClient(t), store.Options{Partitions: 1})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.Collector())
	n, err := testutil.GatherAndCount(reg)
	if err != nil || n != 0 {
		t.Errorf("gather with Redis down = %d series, %v; want 0 and no error (the scrape must not fail)", n, err)
	}
}

func TestOutboxTouch(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, rdb)
		ob := s.Outbox()
		all := acceptN(t, s, rdb, 4)
		read(t, ob, "v2", "c1", 10)
		ob.Ack(ctx, "v2", 0, all[1])
		rdb.XClaim(ctx, &redis.XClaimArgs{Stream: "outbox:{p0.0}", Group: "erp-v2", Consumer: "c2", Messages: all[2:3]})
		kept, err := ob.Touch(ctx, "v2", "c1", 0, all...)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{all[0], all[3]}; !slices.Equal(kept, want) {
			t.Errorf("Touch kept %v, want %v (not the acked one, not the one c2 took)", kept, want)
		}
		for _, id := range kept {
			if c, n, _ := pendingOf(t, rdb, "v2", id); c != "c1" || n != 1 {
				t.Errorf("touched %s: owner %q deliveries %d, want c1 and 1 (touching is not a delivery)", id, c, n)
			}
		}
		if c, _, _ := pendingOf(t, rdb, "v2", all[2]); c != "c2" {
			t.Errorf("entry taken by c2 now owned by %q", c)
		}
	})
}

package tracking

import (
	"context"
	"erpgate/internal/redistest"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startHooked is whEnv.start with hook on the instance's own client.
func (e *whEnv) startHooked(t *testing.T, cfg WebhooksConfig, hook redis.Hook) *Webhooks {
	t.Helper()
	w, _ := e.startWith(t, cfg, hook)
	return w
}

// admin returns a Webhooks that does not run, on its own client and
// without metrics: another gateway instance serving the admin API.
func (e *whEnv) admin(t *testing.T) *Webhooks {
	t.Helper()
	own := redistest.Another(t, e.rdb)
	cfg := e.config()
	cfg.Client, cfg.Registerer = own, nil
	w, err := NewWebhooks(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	return w
}

func (e *whEnv) group(t *testing.T) redis.XInfoGroup {
	t.Helper()
	gs, err := e.rdb.XInfoGroups(context.Background(), testFeed).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.Name == WebhookGroup {
			return g
		}
	}
	t.Fatalf("no group %s on the feed: %+v", WebhookGroup, gs)
	return redis.XInfoGroup{}
}

func (e *whEnv) feedLast(t *testing.T) string {
	t.Helper()
	m, err := e.rdb.XRevRangeN(context.Background(), testFeed, "+", "-", 1).Result()
	if err != nil || len(m) != 1 {
		t.Fatalf("feed's last entry: %v, %v", m, err)
	}
	return m[0].ID
}

// caughtUp reports whether the webhook group has passed every feed entry
// and acknowledged every entry it read: all of them are enqueued.
func (e *whEnv) caughtUp(t *testing.T) bool {
	g := e.group(t)
	return g.LastDeliveredID == e.feedLast(t) && g.Pending == 0
}

// With nobody subscribed the consumer moves the group past the feed's
// entries without reading or acknowledging them one by one, and keeps the
// group's read counter and lag exact.
func TestWebhooksWithoutSubscriptionsSkipTheFeed(t *testing.T) {
	env := newWHEnv(t)
	hook := newCmdCounter()
	env.startHooked(t, env.config(), hook)

	const n = 60
	for i := range n {
		mustAppend(t, env.store, []string{"ord_a1", "ord_a2", "ord_b1"}[i%3], Event{Type: TypeConfirmed, Source: SourceERP})
	}
	last := env.feedLast(t)
	eventually(t, "the group at the feed's end", func() bool { return env.group(t).LastDeliveredID == last })
	g := env.group(t)
	if g.Pending != 0 || g.EntriesRead != n || g.Lag != 0 {
		t.Errorf("group = %+v, want nothing pending, entries-read %d, lag 0", g, n)
	}
	if r, a := hook.count("xreadgroup"), hook.count("xack"); r != 0 || a != 0 {
		t.Errorf("consumer sent %d XREADGROUP and %d XACK, want none (nothing to read for)", r, a)
	}
	if hook.count("xinfo|stream") == 0 {
		t.Error("consumer never looked at the feed's end")
	}
}

// Entries another consumer read and never acknowledged are still taken
// over and acknowledged when nobody is subscribed.
func TestWebhooksWithoutSubscriptionsReclaimPending(t *testing.T) {
	env := newWHEnv(t)
	env.admin(t) // creates the group
	for range 3 {
		mustAppend(t, env.store, "ord_a1", Event{Type: TypeConfirmed, Source: SourceERP})
	}
	ctx := context.Background()
	res, err := env.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: WebhookGroup, Consumer: "crashed",
		Streams: []string{testFeed, ">"}, Count: 10, Block: -1}).Result()
	if err != nil || len(res) != 1 || len(res[0].Messages) != 3 {
		t.Fatalf("dead consumer's read: %v, %v", res, err)
	}
	cfg := env.config()
	cfg.ReclaimIdle = 20 * time.Millisecond
	env.start(t, cfg)
	eventually(t, "the dead consumer's entries acknowledged", func() bool { return env.group(t).Pending == 0 })
}

// A subscription created after the consumer skipped entries gets the events
// appended after its creation, and none of the skipped ones: also when it is
// created on another instance, whose cache the consumer does not share.
func TestWebhooksSubscriptionAfterSkipGetsLaterEvents(t *testing.T) {
	env := newWHEnv(t)
	rcv, srv := newReceiver(t, env.clk, nil)
	cfg := env.config()
	cfg.SubscriptionRefresh = time.Hour // only the consumer's own fresh read can see the new subscription
	w := env.startHooked(t, cfg, newCmdCounter())

	for range 3 {
		mustAppend(t, env.store, "ord_a1", Event{Type: TypeConfirmed, Source: SourceERP})
	}
	skipped := env.feedLast(t)
	eventually(t, "the first events skipped", func() bool { return env.group(t).LastDeliveredID == skipped })

	if _, err := env.admin(t).Subscribe(context.Background(), Subscription{ID: "bo", ShopID: "shop-a", URL: srv.URL, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	want := env.lifecycle(t, "ord_a2", "ord_b1")["ord_a2"]
	eventually(t, "later events delivered", func() bool {
		if !env.caughtUp(t) {
			return false
		}
		n, _ := w.Backlog(context.Background())
		return n == 0 && len(rcv.received()) >= len(want)
	})
	got := byOrder(rcv.received())
	if strings.Join(got["ord_a2"], ",") != strings.Join(want, ",") || len(got) != 1 {
		t.Errorf("delivered %v, want only ord_a2's %v (the skipped ord_a1 events never)", got, want)
	}
}

// hgetallHook runs fn once, right after the first HGETALL that follows
// arming it.
type hgetallHook struct {
	armed atomic.Bool
	fn    func()
}

func (h *hgetallHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *hgetallHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *hgetallHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if cmd.Name() == "hgetall" && h.armed.CompareAndSwap(true, false) {
			h.fn()
		}
		return err
	}
}

// The race the skip is built around: a subscription created, and an event
// appended, after the consumer read the subscriptions (none) but before it
// moved the group. The event must not be skipped: the consumer moves the
// group only up to the feed end it captured before reading them.
func TestWebhooksSubscriptionCreatedWhileSkipping(t *testing.T) {
	env := newWHEnv(t)
	rcv, srv := newReceiver(t, env.clk, nil)
	other := env.admin(t)
	var late Event
	var once sync.Once
	hook := &hgetallHook{fn: func() {
		once.Do(func() {
			ctx := context.Background()
			if _, err := other.Subscribe(ctx, Subscription{ID: "bo", ShopID: "shop-a", URL: srv.URL, Secret: secret}); err != nil {
				t.Error(err)
			}
			var err error
			if late, err = env.store.Append(ctx, "ord_a2", Event{Type: TypeShipped, Source: SourceERP}); err != nil {
				t.Error(err)
			}
		})
	}}
	cfg := env.config()
	cfg.SubscriptionRefresh = time.Hour
	env.startHooked(t, cfg, hook)

	mustAppend(t, env.store, "ord_a1", Event{Type: TypeConfirmed, Source: SourceERP})
	first := env.feedLast(t)
	eventually(t, "the first event skipped", func() bool { return env.group(t).LastDeliveredID == first })
	hook.armed.Store(true)
	before := mustAppend(t, env.store, "ord_a1", Event{Type: TypePicked, Source: SourceERP}) // the round that reads the subscriptions
	eventually(t, "the late event delivered", func() bool { return len(rcv.received()) >= 1 })
	got := rcv.received()
	if len(got) != 1 || got[0].OrderID != "ord_a2" || got[0].ID != late.ID {
		t.Errorf("delivered %+v, want only ord_a2's %s (not ord_a1's %s, appended before the subscription)", got, late.ID, before.ID)
	}
}

// The group only ever moves forward, whichever instance skips with
// whichever captured end, and whatever a reader consumed meanwhile. Ids
// compare as numbers ("10-0" is after "9-5").
func TestWebhooksSkipNeverMovesTheGroupBack(t *testing.T) {
	env := newWHEnv(t)
	ctx := context.Background()
	w1, w2 := env.admin(t), env.admin(t)
	appendN := func(n int) {
		for range n {
			mustAppend(t, env.store, "ord_a1", Event{Type: TypeConfirmed, Source: SourceERP})
		}
	}
	appendN(3)
	end1, n1, err := w1.feedEnd(ctx, 0)
	if err != nil || end1 == "" || n1 != 3 {
		t.Fatalf("feedEnd = %q, %d, %v; want the third entry", end1, n1, err)
	}
	appendN(3)
	end2, n2, _ := w2.feedEnd(ctx, 0)
	if moved, err := w2.skipTo(ctx, 0, end2, n2); !moved || err != nil {
		t.Fatalf("skipTo(newer) = %v, %v; want moved", moved, err)
	}
	if moved, err := w1.skipTo(ctx, 0, end1, n1); moved || err != nil {
		t.Fatalf("skipTo(older) = %v, %v; want not moved", moved, err)
	}
	if g := env.group(t); g.LastDeliveredID != end2 || g.EntriesRead != 6 {
		t.Errorf("group = %+v, want at %s with 6 read", g, end2)
	}

	// A reader consumed further; a skip to an end captured before that is void.
	appendN(2)
	end3, n3, _ := w1.feedEnd(ctx, 0)
	if _, err := env.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: WebhookGroup, Consumer: "reader",
		Streams: []string{testFeed, ">"}, Count: 100, Block: -1}).Result(); err != nil {
		t.Fatal(err)
	}
	if moved, _ := w2.skipTo(ctx, 0, end2, n2); moved {
		t.Error("skipTo moved the group back behind a reader")
	}
	if moved, _ := w2.skipTo(ctx, 0, end3, n3); moved {
		t.Error("skipTo to where the group is moved it")
	}
	if g := env.group(t); g.LastDeliveredID != end3 || g.Pending != 2 {
		t.Errorf("group = %+v, want at %s with the reader's 2 pending untouched", g, end3)
	}

	// Numeric comparison of both id parts.
	if err := env.rdb.Del(ctx, testFeed).Err(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"9-5", "9-10", "10-0"} {
		if err := env.rdb.XAdd(ctx, &redis.XAddArgs{Stream: testFeed, ID: id, Values: []any{"o", "x"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.rdb.XGroupCreate(ctx, testFeed, WebhookGroup, "9-10").Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id    string
		moved bool
	}{{"9-5", false}, {"9-9", false}, {"10-0", true}, {"9-10", false}} {
		if moved, err := w1.skipTo(ctx, 0, c.id, 0); moved != c.moved || err != nil {
			t.Errorf("skipTo(%s) = %v, %v; want moved %v", c.id, moved, err, c.moved)
		}
	}
	if g := env.group(t); g.LastDeliveredID != "10-0" {
		t.Errorf("group at %s, want 10-0", g.LastDeliveredID)
	}
	if err := env.rdb.Del(ctx, testFeed).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := w1.skipTo(ctx, 0, "12-0", 0); !errors.Is(err, errNoGroup) {
		t.Errorf("skipTo on a deleted feed: %v, want errNoGroup", err)
	}
}

// Two instances skipping side by side while events arrive: the group's
// position, sampled throughout, never goes back, and ends at the feed's end.
func TestWebhooksConcurrentSkipsStayMonotonic(t *testing.T) {
	env := newWHEnv(t)
	cfg := env.config()
	cfg.PollInterval = time.Millisecond
	env.start(t, cfg)
	cfg.Registerer = nil
	env.start(t, cfg)

	stop := make(chan struct{})
	var bad atomic.Value
	var wg sync.WaitGroup
	wg.Go(func() {
		prev := "0-0"
		for {
			select {
			case <-stop:
				return
			default:
			}
			gs, err := env.rdb.XInfoGroups(context.Background(), testFeed).Result()
			if err != nil || len(gs) != 1 {
				continue
			}
			if idLess(gs[0].LastDeliveredID, prev) {
				bad.Store(gs[0].LastDeliveredID + " after " + prev)
			}
			prev = gs[0].LastDeliveredID
		}
	})
	for i := range 300 {
		mustAppend(t, env.store, []string{"ord_a1", "ord_a2"}[i%2], Event{Type: TypeConfirmed, Source: SourceERP})
	}
	last := env.feedLast(t)
	eventually(t, "the group at the feed's end", func() bool { return env.group(t).LastDeliveredID == last })
	close(stop)
	wg.Wait()
	if b := bad.Load(); b != nil {
		t.Errorf("the group moved back: %v", b)
	}
	if g := env.group(t); g.EntriesRead != 300 || g.Pending != 0 {
		t.Errorf("group = %+v, want 300 read, none pending", g)
	}
}

func idLess(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	if len(am) != len(bm) {
		return len(am) < len(bm)
	}
	if am != bm {
		return am < bm
	}
	if len(as) != len(bs) {
		return len(as) < len(bs)
	}
	return as < bs
}

// With subscriptions, reads are coalesced and acknowledged with the next
// read; without Coalesce each round is acknowledged on its own. Either way
// every event is delivered once and nothing stays pending.
func TestWebhooksCoalesce(t *testing.T) {
	for _, c := range []time.Duration{0, -1, 50 * time.Millisecond} {
		t.Run(c.String(), func(t *testing.T) {
			env := newWHEnv(t)
			rcv, srv := newReceiver(t, env.clk, nil)
			cfg := env.config(Subscription{ID: "bo", ShopID: "shop-a", URL: srv.URL, Secret: secret})
			cfg.Coalesce = c
			cfg.ReclaimIdle = time.Hour // only the consumer's own acknowledgements empty the pending list
			hook := newCmdCounter()
			w := env.startHooked(t, cfg, hook)
			if c == 0 && w.cfg.Coalesce != 20*time.Millisecond {
				t.Errorf("default Coalesce = %v, want 20ms", w.cfg.Coalesce)
			}
			want := env.lifecycle(t, "ord_a1", "ord_a2", "ord_b1")
			eventually(t, "all delivered and acknowledged", func() bool {
				n, _ := w.Backlog(context.Background())
				return len(rcv.received()) >= 10 && n == 0 && env.caughtUp(t)
			})
			got := byOrder(rcv.received())
			for _, o := range []string{"ord_a1", "ord_a2"} {
				if strings.Join(got[o], ",") != strings.Join(want[o], ",") {
					t.Errorf("%s: delivered %v, want %v", o, got[o], want[o])
				}
			}
			if len(rcv.received()) != 10 {
				t.Errorf("delivered %d, want 10", len(rcv.received()))
			}
			if hook.count("xack") == 0 {
				t.Error("no XACK sent")
			}
		})
	}
}

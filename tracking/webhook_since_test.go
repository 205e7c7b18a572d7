package tracking

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"erpgate/internal/redistest"
)

// warnings is a slog handler that keeps the messages of records at Warn and
// above.
type warnings struct {
	mu   *sync.Mutex
	msgs *[]string
}

func newWarnings() warnings { return warnings{mu: &sync.Mutex{}, msgs: new([]string)} }

func (h warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h warnings) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	*h.msgs = append(*h.msgs, msg)
	return nil
}
func (h warnings) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h warnings) WithGroup(string) slog.Handler      { return h }
func (h warnings) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), *h.msgs...)
}

// A new subscription receives only the events appended after it was
// created — not the history of an order that has news later — on the
// embedded Redis (miniredis, which cannot move a consumer group) as on a
// real one, and without a warning in the log.
func TestWebhooksNewSubscriptionGetsNoHistory(t *testing.T) {
	for _, b := range []struct {
		name string
		new  func(t *testing.T) redis.UniversalClient
	}{
		{"embedded", func(t *testing.T) redis.UniversalClient { c, _ := redistest.Mini(t); return c }},
		{"real", func(t *testing.T) redis.UniversalClient { return redistest.Universal(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			rdb := b.new(t)
			env := &whEnv{rdb: rdb, store: newTestStore(t, rdb, nil), clk: clock{start: time.Now()},
				shops: map[string]string{"ord_a1": "shop-a", "ord_a2": "shop-a"}, reg: prometheus.NewRegistry()}
			rcv, srv := newReceiver(t, env.clk, nil)
			logs := newWarnings()
			cfg := env.config()
			cfg.Logger = slog.New(logs)
			w, _ := env.start(t, cfg)

			for _, typ := range []string{TypeAccepted, TypeConfirmed, TypePicked} {
				mustAppend(t, env.store, "ord_a1", Event{Type: typ, Source: SourceERP})
			}
			eventually(t, "the history passed by the webhook group", func() bool { return env.caughtUp(t) })
			time.Sleep(5 * time.Millisecond) // the subscription's millisecond is after the history's

			if _, err := env.admin(t).Subscribe(context.Background(), Subscription{ID: "bo", ShopID: "shop-a", URL: srv.URL, Secret: secret}); err != nil {
				t.Fatal(err)
			}
			later := mustAppend(t, env.store, "ord_a1", Event{Type: TypeShipped, Source: SourceERP})
			want := env.lifecycle(t, "ord_a2")
			want["ord_a1"] = []string{later.ID}
			eventually(t, "the later events delivered", func() bool {
				n, _ := w.Backlog(context.Background())
				return n == 0 && env.caughtUp(t) && len(rcv.received()) >= 6
			})
			got := byOrder(rcv.received())
			for o, ids := range want {
				if strings.Join(got[o], ",") != strings.Join(ids, ",") {
					t.Errorf("%s: delivered %v, want %v (only events after the subscription)", o, got[o], ids)
				}
			}
			if ws := logs.all(); len(ws) > 0 {
				t.Errorf("warnings logged in normal use: %q", ws)
			}
		})
	}
}

package tracking

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/internal/redistest"
)

// clock is an injected wall clock far from the real one: a receiver that
// verifies against it proves the sender signs with the injected clock.
type clock struct{ start time.Time }

var fakeEpoch = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)

func (c clock) Now() time.Time { return fakeEpoch.Add(time.Since(c.start)) }

const secret = "whsec_test_0123456789abcdef"

// receiver records webhook requests. fail decides, per request, whether to
// answer 503; accepted requests are kept with their verified payload.
type receiver struct {
	t     *testing.T
	clk   clock
	fail  func(p WebhookPayload, attempt int) bool
	mu    sync.Mutex
	tries map[string]int // Webhook-Id → attempts
	got   []WebhookPayload
	ids   []string
}

func newReceiver(t *testing.T, clk clock, fail func(WebhookPayload, int) bool) (*receiver, *httptest.Server) {
	r := &receiver{t: t, clk: clk, fail: fail, tries: map[string]int{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := VerifySignature(secret, req.Header, body, r.clk.Now(), time.Minute); err != nil {
		r.t.Errorf("receiver: signature: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p WebhookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		r.t.Errorf("receiver: body %q: %v", body, err)
	}
	id := req.Header.Get(HeaderWebhookID)
	if want := p.OrderID + ":" + p.ID; id != want {
		r.t.Errorf("Webhook-Id = %q, want %q", id, want)
	}
	r.mu.Lock()
	r.tries[id]++
	attempt := r.tries[id]
	r.mu.Unlock()
	if r.fail != nil && r.fail(p, attempt) {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	r.mu.Lock()
	r.got = append(r.got, p)
	r.ids = append(r.ids, id)
	r.mu.Unlock()
}

func (r *receiver) received() []WebhookPayload {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]WebhookPayload(nil), r.got...)
}

func (r *receiver) attempts(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tries[id]
}

type whEnv struct {
	rdb   redis.UniversalClient
	store *Store
	clk   clock
	shops map[string]string
	reg   *prometheus.Registry
}

func newWHEnv(t *testing.T) *whEnv {
	rdb := redistest.Universal(t)
	return &whEnv{rdb: rdb, store: newTestStore(t, rdb, nil), clk: clock{start: time.Now()},
		shops: map[string]string{"ord_a1": "shop-a", "ord_a2": "shop-a", "ord_b1": "shop-b"}, reg: prometheus.NewRegistry()}
}

func (e *whEnv) shopOf(_ context.Context, orderID string) (string, error) {
	s, ok := e.shops[orderID]
	if !ok {
		return "", erpgate.Errorf(erpgate.NotFound, "no order")
	}
	return s, nil
}

func (e *whEnv) config(static ...Subscription) WebhooksConfig {
	return WebhooksConfig{
		Space: testSpace, ShopOf: e.shopOf, Static: static, Registerer: e.reg, Now: e.clk.Now, Logger: slog.New(slog.DiscardHandler),
		Workers: 3, MaxAttempts: 50, BackoffBase: time.Millisecond, BackoffMax: 4 * time.Millisecond,
		Timeout: 5 * time.Second, PollInterval: 5 * time.Millisecond, Block: 50 * time.Millisecond,
		ReclaimIdle: 500 * time.Millisecond, SubscriptionRefresh: 10 * time.Millisecond,
	}
}

// start runs a Webhooks instance on its own connection; the returned stop
// func cancels it and waits for Run to return.
func (e *whEnv) start(t *testing.T, cfg WebhooksConfig) (*Webhooks, func()) {
	t.Helper()
	return e.startWith(t, cfg, nil)
}

// startWith is start with hook (if not nil) on the instance's own client.
func (e *whEnv) startWith(t *testing.T, cfg WebhooksConfig, hook redis.Hook) (*Webhooks, func()) {
	t.Helper()
	own := redistest.Another(t, e.rdb)
	if hook != nil {
		own.AddHook(hook)
	}
	cfg.Client = own
	w, err := NewWebhooks(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done; own.Close() }) }
	t.Cleanup(stop)
	return w, stop
}

func (e *whEnv) lifecycle(t *testing.T, orders ...string) map[string][]string {
	want := map[string][]string{}
	for _, typ := range []string{TypeAccepted, TypeConfirmed, TypePicked, TypeShipped, TypeDelivered} {
		for _, o := range orders {
			ev := mustAppend(t, e.store, o, Event{Type: typ, Source: SourceERP, Summary: typ + " " + o,
				Details: map[string]string{"n": typ}})
			want[o] = append(want[o], ev.ID)
		}
	}
	return want
}

func byOrder(got []WebhookPayload) map[string][]string {
	m := map[string][]string{}
	for _, p := range got {
		m[p.OrderID] = append(m[p.OrderID], p.ID)
	}
	return m
}

func TestWebhooksEveryEventOnceInOrderDespiteFailures(t *testing.T) {
	env := newWHEnv(t)
	// The receiver fails the first 3 attempts of every event, and then the
	// first 5 requests for ord_a2 as a whole are refused too.
	var mu sync.Mutex
	refusedA2 := 0
	rcv, srv := newReceiver(t, env.clk, func(p WebhookPayload, attempt int) bool {
		mu.Lock()
		defer mu.Unlock()
		if p.OrderID == "ord_a2" && refusedA2 < 5 {
			refusedA2++
			return true
		}
		return attempt <= 3
	})
	sub := Subscription{ID: "backoffice", ShopID: "shop-a", URL: srv.URL + "/hook", Secret: secret}
	// Two instances share the work, as two gateways would.
	w1, _ := env.start(t, env.config(sub))
	env.start(t, env.config(sub))

	want := env.lifecycle(t, "ord_a1", "ord_a2", "ord_b1")
	delete(want, "ord_b1") // shop-b has no subscription

	eventually(t, "all events delivered and the backlog drained", func() bool {
		n, _ := w1.Backlog(context.Background())
		return len(rcv.received()) >= 10 && n == 0
	})
	got := rcv.received()
	if len(got) != 10 {
		t.Fatalf("receiver accepted %d requests, want exactly 10 (each event once)", len(got))
	}
	gotBy := byOrder(got)
	for o, w := range want {
		if strings.Join(gotBy[o], ",") != strings.Join(w, ",") {
			t.Errorf("order %s: delivered %v, want %v in this order", o, gotBy[o], w)
		}
	}
	if len(gotBy["ord_b1"]) != 0 {
		t.Errorf("another shop's order was delivered: %v", gotBy["ord_b1"])
	}
	p := got[0]
	if p.Type != TypeAccepted || p.Source != SourceERP || p.Summary != "accepted "+p.OrderID || p.Details["n"] != TypeAccepted || !p.Time.Equal(t0) {
		t.Errorf("payload = %+v, want the event's fields", p)
	}
	if got := testutil.ToFloat64(w1.outcome.WithLabelValues("ok")); got != 10 {
		t.Errorf("deliveries{ok} = %v, want 10", got)
	}
	if got := testutil.ToFloat64(w1.outcome.WithLabelValues("retry")); got < 30 {
		t.Errorf("deliveries{retry} = %v, want >= 30 (3 refusals per event)", got)
	}
	if n := testutil.CollectAndCount(w1.lag); n != 1 {
		t.Errorf("lag histogram series = %d, want 1", n)
	}
}

func TestWebhooksSurviveRestart(t *testing.T) {
	env := newWHEnv(t)
	rcv, srv := newReceiver(t, env.clk, nil)
	sub := Subscription{ID: "bo", ShopID: "shop-a", URL: srv.URL, Secret: secret}

	// The first process cannot reach the receiver (its transport answers
	// 503 itself): no attempt of it can arrive late, after the receiver is
	// reachable, and count as a delivery the first process never learnt of.
	var failed atomic.Int32
	cfg := env.config(sub)
	cfg.HTTPClient = &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
		failed.Add(1)
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{},
			Body: io.NopCloser(strings.NewReader("down")), Request: r}, nil
	})}
	_, stop := env.start(t, cfg)
	want := env.lifecycle(t, "ord_a1")
	eventually(t, "a failed attempt", func() bool { return failed.Load() > 0 })
	stop() // the gateway goes away with everything undelivered

	env.start(t, env.config(sub)) // a new process, same Redis
	eventually(t, "delivery after restart", func() bool { return len(rcv.received()) >= 5 })
	if got := byOrder(rcv.received())["ord_a1"]; strings.Join(got, ",") != strings.Join(want["ord_a1"], ",") {
		t.Errorf("after restart delivered %v, want %v", got, want["ord_a1"])
	}
}

func TestWebhooksDeadLetter(t *testing.T) {
	env := newWHEnv(t)
	var poison string
	var mu sync.Mutex
	rcv, srv := newReceiver(t, env.clk, func(p WebhookPayload, _ int) bool { mu.Lock(); defer mu.Unlock(); return p.ID == poison })
	sub := Subscription{ID: "bo", ShopID: "shop-a", URL: srv.URL, Secret: secret}
	cfg := env.config(sub)
	cfg.MaxAttempts = 3
	w, _ := env.start(t, cfg)

	mu.Lock()
	poison = mustAppend(t, env.store, "ord_a1", Event{Type: TypeConfirmed, Source: SourceERP}).ID
	mu.Unlock()
	next := mustAppend(t, env.store, "ord_a1", Event{Type: TypeShipped, Source: SourceERP}).ID

	eventually(t, "the event after the dead one", func() bool { return len(rcv.received()) >= 1 })
	if got := rcv.received(); len(got) != 1 || got[0].ID != next {
		t.Fatalf("received %+v, want only %s", got, next)
	}
	if got, want := rcv.attempts("ord_a1:"+poison), 3; got != want {
		t.Errorf("attempts on the poison event = %d, want %d", got, want)
	}
	dead, err := w.DeadLetters(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].EventID != poison || dead[0].OrderID != "ord_a1" || dead[0].SubscriptionID != "bo" ||
		dead[0].Attempts != 3 || !strings.Contains(dead[0].Error, "503") || dead[0].Time.IsZero() {
		t.Errorf("dead letters = %+v, want one for %s after 3 attempts with the 503", dead, poison)
	}
	for outcome, want := range map[string]float64{"ok": 1, "retry": 2, "dead": 1} {
		if got := testutil.ToFloat64(w.outcome.WithLabelValues(outcome)); got != want {
			t.Errorf("deliveries{%s} = %v, want %v", outcome, got, want)
		}
	}
}

func TestWebhooksTypeFilterAndAdmin(t *testing.T) {
	env := newWHEnv(t)
	rcv, srv := newReceiver(t, env.clk, nil)
	w, _ := env.start(t, env.config(Subscription{ID: "static-1", ShopID: "shop-x", URL: srv.URL, Secret: secret}))
	ctx := context.Background()

	s, err := w.Subscribe(ctx, Subscription{ShopID: "shop-a", URL: srv.URL + "/shipped", Types: []string{TypeShipped, TypeDelivered}, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.ID, "whs_") || s.CreatedAt.IsZero() {
		t.Errorf("Subscribe = %+v, want a generated id and a creation time", s)
	}
	gen, err := w.Subscribe(ctx, Subscription{ShopID: "shop-z", URL: "https://127.0.0.1/x"})
	if err != nil || len(gen.Secret) < 32 {
		t.Errorf("generated secret %q, err %v; want a long random secret", gen.Secret, err)
	}
	if _, err := w.Subscribe(ctx, Subscription{ID: s.ID, ShopID: "shop-a", URL: srv.URL, Secret: secret}); erpgate.ErrorCode(err) != erpgate.Conflict {
		t.Errorf("duplicate id: %v, want Conflict", err)
	}
	for _, bad := range []Subscription{
		{ShopID: "shop-a", URL: "ftp://x/y", Secret: secret},
		{ShopID: "shop-a", URL: "/relative", Secret: secret},
		{ShopID: "shop-a", URL: "https://user:pw@host/", Secret: secret},
		{ShopID: "", URL: srv.URL, Secret: secret},
		{ShopID: "shop-a", URL: srv.URL, Secret: "short"},
		{ShopID: "shop-a", URL: srv.URL, Secret: secret, Types: []string{"shiped"}},
		{ID: "a|b", ShopID: "shop-a", URL: srv.URL, Secret: secret},
	} {
		if _, err := w.Subscribe(ctx, bad); erpgate.ErrorCode(err) != erpgate.Invalid {
			t.Errorf("Subscribe(%+v): %v, want Invalid", bad, err)
		}
	}
	list, err := w.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, l := range list {
		listed = append(listed, l.ID)
	}
	if len(list) != 3 || !list[0].Static || list[0].ID != "static-1" || list[1].Static {
		t.Errorf("List = %v, want the two stored and the static one, by id", listed)
	}
	if r := list[1].Redacted(); r.Secret != "" || list[1].Secret == "" {
		t.Error("Redacted kept the secret")
	}

	want := env.lifecycle(t, "ord_a1")
	eventually(t, "filtered deliveries", func() bool { return len(rcv.received()) >= 2 })
	got := rcv.received()
	if len(got) != 2 || got[0].ID != want["ord_a1"][3] || got[1].ID != want["ord_a1"][4] {
		t.Errorf("received %+v; want only the shipped and delivered events", got)
	}

	if err := w.Delete(ctx, "static-1"); erpgate.ErrorCode(err) != erpgate.Forbidden {
		t.Errorf("Delete(static): %v, want Forbidden", err)
	}
	if err := w.Delete(ctx, "nope"); erpgate.ErrorCode(err) != erpgate.NotFound {
		t.Errorf("Delete(unknown): %v, want NotFound", err)
	}
	if err := w.Delete(ctx, s.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if list, _ := w.List(ctx); len(list) != 2 {
		t.Errorf("after Delete List has %d, want 2", len(list))
	}

	if _, err := NewWebhooks(WebhooksConfig{Space: testSpace, Client: env.rdb, ShopOf: env.shopOf,
		Static: []Subscription{{ID: "x", ShopID: "s", URL: "nope", Secret: secret}}}); err == nil {
		t.Error("NewWebhooks accepted an invalid static subscription")
	}
}

func TestWebhooksShopLookupFailureIsRetried(t *testing.T) {
	env := newWHEnv(t)
	rcv, srv := newReceiver(t, env.clk, nil)
	var mu sync.Mutex
	lookups := 0
	cfg := env.config(Subscription{ID: "bo", ShopID: "shop-a", URL: srv.URL, Secret: secret})
	cfg.ShopOf = func(ctx context.Context, id string) (string, error) {
		mu.Lock()
		lookups++
		n := lookups
		mu.Unlock()
		if n == 1 {
			return "", errors.New("order store unavailable")
		}
		return env.shopOf(ctx, id)
	}
	cfg.ReclaimIdle = 20 * time.Millisecond
	env.start(t, cfg)
	e := mustAppend(t, env.store, "ord_a1", Event{Type: TypeConfirmed, Source: SourceERP})
	eventually(t, "delivery after the shop lookup recovered", func() bool { return len(rcv.received()) == 1 })
	if got := rcv.received()[0].ID; got != e.ID {
		t.Errorf("delivered %s, want %s", got, e.ID)
	}
}

func TestVerifySignature(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	body := []byte(`{"id":"1-0","order_id":"ord_1"}`)
	signed := func(ts time.Time, b []byte, key string) http.Header {
		h := http.Header{}
		h.Set(HeaderWebhookID, "ord_1:1-0")
		h.Set(HeaderWebhookTimestamp, itoa64(ts.Unix()))
		h.Set(HeaderWebhookSignature, Sign(key, ts, b))
		return h
	}
	rotated := signed(now, body, secret)
	rotated.Set(HeaderWebhookSignature, Sign("an-old-secret-0000", now, body)+" "+rotated.Get(HeaderWebhookSignature))
	tests := []struct {
		name   string
		header http.Header
		body   []byte
		want   error
	}{
		{"genuine", signed(now, body, secret), body, nil},
		{"clock skew within tolerance", signed(now.Add(-4*time.Minute), body, secret), body, nil},
		{"one of several signatures", rotated, body, nil},
		{"tampered body", signed(now, body, secret), []byte(`{"id":"1-0","order_id":"ord_2"}`), ErrSignatureInvalid},
		{"wrong secret", signed(now, body, "someone-elses-secret"), body, ErrSignatureInvalid},
		{"stale", signed(now.Add(-6*time.Minute), body, secret), body, ErrSignatureStale},
		{"future", signed(now.Add(6*time.Minute), body, secret), body, ErrSignatureStale},
		{"no headers", http.Header{}, body, ErrSignatureMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySignature(secret, tt.header, tt.body, now, 5*time.Minute)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("VerifySignature = %v, want %v", err, tt.want)
			}
		})
	}
	// A replayed timestamp header with the original signature fails.
	h := signed(now, body, secret)
	h.Set(HeaderWebhookTimestamp, itoa64(now.Unix()+1))
	if err := VerifySignature(secret, h, body, now, time.Minute); !errors.Is(err, ErrSignatureInvalid) {
		t.Errorf("changed timestamp: %v, want ErrSignatureInvalid", err)
	}
	// The documented construction, spelled out.
	if got, want := Sign("k", time.Unix(10, 0), []byte("b")), "v1="+hmacHex("k", "10.b"); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestBackoffBounds(t *testing.T) {
	w := &Webhooks{cfg: WebhooksConfig{BackoffBase: time.Second, BackoffMax: time.Minute}}
	for n, max := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 30: time.Minute} {
		for range 50 {
			if d := w.backoff(n); d < max/2 || d > max {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, max/2, max)
			}
		}
	}
}

func itoa64(v int64) string { return strconv.FormatInt(v, 10) }

func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// rtFunc is an http.RoundTripper from a function.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

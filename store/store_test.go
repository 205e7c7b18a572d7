package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
	"erpgate/internal/redistest"
	"erpgate/order"
	"erpgate/store"
	"erpgate/tracking"
)

// backend is a Redis for a test: miniredis always, the real server when
// ERPGATE_REDIS_ADDR is set.
type backend struct {
	name string
	new  func(t *testing.T) redis.UniversalClient
}

var backends = []backend{
	{"mini", func(t *testing.T) redis.UniversalClient { c, _ := redistest.Mini(t); return c }},
	{"real", func(t *testing.T) redis.UniversalClient { return redistest.Universal(t) }},
}

// eachBackend runs f once per backend.
func eachBackend(t *testing.T, f func(t *testing.T, rdb redis.UniversalClient)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.new(t)) })
	}
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newStore(t testing.TB, rdb redis.UniversalClient) *store.Store {
	t.Helper()
	s := store.New(rdb, store.Options{Now: func() time.Time { return t0 }, Partitions: 1})
	if err := s.Init(context.Background()); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return s
}

func testOrder(id, shop, ext string) *order.Order {
	return &order.Order{
		ID: id, ShopID: shop, ExternalID: ext,
		Customer:        order.Customer{ID: "C-1", Name: "Ada Lovelace", Email: "ada@example.com", Phone: "+44 20 7946 0000"},
		ShippingAddress: order.Address{Name: "Ada Lovelace", Line1: "12 St James's Square", City: "London", PostalCode: "SW1Y 4JH", Country: "GB"},
		Currency:        "EUR",
		Lines: []order.Line{
			{SKU: "SKU-1001", Description: "Difference engine", Quantity: 2, UnitPrice: order.MustDecimal("19.99"), Discount: order.MustDecimal("1.00")},
		},
		Shipping:              order.Shipping{Method: "standard", Price: order.MustDecimal("4.95")},
		RequestedDeliveryDate: "2025-03-10",
		CreatedAt:             t0,
	}
}

func intake(id, shop, ext, fp, key string) store.Intake {
	ev := tracking.Event{Time: t0, Type: tracking.TypeAccepted, Source: tracking.SourceGateway, Summary: "accepted"}
	return store.Intake{
		Order: testOrder(id, shop, ext), Fingerprint: fp, IdempotencyKey: key,
		Token: "tok-" + id, Event: ev.Encode(),
	}
}

func code(err error) string { return erpgate.ErrorCode(err) }

// snapshot returns every key with a digest of its content, to prove that a
// call wrote nothing.
func snapshot(t *testing.T, rdb redis.UniversalClient) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys := redistest.Keys(t, rdb, "*")
	m := make(map[string]string)
	for _, k := range keys {
		typ := rdb.Type(ctx, k).Val()
		var v string
		switch typ {
		case "stream":
			v = fmt.Sprint(rdb.XLen(ctx, k).Val())
		case "hash":
			v = fmt.Sprint(rdb.HGetAll(ctx, k).Val())
		case "string":
			v = rdb.Get(ctx, k).Val()
		case "zset":
			v = fmt.Sprint(rdb.ZRangeWithScores(ctx, k, 0, -1).Val())
		}
		m[k] = typ + ":" + v
	}
	return m
}

func sameSnapshot(t *testing.T, got, want map[string]string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("redis changed:\n got %v\nwant %v", got, want)
	}
}

func TestAcceptWritesEverythingOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, rdb)
		in := intake("ord_1", "shop-a", "EXT-1", "fp1", "key-1")
		got, err := s.Accept(ctx, in)
		if err != nil {
			t.Fatalf("Accept: %v", err)
		}
		want := store.Accepted{OrderID: "ord_1", ExternalID: "EXT-1", Token: "tok-ord_1"}
		if got != want {
			t.Errorf("Accept = %+v, want %+v", got, want)
		}

		rec, err := s.Order(ctx, "ord_1")
		if err != nil {
			t.Fatalf("Order: %v", err)
		}
		if rec.Status != store.StatusAccepted || rec.Token != "tok-ord_1" || len(rec.Results) != 0 {
			t.Errorf("record status %q token %q results %v, want accepted tok-ord_1 none", rec.Status, rec.Token, rec.Results)
		}
		if g, w := fmt.Sprintf("%+v", rec.Order), fmt.Sprintf("%+v", *in.Order); g != w {
			t.Errorf("stored order differs:\n got %s\nwant %s", g, w)
		}

		// The documented layout.
		if v := rdb.Get(ctx, "idem:ext:{p0.0}:shop-a:EXT-1").Val(); v != "ord_1 fp1" {
			t.Errorf("idem:ext = %q, want %q", v, "ord_1 fp1")
		}
		if v := rdb.Get(ctx, "idem:key:shop-a:key-1").Val(); v != "ord_1 fp1 EXT-1" {
			t.Errorf("idem:key = %q, want %q", v, "ord_1 fp1 EXT-1")
		}
		evs := rdb.XRange(ctx, tracking.StreamKey("{p0.0}", "ord_1"), "-", "+").Val()
		if len(evs) != 1 || evs[0].Values["ev"] != string(in.Event) {
			t.Fatalf("tracking stream = %v, want the accepted event", evs)
		}
		feed := rdb.XRange(ctx, tracking.FeedKey("{p0.0}"), "-", "+").Val()
		if len(feed) != 1 || feed[0].Values["o"] != "ord_1" || feed[0].Values["e"] != evs[0].ID {
			t.Errorf("feed = %v, want o=ord_1 e=%s", feed, evs[0].ID)
		}
		ob := rdb.XRange(ctx, "outbox:{p0.0}", "-", "+").Val()
		wantAt := fmt.Sprint(t0.UnixMilli())
		if len(ob) != 1 || ob[0].Values["type"] != "order.create" || ob[0].Values["id"] != "ord_1" || ob[0].Values["at"] != wantAt {
			t.Errorf("outbox = %v, want one order.create for ord_1 at %s", ob, wantAt)
		}
	})
}

func TestAcceptIdempotency(t *testing.T) {
	tests := []struct {
		name         string
		second       store.Intake
		wantCode     string
		wantReplayed bool
	}{
		{"same external id, same content", intake("ord_2", "shop-a", "EXT-1", "fp1", ""), "", true},
		{"same external id and key, same content", intake("ord_2", "shop-a", "EXT-1", "fp1", "key-1"), "", true},
		{"same external id, new key, same content", intake("ord_2", "shop-a", "EXT-1", "fp1", "key-new"), "", true},
		{"same external id, different content", intake("ord_2", "shop-a", "EXT-1", "fp2", ""), erpgate.IdempotencyMismatch, false},
		{"same key, different order", intake("ord_2", "shop-a", "EXT-2", "fp2", "key-1"), erpgate.IdempotencyMismatch, false},
		{"same content, key of another order", intake("ord_2", "shop-a", "EXT-1", "fp1", "key-other"), erpgate.IdempotencyMismatch, false},
	}
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				redistest.Flush(t, rdb)
				s := newStore(t, rdb)
				if _, err := s.Accept(ctx, intake("ord_1", "shop-a", "EXT-1", "fp1", "key-1")); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Accept(ctx, intake("ord_9", "shop-a", "EXT-9", "fp9", "key-other")); err != nil {
					t.Fatal(err)
				}
				before := snapshot(t, rdb)
				got, err := s.Accept(ctx, tt.second)
				if c := code(err); c != tt.wantCode {
					t.Fatalf("code = %q (%v), want %q", c, err, tt.wantCode)
				}
				sameSnapshot(t, snapshot(t, rdb), before)
				if tt.wantReplayed {
					want := store.Accepted{OrderID: "ord_1", ExternalID: "EXT-1", Token: "tok-ord_1", Replayed: true}
					if got != want {
						t.Errorf("Accept = %+v, want %+v", got, want)
					}
				}
			})
		}
	})
}

func TestAcceptOtherShopIsAnotherOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, rdb)
		if _, err := s.Accept(ctx, intake("ord_1", "shop-a", "EXT-1", "fp1", "k")); err != nil {
			t.Fatal(err)
		}
		got, err := s.Accept(ctx, intake("ord_2", "shop-b", "EXT-1", "fp1", "k"))
		if err != nil || got.Replayed || got.OrderID != "ord_2" {
			t.Fatalf("Accept for shop-b = %+v, %v; want new order ord_2", got, err)
		}
		if _, err := s.OrderByExternalID(ctx, "shop-b", "EXT-1"); err != nil {
			t.Errorf("OrderByExternalID(shop-b): %v", err)
		}
		rec, err := s.OrderByExternalID(ctx, "shop-a", "EXT-1")
		if err != nil || rec.Order.ID != "ord_1" {
			t.Errorf("OrderByExternalID(shop-a) = %v, %v; want ord_1", rec, err)
		}
		if _, err := s.OrderByExternalID(ctx, "shop-c", "EXT-1"); code(err) != erpgate.NotFound {
			t.Errorf("OrderByExternalID(shop-c) error %v, want not_found", err)
		}
	})
}

func TestAcceptRejectsBadIntakeWritingNothing(t *testing.T) {
	long := strings.Repeat("k", store.MaxIdempotencyKey+1)
	tests := []struct {
		name string
		edit func(in *store.Intake)
		want string
	}{
		{"nil order", func(in *store.Intake) { in.Order = nil }, erpgate.Internal},
		{"no id", func(in *store.Intake) { in.Order.ID = "" }, erpgate.Internal},
		{"no shop", func(in *store.Intake) { in.Order.ShopID = "" }, erpgate.Internal},
		{"colon in shop", func(in *store.Intake) { in.Order.ShopID = "a:b" }, erpgate.Internal},
		{"no external id", func(in *store.Intake) { in.Order.ExternalID = "" }, erpgate.Internal},
		{"no fingerprint", func(in *store.Intake) { in.Fingerprint = "" }, erpgate.Internal},
		{"no token", func(in *store.Intake) { in.Token = "" }, erpgate.Internal},
		{"no event", func(in *store.Intake) { in.Event = nil }, erpgate.Internal},
		{"key too long", func(in *store.Intake) { in.IdempotencyKey = long }, erpgate.Invalid},
	}
	rdb, _ := redistest.Mini(t)
	s := newStore(t, rdb)
	before := snapshot(t, rdb)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := intake("ord_1", "shop-a", "EXT-1", "fp1", "")
			tt.edit(&in)
			if _, err := s.Accept(context.Background(), in); code(err) != tt.want {
				t.Errorf("code = %q (%v), want %q", code(err), err, tt.want)
			}
			sameSnapshot(t, snapshot(t, rdb), before)
		})
	}
}

// downClient returns a client on a miniredis that is then stopped, set up
// to fail fast.
func downClient(t *testing.T) redis.UniversalClient {
	t.Helper()
	_, m := redistest.Mini(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, DialerRetries: 1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	if err := store.New(rdb, store.Options{Partitions: 1}).Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.Close()
	return rdb
}

func TestAcceptRedisDownIsUnavailable(t *testing.T) {
	rdb := downClient(t)
	s := store.New(rdb, store.Options{Partitions: 1})
	if _, err := s.Accept(context.Background(), intake("ord_1", "shop-a", "EXT-1", "fp1", "")); code(err) != erpgate.Unavailable {
		t.Errorf("Accept error %v, want code unavailable", err)
	}
	if _, err := s.Order(context.Background(), "ord_1"); code(err) != erpgate.Unavailable {
		t.Errorf("Order error %v, want code unavailable", err)
	}
	if err := s.Ping(context.Background()); code(err) != erpgate.Unavailable {
		t.Errorf("Ping error %v, want code unavailable", err)
	}
}

// TestAcceptConcurrentSameOrder: 50 shop retries of one order racing each
// other produce one order; every other call replays it.
func TestAcceptConcurrentSameOrder(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Universal(t)
	s := newStore(t, rdb)
	const n = 50
	var wg sync.WaitGroup
	results := make([]store.Accepted, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			// Each request gets its own generated id, as in the gateway.
			results[i], errs[i] = s.Accept(ctx, intake(fmt.Sprintf("ord_%02d", i), "shop-a", "EXT-1", "fp1", "key-1"))
		})
	}
	wg.Wait()
	fresh := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if !results[i].Replayed {
			fresh++
		}
		if results[i].OrderID != results[0].OrderID || results[i].Token != results[0].Token {
			t.Errorf("call %d answered %+v, call 0 %+v: want the same order", i, results[i], results[0])
		}
	}
	if fresh != 1 {
		t.Errorf("%d calls created an order, want 1", fresh)
	}
	if got := rdb.XLen(ctx, "outbox:{p0.0}").Val(); got != 1 {
		t.Errorf("outbox length %d, want 1", got)
	}
	if got := len(redistest.Keys(t, rdb, "ord:*")); got != 1 {
		t.Errorf("%d order records, want 1", got)
	}
}

func TestSetResult(t *testing.T) {
	created := store.TargetResult{State: erp.StateCreated, ERPOrderNumber: "SO-1", ERPStatus: "confirmed", Attempts: 1, UpdatedAt: t0}
	rejected := store.TargetResult{State: erp.StateRejected, Reason: "SKU-9 is not sold", Attempts: 1, UpdatedAt: t0}
	pending := store.TargetResult{State: erp.StatePending, Reason: "retrying", Attempts: 2, UpdatedAt: t0}
	dead := store.TargetResult{State: erp.StateDead, Reason: "gave up", Attempts: 10, UpdatedAt: t0}
	type set struct {
		r    store.TargetResult
		auth bool
	}
	tests := []struct {
		name       string
		sets       []set
		wantState  string
		wantStatus string
		wantReason string
	}{
		{"authoritative created", []set{{created, true}}, erp.StateCreated, store.StatusReceived, ""},
		{"shadow created leaves status", []set{{created, false}}, erp.StateCreated, store.StatusAccepted, ""},
		{"authoritative rejected", []set{{rejected, true}}, erp.StateRejected, store.StatusRejected, "SKU-9 is not sold"},
		{"pending leaves status", []set{{pending, true}}, erp.StatePending, store.StatusAccepted, ""},
		{"pending then created", []set{{pending, true}, {created, true}}, erp.StateCreated, store.StatusReceived, ""},
		{"created is final against pending", []set{{created, true}, {pending, true}}, erp.StateCreated, store.StatusReceived, ""},
		{"created is final against dead", []set{{created, true}, {dead, true}}, erp.StateCreated, store.StatusReceived, ""},
		{"dead", []set{{pending, true}, {dead, true}}, erp.StateDead, store.StatusFailed, "gave up"},
		{"dead then replayed and created", []set{{dead, true}, {created, true}}, erp.StateCreated, store.StatusReceived, ""},
	}
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, rdb)
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				id := fmt.Sprintf("ord_%d", i)
				if _, err := s.Accept(ctx, intake(id, "shop-a", id, "fp", "")); err != nil {
					t.Fatal(err)
				}
				for _, st := range tt.sets {
					if err := s.SetResult(ctx, id, erp.V2, st.r, st.auth); err != nil {
						t.Fatalf("SetResult(%s): %v", st.r.State, err)
					}
				}
				rec, err := s.Order(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if got := rec.Results[erp.V2].State; got != tt.wantState {
					t.Errorf("state = %q, want %q", got, tt.wantState)
				}
				if rec.Status != tt.wantStatus || rec.Reason != tt.wantReason {
					t.Errorf("status, reason = %q, %q; want %q, %q", rec.Status, rec.Reason, tt.wantStatus, tt.wantReason)
				}
			})
		}
		t.Run("round trip", func(t *testing.T) {
			if _, err := s.Accept(ctx, intake("ord_rt", "shop-a", "rt", "fp", "")); err != nil {
				t.Fatal(err)
			}
			c := created
			c.Duplicate = true
			if err := s.SetResult(ctx, "ord_rt", erp.V1, c, false); err != nil {
				t.Fatal(err)
			}
			rec, _ := s.Order(ctx, "ord_rt")
			if got := rec.Results[erp.V1]; got != c {
				t.Errorf("result = %+v, want %+v", got, c)
			}
		})
		t.Run("status for another target", func(t *testing.T) {
			rec, _ := s.Order(ctx, "ord_rt") // v1 created (shadow), v2 nothing
			if st, rs := rec.StatusFor(erp.V1); st != store.StatusReceived || rs != "" {
				t.Errorf("StatusFor(v1) = %q, %q; want erp_received", st, rs)
			}
			if st, _ := rec.StatusFor(erp.V2); st != store.StatusAccepted {
				t.Errorf("StatusFor(v2) = %q, want accepted", st)
			}
			if err := s.SetResult(ctx, "ord_rt", erp.V2, rejected, false); err != nil {
				t.Fatal(err)
			}
			rec, _ = s.Order(ctx, "ord_rt")
			if st, rs := rec.StatusFor(erp.V2); st != store.StatusRejected || rs != rejected.Reason {
				t.Errorf("StatusFor(v2) = %q, %q; want rejected with its reason", st, rs)
			}
		})
		t.Run("unknown order", func(t *testing.T) {
			before := snapshot(t, rdb)
			if err := s.SetResult(ctx, "ord_nope", erp.V2, created, true); code(err) != erpgate.NotFound {
				t.Errorf("error %v, want not_found", err)
			}
			sameSnapshot(t, snapshot(t, rdb), before)
		})
		t.Run("unknown state", func(t *testing.T) {
			if err := s.SetResult(ctx, "ord_rt", erp.V2, store.TargetResult{State: "maybe"}, true); code(err) != erpgate.Internal {
				t.Errorf("error %v, want internal", err)
			}
		})
	})
}

func TestOrderNotFound(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	s := newStore(t, rdb)
	ctx := context.Background()
	for _, id := range []string{"", "ord_x", "a:b"} {
		if _, err := s.Order(ctx, id); code(err) != erpgate.NotFound {
			t.Errorf("Order(%q) error %v, want not_found", id, err)
		}
	}
	if _, err := s.LoadOrder(ctx, "ord_x"); code(err) != erpgate.NotFound {
		t.Errorf("LoadOrder error %v, want not_found", err)
	}
	if _, err := s.OrderByExternalID(ctx, "shop-a", "nope"); code(err) != erpgate.NotFound {
		t.Errorf("OrderByExternalID error %v, want not_found", err)
	}
}

func TestCheckDurability(t *testing.T) {
	ctx := context.Background()
	t.Run("miniredis", func(t *testing.T) {
		rdb, _ := redistest.Mini(t)
		if err := store.New(rdb, store.Options{Partitions: 1}).CheckDurability(ctx); err == nil {
			t.Error("CheckDurability on miniredis = nil, want an error")
		}
	})
	t.Run("real", func(t *testing.T) {
		rdb := redistest.Universal(t)
		aof := rdb.ConfigGet(ctx, "appendonly").Val()["appendonly"]
		err := store.New(rdb, store.Options{Partitions: 1}).CheckDurability(ctx)
		if got, want := err == nil, aof == "yes"; got != want {
			t.Errorf("CheckDurability = %v with appendonly %q", err, aof)
		}
	})
}

func TestInitIdempotentAndGroups(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Targets: []string{"v1", "v2", "v3"}, Partitions: 1})
		for range 2 {
			if err := s.Init(ctx); err != nil {
				t.Fatalf("Init: %v", err)
			}
		}
		gs, err := rdb.XInfoGroups(ctx, "outbox:{p0.0}").Result()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, g := range gs {
			names = append(names, g.Name)
		}
		slices.Sort(names)
		if got, want := strings.Join(names, ","), "erp-v1,erp-v2,erp-v3"; got != want {
			t.Errorf("groups = %s, want %s", got, want)
		}
		if err := store.New(rdb, store.Options{Partitions: 1, Targets: []string{"a:b"}}).Init(ctx); err == nil {
			t.Error("Init with target a:b = nil, want error")
		}
	})
}

func TestErrorsAreErpgateErrors(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	s := newStore(t, rdb)
	_, err := s.Accept(context.Background(), intake("ord_1", "shop-a", "E", "fp", ""))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Accept(context.Background(), intake("ord_2", "shop-a", "E", "other", ""))
	var e *erpgate.Error
	if !errors.As(err, &e) || e.Code != erpgate.IdempotencyMismatch || strings.Contains(e.Message, "ord_1") {
		t.Errorf("mismatch error %#v: want *erpgate.Error idempotency_mismatch whose message does not leak the order id", err)
	}
}

func TestPartitionCountRecordedAndMismatchRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		if err := store.New(rdb, store.Options{Partitions: 4}).Init(ctx); err != nil {
			t.Fatalf("first Init: %v", err)
		}
		if got := rdb.Get(ctx, store.PartitionsKey).Val(); got != "4" {
			t.Fatalf("recorded partitions = %q, want 4", got)
		}
		if err := store.New(rdb, store.Options{Partitions: 4}).Init(ctx); err != nil {
			t.Fatalf("Init with the same count: %v", err)
		}
		err := store.New(rdb, store.Options{Partitions: 16}).Init(ctx)
		if err == nil || !strings.Contains(err.Error(), "--partitions 4") {
			t.Fatalf("Init with 16 on a 4-partition Redis = %v, want a refusal naming --partitions 4", err)
		}
	})
}

package tracking

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/internal/redistest"
)

var t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func newTestStore(t *testing.T, rdb redis.UniversalClient, reg prometheus.Registerer) *Store {
	t.Helper()
	s, err := NewStore(StoreConfig{Space: testSpace, Client: rdb, Registerer: reg, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustAppend(t *testing.T, s *Store, orderID string, e Event) Event {
	t.Helper()
	got, err := s.Append(context.Background(), orderID, e)
	if err != nil {
		t.Fatalf("Append(%s, %s): %v", orderID, e.Type, err)
	}
	return got
}

func ids(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func TestAppendTimelineSince(t *testing.T) {
	rdb := redistest.Universal(t)
	s := newTestStore(t, rdb, nil)
	ctx := context.Background()

	a := mustAppend(t, s, "ord_1", Event{Type: TypeAccepted, Source: SourceGateway, Summary: "stored"})
	b := mustAppend(t, s, "ord_1", Event{Type: TypeConfirmed, Source: SourceERP, Summary: "ok",
		Details: map[string]string{DetailERPOrderNumber: "SO-1"}})
	mustAppend(t, s, "ord_2", Event{Type: TypeAccepted, Source: SourceGateway})
	c := mustAppend(t, s, "ord_1", Event{Type: TypeShipped, Source: SourceERP, Time: t0.Add(time.Hour)})

	tl, err := s.Timeline(ctx, "ord_1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(ids(tl), ","), strings.Join([]string{a.ID, b.ID, c.ID}, ","); got != want {
		t.Fatalf("timeline ids = %s, want %s", got, want)
	}
	if got, want := tl[1].Details[DetailERPOrderNumber], "SO-1"; got != want {
		t.Errorf("details round trip: got %q, want %q", got, want)
	}
	if !tl[0].Time.Equal(t0) || !tl[2].Time.Equal(t0.Add(time.Hour)) {
		t.Errorf("times = %v, %v; want the clock's for a zero time and the given one otherwise", tl[0].Time, tl[2].Time)
	}
	if got, want := tl[2].Summary, Label(TypeShipped); got != want {
		t.Errorf("empty summary became %q, want %q", got, want)
	}

	since, err := s.Since(ctx, "ord_1", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(ids(since), ","), b.ID+","+c.ID; got != want {
		t.Errorf("Since(first) = %s, want %s", got, want)
	}
	if since, _ := s.Since(ctx, "ord_1", c.ID); len(since) != 0 {
		t.Errorf("Since(last) = %v, want nothing", since)
	}
	if tl, _ := s.Timeline(ctx, "ord_none"); len(tl) != 0 {
		t.Errorf("timeline of unknown order = %v, want empty", tl)
	}

	// Every event is announced on the feed with its order and entry id, in order.
	feed, err := rdb.XRange(ctx, testFeed, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range feed {
		got = append(got, fmt.Sprint(m.Values["o"], "/", m.Values["e"]))
	}
	if want := []string{"ord_1/" + a.ID, "ord_1/" + b.ID, "ord_2/", "ord_1/" + c.ID}; len(got) != 4 || got[0] != want[0] || got[1] != want[1] || !strings.HasPrefix(got[2], "ord_2/") || got[3] != want[3] {
		t.Errorf("feed = %v, want %v", got, want)
	}
}

func TestAppendDedup(t *testing.T) {
	rdb := redistest.Universal(t)
	reg := prometheus.NewRegistry()
	s := newTestStore(t, rdb, reg)
	ctx := context.Background()

	push := Event{Type: TypePicked, Source: SourceERP, Summary: "picked",
		Details: map[string]string{DetailDedup: "v2push:77", "warehouse": "W1"}}
	first := mustAppend(t, s, "ord_1", push)
	push.Summary = "picked (again)"
	second := mustAppend(t, s, "ord_1", push)
	if second.ID != first.ID || second.Summary != "picked" {
		t.Errorf("duplicate push returned %+v, want the first event %+v", second, first)
	}
	other := mustAppend(t, s, "ord_1", Event{Type: TypePicked, Source: SourceERP, Details: map[string]string{DetailDedup: "v2push:78"}})
	if other.ID == first.ID {
		t.Error("a different dedup key was treated as a duplicate")
	}
	// The same key on another order is another event.
	mustAppend(t, s, "ord_2", Event{Type: TypePicked, Source: SourceERP, Details: map[string]string{DetailDedup: "v2push:77"}})

	tl, _ := s.Timeline(ctx, "ord_1")
	if got, want := len(tl), 2; got != want {
		t.Fatalf("timeline has %d events, want %d", got, want)
	}
	if _, ok := tl[0].Details[DetailDedup]; ok {
		t.Error("dedup key stored in the customer-visible details")
	}
	if got, want := tl[0].Details["warehouse"], "W1"; got != want {
		t.Errorf("detail = %q, want %q", got, want)
	}
	if n, _ := rdb.XLen(ctx, testFeed).Result(); n != 3 {
		t.Errorf("feed has %d entries, want 3 (the duplicate must not be announced)", n)
	}
	if got := testutil.ToFloat64(s.events.WithLabelValues(TypePicked, SourceERP)); got != 3 {
		t.Errorf("events_total{picked,erp} = %v, want 3", got)
	}
}

func TestAppendNormalizes(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	s := newTestStore(t, rdb, nil)
	e := mustAppend(t, s, "ord_1", Event{Type: TypeShipped, Source: SourceERP, Time: t0.In(time.FixedZone("X", 3600)),
		Details: map[string]string{DetailCarrier: "DHL", DetailTrackingNumber: "JD 01"}})
	if got, want := e.Details[DetailTrackingURL], CarrierTrackingURL("DHL", "JD 01"); got != want || want == "" {
		t.Errorf("tracking_url = %q, want %q", got, want)
	}
	if e.Time.Location() != time.UTC {
		t.Errorf("time zone = %v, want UTC", e.Time.Location())
	}
}

func TestAppendRejectsBadEvents(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	s := newTestStore(t, rdb, nil)
	many := map[string]string{}
	for i := range MaxDetails + 2 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	ok := Event{Type: TypeConfirmed, Source: SourceERP}
	tests := []struct {
		name  string
		order string
		mod   func(e *Event)
	}{
		{"empty order", "", func(*Event) {}},
		{"order with space", "ord 1", func(*Event) {}},
		{"order too long", strings.Repeat("x", MaxOrderIDLen+1), func(*Event) {}},
		{"empty type", "ord_1", func(e *Event) { e.Type = "" }},
		{"type with newline", "ord_1", func(e *Event) { e.Type = "shipped\nevent: x" }},
		{"upper-case source", "ord_1", func(e *Event) { e.Source = "ERP" }},
		{"summary too long", "ord_1", func(e *Event) { e.Summary = strings.Repeat("é", MaxSummaryLen+1) }},
		{"invalid utf-8", "ord_1", func(e *Event) { e.Summary = "\xff" }},
		{"too many details", "ord_1", func(e *Event) { e.Details = many }},
		{"bad detail key", "ord_1", func(e *Event) { e.Details = map[string]string{"Bad Key": "v"} }},
		{"detail too long", "ord_1", func(e *Event) { e.Details = map[string]string{"k": strings.Repeat("v", MaxDetailValue+1)} }},
		{"dedup too long", "ord_1", func(e *Event) { e.Details = map[string]string{DetailDedup: strings.Repeat("d", MaxDedupKeyLen+1)} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ok
			tt.mod(&e)
			_, err := s.Append(context.Background(), tt.order, e)
			if got, want := erpgate.ErrorCode(err), erpgate.Invalid; got != want {
				t.Fatalf("code = %q (%v), want %q", got, err, want)
			}
		})
	}
	if n, _ := rdb.Exists(context.Background(), testFeed).Result(); n != 0 {
		t.Error("a rejected event was written")
	}
	if _, err := s.Since(context.Background(), "ord_1", "not-an-id"); erpgate.ErrorCode(err) != erpgate.Invalid {
		t.Errorf("Since with a bad id: %v, want Invalid", err)
	}
}

func TestStoreUnavailable(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}) // nothing listens there
	defer rdb.Close()
	s := newTestStore(t, rdb, nil)
	_, err := s.Append(context.Background(), "ord_1", Event{Type: TypeConfirmed, Source: SourceERP})
	if got, want := erpgate.ErrorCode(err), erpgate.Unavailable; got != want {
		t.Errorf("Append on a dead Redis: code %q (%v), want %q", got, err, want)
	}
	_, err = s.Timeline(context.Background(), "ord_1")
	if got, want := erpgate.ErrorCode(err), erpgate.Unavailable; got != want {
		t.Errorf("Timeline on a dead Redis: code %q, want %q", got, want)
	}
}

func TestCompareIDs(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1-0", "1-0", 0},
		{"1-0", "1-1", -1},
		{"2-0", "10-0", -1}, // numeric, not lexicographic
		{"10-0", "9-99", 1},
		{"", "0-1", -1},
	}
	for _, tt := range tests {
		if got := CompareIDs(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareIDs(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	for _, bad := range []string{"", "1", "1-", "-1", "a-1", "1-0\n"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true, want false", bad)
		}
	}
}

func TestMetricsLint(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	reg := prometheus.NewRegistry()
	s := newTestStore(t, rdb, reg)
	s.Count(Event{Type: TypeAccepted, Source: SourceGateway})
	s.Count(Event{Type: "weird_new_type", Source: "somebody"})
	if _, err := NewHub(HubConfig{Client: rdb, Store: s, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	// A second Hub on the same registry shares the gauge instead of failing.
	if _, err := NewHub(HubConfig{Client: rdb, Store: s, Registerer: reg}); err != nil {
		t.Fatalf("second hub on one registry: %v", err)
	}
	if _, err := NewWebhooks(WebhooksConfig{Space: testSpace, Client: rdb, Registerer: reg, ShopOf: func(context.Context, string) (string, error) { return "", nil }}); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric lint: %s: %s", p.Metric, p.Text)
	}
	for _, name := range []string{"erpgate_tracking_events_total", "erpgate_tracking_streams_active",
		"erpgate_tracking_webhook_deliveries_total", "erpgate_tracking_webhook_lag_seconds"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n == 0 {
			t.Errorf("metric %s: %d series, err %v; want it registered", name, n, err)
		}
	}
	if got := testutil.ToFloat64(s.events.WithLabelValues("other", "other")); got != 1 {
		t.Errorf("unknown type/source counted as other: %v, want 1", got)
	}
}

// eventually polls cond until it holds, failing after a generous timeout. It
// asserts an outcome, never a duration.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var errBoom = errors.New("boom")

// Append tells its OnAppend hook about every event it writes (the read
// cache's same-instance invalidation), but not about a deduplicated repeat.
func TestAppendCallsOnAppend(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	var got []string
	st, err := NewStore(StoreConfig{Space: testSpace, Client: rdb, OnAppend: func(id string) { got = append(got, id) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ev := Event{Type: TypeConfirmed, Source: SourceERP, Details: map[string]string{DetailDedup: "erp:1"}}
	for range 2 {
		if _, err := st.Append(ctx, "ord_1", ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Append(ctx, "ord_2", Event{Type: TypePicked, Source: SourceERP}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"ord_1", "ord_2"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("OnAppend saw %v, want %v (the dedup repeat writes nothing)", got, want)
	}
}

// AppendUnlessSpoke writes only while the named source has not spoken; the
// check and the write are one step, so it cannot land after that source.
func TestAppendUnlessSpoke(t *testing.T) {
	rdb := redistest.Universal(t)
	st, err := NewStore(StoreConfig{Space: testSpace, Client: rdb})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	gw := Event{Type: TypeERPReceived, Source: SourceGateway, Details: map[string]string{DetailDedup: "result:v2:created"}}
	if _, ok, err := st.AppendUnlessSpoke(ctx, "ord_a", gw, SourceERP); err != nil || !ok {
		t.Fatalf("before the ERP spoke: ok=%v err=%v, want written", ok, err)
	}
	if _, err := st.Append(ctx, "ord_b", Event{Type: TypeConfirmed, Source: SourceERP}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := st.AppendUnlessSpoke(ctx, "ord_b", gw, SourceERP); err != nil || ok {
		t.Fatalf("after the ERP spoke: ok=%v err=%v, want nothing written", ok, err)
	}
	evs, err := st.Timeline(ctx, "ord_b")
	if err != nil || len(evs) != 1 || evs[0].Type != TypeConfirmed {
		t.Fatalf("ord_b timeline %+v (%v), want only the ERP's confirmation", evs, err)
	}
	// A repeat of the written one is a duplicate, still "on the timeline".
	if e, ok, err := st.AppendUnlessSpoke(ctx, "ord_a", gw, SourceERP); err != nil || !ok || e.ID == "" {
		t.Fatalf("repeat: %+v ok=%v err=%v", e, ok, err)
	}
	if evs, _ := st.Timeline(ctx, "ord_a"); len(evs) != 1 {
		t.Fatalf("ord_a has %d events, want 1", len(evs))
	}
	if _, _, err := st.AppendUnlessSpoke(ctx, "ord_a", gw, "Not A Source"); erpgate.ErrorCode(err) != erpgate.Invalid {
		t.Fatalf("bad source: %v", err)
	}
}

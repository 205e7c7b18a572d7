package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate/internal/partition"
	"erpgate/internal/redistest"
	"erpgate/internal/ulid"
)

// oldFixture is a Redis in the key layout of the release before partitions
// (dbac711) with what an upgrading company has: orders with timelines,
// external-id and Idempotency-Key records, an open-order set, a release
// plan with history, a notice, a dead letter, and the drained outbox and
// feed.
type oldFixture struct {
	rdb        *redis.Client
	url        string
	idA, idB   string // old order ids; A's partition differs from its external id's
	tokA       string
	bodyA      string // order A was sent with Idempotency-Key keyA
	bodyB      string
	keyA       string
	deadID     string // the dead letter's entry id in the old outbox:dead
	releaseRev int64
}

// writeOldLayout makes the fixture. Its records come from a real gateway
// (so fingerprints, tokens and events are exactly what the REST intake
// writes) on a scratch database; they are then written by hand under the
// old key names, with order ids of the old release (not drawn into a
// partition).
func writeOldLayout(t *testing.T) *oldFixture {
	t.Helper()
	ctx := context.Background()
	scratch := redistest.Real(t)
	f := &oldFixture{rdb: redistest.Real(t), keyA: "retry-key-A", bodyA: orderBody("OLD-A"), bodyB: orderBody("OLD-B")}
	f.url = redistest.URL(t, f.rdb)
	space := partition.MustNew(partition.Default)

	args := []string{"--redis-url", redistest.URL(t, scratch), "--allow-volatile-redis"}
	gw, _, stop := startRun(t, args...)
	newIDs := map[string]string{}
	for _, o := range []struct{ ext, body, key string }{{"OLD-A", f.bodyA, f.keyA}, {"OLD-B", f.bodyB, ""}} {
		var hdr []string
		if o.key != "" {
			hdr = []string{"Idempotency-Key", o.key}
		}
		resp, body := post(t, gw+"/v1/orders", "demo-shop-key", o.body, hdr...)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("scratch POST %s: %d %v", o.ext, resp.StatusCode, body)
		}
		newIDs[o.ext], _ = body["id"].(string)
	}
	if code := adminCall(t, http.MethodPost, gw+"/admin/release/backout", `{"reason":"fixture: v2 misbehaves"}`, nil); code != 200 {
		t.Fatalf("scratch backout: %d", code)
	}
	var st releaseState
	if code := adminCall(t, http.MethodGet, gw+"/admin/release", "", &st); code != 200 || st.Revision == 0 {
		t.Fatalf("scratch release after the backout: %d %+v", code, st)
	}
	f.releaseRev = st.Revision
	start := time.Now().UTC().Add(24 * time.Hour).Truncate(time.Hour)
	notice := `{"start":"` + start.Format(time.RFC3339) + `","end":"` + start.Add(2*time.Hour).Format(time.RFC3339) +
		`","messages":{"en":"Maintenance","de":"Wartung"},"audiences":["customers"],"intake_paused":false}`
	var nb json.RawMessage
	if code := adminCall(t, http.MethodPut, gw+"/admin/notices/maint-1", notice, &nb); code/100 != 2 {
		t.Fatalf("scratch notice: %d %s", code, nb)
	}
	stop()

	// Old ids: A's partition differs from the one of its external id.
	shop := "demo-shop"
	draw := func(ext string, differ bool) string {
		for {
			id := ulid.New("ord_", time.Now())
			if (space.Of(id) != space.Of(partition.Join(shop, ext))) == differ {
				return id
			}
		}
	}
	f.idA, f.idB = draw("OLD-A", true), draw("OLD-B", false)
	old := map[string]string{"OLD-A": f.idA, "OLD-B": f.idB}
	for ext, newID := range newIDs {
		oldID, tag := old[ext], space.TagOf(newID)
		h := scratch.HGetAll(ctx, "ord:"+tag+":"+newID).Val()
		if len(h) == 0 {
			t.Fatalf("scratch order %s has no record", newID)
		}
		h["json"] = strings.ReplaceAll(h["json"], newID, oldID)
		if ext == "OLD-A" {
			f.tokA = h["token"]
		}
		f.rdb.HSet(ctx, "ord:"+oldID, h)
		f.rdb.Set(ctx, "idem:ext:"+shop+":"+ext, oldID+" "+h["fp"], 0)
		if h["key"] != "" {
			f.rdb.Set(ctx, "idem:key:"+shop+":"+h["key"], oldID+" "+h["fp"], 0) // old format: no ext
		}
		for _, x := range scratch.XRange(ctx, "trk:"+tag+":"+newID, "-", "+").Val() {
			f.rdb.XAdd(ctx, &redis.XAddArgs{Stream: "trk:" + oldID, ID: x.ID, Values: x.Values})
			f.rdb.XAdd(ctx, &redis.XAddArgs{Stream: "trk:feed", Values: []string{"o", oldID, "e", x.ID}})
		}
		f.rdb.SAdd(ctx, "trk:dedup:"+oldID, "erp:v2:created")
		f.rdb.XAdd(ctx, &redis.XAddArgs{Stream: "outbox", Values: []string{"type", "order.create", "id", oldID, "at", h["created"]}})
	}
	f.rdb.ZAdd(ctx, "open:v1", redis.Z{Score: float64(time.Now().Add(time.Hour).UnixMilli()), Member: f.idA},
		redis.Z{Score: float64(time.Now().Add(time.Hour).UnixMilli()), Member: f.idB})
	for _, k := range scratch.Keys(ctx, "{release}:*").Val() {
		f.rdb.RestoreReplace(ctx, "release:"+strings.TrimPrefix(k, "{release}:"), 0, scratch.Dump(ctx, k).Val())
	}
	for k, to := range map[string]string{"{notices}": "notices", "{notices}:rev": "notices:rev"} {
		if d := scratch.Dump(ctx, k).Val(); d != "" {
			f.rdb.RestoreReplace(ctx, to, 0, d)
		}
	}
	f.deadID = f.rdb.XAdd(ctx, &redis.XAddArgs{Stream: "outbox:dead", Values: []string{
		"type", "order.create", "id", f.idB, "target", "v1", "reason", "ERP v1 rejected: 500 x5", "deliveries", "5",
		"entry", "1-1", "at", "1700000000000", "dead_at", "1700000001000"}}).Val()
	// The consumers read everything (the drained outbox); the test moves
	// erp-v1 back to show the refusal of an undrained one.
	for _, g := range []string{"erp-v1", "erp-v2"} {
		f.rdb.XGroupCreate(ctx, "outbox", g, "$")
	}
	f.rdb.XGroupCreate(ctx, "trk:feed", "webhooks", "$")
	return f
}

func migrateCLI(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"gateway", "migrate-layout"}, args...), func(string) string { return "" }, &out, &errOut)
	return out.String() + errOut.String(), err
}

// TestMigrateLayout upgrades a Redis of the release before partitions: the
// new release refuses it, migrate-layout refuses an undrained outbox, its
// dry run changes nothing, the migration (run twice) moves everything, and
// the gateway then serves the old orders: record, tracking, replays of a
// retry by external id and by Idempotency-Key under the old id, the
// release plan's revision, the dead letter.
func TestMigrateLayout(t *testing.T) {
	ctx := context.Background()
	f := writeOldLayout(t)
	gwArgs := []string{"--redis-url", f.url, "--allow-volatile-redis"}

	// The new release refuses the old layout.
	var logs bytes.Buffer
	err := run(ctx, append([]string{"gateway", "--listen", "127.0.0.1:0", "--erpsim-listen", "127.0.0.1:0"}, gwArgs...),
		func(string) string { return "" }, io.Discard, &logs)
	if err == nil || !strings.Contains(err.Error(), "migrate-layout") {
		t.Fatalf("run on the old layout: got %v, want a refusal naming migrate-layout", err)
	}

	// Not drained: erp-v1 has not read the last outbox entry.
	f.rdb.XGroupSetID(ctx, "outbox", "erp-v1", "0")
	if out, err := migrateCLI("--redis-url", f.url); err == nil || !strings.Contains(err.Error(), "/admin/outbox") {
		t.Fatalf("migrate with erp-v1 behind: got %v (%s), want a refusal pointing at /admin/outbox", err, out)
	}
	f.rdb.XGroupSetID(ctx, "outbox", "erp-v1", "$")

	out, err := migrateCLI("--redis-url", f.url, "--dry-run")
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	for _, want := range []string{"orders                     2", "external-id records        2", "Idempotency-Key records    1", "dead letters               1"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if f.rdb.Exists(ctx, "ord:"+f.idA, "outbox").Val() != 2 || f.rdb.Exists(ctx, "erpgate:partitions").Val() != 0 {
		t.Fatal("the dry run wrote")
	}

	for i := range 2 { // the second run finds nothing left to do
		if out, err = migrateCLI("--redis-url", f.url); err != nil {
			t.Fatalf("migrate run %d: %v\n%s", i+1, err, out)
		}
	}
	if !strings.Contains(out, "nothing to migrate") {
		t.Errorf("second run: got %q, want nothing to migrate", out)
	}
	if n := f.rdb.Exists(ctx, "outbox", "trk:feed", "outbox:dead", "ord:"+f.idA, "release:plan", "notices").Val(); n != 0 {
		t.Errorf("%d old keys left after the migration", n)
	}

	gw, _, _ := startRun(t, gwArgs...)
	var view struct {
		ID    string `json:"id"`
		Order struct {
			ExternalID string `json:"external_id"`
		} `json:"order"`
	}
	if code := getJSON(t, gw+"/v1/orders/"+f.idA, "demo-shop-key", &view); code != 200 || view.Order.ExternalID != "OLD-A" {
		t.Fatalf("GET old order A: %d %+v", code, view)
	}
	var tl struct {
		Events []struct {
			Type string `json:"type"`
		} `json:"events"`
	}
	if code := getJSON(t, gw+"/v1/tracking/"+f.idA+"?token="+f.tokA, "", &tl); code != 200 || len(tl.Events) == 0 || tl.Events[0].Type != "accepted" {
		t.Fatalf("tracking of old order A: %d %+v", code, tl)
	}

	// Retries replay the old ids: by external id (A with its key and
	// without, B) — A's external-id record and its order live in
	// different partitions.
	for _, r := range []struct {
		name, body, id string
		hdr            []string
	}{
		{"A by Idempotency-Key", f.bodyA, f.idA, []string{"Idempotency-Key", f.keyA}},
		{"A by external id", f.bodyA, f.idA, nil},
		{"B by external id", f.bodyB, f.idB, nil},
	} {
		resp, body := post(t, gw+"/v1/orders", "demo-shop-key", r.body, r.hdr...)
		if resp.StatusCode/100 != 2 || body["id"] != r.id || resp.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry %s: got %d id %v replayed %q, want the old id %s replayed", r.name, resp.StatusCode, body["id"], resp.Header.Get("Idempotent-Replayed"), r.id)
		}
	}

	var st releaseState
	if code := adminCall(t, http.MethodGet, gw+"/admin/release", "", &st); code != 200 || st.Revision != f.releaseRev || st.Revision == 0 {
		t.Errorf("release plan after migration: %d revision %d, want %d", code, st.Revision, f.releaseRev)
	}
	var raw json.RawMessage
	if code := adminCall(t, http.MethodGet, gw+"/admin/outbox/dead-letters", "", &raw); code != 200 ||
		!strings.Contains(string(raw), f.idB) || !strings.Contains(string(raw), f.deadID+"-"+strconv.Itoa(partition.MustNew(partition.Default).Of(f.idB))) {
		t.Errorf("dead letters after migration: %d %s, want %s's (id %s-<p>)", code, raw, f.idB, f.deadID)
	}
	var notices json.RawMessage
	if code := adminCall(t, http.MethodGet, gw+"/admin/notices", "", &notices); code != 200 || !strings.Contains(string(notices), "maint-1") {
		t.Errorf("notices after migration: %d %s", code, notices)
	}
}

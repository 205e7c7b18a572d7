package store_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/internal/partition"
	"erpgate/internal/redistest"
	"erpgate/internal/ulid"
	"erpgate/store"
	"erpgate/supply"
)

// oldID draws an id of the old release (not drawn into a partition) whose
// partition is (differ) or is not that of key.
func oldID(space partition.Space, prefix, key string, differ bool) string {
	for {
		id := ulid.New(prefix, time.Now())
		if (space.Of(id) != space.Of(key)) == differ {
			return id
		}
	}
}

// TestMigrateLayoutResumesAndKeepsDocuments: a migration that stops half-way
// leaves the Redis refused and is finished by the next run; afterwards a
// supplier document of the old release (its id not in its supplier's
// partition) is found by id and by number and a retry replays it, the
// open-order set is split by its members' partitions, and a dead letter
// and its action keep their entry ids.
func TestMigrateLayoutResumesAndKeepsDocuments(t *testing.T) {
	ctx := context.Background()
	space := partition.MustNew(partition.Default)
	scratch, old := redistest.Real(t), redistest.Real(t)

	// A real document record, written under the old names with an old id.
	sc := store.New(scratch, store.Options{})
	if err := sc.Init(ctx); err != nil {
		t.Fatal(err)
	}
	newDoc := sc.NewDocumentID("SUP-2", func() string { return ulid.New("sd_", time.Now()) })
	if _, err := sc.AcceptSupplierDocument(ctx, store.DocumentIntake{Doc: ackDoc(newDoc, "SUP-2", "ACK-1", "PO-000001"), Fingerprint: "fp1"}); err != nil {
		t.Fatal(err)
	}
	tag := space.TagOf("SUP-2")
	docID := oldID(space, "sd_", "SUP-2", true)
	h := scratch.HGetAll(ctx, "sdoc:"+tag+":"+newDoc).Val()
	h["json"] = strings.ReplaceAll(h["json"], newDoc, docID)
	old.HSet(ctx, "sdoc:"+docID, h)
	old.Set(ctx, "sdoc:idem:acknowledgement|SUP-2|ACK-1", docID+" fp1", 0)
	old.ZAdd(ctx, "sdoc:list:acknowledgement|SUP-2", redis.Z{Score: 1, Member: docID})
	old.RPush(ctx, "sdoc:pending:PO-000001", docID)
	if k := scratch.Keys(ctx, "sdoc:idem:*").Val(); len(k) != 1 || !strings.HasSuffix(k[0], ":acknowledgement|SUP-2|ACK-1") {
		t.Fatalf("the document's number record is %v: the fixture's old names are stale", k)
	}

	// Orders, an open set over two partitions, a release plan, a dead letter
	// with its action.
	a, b := oldID(space, "ord_", "x", true), oldID(space, "ord_", "x", true)
	for space.Of(b) == space.Of(a) {
		b = oldID(space, "ord_", "x", true)
	}
	for _, id := range []string{a, b} {
		old.HSet(ctx, "ord:"+id, "shop", "s1", "ext", "E-"+id, "token", "tok", "fp", "f", "status", "accepted")
		old.Set(ctx, "idem:ext:s1:E-"+id, id+" f", 0)
		old.XAdd(ctx, &redis.XAddArgs{Stream: "trk:" + id, Values: []string{"ev", "{}"}})
		old.ZAdd(ctx, "open:v1", redis.Z{Score: 5, Member: id})
	}
	old.Set(ctx, "release:plan", `{"revision":7}`, 0)
	old.Set(ctx, "release:rev", "7", 0)
	dead := old.XAdd(ctx, &redis.XAddArgs{Stream: "outbox:dead", Values: []string{"type", "order.create", "id", a, "target", "v1",
		"reason", "r", "deliveries", "10", "entry", "1-0", "at", "1", "dead_at", "2"}}).Val()
	old.XAdd(ctx, &redis.XAddArgs{Stream: "outbox:dead:log", Values: []string{"action", "discard", "dead", "5-0", "type", "order.create",
		"id", b, "from", "v2", "target", "", "outbox", "", "actor", "ops", "reason", "dup", "at", "3"}})

	// Two crashes: after three renames, and after the dead letter was
	// copied but before its action.
	crash := errors.New("crash")
	renames := 0
	for _, fault := range []func(kind string) error{
		func(string) error {
			if renames++; renames > 3 {
				return crash
			}
			return nil
		},
		func(kind string) error {
			if kind == "dead-letter actions" {
				return crash
			}
			return nil
		},
	} {
		reset := store.SetMigrateFault(fault)
		_, err := store.MigrateLayout(ctx, old, space, false)
		reset()
		if !errors.Is(err, crash) {
			t.Fatalf("migration with a crash: got %v", err)
		}
		if err := store.New(old, store.Options{}).Init(ctx); !errors.Is(err, store.ErrOldLayout) {
			t.Fatalf("Init after a half migration: got %v, want ErrOldLayout", err)
		}
	}
	if _, err := store.MigrateLayout(ctx, old, space, false); err != nil {
		t.Fatalf("second run: %v", err)
	}
	s := store.New(old, store.Options{})
	if err := s.Init(ctx); err != nil {
		t.Fatalf("Init after the migration: %v", err)
	}

	if d, err := s.SupplierDocument(ctx, docID); err != nil || d.ID != docID || d.SupplierID != "SUP-2" {
		t.Errorf("document by id: %+v, %v", d, err)
	}
	if d, err := s.SupplierDocumentByNumber(ctx, "SUP-2", supply.KindAcknowledgement, "ACK-1"); err != nil || d.ID != docID {
		t.Errorf("document by number: %+v, %v", d, err)
	}
	retry := s.NewDocumentID("SUP-2", func() string { return ulid.New("sd_", time.Now()) })
	acc, err := s.AcceptSupplierDocument(ctx, store.DocumentIntake{Doc: ackDoc(retry, "SUP-2", "ACK-1", "PO-000001"), Fingerprint: "fp1"})
	if err != nil || !acc.Replayed || acc.ID != docID {
		t.Errorf("document retry: %+v, %v, want a replay of %s", acc, err, docID)
	}
	if got := old.LRange(ctx, "sdoc:pending:"+tag+":PO-000001", 0, -1).Val(); len(got) != 1 || got[0] != docID {
		t.Errorf("pending list under the supplier's tag: %v", got)
	}

	for _, id := range []string{a, b} {
		if got := old.ZRange(ctx, store.OpenKey(space.TagOf(id), "v1"), 0, -1).Val(); len(got) != 1 || got[0] != id {
			t.Errorf("open set of %s's partition: %v", id, got)
		}
	}
	if n := old.Exists(ctx, "open:v1", "release:plan", "outbox:dead", "outbox:dead:log").Val(); n != 0 {
		t.Errorf("%d old keys left", n)
	}
	if v := old.Get(ctx, "{release}:plan").Val(); v != `{"revision":7}` {
		t.Errorf("release plan: %q", v)
	}
	dl, err := s.Outbox().DeadLetterByID(ctx, dead+"-"+strconv.Itoa(space.Of(a)))
	if err != nil || dl.OrderID != a {
		t.Errorf("dead letter %s-<p>: %+v, %v", dead, dl, err)
	}
	if n := old.XLen(ctx, "outbox:dead:"+space.TagOf(a)).Val(); n != 1 {
		t.Errorf("the dead letter copied by the crashed run and again: %d entries, want 1", n)
	}
	acts, err := s.Outbox().DeadLetterActions(ctx, 10)
	if err != nil || len(acts) != 1 || acts[0].OrderID != b || acts[0].DeadLetterID != "5-0-"+strconv.Itoa(space.Of(b)) {
		t.Errorf("dead-letter actions: %+v, %v", acts, err)
	}
}

// TestMigrateLayoutRefusesCluster: the old data lives on one node; the
// migration renames across slots, which a cluster refuses. It answers
// before talking to Redis (the address is dead).
func TestMigrateLayoutRefusesCluster(t *testing.T) {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer c.Close()
	_, err := store.MigrateLayout(context.Background(), c, partition.MustNew(4), false)
	if erpgate.ErrorCode(err) != erpgate.Invalid || !strings.Contains(err.Error(), "not on a Redis Cluster") {
		t.Fatalf("MigrateLayout on a cluster client: got %v, want Invalid naming the cluster", err)
	}
}

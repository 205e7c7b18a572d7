package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/internal/partition"
	"erpgate/tracking"
)

// MigrateLayout renames the keys of the layout before partitions (see
// layout.go) into this release's layout (the package comment), on a single
// node or the primary of a Sentinel setup: RENAME works there across what
// would be slots on a cluster, and the old data lives on one node anyway.
//
// The old outbox, its retry sets and the old tracking feed must be drained
// (every consumer group with nothing pending and nothing unread): their
// entries are not carried over. Dead letters and their action log are
// copied into their partition's streams, keeping their entry ids. The key
// kinds:
//
//	ord:<id>                     → ord:T(id):<id>; order ids of the old release were not
//	                               drawn into a partition, but every id has one: space.Of(id),
//	                               which is how every read finds an order
//	idem:ext:<shop>:<ext>        → idem:ext:T(Join(shop, ext)):<shop>:<ext>, where a new
//	                               accept of the same external id looks; when the order's own
//	                               partition differs, a copy also under T(id), where an accept
//	                               under the order's id (an Idempotency-Key replay) looks
//	idem:key:<shop>:<key>        "<id> <fp>" → "<id> <fp> <ext>" (the claim format)
//	trk:<id>, trk:dedup:<id>     → trk:T(id):<id>, trk:dedup:T(id):<id>
//	open:<target>                → open:T(id):<target>, split by member
//	sdoc:<id>                    → sdoc:T(id):<id> (old document ids stay; lookups by id find
//	                               them via T(id)); sdoc:idem:, sdoc:list:, sdoc:pending:
//	                               under the supplier's tag
//	release:…, notices, notices:rev, fb:log, fb:count → {release}:…, {notices}, {notices}:rev, {fb}:…
//
// Webhook keys ({trk:wh}:…), rate limits, instances and the FAQ did not
// change. Finally the partition count is recorded (PartitionsKey), which
// lets Init start. Every step is idempotent: a run that stopped half-way
// is finished by running it again. With dryRun nothing is written and the
// report holds what would move.
func MigrateLayout(ctx context.Context, rdb redis.UniversalClient, space partition.Space, dryRun bool) (MigrateReport, error) {
	m := &migration{rdb: rdb, space: space, dry: dryRun, rep: MigrateReport{Counts: map[string]int{}}}
	if _, ok := rdb.(*redis.ClusterClient); ok {
		return m.rep, erpgate.Errorf(erpgate.Invalid, "migrate-layout runs on the single node (or Sentinel primary) the old release used, not on a Redis Cluster: migrate there first, then move the data")
	}
	if err := m.run(ctx); err != nil {
		var e *erpgate.Error
		if !errors.As(err, &e) {
			err = unavailable(err)
		}
		return m.rep, err
	}
	return m.rep, nil
}

// MigrateReport says what MigrateLayout moved (or would move): key counts
// per kind.
type MigrateReport struct {
	Counts map[string]int
	// Done is true when the Redis was in the new layout already.
	Done bool
}

// Kinds returns the report's kinds in a stable order.
func (r MigrateReport) Kinds() []string {
	ks := make([]string, 0, len(r.Counts))
	for k := range r.Counts {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

type migration struct {
	rdb   redis.UniversalClient
	space partition.Space
	dry   bool
	rep   MigrateReport
}

// Old-layout key names that the new layout has no more.
const (
	oldOutbox  = "outbox"
	oldFeed    = "trk:feed"
	oldDead    = "outbox:dead"
	oldDeadLog = "outbox:dead:log"
)

// DrainHint is what an operator does when the old streams are not drained.
const DrainHint = "run the old release until /admin/outbox shows nothing undelivered (and no parked retries), then stop it and migrate"

func (m *migration) run(ctx context.Context) error {
	want := strconv.Itoa(m.space.N())
	got, err := m.rdb.Get(ctx, PartitionsKey).Result()
	switch {
	case err == nil && got != want:
		return erpgate.Errorf(erpgate.Invalid, "this Redis records %s partitions; migrate with --partitions %s", got, got)
	case err == nil:
		if k, err := oldLayoutKey(ctx, m.rdb); err != nil || k == "" {
			m.rep.Done = true
			return err
		}
	case !errors.Is(err, redis.Nil):
		return err
	}
	if err := m.checkDrained(ctx); err != nil {
		return err
	}
	if !m.dry {
		if err := m.rdb.Set(ctx, migratingKey, "1", 0).Err(); err != nil {
			return err
		}
	}
	steps := []func(context.Context) error{
		m.orders, m.extRecords, m.keyClaims, m.timelines, m.openSets, m.supplierDocs,
		m.globals, m.deadLetters,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	if m.dry {
		return nil
	}
	// The drained streams go last: until then a re-run still sees the old layout.
	retries, err := m.scan(ctx, "outbox:retry:*", func(k string) bool { return !strings.HasPrefix(k, "outbox:retry:{") })
	if err != nil {
		return err
	}
	_, err = m.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, append(retries, oldOutbox, oldFeed, oldDead, oldDeadLog)...)
		p.Set(ctx, PartitionsKey, want, 0)
		p.Del(ctx, migratingKey)
		return nil
	})
	return err
}

// checkDrained refuses unless every consumer group of the old outbox and
// feed has read everything and has nothing pending, and no retry is parked.
func (m *migration) checkDrained(ctx context.Context) error {
	for _, stream := range []string{oldOutbox, oldFeed} {
		n, err := m.rdb.Exists(ctx, stream).Result()
		if err != nil || n == 0 {
			if err != nil {
				return err
			}
			continue
		}
		info, err := m.rdb.XInfoStream(ctx, stream).Result()
		if err != nil {
			return err
		}
		groups, err := m.rdb.XInfoGroups(ctx, stream).Result()
		if err != nil {
			return err
		}
		for _, g := range groups {
			if g.Pending > 0 || streamIDLess(g.LastDeliveredID, info.LastGeneratedID) {
				return erpgate.Errorf(erpgate.Invalid,
					"%s: consumer group %s has %d pending and last read %s of %s: not drained; %s",
					stream, g.Name, g.Pending, g.LastDeliveredID, info.LastGeneratedID, DrainHint)
			}
		}
	}
	retries, err := m.scan(ctx, "outbox:retry:*", func(k string) bool { return !strings.HasPrefix(k, "outbox:retry:{") })
	if err != nil {
		return err
	}
	for _, k := range retries {
		if n, err := m.rdb.ZCard(ctx, k).Result(); err != nil || n > 0 {
			if err != nil {
				return err
			}
			return erpgate.Errorf(erpgate.Invalid, "%s holds %d parked retries: not drained; %s", k, n, DrainHint)
		}
	}
	return nil
}

// streamIDLess compares stream ids "ms-seq".
func streamIDLess(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	ami, _ := strconv.ParseUint(am, 10, 64)
	bmi, _ := strconv.ParseUint(bm, 10, 64)
	if ami != bmi {
		return ami < bmi
	}
	asi, _ := strconv.ParseUint(as, 10, 64)
	bsi, _ := strconv.ParseUint(bs, 10, 64)
	return asi < bsi
}

// scan returns the keys matching pattern that keep passes.
func (m *migration) scan(ctx context.Context, pattern string, keep func(string) bool) ([]string, error) {
	var out []string
	var cursor uint64
	for {
		keys, next, err := m.rdb.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if keep(k) {
				out = append(out, k)
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// untagged keeps the keys whose part after prefix has no hash tag.
func untagged(prefix string) func(string) bool {
	return func(k string) bool { return !strings.HasPrefix(k[len(prefix):], "{") }
}

// migrateFault, when set (tests), is asked before every rename and every
// copied dead letter, with its kind, and stops the migration with its
// error: a crash half-way.
var migrateFault func(kind string) error

// rename moves from to to (counted under kind). A key moved by an earlier
// run is gone, so a re-run skips it.
func (m *migration) rename(ctx context.Context, kind, from, to string) error {
	m.rep.Counts[kind]++
	if m.dry {
		return nil
	}
	if migrateFault != nil {
		if err := migrateFault(kind); err != nil {
			return err
		}
	}
	err := m.rdb.Rename(ctx, from, to).Err()
	if err != nil && strings.Contains(err.Error(), "no such key") {
		return nil
	}
	return err
}

// renameAll renames every key matching prefix+"*" that keep passes to
// to(rest), rest being the key without prefix.
func (m *migration) renameAll(ctx context.Context, kind, prefix string, keep func(string) bool, to func(rest string) string) error {
	keys, err := m.scan(ctx, prefix+"*", keep)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := m.rename(ctx, kind, k, to(k[len(prefix):])); err != nil {
			return err
		}
	}
	return nil
}

// orderField reads a field of order id's record, moved or not.
func (m *migration) orderField(ctx context.Context, id, field string) (string, error) {
	for _, k := range []string{orderKeyIn(m.space.TagOf(id), id), "ord:" + id} {
		v, err := m.rdb.HGet(ctx, k, field).Result()
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, redis.Nil) {
			return "", err
		}
	}
	return "", nil
}

func (m *migration) orders(ctx context.Context) error {
	return m.renameAll(ctx, "orders", "ord:", untagged("ord:"), func(id string) string { return orderKeyIn(m.space.TagOf(id), id) })
}

func (m *migration) extRecords(ctx context.Context) error {
	keys, err := m.scan(ctx, "idem:ext:*", untagged("idem:ext:"))
	if err != nil {
		return err
	}
	for _, k := range keys {
		shop, ext, ok := strings.Cut(k[len("idem:ext:"):], ":")
		if !ok {
			continue
		}
		v, err := m.rdb.Get(ctx, k).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return err
		}
		id, _, _ := strings.Cut(v, " ")
		// The order's own partition, where an accept under its id (an
		// Idempotency-Key replay: claim.go) looks for the record.
		if own := m.space.TagOf(id); own != m.space.TagOf(partition.Join(shop, ext)) && !m.dry {
			if err := m.rdb.Set(ctx, extKeyIn(own, shop, ext), v, 0).Err(); err != nil {
				return err
			}
		}
		if err := m.rename(ctx, "external-id records", k, extKeyIn(m.space.TagOf(partition.Join(shop, ext)), shop, ext)); err != nil {
			return err
		}
	}
	return nil
}

func (m *migration) keyClaims(ctx context.Context) error {
	keys, err := m.scan(ctx, "idem:key:*", func(string) bool { return true })
	if err != nil {
		return err
	}
	for _, k := range keys {
		v, err := m.rdb.Get(ctx, k).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return err
		}
		if strings.Count(v, " ") != 1 {
			continue // a claim already
		}
		id, _, _ := strings.Cut(v, " ")
		ext, err := m.orderField(ctx, id, "ext")
		if err != nil {
			return err
		}
		if ext == "" {
			return fmt.Errorf("idempotency record %s names order %s, which has no record", k, id)
		}
		m.rep.Counts["Idempotency-Key records"]++
		if !m.dry {
			if err := m.rdb.Set(ctx, k, v+" "+ext, 0).Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *migration) timelines(ctx context.Context) error {
	err := m.renameAll(ctx, "timeline dedup sets", "trk:dedup:", untagged("trk:dedup:"),
		func(id string) string { return tracking.DedupKey(m.space.TagOf(id), id) })
	if err != nil {
		return err
	}
	timeline := func(k string) bool {
		return untagged("trk:")(k) && k != oldFeed && !strings.HasPrefix(k, "trk:dedup:") && !strings.HasPrefix(k, "trk:feed:")
	}
	return m.renameAll(ctx, "timelines", "trk:", timeline, func(id string) string { return tracking.StreamKey(m.space.TagOf(id), id) })
}

func (m *migration) openSets(ctx context.Context) error {
	keys, err := m.scan(ctx, "open:*", untagged("open:"))
	if err != nil {
		return err
	}
	for _, k := range keys {
		target := k[len("open:"):]
		zs, err := m.rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
		if err != nil {
			return err
		}
		m.rep.Counts["open-order sets"]++
		if m.dry {
			continue
		}
		// One transaction: the members move and the old set goes at once.
		_, err = m.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, z := range zs {
				id, _ := z.Member.(string)
				p.ZAdd(ctx, OpenKey(m.space.TagOf(id), target), z)
			}
			p.Del(ctx, k)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (m *migration) supplierDocs(ctx context.Context) error {
	// The pending lists first: their documents' records name the supplier.
	pending, err := m.scan(ctx, "sdoc:pending:*", untagged("sdoc:pending:"))
	if err != nil {
		return err
	}
	for _, k := range pending {
		ids, err := m.rdb.LRange(ctx, k, 0, 0).Result()
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			continue
		}
		supplier := ""
		for _, dk := range []string{"sdoc:" + ids[0], docKeyIn(m.space.TagOf(ids[0]), ids[0])} {
			if supplier, err = m.rdb.HGet(ctx, dk, "supplier").Result(); err == nil {
				break
			}
		}
		if supplier == "" {
			return fmt.Errorf("%s names document %s, which has no record", k, ids[0])
		}
		if err := m.rename(ctx, "supplier documents", k, docPendingKey(m.space.TagOf(supplier), k[len("sdoc:pending:"):])); err != nil {
			return err
		}
	}
	for _, pre := range []string{"sdoc:idem:", "sdoc:list:"} {
		// kind|supplier[|docid]: under the supplier's tag.
		err := m.renameAll(ctx, "supplier documents", pre, untagged(pre), func(rest string) string {
			parts := strings.SplitN(rest, "|", 3)
			return pre + m.space.TagOf(parts[min(1, len(parts)-1)]) + ":" + rest
		})
		if err != nil {
			return err
		}
	}
	doc := func(k string) bool {
		rest := k[len("sdoc:"):]
		return !strings.HasPrefix(rest, "{") && !strings.Contains(rest, ":")
	}
	return m.renameAll(ctx, "supplier documents", "sdoc:", doc, func(id string) string { return docKeyIn(m.space.TagOf(id), id) })
}

// globals moves the release, notice and feedback keys under their tags.
func (m *migration) globals(ctx context.Context) error {
	err := m.renameAll(ctx, "release keys", "release:", func(string) bool { return true }, func(rest string) string { return "{release}:" + rest })
	if err != nil {
		return err
	}
	for from, to := range map[string]string{
		"notices": noticesKey, "notices:rev": noticesRevKey, "fb:log": feedbackLogKey, "fb:count": feedbackCountKey,
	} {
		n, err := m.rdb.Exists(ctx, from).Result()
		if err != nil {
			return err
		}
		if n > 0 {
			if err := m.rename(ctx, "notices and feedback", from, to); err != nil {
				return err
			}
		}
	}
	return nil
}

// deadLetters copies the old dead letters and their action log into the
// streams of their order's (or document's) partition, keeping the entry
// ids: a dead letter "<ms>-<seq>" of the old release is "<ms>-<seq>-<p>"
// now. Entries a previous run copied already are skipped.
func (m *migration) deadLetters(ctx context.Context) error {
	for _, c := range []struct {
		from, kind string
		to         func(tag string) string
	}{{oldDead, "dead letters", deadKey}, {oldDeadLog, "dead-letter actions", deadLogKey}} {
		xs, err := m.rdb.XRange(ctx, c.from, "-", "+").Result()
		if err != nil {
			return err
		}
		for _, x := range xs {
			id, _ := x.Values["id"].(string)
			if id == "" {
				continue
			}
			m.rep.Counts[c.kind]++
			if m.dry {
				continue
			}
			if migrateFault != nil {
				if err := migrateFault(c.kind); err != nil {
					return err
				}
			}
			if c.from == oldDeadLog {
				if d, _ := x.Values["dead"].(string); strings.Count(d, "-") == 1 {
					x.Values["dead"] = deadID(m.space.Of(id), d)
				}
				if _, ok := x.Values["ns"]; !ok {
					at, _ := x.Values["at"].(string)
					ms, _ := strconv.ParseInt(at, 10, 64)
					x.Values["ns"] = strconv.FormatInt(ms*1e6, 10)
				}
			}
			err := m.rdb.XAdd(ctx, &redis.XAddArgs{Stream: c.to(m.space.TagOf(id)), ID: x.ID, Values: x.Values}).Err()
			if err != nil && !strings.Contains(err.Error(), "equal or smaller") {
				return err
			}
		}
	}
	return nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
	"erpgate/internal/streamgroup"
)

// Outbox is the outbox stream with one consumer group per ERP target. It
// implements erp.Outbox for the delivery workers and offers operators depth,
// dead letters, replay and trimming. Errors are *erpgate.Error: Unavailable
// when Redis fails, Invalid for an unknown target or id.
type Outbox struct {
	s *Store

	mu      sync.Mutex
	cursors map[string]string // XAUTOCLAIM cursor per group+consumer

	results resultBatcher // group commit of Store.SetResult (outbox_delivery.go)
}

var (
	_ erp.Outbox  = (*Outbox)(nil)
	_ erp.Adopter = (*Outbox)(nil)
)

// Read returns up to count new entries of target's group for consumer,
// waiting up to block for the first (block must be positive: go-redis reads 0
// as "forever").
func (b *Outbox) Read(ctx context.Context, target, consumer string, count int, block time.Duration) ([]erp.Message, error) {
	res, err := b.s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: group(target), Consumer: consumer, Streams: []string{outboxKey, ">"},
		Count: int64(count), Block: max(block, time.Millisecond),
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(err)
	}
	var out []erp.Message
	for _, st := range res {
		for _, x := range st.Messages {
			out = append(out, message(x.ID, x.Values, 1))
		}
	}
	return out, nil
}

// Due claims for consumer up to count parked entries of target's group whose
// due time is not after now, oldest due first, and counts the delivery.
func (b *Outbox) Due(ctx context.Context, target, consumer string, now time.Time, count int) ([]erp.Message, error) {
	v, err := dueScript.Run(ctx, b.s.rdb, []string{outboxKey, retryKey(target)},
		group(target), consumer, now.UnixMilli(), count, parking).Slice()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]erp.Message, 0, len(v))
	for _, e := range v {
		t, ok := e.([]any)
		if !ok || len(t) != 3 {
			return nil, erpgate.Wrap(erpgate.Internal, fmt.Errorf("due script returned %v", e), "internal error")
		}
		id, _ := t[0].(string)
		n, _ := t[2].(int64)
		out = append(out, message(id, fieldMap(t[1]), n))
	}
	return out, nil
}

// Reclaim claims for consumer up to count entries of target's group pending
// for at least minIdle (XAUTOCLAIM): entries whose consumer died. It walks
// the pending list with a cursor across calls, so a crowd of young pending
// entries at its head cannot hide old ones behind it.
func (b *Outbox) Reclaim(ctx context.Context, target, consumer string, minIdle time.Duration, count int) ([]erp.Message, error) {
	ck := group(target) + " " + consumer
	b.mu.Lock()
	start := b.cursors[ck]
	b.mu.Unlock()
	if start == "" {
		start = "0-0"
	}
	msgs, next, err := b.s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: outboxKey, Group: group(target), Consumer: consumer,
		MinIdle: minIdle, Start: start, Count: int64(count),
	}).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	b.mu.Lock()
	b.cursors[ck] = next
	b.mu.Unlock()
	if len(msgs) == 0 {
		return nil, nil
	}
	// XAUTOCLAIM does not say how often an entry was delivered; ask XPENDING.
	cmds := make([]*redis.XPendingExtCmd, len(msgs))
	_, err = b.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range msgs {
			cmds[i] = p.XPendingExt(ctx, &redis.XPendingExtArgs{
				Stream: outboxKey, Group: group(target), Start: m.ID, End: m.ID, Count: 1,
			})
		}
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]erp.Message, 0, len(msgs))
	for i, m := range msgs {
		n := int64(2) // reclaimed: delivered at least once before
		if p := cmds[i].Val(); len(p) == 1 {
			n = p[0].RetryCount
		}
		out = append(out, message(m.ID, m.Values, n))
	}
	return out, nil
}

// Holders returns the consumers of target's group that hold pending entries
// (the parking consumer included).
func (b *Outbox) Holders(ctx context.Context, target string) ([]string, error) {
	hs, err := streamgroup.Holders(ctx, b.s.rdb, outboxKey, group(target))
	if err != nil {
		return nil, unavailable(err)
	}
	return hs, nil
}

// Adopt claims for consumer up to count entries of target's group pending
// for from and idle for at least minIdle, oldest first, counting a delivery
// each: the entries of a dead instance's consumer, or a restarted
// instance's own.
func (b *Outbox) Adopt(ctx context.Context, target, from, consumer string, minIdle time.Duration, count int) ([]erp.Message, error) {
	cs, err := streamgroup.Claim(ctx, b.s.rdb, outboxKey, group(target), from, consumer, minIdle, count)
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]erp.Message, len(cs))
	for i, c := range cs {
		out[i] = message(c.ID, c.Values, c.Deliveries)
	}
	return out, nil
}

// Touch resets the idle time of the entries among ids that consumer still
// holds, without counting a delivery, and returns their ids. An entry another
// consumer took over, or one no longer pending, is left out.
func (b *Outbox) Touch(ctx context.Context, target, consumer string, ids ...string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 2+len(ids))
	args = append(args, group(target), consumer)
	for _, id := range ids {
		args = append(args, id)
	}
	kept, err := touchScript.Run(ctx, b.s.rdb, []string{outboxKey}, args...).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	return kept, nil
}

// Defer parks pending entry id of target's group until due: it is moved to
// the "_backoff" pseudo-consumer with its delivery counter set to deliveries,
// and scheduled in outbox:retry:<target>. An entry that is no longer pending
// (another worker acknowledged it) is left alone.
func (b *Outbox) Defer(ctx context.Context, target, id string, due time.Time, deliveries int64) error {
	err := deferScript.Run(ctx, b.s.rdb, []string{outboxKey, retryKey(target)},
		group(target), id, due.UnixMilli(), max(deliveries, 0), parking).Err()
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// Ack acknowledges entries of target's group.
func (b *Outbox) Ack(ctx context.Context, target string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := b.s.rdb.XAck(ctx, outboxKey, group(target), ids...).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// DeadLetter acknowledges m in target's group and appends it to outbox:dead
// with reason, in one step. If m was no longer pending, nothing happens.
func (b *Outbox) DeadLetter(ctx context.Context, target string, m erp.Message, reason string) error {
	at := ""
	if !m.At.IsZero() {
		at = strconv.FormatInt(m.At.UnixMilli(), 10)
	}
	err := deadScript.Run(ctx, b.s.rdb, []string{outboxKey, deadKey},
		group(target), m.ID, m.Type, m.OrderID, target, reason, m.Deliveries, at, b.s.now().UnixMilli()).Err()
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// DeadLetter is an entry of the dead-letter stream.
type DeadLetter struct {
	ID         string    // dead-letter stream id (what Replay takes)
	Type       string    // message type
	OrderID    string    // the order
	Target     string    // the target that gave up
	Reason     string    // why (operator-facing)
	Deliveries int64     // deliveries made
	Entry      string    // the original outbox entry id
	At         time.Time // when the order was accepted
	DeadAt     time.Time // when it was dead-lettered
}

// DeadLetters returns up to count dead letters, oldest first, starting after
// the dead-letter id after ("" = from the start).
func (b *Outbox) DeadLetters(ctx context.Context, after string, count int64) ([]DeadLetter, error) {
	start := "-"
	if after != "" {
		start = "(" + after
	}
	xs, err := b.s.rdb.XRangeN(ctx, deadKey, start, "+", count).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]DeadLetter, 0, len(xs))
	for _, x := range xs {
		out = append(out, deadLetterOf(x))
	}
	return out, nil
}

// deadLetterOf decodes an entry of the dead-letter stream.
func deadLetterOf(x redis.XMessage) DeadLetter {
	f := func(k string) string { s, _ := x.Values[k].(string); return s }
	n, _ := strconv.ParseInt(f("deliveries"), 10, 64)
	return DeadLetter{
		ID: x.ID, Type: f("type"), OrderID: f("id"), Target: f("target"), Reason: f("reason"),
		Deliveries: n, Entry: f("entry"), At: msTime(f("at")), DeadAt: msTime(f("dead_at")),
	}
}

// DeadLetterCount returns the length of the dead-letter stream.
func (b *Outbox) DeadLetterCount(ctx context.Context) (int64, error) {
	n, err := b.s.rdb.XLen(ctx, deadKey).Result()
	if err != nil {
		return 0, unavailable(err)
	}
	return n, nil
}

// Replay puts dead letters back on the outbox for target only: each becomes a
// new outbox entry with only=<target>, which target's group delivers and every
// other group acknowledges unseen, and leaves the dead-letter stream (should
// it fail again it is dead-lettered again). With no deadIDs it replays every
// dead letter that target gave up on. It returns how many were replayed;
// unknown ids are skipped. Errors: Invalid for an unknown target, Unavailable.
func (b *Outbox) Replay(ctx context.Context, target string, deadIDs ...string) (int, error) {
	if !slices.Contains(b.s.targets, target) {
		return 0, erpgate.Errorf(erpgate.Invalid, "unknown target %q", target)
	}
	if len(deadIDs) == 0 {
		after := ""
		for {
			page, err := b.DeadLetters(ctx, after, 500)
			if err != nil {
				return 0, err
			}
			for _, d := range page {
				if d.Target == target {
					deadIDs = append(deadIDs, d.ID)
				}
			}
			if len(page) < 500 {
				break
			}
			after = page[len(page)-1].ID
		}
	}
	n := 0
	for _, id := range deadIDs {
		err := replayScript.Run(ctx, b.s.rdb, []string{deadKey, outboxKey}, id, target).Err()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), "Invalid stream ID") {
				return n, erpgate.Errorf(erpgate.Invalid, "invalid dead-letter id %q", id)
			}
			return n, unavailable(err)
		}
		n++
	}
	return n, nil
}

// GroupStats is the state of one target's consumer group.
type GroupStats struct {
	Target    string
	Consumers int64 // consumers known to the group (including "_backoff")
	Pending   int64 // delivered but not acknowledged (in flight or deferred)
	// Lag is how many entries were not yet delivered to any consumer:
	// counted up to 10,000, beyond that Redis's lag bounded by the
	// outbox's length (Redis's lag alone can be NULL or stale; see
	// docs/recovery.md).
	Lag int64
	// Oldest is the age of the oldest entry the group has not acknowledged
	// (pending or not yet delivered); zero when there is none.
	Oldest time.Duration
}

// lagCap bounds the count of undelivered entries; beyond it Stats falls back
// on Redis's lag, bounded by the outbox's length (streamgroup.Unread).
const lagCap = 10000

// Stats returns the state of every target's group, in target order. A group
// that does not exist (yet) is reported empty.
func (b *Outbox) Stats(ctx context.Context) ([]GroupStats, error) {
	groups, err := b.s.rdb.XInfoGroups(ctx, outboxKey).Result()
	if err != nil && !strings.Contains(err.Error(), "no such key") {
		return nil, unavailable(err)
	}
	byName := make(map[string]redis.XInfoGroup, len(groups))
	for _, g := range groups {
		byName[g.Name] = g
	}
	now := b.s.now()
	out := make([]GroupStats, 0, len(b.s.targets))
	for _, t := range b.s.targets {
		st := GroupStats{Target: t}
		g, ok := byName[group(t)]
		if !ok {
			out = append(out, st)
			continue
		}
		st.Consumers, st.Pending = g.Consumers, g.Pending
		var oldest string
		if g.Pending > 0 {
			p, err := b.s.rdb.XPending(ctx, outboxKey, group(t)).Result()
			if err != nil {
				return nil, unavailable(err)
			}
			oldest = p.Lower
		}
		// Redis's lag is unreliable (NULL, or stale after an AOF reload):
		// count the entries after the last delivered one (streamgroup.Unread).
		// The first of them may be older than every pending one.
		lag, next, err := streamgroup.Unread(ctx, b.s.rdb, outboxKey, g, lagCap)
		if err != nil {
			return nil, unavailable(err)
		}
		st.Lag = lag
		if next != "" && (oldest == "" || idLess(next, oldest)) {
			oldest = next
		}
		if oldest != "" {
			st.Oldest = max(now.Sub(idTime(oldest)), 0)
		}
		out = append(out, st)
	}
	return out, nil
}

// TrimResult says what a Trim did.
type TrimResult struct {
	MinID   string // entries below this id were removed ("" if nothing could be decided)
	Trimmed int64  // entries removed
}

// Trim removes outbox entries every consumer group has acknowledged: those
// below the oldest entry any group still needs (its oldest pending entry, or
// the first it has not been delivered). It considers every group on the
// stream, configured or not, and decides and trims in one atomic step.
func (b *Outbox) Trim(ctx context.Context) (TrimResult, error) {
	v, err := trimScript.Run(ctx, b.s.rdb, []string{outboxKey}).Slice()
	if err != nil {
		return TrimResult{}, unavailable(err)
	}
	if len(v) != 2 {
		return TrimResult{}, erpgate.Wrap(erpgate.Internal, fmt.Errorf("trim script returned %v", v), "internal error")
	}
	id, _ := v[0].(string)
	n, _ := v[1].(int64)
	return TrimResult{MinID: id, Trimmed: n}, nil
}

// PruneConsumers deletes consumers of every target's group that hold no
// pending entry and have been idle for at least idle. Every process start
// names new consumers, so without this they pile up. It returns how many were
// deleted.
func (b *Outbox) PruneConsumers(ctx context.Context, idle time.Duration) (int64, error) {
	var n int64
	for _, t := range b.s.targets {
		d, err := pruneScript.Run(ctx, b.s.rdb, []string{outboxKey}, group(t), idle.Milliseconds(), parking).Int64()
		if err != nil {
			if strings.Contains(err.Error(), "no such key") || strings.Contains(err.Error(), "NOGROUP") {
				continue
			}
			return n, unavailable(err)
		}
		n += d
	}
	return n, nil
}

// consumerIdleLimit is how long an empty consumer must have been idle before
// RunTrimmer deletes it.
const consumerIdleLimit = 24 * time.Hour

// RunTrimmer trims the outbox (Trim) and prunes long-idle empty consumers
// every interval until ctx is done. Several gateway instances may run it at
// once: each step is atomic and idempotent. Failures are logged and retried
// at the next tick. It returns nil when ctx is done.
func (b *Outbox) RunTrimmer(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return erpgate.Errorf(erpgate.Internal, "trim interval must be positive")
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if r, err := b.Trim(ctx); err != nil {
			if ctx.Err() == nil {
				b.s.log.Error("outbox trim failed", "err", err)
			}
		} else if r.Trimmed > 0 {
			b.s.log.Debug("outbox trimmed", "below", r.MinID, "entries", r.Trimmed)
		}
		if _, err := b.PruneConsumers(ctx, consumerIdleLimit); err != nil && ctx.Err() == nil {
			b.s.log.Error("outbox consumer pruning failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// message builds an erp.Message from an entry's fields.
func message(id string, f map[string]any, deliveries int64) erp.Message {
	s := func(k string) string { v, _ := f[k].(string); return v }
	at := msTime(s("at"))
	if at.IsZero() {
		at = idTime(id)
	}
	return erp.Message{ID: id, Type: s("type"), OrderID: s("id"), Only: s("only"), At: at, Deliveries: deliveries}
}

// fieldMap turns a Lua-returned flat field list into a map.
func fieldMap(v any) map[string]any {
	l, _ := v.([]any)
	m := make(map[string]any, len(l)/2)
	for i := 0; i+1 < len(l); i += 2 {
		if k, ok := l[i].(string); ok {
			m[k] = l[i+1]
		}
	}
	return m
}

func msTime(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// parseID splits a stream id "<ms>-<seq>".
func parseID(id string) (ms, seq uint64) {
	a, b, _ := strings.Cut(id, "-")
	ms, _ = strconv.ParseUint(a, 10, 64)
	seq, _ = strconv.ParseUint(b, 10, 64)
	return ms, seq
}

func idTime(id string) time.Time {
	ms, _ := parseID(id)
	return time.UnixMilli(int64(ms))
}

func idLess(a, b string) bool {
	am, as := parseID(a)
	bm, bs := parseID(b)
	return am < bm || am == bm && as < bs
}

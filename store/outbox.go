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

// Outbox is the outbox: one stream per partition (outbox:T), and on each
// one consumer group per ERP target. It implements erp.Outbox for the
// delivery workers, through one streamgroup.Group per target, and offers
// operators depth, dead letters, replay and trimming over every partition.
// Errors are *erpgate.Error: Unavailable when Redis fails, Invalid for an
// unknown target or id.
type Outbox struct {
	s      *Store
	groups map[string]*streamgroup.Group // by target

	mu      sync.Mutex
	cursors map[string]string // XAUTOCLAIM cursor per target, partition and consumer

	results resultBatcher // group commit of Store.SetResult (outbox_delivery.go)
}

var (
	_ erp.Outbox  = (*Outbox)(nil)
	_ erp.Adopter = (*Outbox)(nil)
)

func newOutbox(s *Store) *Outbox {
	b := &Outbox{s: s, groups: make(map[string]*streamgroup.Group), cursors: make(map[string]string)}
	n := s.space.N()
	for _, t := range s.targets {
		cfg := streamgroup.Config{Name: group(t), Streams: make([]string, n), Parked: make([]string, n), Dead: make([]string, n)}
		for p := range n {
			tag := s.space.Tag(p)
			cfg.Streams[p], cfg.Parked[p], cfg.Dead[p] = outboxKey(tag), retryKey(tag, t), deadKey(tag)
		}
		b.groups[t] = streamgroup.New(s.rdb, cfg)
	}
	return b
}

// group returns target's group; an unknown target is a caller bug.
func (b *Outbox) group(target string) (*streamgroup.Group, error) {
	g := b.groups[target]
	if g == nil {
		return nil, erpgate.Errorf(erpgate.Invalid, "unknown target %q", target)
	}
	return g, nil
}

// Partitions returns the number of partitions (outbox streams).
func (b *Outbox) Partitions() int { return b.s.space.N() }

// messages turns entries into messages.
func messages(es []streamgroup.Entry) []erp.Message {
	if len(es) == 0 {
		return nil
	}
	out := make([]erp.Message, len(es))
	for i, e := range es {
		out[i] = message(e.Part, e.ID, e.Values, e.Deliveries)
	}
	return out
}

// Read returns up to count new entries of partition part for target's
// group, now pending for consumer, waiting up to block for the first
// (block ≤ 0: not at all).
func (b *Outbox) Read(ctx context.Context, target, consumer string, part, count int, block time.Duration) ([]erp.Message, error) {
	g, err := b.group(target)
	if err != nil {
		return nil, err
	}
	es, err := g.Read(ctx, part, consumer, count, block)
	if err != nil {
		return nil, unavailable(err)
	}
	return messages(es), nil
}

// Due claims for consumer up to count parked entries of partition part for
// target's group whose due time is not after now, oldest due first, and
// counts the delivery.
func (b *Outbox) Due(ctx context.Context, target, consumer string, part int, now time.Time, count int) ([]erp.Message, error) {
	g, err := b.group(target)
	if err != nil {
		return nil, err
	}
	es, err := g.Due(ctx, part, consumer, now, count)
	if err != nil {
		return nil, unavailable(err)
	}
	return messages(es), nil
}

// Reclaim claims for consumer up to count entries of partition part for
// target's group pending for at least minIdle (XAUTOCLAIM): entries whose
// consumer died. It walks the pending list with a cursor across calls, so a
// crowd of young pending entries at its head cannot hide old ones behind it.
func (b *Outbox) Reclaim(ctx context.Context, target, consumer string, part int, minIdle time.Duration, count int) ([]erp.Message, error) {
	g, err := b.group(target)
	if err != nil {
		return nil, err
	}
	ck := target + " " + strconv.Itoa(part) + " " + consumer
	b.mu.Lock()
	start := b.cursors[ck]
	b.mu.Unlock()
	if start == "" {
		start = "0-0"
	}
	es, next, err := g.AutoClaim(ctx, part, consumer, minIdle, start, count)
	if err != nil {
		return nil, unavailable(err)
	}
	b.mu.Lock()
	b.cursors[ck] = next
	b.mu.Unlock()
	return messages(es), nil
}

// Holders returns the consumers of target's group on partition part that
// hold pending entries (the parking consumer included).
func (b *Outbox) Holders(ctx context.Context, target string, part int) ([]string, error) {
	g, err := b.group(target)
	if err != nil {
		return nil, err
	}
	hs, err := g.Holders(ctx, part)
	if err != nil {
		return nil, unavailable(err)
	}
	return hs, nil
}

// Adopt claims for consumer up to count entries of partition part for
// target's group pending for from and idle for at least minIdle, oldest
// first, counting a delivery each: the entries of a dead instance's
// consumer, or a restarted instance's own.
func (b *Outbox) Adopt(ctx context.Context, target string, part int, from, consumer string, minIdle time.Duration, count int) ([]erp.Message, error) {
	g, err := b.group(target)
	if err != nil {
		return nil, err
	}
	es, err := g.Claim(ctx, part, from, consumer, minIdle, count)
	if err != nil {
		return nil, unavailable(err)
	}
	return messages(es), nil
}

// Touch resets the idle time of the entries of partition part among ids
// that consumer still holds, without counting a delivery, and returns their
// ids. An entry another consumer took over, or one no longer pending, is
// left out.
func (b *Outbox) Touch(ctx context.Context, target, consumer string, part int, ids ...string) ([]string, error) {
	g, err := b.group(target)
	if err != nil {
		return nil, err
	}
	kept, err := g.Touch(ctx, part, consumer, ids...)
	if err != nil {
		return nil, unavailable(err)
	}
	return kept, nil
}

// Defer parks pending entry m of target's group until due: it is moved to
// the "_backoff" pseudo-consumer with its delivery counter set to
// deliveries, and scheduled in outbox:retry:T:<target>. An entry that is no
// longer pending (another worker acknowledged it) is left alone.
func (b *Outbox) Defer(ctx context.Context, target string, m erp.Message, due time.Time, deliveries int64) error {
	g, err := b.group(target)
	if err != nil {
		return err
	}
	if err := g.Defer(ctx, m.Part, m.ID, due, deliveries); err != nil {
		return unavailable(err)
	}
	return nil
}

// Ack acknowledges entries of partition part for target's group.
func (b *Outbox) Ack(ctx context.Context, target string, part int, ids ...string) error {
	g, err := b.group(target)
	if err != nil {
		return err
	}
	if err := g.Ack(ctx, part, ids...); err != nil {
		return unavailable(err)
	}
	return nil
}

// DeadLetter acknowledges m in target's group and appends it to its
// partition's dead-letter stream with reason, in one step. If m was no
// longer pending, nothing happens.
func (b *Outbox) DeadLetter(ctx context.Context, target string, m erp.Message, reason string) error {
	g, err := b.group(target)
	if err != nil {
		return err
	}
	at := ""
	if !m.At.IsZero() {
		at = strconv.FormatInt(m.At.UnixMilli(), 10)
	}
	_, _, err = g.DeadLetter(ctx, m.Part, m.ID, "type", m.Type, "id", m.OrderID, "target", target, "reason", reason,
		"deliveries", strconv.FormatInt(m.Deliveries, 10), "at", at, "dead_at", strconv.FormatInt(b.s.now().UnixMilli(), 10))
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// DeadLetter is an entry of a dead-letter stream.
type DeadLetter struct {
	// ID names the dead letter for operators (what Replay takes):
	// "<ms>-<seq>-<partition>", its id in its partition's dead-letter
	// stream and the partition. It never changes.
	ID         string
	Type       string    // message type
	OrderID    string    // the order
	Target     string    // the target that gave up
	Reason     string    // why (operator-facing)
	Deliveries int64     // deliveries made
	Entry      string    // the original outbox entry id (in the same partition)
	At         time.Time // when the order was accepted
	DeadAt     time.Time // when it was dead-lettered
}

// deadID is the operator-facing id of dead-letter stream entry id of
// partition p.
func deadID(p int, id string) string { return id + "-" + strconv.Itoa(p) }

// parseDeadID splits an operator-facing dead-letter id; ok is false when it
// is malformed or names no partition of space.
func (b *Outbox) parseDeadID(id string) (p int, streamID string, ok bool) {
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return 0, "", false
	}
	p, err := strconv.Atoi(id[i+1:])
	if err != nil || p < 0 || p >= b.s.space.N() || !validStreamID(id[:i]) || id[i+1:] != strconv.Itoa(p) {
		return 0, "", false
	}
	return p, id[:i], true
}

// deadLess orders dead letters (and their log entries) across partitions:
// by stream id, then partition.
func deadLess(ap int, a string, bp int, b string) bool {
	if a == b {
		return ap < bp
	}
	return idLess(a, b)
}

// DeadLetters returns up to count dead letters of every partition, oldest
// first, starting after the dead-letter id after ("" = from the start).
func (b *Outbox) DeadLetters(ctx context.Context, after string, count int64) ([]DeadLetter, error) {
	ap, aid := -1, ""
	if after != "" {
		var ok bool
		if ap, aid, ok = b.parseDeadID(after); !ok {
			return nil, erpgate.Errorf(erpgate.Invalid, "invalid dead-letter id %q", after)
		}
	}
	n := b.s.space.N()
	cmds := make([]*redis.XMessageSliceCmd, n)
	_, err := b.s.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for p := range n {
			start := "-"
			switch {
			case aid == "":
			case p > ap:
				start = aid // the same stream id sorts after `after` in a later partition
			default:
				start = "(" + aid
			}
			cmds[p] = pl.XRangeN(ctx, deadKey(b.s.space.Tag(p)), start, "+", count)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	out := []DeadLetter{}
	for _, e := range merged(cmds, count, func(a, b partEntry) bool { return deadLess(a.p, a.x.ID, b.p, b.x.ID) }) {
		out = append(out, deadLetterOf(e.p, e.x))
	}
	return out, nil
}

// partEntry is a stream entry of partition p.
type partEntry struct {
	p int
	x redis.XMessage
}

// merged returns up to n of the entries cmds[p] read from partition p's
// stream, for every p, in the order of less.
func merged(cmds []*redis.XMessageSliceCmd, n int64, less func(a, b partEntry) bool) []partEntry {
	var all []partEntry
	for p, c := range cmds {
		for _, x := range c.Val() {
			all = append(all, partEntry{p, x})
		}
	}
	slices.SortStableFunc(all, func(a, b partEntry) int {
		switch {
		case less(a, b):
			return -1
		case less(b, a):
			return 1
		}
		return 0
	})
	return all[:min(int64(len(all)), n)]
}

// deadLetterOf decodes entry x of partition p's dead-letter stream.
func deadLetterOf(p int, x redis.XMessage) DeadLetter {
	f := func(k string) string { s, _ := x.Values[k].(string); return s }
	n, _ := strconv.ParseInt(f("deliveries"), 10, 64)
	return DeadLetter{
		ID: deadID(p, x.ID), Type: f("type"), OrderID: f("id"), Target: f("target"), Reason: f("reason"),
		Deliveries: n, Entry: f("entry"), At: msTime(f("at")), DeadAt: msTime(f("dead_at")),
	}
}

// DeadLetterCount returns the number of dead letters in every partition.
func (b *Outbox) DeadLetterCount(ctx context.Context) (int64, error) {
	n := b.s.space.N()
	cmds := make([]*redis.IntCmd, n)
	_, err := b.s.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for p := range n {
			cmds[p] = pl.XLen(ctx, deadKey(b.s.space.Tag(p)))
		}
		return nil
	})
	if err != nil {
		return 0, unavailable(err)
	}
	var sum int64
	for _, c := range cmds {
		sum += c.Val()
	}
	return sum, nil
}

// Replay puts dead letters back on the outbox for target only: each becomes a
// new outbox entry (in the same partition) with only=<target>, which
// target's group delivers and every other group acknowledges unseen, and
// leaves the dead-letter stream (should it fail again it is dead-lettered
// again). With no deadIDs it replays every dead letter that target gave up
// on. It returns how many were replayed; unknown ids are skipped. Errors:
// Invalid for an unknown target or a malformed id, Unavailable.
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
		p, sid, ok := b.parseDeadID(id)
		if !ok {
			return n, erpgate.Errorf(erpgate.Invalid, "invalid dead-letter id %q", id)
		}
		tag := b.s.space.Tag(p)
		err := replayScript.Run(ctx, b.s.rdb, []string{deadKey(tag), outboxKey(tag)}, sid, target, id).Err()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return n, unavailable(err)
		}
		n++
	}
	return n, nil
}

// GroupStats is the state of one target's consumer groups, summed over the
// partitions.
type GroupStats struct {
	Target    string
	Consumers int64 // consumers known to the group (including "_backoff"), the most of any partition
	Pending   int64 // delivered but not acknowledged (in flight or deferred)
	// Lag is how many entries were not yet delivered to any consumer:
	// counted up to 10,000 per partition, beyond that Redis's lag bounded
	// by the partition's length (Redis's lag alone can be NULL or stale;
	// see docs/recovery.md).
	Lag int64
	// Oldest is the age of the oldest entry the group has not acknowledged
	// (pending or not yet delivered) in any partition; zero when there is
	// none.
	Oldest time.Duration
}

// lagCap bounds the count of undelivered entries per partition; beyond it
// Stats falls back on Redis's lag, bounded by the stream's length
// (streamgroup.Unread).
const lagCap = 10000

// Stats returns the state of every target's groups, in target order. A
// group that does not exist (yet) is reported empty.
func (b *Outbox) Stats(ctx context.Context) ([]GroupStats, error) {
	n := b.s.space.N()
	infos := make([]*redis.XInfoGroupsCmd, n)
	_, err := b.s.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for p := range n {
			infos[p] = pl.XInfoGroups(ctx, outboxKey(b.s.space.Tag(p)))
		}
		return nil
	})
	if err != nil && !streamgroup.Missing(err) {
		return nil, unavailable(err)
	}
	now := b.s.now()
	out := make([]GroupStats, 0, len(b.s.targets))
	for _, t := range b.s.targets {
		st := GroupStats{Target: t}
		var oldest string
		for p := range n {
			key := outboxKey(b.s.space.Tag(p))
			groups, err := infos[p].Result()
			if err != nil && !streamgroup.Missing(err) {
				return nil, unavailable(err)
			}
			i := slices.IndexFunc(groups, func(g redis.XInfoGroup) bool { return g.Name == group(t) })
			if i < 0 {
				continue
			}
			g := groups[i]
			st.Consumers, st.Pending = max(st.Consumers, g.Consumers), st.Pending+g.Pending
			if g.Pending > 0 {
				pe, err := b.s.rdb.XPending(ctx, key, group(t)).Result()
				if err != nil {
					return nil, unavailable(err)
				}
				if oldest == "" || idLess(pe.Lower, oldest) {
					oldest = pe.Lower
				}
			}
			// Redis's lag is unreliable (NULL, or stale after an AOF reload):
			// count the entries after the last delivered one (streamgroup.Unread).
			// The first of them may be older than every pending one.
			lag, next, err := streamgroup.Unread(ctx, b.s.rdb, key, g, lagCap)
			if err != nil {
				return nil, unavailable(err)
			}
			st.Lag += lag
			if next != "" && (oldest == "" || idLess(next, oldest)) {
				oldest = next
			}
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
	Trimmed int64 // entries removed, in every partition
}

// Trim removes, in every partition, the outbox entries every consumer group
// has acknowledged: those below the oldest entry any group still needs (its
// oldest pending entry, or the first it has not been delivered). It
// considers every group on the stream, configured or not, and decides and
// trims in one atomic step per partition.
func (b *Outbox) Trim(ctx context.Context) (TrimResult, error) {
	var r TrimResult
	for p := range b.s.space.N() {
		v, err := trimScript.Run(ctx, b.s.rdb, []string{outboxKey(b.s.space.Tag(p))}).Slice()
		if err != nil {
			return r, unavailable(err)
		}
		if len(v) != 2 {
			return r, erpgate.Wrap(erpgate.Internal, fmt.Errorf("trim script returned %v", v), "internal error")
		}
		n, _ := v[1].(int64)
		r.Trimmed += n
	}
	return r, nil
}

// PruneConsumers deletes consumers of every target's group, in every
// partition, that hold no pending entry and have been idle for at least
// idle. Every process start names new consumers, so without this they pile
// up. It returns how many were deleted.
func (b *Outbox) PruneConsumers(ctx context.Context, idle time.Duration) (int64, error) {
	var n int64
	for _, t := range b.s.targets {
		g := b.groups[t]
		for p := range g.Partitions() {
			d, err := g.Prune(ctx, p, idle)
			if err != nil {
				return n, unavailable(err)
			}
			n += d
		}
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
			b.s.log.Debug("outbox trimmed", "entries", r.Trimmed)
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

// message builds an erp.Message from the fields of entry id of partition p.
func message(p int, id string, f map[string]any, deliveries int64) erp.Message {
	s := func(k string) string { v, _ := f[k].(string); return v }
	at := msTime(s("at"))
	if at.IsZero() {
		at = idTime(id)
	}
	return erp.Message{Part: p, ID: id, Type: s("type"), OrderID: s("id"), Only: s("only"), At: at, Deliveries: deliveries}
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

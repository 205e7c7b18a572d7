// Package streamgroup is the one stream-consumer piece of erpgate: a
// consumer group on a log split into partitions, one Redis stream per
// partition (Group). The ERP outbox (store.Outbox, one Group per target,
// read by erp.Dispatcher) and the tracking feed's webhook reader
// (tracking.Webhooks) use it for everything they do on their streams:
// creating the groups (Ensure; Missing and Exists read Redis's NOGROUP and
// BUSYGROUP answers, the only place that does), reading new entries,
// taking over the pending entries of a dead consumer (Holders and Claim;
// which consumers are orphans — their instance is dead, or they are this
// instance's own from an earlier run — is decided by instance.Orphans from
// the consumer names and the instance registry's liveness), reclaiming
// long-idle entries (AutoClaim), keeping a slow batch's hold (Touch),
// deferring an entry to a due time (Defer, Due), acknowledging, and
// dead-lettering in one step (DeadLetter). Every call works on one
// partition, so that on Redis Cluster every command and script stays in
// one slot; the readers read every partition.
package streamgroup

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Holders returns the consumers of group on stream that hold pending
// entries. A missing stream or group holds nothing.
func Holders(ctx context.Context, rdb redis.UniversalClient, stream, group string) ([]string, error) {
	cs, err := rdb.XInfoConsumers(ctx, stream, group).Result()
	if err != nil {
		if Missing(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, c := range cs {
		if c.Pending > 0 {
			out = append(out, c.Name)
		}
	}
	return out, nil
}

// Claimed is an entry taken over, with its delivery count after the claim.
type Claimed struct {
	redis.XMessage
	Deliveries int64
}

// Claim moves up to count entries pending for consumer from to consumer to,
// oldest first, those idle for at least minIdle (so that of two instances
// taking over the same orphan at once, each entry goes to one: a claim
// resets its idle time). Each claim counts a delivery. Entries deleted from
// the stream meanwhile are dropped by Redis and not returned.
func Claim(ctx context.Context, rdb redis.UniversalClient, stream, group, from, to string, minIdle time.Duration, count int) ([]Claimed, error) {
	ps, err := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: stream, Group: group, Idle: minIdle, Start: "-", End: "+", Count: int64(count), Consumer: from,
	}).Result()
	if err != nil || len(ps) == 0 {
		return nil, err
	}
	ids := make([]string, len(ps))
	n := make(map[string]int64, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
		n[p.ID] = p.RetryCount + 1
	}
	msgs, err := rdb.XClaim(ctx, &redis.XClaimArgs{
		Stream: stream, Group: group, Consumer: to, MinIdle: minIdle, Messages: ids,
	}).Result()
	if err != nil {
		return nil, err
	}
	out := make([]Claimed, 0, len(msgs))
	for _, m := range msgs {
		if m.ID == "" || m.Values == nil {
			continue // deleted from the stream (Redis before 7 returns a nil entry)
		}
		out = append(out, Claimed{XMessage: m, Deliveries: n[m.ID]})
	}
	return out, nil
}

// Unread returns how many entries of stream group g has not been delivered
// yet, and the id of the first of them ("" when none).
//
// Redis's own lag (XINFO GROUPS) cannot be trusted for this. It is NULL
// (go-redis reads 0) when the group's read counter is unknown: after an AOF
// load, after XGROUP CREATE or SETID at an arbitrary id, and when entries
// after the group's last-delivered id were deleted (XDEL) — and miniredis
// never knows it. Worse, Redis 7.0 propagates a group read to the AOF and
// replicas as XCLAIM … LASTID, which moves the last-delivered id but not
// the read counter: after an AOF rewrite, further reads and a restart, the
// counter is stale and the lag counts every entry added since the rewrite,
// although all of them were read (lag 4014 with nothing pending). So the
// entries after the last-delivered id are counted, up to limit; only a
// backlog beyond limit falls back on Redis's lag, bounded by the stream's
// length (and at least limit+1).
func Unread(ctx context.Context, rdb redis.UniversalClient, stream string, g redis.XInfoGroup, limit int64) (n int64, first string, err error) {
	xs, err := rdb.XRangeN(ctx, stream, NextID(g.LastDeliveredID), "+", limit+1).Result()
	if err != nil {
		return 0, "", err
	}
	if len(xs) > 0 {
		first = xs[0].ID
	}
	if int64(len(xs)) <= limit {
		return int64(len(xs)), first, nil
	}
	xlen, err := rdb.XLen(ctx, stream).Result()
	if err != nil {
		return 0, "", err
	}
	return max(min(g.Lag, xlen), limit+1), first, nil
}

// NextID returns the smallest stream id after id ("<ms>-<seq>").
func NextID(id string) string {
	a, b, _ := strings.Cut(id, "-")
	ms, _ := strconv.ParseUint(a, 10, 64)
	seq, _ := strconv.ParseUint(b, 10, 64)
	if seq == math.MaxUint64 {
		return strconv.FormatUint(ms+1, 10) + "-0"
	}
	return strconv.FormatUint(ms, 10) + "-" + strconv.FormatUint(seq+1, 10)
}

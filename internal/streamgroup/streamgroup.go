// Package streamgroup is the piece every consumer-group reader of erpgate
// shares (the ERP delivery workers in store, the webhook feed reader in
// tracking): finding the consumers that hold pending entries and taking
// over the entries of one of them. Which consumers are orphans (their
// instance is dead, or they are this instance's own from an earlier run) is
// decided by instance.Orphans from the consumer names and the instance
// registry's liveness.
package streamgroup

import (
	"context"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Holders returns the consumers of group on stream that hold pending
// entries. A missing stream or group holds nothing.
func Holders(ctx context.Context, rdb redis.UniversalClient, stream, group string) ([]string, error) {
	cs, err := rdb.XInfoConsumers(ctx, stream, group).Result()
	if err != nil {
		if s := err.Error(); strings.Contains(s, "no such key") || strings.HasPrefix(s, "NOGROUP") {
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

package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/internal/partition"
)

// Open orders: the orders an ERP target has created and not yet finished,
// for targets whose status must be polled (v1 has no push).
//
//	open:T:<target> sorted set: order id → when it is next due for a status
//	                poll (unix ms); one per partition T (the order's), so the
//	                sets spread over a cluster like the orders
//
// The due time doubles as a lease: Claim moves the orders it hands out to
// the lease end, so gateway instances polling together never poll one
// order twice at once, and an order a crashed instance held is due again
// when its lease ends.

// MaxOpenClaim bounds one Claim.
const MaxOpenClaim = 1000

// OpenOrders keeps the open-order sets. It is safe for concurrent use.
type OpenOrders struct {
	rdb   redis.UniversalClient
	space partition.Space
	next  atomic.Uint32 // the partition the next Claim starts at (round robin)
}

// OpenOrders returns the open-order sets on the store's Redis.
func (s *Store) OpenOrders() *OpenOrders { return &OpenOrders{rdb: s.rdb, space: s.space} }

// OpenKey returns the Redis key of target's open-order set of the
// partition with tag.
func OpenKey(tag, target string) string { return "open:" + tag + ":" + target }

// key is the open set of target that holds orderID.
func (o *OpenOrders) key(target, orderID string) string {
	return OpenKey(o.space.TagOf(orderID), target)
}

// byPartition groups ids by the open set of target that holds them.
func (o *OpenOrders) byPartition(target string, ids []string) map[string][]string {
	m := make(map[string][]string)
	for _, id := range ids {
		k := o.key(target, id)
		m[k] = append(m[k], id)
	}
	return m
}

// Add puts orderID into target's open set, due at due. An order already
// there keeps its due time, so a repeated delivery result (at-least-once)
// does not disturb polling. Errors: Unavailable.
func (o *OpenOrders) Add(ctx context.Context, target, orderID string, due time.Time) error {
	err := o.rdb.ZAddNX(ctx, o.key(target, orderID), redis.Z{Score: float64(due.UnixMilli()), Member: orderID}).Err()
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// claimScript hands out up to ARGV[3] members due by ARGV[1] and moves
// them to ARGV[2], in one step.
//
// KEYS: open:<target>; ARGV: now (ms), lease end (ms), count.
var claimScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[2], id)
end
return ids
`)

// Claim returns up to n orders of target that are due by now, oldest due
// first within a partition, and makes each due again only at lease: until
// then nobody else claims it (unless Reschedule brings it forward). n is
// capped at MaxOpenClaim. The partitions are visited round robin, each
// Claim starting one further, so that no partition starves when more are
// due than one Claim takes. Errors: Invalid (n < 1), Unavailable.
func (o *OpenOrders) Claim(ctx context.Context, target string, now, lease time.Time, n int) ([]string, error) {
	if n < 1 {
		return nil, erpgate.Errorf(erpgate.Invalid, "claim at least one order")
	}
	n = min(n, MaxOpenClaim)
	var out []string
	parts := o.space.N()
	start := int(o.next.Add(1)) % parts
	for i := 0; i < parts && len(out) < n; i++ {
		key := OpenKey(o.space.Tag((start+i)%parts), target)
		ids, err := claimScript.Run(ctx, o.rdb, []string{key}, now.UnixMilli(), lease.UnixMilli(), n-len(out)).StringSlice()
		if err != nil && err != redis.Nil {
			return out, unavailable(err)
		}
		out = append(out, ids...)
	}
	return out, nil
}

// Reschedule sets the next due time of orders still in target's open set;
// an order removed meanwhile stays removed. Errors: Unavailable.
func (o *OpenOrders) Reschedule(ctx context.Context, target string, due time.Time, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := o.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for key, ids := range o.byPartition(target, ids) {
			zs := make([]redis.Z, len(ids))
			for i, id := range ids {
				zs[i] = redis.Z{Score: float64(due.UnixMilli()), Member: id}
			}
			p.ZAddXX(ctx, key, zs...)
		}
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// Remove takes orders out of target's open set. Errors: Unavailable.
func (o *OpenOrders) Remove(ctx context.Context, target string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := o.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for key, ids := range o.byPartition(target, ids) {
			members := make([]any, len(ids))
			for i, id := range ids {
				members[i] = id
			}
			p.ZRem(ctx, key, members...)
		}
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// wakeScript makes up to ARGV[2] members due after ARGV[1] due at ARGV[1]
// and returns how many it moved.
//
// KEYS: open:<target>; ARGV: now (ms), count.
var wakeScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[1], id)
end
return #ids
`)

// Wake makes every order of target's open set that is due after now due
// now (a lease of an order being polled ends early too: its next poll
// may come sooner, which is harmless) and returns how many it moved. It
// works in steps of MaxOpenClaim, each atomic. Errors: Unavailable.
func (o *OpenOrders) Wake(ctx context.Context, target string, now time.Time) (int, error) {
	total := 0
	for p := range o.space.N() {
		key := OpenKey(o.space.Tag(p), target)
		for {
			n, err := wakeScript.Run(ctx, o.rdb, []string{key}, now.UnixMilli(), MaxOpenClaim).Int()
			if err != nil {
				return total, unavailable(err)
			}
			total += n
			if n < MaxOpenClaim {
				break
			}
		}
	}
	return total, nil
}

// Len returns how many orders target's open set holds. Errors: Unavailable.
func (o *OpenOrders) Len(ctx context.Context, target string) (int64, error) {
	cmds := make([]*redis.IntCmd, o.space.N())
	_, err := o.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range cmds {
			cmds[i] = p.ZCard(ctx, OpenKey(o.space.Tag(i), target))
		}
		return nil
	})
	if err != nil {
		return 0, unavailable(err)
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}

// Due returns when orderID is next due in target's open set, and whether it
// is there at all (for tests and inspection). Errors: Unavailable.
func (o *OpenOrders) Due(ctx context.Context, target, orderID string) (time.Time, bool, error) {
	score, err := o.rdb.ZScore(ctx, o.key(target, orderID), orderID).Result()
	if err == redis.Nil {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, unavailable(fmt.Errorf("open set %s: %w", target, err))
	}
	return time.UnixMilli(int64(score)), true, nil
}

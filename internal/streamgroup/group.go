package streamgroup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Group is one consumer group on a log split into partitions: one stream
// per partition, each with its own group of the same name, and optionally
// per partition a sorted set of deferred entries' due times (Parked) and a
// dead-letter stream (Dead). Every method works on one partition, so every
// command and script touches the keys of one partition only: with keys
// under the partition's hash tag they run on one Redis Cluster node, and a
// blocked read on a ClusterClient goes to the node of its stream.
//
// Consumers of every gateway instance read every partition; a partition's
// pending entries belong to the consumer that read them, and the entries
// of a dead instance's consumers are taken over with Holders and Claim.
type Group struct {
	rdb    redis.UniversalClient
	name   string
	stream []string
	parked []string
	dead   []string
}

// Config names a Group's keys. Streams is required; Parked and Dead, when
// set, have one key per stream, in the same slot as that stream.
type Config struct {
	Name    string   // the consumer group's name
	Streams []string // the stream of each partition
	Parked  []string // sorted set of due times of deferred entries, per partition (Defer, Due)
	Dead    []string // dead-letter stream per partition (DeadLetter)
}

// ParkingConsumer is the pseudo-consumer that holds deferred entries: they
// stay pending (a crash loses nothing) but no live consumer holds them.
const ParkingConsumer = "_backoff"

// New returns the group cfg describes on rdb.
func New(rdb redis.UniversalClient, cfg Config) *Group {
	return &Group{rdb: rdb, name: cfg.Name, stream: cfg.Streams, parked: cfg.Parked, dead: cfg.Dead}
}

// Name returns the group's name.
func (g *Group) Name() string { return g.name }

// Partitions returns the number of partitions (streams).
func (g *Group) Partitions() int { return len(g.stream) }

// Stream returns the stream of partition p.
func (g *Group) Stream(p int) string { return g.stream[p] }

// Entry is an entry read or claimed from partition Part, with its delivery
// count in the group after this delivery.
type Entry struct {
	Part int
	redis.XMessage
	Deliveries int64
}

// Ensure creates the group on every partition's stream at start ("0" or
// "$"); existing groups are left as they are.
func (g *Group) Ensure(ctx context.Context, start string) error {
	for _, s := range g.stream {
		if err := Ensure(ctx, g.rdb, s, g.name, start); err != nil {
			return err
		}
	}
	return nil
}

// Read returns up to count entries of partition p no consumer of the group
// has read, now pending for consumer, waiting up to block for the first
// (block ≤ 0: not at all). Nothing new is (nil, nil); a missing stream or
// group is an error for which Missing holds.
func (g *Group) Read(ctx context.Context, p int, consumer string, count int, block time.Duration) ([]Entry, error) {
	if block <= 0 {
		block = -1 // no BLOCK argument: go-redis reads 0 as "forever"
	}
	res, err := g.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: g.name, Consumer: consumer, Streams: []string{g.stream[p], ">"}, Count: int64(count), Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, st := range res {
		for _, x := range st.Messages {
			out = append(out, Entry{Part: p, XMessage: x, Deliveries: 1})
		}
	}
	return out, nil
}

// Ack acknowledges entries of partition p.
func (g *Group) Ack(ctx context.Context, p int, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	return g.rdb.XAck(ctx, g.stream[p], g.name, ids...).Err()
}

// Holders returns the consumers holding pending entries of partition p
// (the parking consumer included).
func (g *Group) Holders(ctx context.Context, p int) ([]string, error) {
	return Holders(ctx, g.rdb, g.stream[p], g.name)
}

// Claim moves up to count entries of partition p pending for from to to,
// oldest first, those idle at least minIdle, counting a delivery each (see
// the package function Claim).
func (g *Group) Claim(ctx context.Context, p int, from, to string, minIdle time.Duration, count int) ([]Entry, error) {
	cs, err := Claim(ctx, g.rdb, g.stream[p], g.name, from, to, minIdle, count)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, len(cs))
	for i, c := range cs {
		out[i] = Entry{Part: p, XMessage: c.XMessage, Deliveries: c.Deliveries}
	}
	return out, nil
}

// AutoClaim claims for consumer up to count entries of partition p pending
// for at least minIdle, whoever holds them (XAUTOCLAIM), walking the
// pending list from start; it returns the cursor for the next call ("0-0"
// after a full pass). Each entry's delivery count is asked of XPENDING.
func (g *Group) AutoClaim(ctx context.Context, p int, consumer string, minIdle time.Duration, start string, count int) ([]Entry, string, error) {
	msgs, next, err := g.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: g.stream[p], Group: g.name, Consumer: consumer, MinIdle: minIdle, Start: start, Count: int64(count),
	}).Result()
	if err != nil || len(msgs) == 0 {
		return nil, next, err
	}
	cmds := make([]*redis.XPendingExtCmd, len(msgs))
	_, err = g.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i, m := range msgs {
			cmds[i] = pl.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: g.stream[p], Group: g.name, Start: m.ID, End: m.ID, Count: 1})
		}
		return nil
	})
	if err != nil {
		return nil, next, err
	}
	out := make([]Entry, 0, len(msgs))
	for i, m := range msgs {
		n := int64(2) // claimed back: delivered at least once before
		if pe := cmds[i].Val(); len(pe) == 1 {
			n = pe[0].RetryCount
		}
		out = append(out, Entry{Part: p, XMessage: m, Deliveries: n})
	}
	return out, next, nil
}

// Touch re-claims for consumer, without counting a delivery, the entries
// among ids of partition p that it still holds, and returns their ids:
// their idle time restarts, so that AutoClaim does not take a slow batch
// for a dead consumer's.
func (g *Group) Touch(ctx context.Context, p int, consumer string, ids ...string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 2+len(ids))
	args = append(args, g.name, consumer)
	for _, id := range ids {
		args = append(args, id)
	}
	kept, err := touchScript.Run(ctx, g.rdb, []string{g.stream[p]}, args...).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	return kept, nil
}

// Defer parks pending entry id of partition p until due: it moves to
// ParkingConsumer with its delivery counter set to deliveries, and its due
// time is recorded in the partition's Parked set. An entry no longer
// pending is left alone.
func (g *Group) Defer(ctx context.Context, p int, id string, due time.Time, deliveries int64) error {
	return deferScript.Run(ctx, g.rdb, []string{g.stream[p], g.parked[p]},
		g.name, id, due.UnixMilli(), max(deliveries, 0), ParkingConsumer).Err()
}

// Due claims for consumer up to count parked entries of partition p whose
// due time is not after now, oldest due first, counting a delivery each.
func (g *Group) Due(ctx context.Context, p int, consumer string, now time.Time, count int) ([]Entry, error) {
	v, err := dueScript.Run(ctx, g.rdb, []string{g.stream[p], g.parked[p]},
		g.name, consumer, now.UnixMilli(), count, ParkingConsumer).Slice()
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(v))
	for _, e := range v {
		t, ok := e.([]any)
		if !ok || len(t) != 3 {
			return nil, fmt.Errorf("due script returned %v", e)
		}
		id, _ := t[0].(string)
		n, _ := t[2].(int64)
		out = append(out, Entry{Part: p, XMessage: redis.XMessage{ID: id, Values: fieldMap(t[1])}, Deliveries: n})
	}
	return out, nil
}

// DeadLetter acknowledges entry id of partition p and appends fields (and
// entry=<id>) to the partition's dead-letter stream, in one step, and
// returns the dead letter's id. An entry no longer pending (another
// consumer finished it) is left alone: ok is false.
func (g *Group) DeadLetter(ctx context.Context, p int, id string, fields ...string) (deadID string, ok bool, err error) {
	args := make([]any, 0, 2+len(fields))
	args = append(args, g.name, id)
	for _, f := range fields {
		args = append(args, f)
	}
	v, err := deadScript.Run(ctx, g.rdb, []string{g.stream[p], g.dead[p]}, args...).Text()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return v, true, nil
}

// Info returns the state of the group on partition p; ok is false when the
// stream or the group does not exist.
func (g *Group) Info(ctx context.Context, p int) (info redis.XInfoGroup, ok bool, err error) {
	gs, err := g.rdb.XInfoGroups(ctx, g.stream[p]).Result()
	if err != nil {
		if Missing(err) {
			return info, false, nil
		}
		return info, false, err
	}
	for _, x := range gs {
		if x.Name == g.name {
			return x, true, nil
		}
	}
	return info, false, nil
}

// Prune deletes the consumers of the group on partition p that hold no
// pending entry and have been idle at least idle (every process start may
// name new ones), but never ParkingConsumer. It returns how many it deleted.
func (g *Group) Prune(ctx context.Context, p int, idle time.Duration) (int64, error) {
	n, err := pruneScript.Run(ctx, g.rdb, []string{g.stream[p]}, g.name, idle.Milliseconds(), ParkingConsumer).Int64()
	if Missing(err) {
		return 0, nil
	}
	return n, err
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

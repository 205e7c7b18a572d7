package store

// Operator actions on the outbox's dead letters: read one, replay it into a
// chosen target, discard it — each action recorded in the log of the dead
// letter's partition (who, when, what), which the admin API lists merged.
//
//	outbox:dead:log:T stream of actions: action (replay | discard), dead (the
//	                  dead-letter id), type, id (order id), from (the target that
//	                  gave up), target (replay only), outbox (the new outbox
//	                  entry, replay only), actor, reason, at (unix ms)

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
)

// deadLogMaxLen bounds the action log (approximately): it is a record for
// people, not a queue.
const deadLogMaxLen = 100000

// DeadLetterAction is one recorded operator action on a dead letter.
type DeadLetterAction struct {
	ID           string    `json:"id"`                     // log entry id
	Action       string    `json:"action"`                 // "replay" or "discard"
	DeadLetterID string    `json:"dead_letter_id"`         // the dead letter acted on
	Type         string    `json:"type"`                   // its message type
	OrderID      string    `json:"order_id"`               // its order (or document)
	From         string    `json:"from"`                   // the target that gave up on it
	Target       string    `json:"target,omitempty"`       // replay: the target it went to
	OutboxID     string    `json:"outbox_entry,omitempty"` // replay: the new outbox entry
	Actor        string    `json:"actor"`                  // who
	Reason       string    `json:"reason,omitempty"`       // why, as they said
	At           time.Time `json:"at"`                     // when
}

// deadActionScript: KEYS dead, outbox, log (one partition's); ARGV dead stream id, action, target, actor, reason, atms, maxlen, dead-letter id, atns
// Replays (a new outbox entry for target only, like Replay) or discards one
// dead letter, removes it from the dead-letter stream and records the
// action, in one step. Returns {log id, type, order id, from, outbox id},
// or false if the dead letter is absent (already replayed or discarded).
var deadActionScript = redis.NewScript(`
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then return false end
local f = e[1][2]
local t, id, at, from = '', '', '', ''
for i = 1, #f, 2 do
  local k, v = f[i], f[i + 1]
  if k == 'type' then t = v elseif k == 'id' then id = v elseif k == 'at' then at = v elseif k == 'target' then from = v end
end
local ob = ''
if ARGV[2] == 'replay' then
  ob = redis.call('XADD', KEYS[2], '*', 'type', t, 'id', id, 'at', at, 'only', ARGV[3], 'replay', ARGV[8])
end
redis.call('XDEL', KEYS[1], ARGV[1])
local lid = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*', 'action', ARGV[2], 'dead', ARGV[8],
  'type', t, 'id', id, 'from', from, 'target', ARGV[3], 'outbox', ob, 'actor', ARGV[4], 'reason', ARGV[5], 'at', ARGV[6], 'ns', ARGV[9])
return {lid, t, id, from, ob}
`)

// validStreamID reports whether id has the form of a stream id ("ms-seq").
func validStreamID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	_, e1 := strconv.ParseUint(ms, 10, 64)
	_, e2 := strconv.ParseUint(seq, 10, 64)
	return ok && e1 == nil && e2 == nil
}

func noSuchDeadLetter(id string) error {
	return erpgate.Errorf(erpgate.NotFound, "no dead letter %s (replayed or discarded already?)", id)
}

// DeadLetterByID returns one dead letter. Errors: NotFound (also for a
// malformed id), Unavailable.
func (b *Outbox) DeadLetterByID(ctx context.Context, id string) (DeadLetter, error) {
	p, sid, ok := b.parseDeadID(id)
	if !ok {
		return DeadLetter{}, noSuchDeadLetter(id)
	}
	xs, err := b.s.rdb.XRangeN(ctx, deadKey(b.s.space.Tag(p)), sid, sid, 1).Result()
	if err != nil {
		return DeadLetter{}, unavailable(err)
	}
	if len(xs) == 0 {
		return DeadLetter{}, noSuchDeadLetter(id)
	}
	return deadLetterOf(p, xs[0]), nil
}

// ReplayDeadLetter puts one dead letter back on the outbox for target (the
// target that gave up on it, or another one) and records who did it and
// why. The ERP side stays exactly-once: a replayed entry is never a first
// delivery, so v1 looks the order up before creating it, and v2 creates by
// external reference. Errors: Invalid (unknown target), NotFound (no such
// dead letter), Unavailable.
func (b *Outbox) ReplayDeadLetter(ctx context.Context, id, target, actor, reason string) (DeadLetterAction, error) {
	if !slices.Contains(b.s.targets, target) {
		return DeadLetterAction{}, &erpgate.Error{Code: erpgate.Invalid, Message: "unknown target " + strconv.Quote(target),
			Problems: []erpgate.Problem{{Field: "target", Message: "must be one of " + strings.Join(b.s.targets, ", ")}}}
	}
	return b.deadAction(ctx, id, "replay", target, actor, reason)
}

// DiscardDeadLetter removes one dead letter for good and records who did it
// and why. The order's record keeps that target's "dead" result. Errors:
// NotFound, Unavailable.
func (b *Outbox) DiscardDeadLetter(ctx context.Context, id, actor, reason string) (DeadLetterAction, error) {
	return b.deadAction(ctx, id, "discard", "", actor, reason)
}

func (b *Outbox) deadAction(ctx context.Context, id, action, target, actor, reason string) (DeadLetterAction, error) {
	p, sid, ok := b.parseDeadID(id)
	if !ok {
		return DeadLetterAction{}, noSuchDeadLetter(id)
	}
	tag := b.s.space.Tag(p)
	now := b.s.now()
	res, err := deadActionScript.Run(ctx, b.s.rdb, []string{deadKey(tag), outboxKey(tag), deadLogKey(tag)},
		sid, action, target, actor, reason, now.UnixMilli(), deadLogMaxLen, id, now.UnixNano()).StringSlice()
	if errors.Is(err, redis.Nil) {
		return DeadLetterAction{}, noSuchDeadLetter(id)
	}
	if err != nil {
		return DeadLetterAction{}, unavailable(err)
	}
	if len(res) != 5 {
		return DeadLetterAction{}, erpgate.Errorf(erpgate.Internal, "dead-letter %s: unexpected script answer %q", action, res)
	}
	return DeadLetterAction{
		ID: deadID(p, res[0]), Action: action, DeadLetterID: id, Type: res[1], OrderID: res[2], From: res[3],
		Target: target, OutboxID: res[4], Actor: actor, Reason: reason, At: time.UnixMilli(now.UnixMilli()),
	}, nil
}

// DeadLetterActions returns up to n recorded actions of every partition,
// newest first. Errors: Unavailable.
func (b *Outbox) DeadLetterActions(ctx context.Context, n int64) ([]DeadLetterAction, error) {
	parts := b.s.space.N()
	cmds := make([]*redis.XMessageSliceCmd, parts)
	_, err := b.s.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for p := range parts {
			cmds[p] = pl.XRevRangeN(ctx, deadLogKey(b.s.space.Tag(p)), "+", "-", n)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	out := []DeadLetterAction{}
	// Newest first. The partitions' log ids do not order actions across
	// partitions (two in one millisecond): the acting gateway's clock in
	// nanoseconds ("ns") does, for the actions of one gateway.
	ns := func(e partEntry) int64 {
		v, _ := e.x.Values["ns"].(string)
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	newer := func(a, b partEntry) bool {
		if na, nb := ns(a), ns(b); na != nb {
			return na > nb
		}
		return deadLess(b.p, b.x.ID, a.p, a.x.ID)
	}
	for _, e := range merged(cmds, n, newer) {
		x := e.x
		f := func(k string) string { s, _ := x.Values[k].(string); return s }
		out = append(out, DeadLetterAction{
			ID: deadID(e.p, x.ID), Action: f("action"), DeadLetterID: f("dead"), Type: f("type"), OrderID: f("id"),
			From: f("from"), Target: f("target"), OutboxID: f("outbox"), Actor: f("actor"), Reason: f("reason"),
			At: msTime(f("at")),
		})
	}
	return out, nil
}

package tracking

// Operator actions on webhook dead letters: replay one (POST the event to
// its subscription again, now) or discard it, each recorded in
// {trk:wh}:dead:log (action, dead, sub, order, event, actor, reason, time).

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
)

const (
	whDeadLogKey    = "{trk:wh}:dead:log"
	whDeadLogMaxLen = 100000
)

// DeadLetterAction is one recorded operator action on a webhook dead letter.
type DeadLetterAction struct {
	ID             string    `json:"id"`     // log entry id
	Action         string    `json:"action"` // "replay" or "discard"
	DeadLetterID   string    `json:"dead_letter_id"`
	SubscriptionID string    `json:"subscription_id"`
	OrderID        string    `json:"order_id"`
	EventID        string    `json:"event_id"`
	Actor          string    `json:"actor"`
	Reason         string    `json:"reason,omitempty"`
	Time           time.Time `json:"time"`
}

// deadRemoveScript removes a dead letter and records the action in one
// step; 0 when it was gone already (nothing recorded).
//
// KEYS: dead, log. ARGV: dead id, maxlen, action, sub, order, event, actor, reason, time.
var deadRemoveScript = redis.NewScript(`
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'action', ARGV[3], 'dead', ARGV[1],
  'sub', ARGV[4], 'order', ARGV[5], 'event', ARGV[6], 'actor', ARGV[7], 'reason', ARGV[8], 'time', ARGV[9])
`)

func noSuchDeadLetter(id string) error {
	return erpgate.Errorf(erpgate.NotFound, "no webhook dead letter %s (replayed or discarded already?)", id)
}

// DeadLetter returns one dead letter. Errors: NotFound, Unavailable.
func (w *Webhooks) DeadLetter(ctx context.Context, id string) (DeadLetter, error) {
	if !streamID(id) {
		return DeadLetter{}, noSuchDeadLetter(id)
	}
	msgs, err := w.rdb.XRangeN(ctx, whDeadKey, id, id, 1).Result()
	if err != nil {
		return DeadLetter{}, unavailable(err)
	}
	if len(msgs) == 0 {
		return DeadLetter{}, noSuchDeadLetter(id)
	}
	return deadLetterOf(msgs[0]), nil
}

// ReplayDeadLetter POSTs the dead letter's event to its subscription once
// more, now, signed anew with the same Webhook-Id (a receiver that got it
// before drops it as a repeat), and on a 2xx answer removes the dead letter
// and records the action. Errors: NotFound (no such dead letter, or its
// event is gone), Conflict (the subscription was deleted: discard it),
// Unavailable (the receiver did not take it: the dead letter stays).
func (w *Webhooks) ReplayDeadLetter(ctx context.Context, id, actor, reason string) (DeadLetterAction, error) {
	d, err := w.DeadLetter(ctx, id)
	if err != nil {
		return DeadLetterAction{}, err
	}
	subs, err := w.load(ctx)
	if err != nil {
		return DeadLetterAction{}, unavailable(err)
	}
	sub, ok := subs[d.SubscriptionID]
	if !ok {
		return DeadLetterAction{}, erpgate.Errorf(erpgate.Conflict,
			"subscription %s no longer exists; discard the dead letter instead", d.SubscriptionID)
	}
	if checkOrderID(d.OrderID) != nil || !streamID(d.EventID) {
		return DeadLetterAction{}, erpgate.Errorf(erpgate.NotFound, "dead letter %s names no event", id)
	}
	msgs, err := w.rdb.XRangeN(ctx, w.streamKey(d.OrderID), d.EventID, d.EventID, 1).Result()
	if err != nil {
		return DeadLetterAction{}, unavailable(err)
	}
	if len(msgs) == 0 {
		return DeadLetterAction{}, erpgate.Errorf(erpgate.NotFound, "event %s of order %s is gone", d.EventID, d.OrderID)
	}
	e, err := decodeEntry(msgs[0])
	if err != nil {
		return DeadLetterAction{}, erpgate.Wrap(erpgate.Internal, err, "undecodable event")
	}
	if err := w.post(ctx, sub, d.OrderID, e); err != nil {
		w.outcome.WithLabelValues("retry").Inc()
		return DeadLetterAction{}, erpgate.Wrap(erpgate.Unavailable, err,
			"the receiver did not take the event ("+truncate(err.Error(), 200)+"); the dead letter stays")
	}
	w.outcome.WithLabelValues("ok").Inc()
	return w.removeDead(ctx, d, "replay", actor, reason)
}

// DiscardDeadLetter removes a dead letter for good and records the action.
// Errors: NotFound, Unavailable.
func (w *Webhooks) DiscardDeadLetter(ctx context.Context, id, actor, reason string) (DeadLetterAction, error) {
	d, err := w.DeadLetter(ctx, id)
	if err != nil {
		return DeadLetterAction{}, err
	}
	return w.removeDead(ctx, d, "discard", actor, reason)
}

func (w *Webhooks) removeDead(ctx context.Context, d DeadLetter, action, actor, reason string) (DeadLetterAction, error) {
	at := w.now().UTC()
	lid, err := deadRemoveScript.Run(ctx, w.rdb, []string{whDeadKey, whDeadLogKey}, d.ID, whDeadLogMaxLen,
		action, d.SubscriptionID, d.OrderID, d.EventID, actor, reason, at.Format(time.RFC3339Nano)).Result()
	if err != nil {
		return DeadLetterAction{}, unavailable(err)
	}
	s, ok := lid.(string)
	if !ok {
		return DeadLetterAction{}, noSuchDeadLetter(d.ID) // removed meanwhile by someone else
	}
	return DeadLetterAction{ID: s, Action: action, DeadLetterID: d.ID, SubscriptionID: d.SubscriptionID,
		OrderID: d.OrderID, EventID: d.EventID, Actor: actor, Reason: reason, Time: at}, nil
}

// DeadLetterActions returns up to n recorded actions, newest first.
// Errors: Unavailable.
func (w *Webhooks) DeadLetterActions(ctx context.Context, n int) ([]DeadLetterAction, error) {
	msgs, err := w.rdb.XRevRangeN(ctx, whDeadLogKey, "+", "-", int64(n)).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]DeadLetterAction, 0, len(msgs))
	for _, m := range msgs {
		str := func(k string) string { v, _ := m.Values[k].(string); return v }
		a := DeadLetterAction{ID: m.ID, Action: str("action"), DeadLetterID: str("dead"), SubscriptionID: str("sub"),
			OrderID: str("order"), EventID: str("event"), Actor: str("actor"), Reason: str("reason")}
		a.Time, _ = time.Parse(time.RFC3339Nano, str("time"))
		out = append(out, a)
	}
	return out, nil
}

// deadLetterOf decodes an entry of the dead-letter stream.
func deadLetterOf(m redis.XMessage) DeadLetter {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	d := DeadLetter{ID: m.ID, SubscriptionID: str("sub"), OrderID: str("order"), EventID: str("event"), Error: str("error")}
	fmt.Sscan(str("attempts"), &d.Attempts)
	d.Time, _ = time.Parse(time.RFC3339Nano, str("time"))
	return d
}

// streamID reports whether id has the form of a stream id ("ms-seq").
func streamID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	_, e1 := strconv.ParseUint(ms, 10, 64)
	_, e2 := strconv.ParseUint(seq, 10, 64)
	return ok && e1 == nil && e2 == nil
}

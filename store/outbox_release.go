package store

// Outbox operations of a release change: the backlog a target has not
// finished (Reconcile) and acknowledging what another target delivered
// already (SkipDelivered).

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
	"erpgate/internal/streamgroup"
)

// backlogOrders returns the ids of the orders (order.create) target's group
// has pending or not yet delivered, and those dead-lettered for target.
func (r *Releases) backlogOrders(ctx context.Context, target string) ([]string, error) {
	seen := map[string]bool{}
	var ids []string
	add := func(typ, id string) {
		if typ == erp.TypeOrderCreate && id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	looked := 0
	err := r.pending(ctx, target, func(es []relEntry) error {
		for _, e := range es {
			add(e.typ, e.orderID)
		}
		looked += len(es)
		if looked >= relMaxReconcile {
			return errRelStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errRelStop) {
		return nil, err
	}
	last, err := r.lastDelivered(ctx, target)
	if err != nil {
		return nil, err
	}
	start := streamgroup.NextID(last)
	for looked < relMaxReconcile {
		xs, err := r.s.rdb.XRangeN(ctx, outboxKey, start, "+", relScanPage).Result()
		if err != nil {
			return nil, unavailable(err)
		}
		for _, x := range xs {
			m := message(x.ID, x.Values, 0)
			add(m.Type, m.OrderID)
		}
		looked += len(xs)
		if len(xs) < relScanPage {
			break
		}
		start = streamgroup.NextID(xs[len(xs)-1].ID)
	}
	after := ""
	for looked < relMaxReconcile {
		page, err := r.s.outbox.DeadLetters(ctx, after, relScanPage)
		if err != nil {
			return nil, err
		}
		for _, d := range page {
			if d.Target == target {
				add(d.Type, d.OrderID)
			}
		}
		looked += len(page)
		if len(page) < relScanPage {
			break
		}
		after = page[len(page)-1].ID
	}
	return ids, nil
}

var errRelStop = errors.New("stop")

// relEntry is an outbox entry of a group's pending list.
type relEntry struct {
	id, typ, orderID, only string
	found                  bool // the entry still exists in the stream
}

// pending walks the pending entries of target's group in pages, with their
// fields.
func (r *Releases) pending(ctx context.Context, target string, f func([]relEntry) error) error {
	start := "-"
	for {
		ps, err := r.s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: outboxKey, Group: group(target), Start: start, End: "+", Count: relScanPage,
		}).Result()
		if err != nil {
			if relNoGroup(err) {
				return nil
			}
			return unavailable(err)
		}
		if len(ps) == 0 {
			return nil
		}
		cmds := make([]*redis.XMessageSliceCmd, len(ps))
		_, err = r.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, pe := range ps {
				cmds[i] = p.XRangeN(ctx, outboxKey, pe.ID, pe.ID, 1)
			}
			return nil
		})
		if err != nil {
			return unavailable(err)
		}
		es := make([]relEntry, len(ps))
		for i, pe := range ps {
			es[i].id = pe.ID
			if xs := cmds[i].Val(); len(xs) == 1 {
				m := message(xs[0].ID, xs[0].Values, 0)
				es[i] = relEntry{id: pe.ID, typ: m.Type, orderID: m.OrderID, only: m.Only, found: true}
			}
		}
		if err := f(es); err != nil {
			return err
		}
		if len(ps) < relScanPage {
			return nil
		}
		start = "(" + ps[len(ps)-1].ID
	}
}

func (r *Releases) lastDelivered(ctx context.Context, target string) (string, error) {
	groups, err := r.s.rdb.XInfoGroups(ctx, outboxKey).Result()
	if err != nil {
		if relNoGroup(err) {
			return "0-0", nil
		}
		return "", unavailable(err)
	}
	for _, g := range groups {
		if g.Name == group(target) {
			return g.LastDeliveredID, nil
		}
	}
	return "", erpgate.Errorf(erpgate.Invalid, "target %q has no consumer group", target)
}

func relNoGroup(err error) bool {
	return errors.Is(err, redis.Nil) || strings.Contains(err.Error(), "no such key") || strings.Contains(err.Error(), "NOGROUP")
}

// SkipReport says what SkipDelivered did.
type SkipReport struct {
	Skipped int `json:"skipped"` // entries acknowledged unseen: their orders are in holder's ERP
	Kept    int `json:"kept"`    // entries left for target to deliver
}

// SkipDelivered acknowledges, in target's consumer group, the order.create
// entries of every order that holder already created (result "created"):
// target never receives those orders. Entries already pending in the group
// (parked for a retry, or held by a consumer) are acknowledged where they
// are; entries not yet delivered are first read into the group by the
// "_backoff" pseudo-consumer, and those kept are scheduled as due at once, so
// target's workers deliver them first when it is active again. Replays meant
// for target are kept; replays meant for another target are acknowledged, as
// target's workers would do. Run it while target is paused: for an active
// target it is safe (an entry is delivered at most as it would have been)
// but may skip less. Errors: Unavailable.
func (r *Releases) SkipDelivered(ctx context.Context, target, holder string) (SkipReport, error) {
	var rep SkipReport
	if !slices.Contains(r.s.targets, target) || !slices.Contains(r.s.targets, holder) || target == holder {
		return rep, erpgate.Errorf(erpgate.Invalid, "skip: unknown targets %q, %q", target, holder)
	}
	decide := func(es []relEntry) ([]bool, error) {
		cmds := make([]*redis.StringCmd, len(es))
		_, err := r.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, e := range es {
				if e.typ == erp.TypeOrderCreate && e.only == "" && e.orderID != "" {
					cmds[i] = p.HGet(ctx, orderKey(e.orderID), "res:"+holder)
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, unavailable(err)
		}
		skip := make([]bool, len(es))
		for i, e := range es {
			switch {
			case !e.found:
				skip[i] = true // trimmed or deleted: nothing to deliver
			case e.only != "":
				skip[i] = e.only != target
			case cmds[i] != nil:
				var res erp.Result
				if doc, err := cmds[i].Result(); err == nil && json.Unmarshal([]byte(doc), &res) == nil {
					skip[i] = res.State == erp.StateCreated
				}
			}
		}
		return skip, nil
	}

	// 1. Entries already pending in target's group.
	err := r.pending(ctx, target, func(es []relEntry) error {
		skip, err := decide(es)
		if err != nil {
			return err
		}
		var acks []string
		for i, e := range es {
			if skip[i] {
				acks = append(acks, e.id)
			} else {
				rep.Kept++
			}
		}
		if len(acks) == 0 {
			return nil
		}
		_, err = r.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.XAck(ctx, outboxKey, group(target), acks...)
			members := make([]any, len(acks))
			for i, id := range acks {
				members[i] = id
			}
			p.ZRem(ctx, retryKey(target), members...)
			return nil
		})
		if err != nil {
			return unavailable(err)
		}
		rep.Skipped += len(acks)
		return nil
	})
	if err != nil {
		return rep, err
	}

	// 2. Entries not yet delivered to target's group.
	now := r.s.now()
	for {
		res, err := r.s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: group(target), Consumer: parking, Streams: []string{outboxKey, ">"},
			Count: relScanPage, Block: -1,
		}).Result()
		if errors.Is(err, redis.Nil) {
			break
		}
		if err != nil {
			return rep, unavailable(err)
		}
		var es []relEntry
		for _, st := range res {
			for _, x := range st.Messages {
				m := message(x.ID, x.Values, 0)
				es = append(es, relEntry{id: x.ID, typ: m.Type, orderID: m.OrderID, only: m.Only, found: true})
			}
		}
		if len(es) == 0 {
			break
		}
		skip, err := decide(es)
		if err != nil {
			return rep, err
		}
		_, err = r.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, e := range es {
				if skip[i] {
					p.XAck(ctx, outboxKey, group(target), e.id)
				} else {
					// Parked and due now, its delivery uncounted: the
					// workers' Due picks it up first.
					deferScript.Eval(ctx, p, []string{outboxKey, retryKey(target)},
						group(target), e.id, now.UnixMilli(), 0, parking)
				}
			}
			return nil
		})
		if err != nil {
			return rep, unavailable(err)
		}
		for _, s := range skip {
			if s {
				rep.Skipped++
			} else {
				rep.Kept++
			}
		}
		if len(es) < relScanPage {
			break
		}
	}
	return rep, nil
}

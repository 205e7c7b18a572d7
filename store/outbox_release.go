package store

// Outbox operations of a release change, over every partition: the backlog
// a target has not finished (Reconcile) and acknowledging what another
// target delivered already (SkipDelivered).

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
	"erpgate/internal/streamgroup"
)

// backlogOrders returns the ids of the orders (order.create) target's group
// has pending or not yet delivered in any partition, and those
// dead-lettered for target; it looks at no more than relMaxReconcile
// entries.
func (b *Outbox) backlogOrders(ctx context.Context, target string) ([]string, error) {
	g, err := b.group(target)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var ids []string
	add := func(typ, id string) {
		if typ == erp.TypeOrderCreate && id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	looked := 0
	for p := range g.Partitions() {
		err := b.pending(ctx, g, p, func(es []relEntry) error {
			for _, e := range es {
				add(e.typ, e.orderID)
			}
			looked += len(es)
			if looked >= relMaxReconcile {
				return errRelStop
			}
			return nil
		})
		if errors.Is(err, errRelStop) {
			break
		}
		if err != nil {
			return nil, err
		}
		info, ok, err := g.Info(ctx, p)
		if err != nil {
			return nil, unavailable(err)
		}
		if !ok {
			continue
		}
		start := streamgroup.NextID(info.LastDeliveredID)
		for looked < relMaxReconcile {
			xs, err := b.s.rdb.XRangeN(ctx, g.Stream(p), start, "+", relScanPage).Result()
			if err != nil {
				return nil, unavailable(err)
			}
			for _, x := range xs {
				m := message(p, x.ID, x.Values, 0)
				add(m.Type, m.OrderID)
			}
			looked += len(xs)
			if len(xs) < relScanPage {
				break
			}
			start = streamgroup.NextID(xs[len(xs)-1].ID)
		}
	}
	after := ""
	for looked < relMaxReconcile {
		page, err := b.DeadLetters(ctx, after, relScanPage)
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

// pending walks the pending entries of group g on partition p in pages,
// with their fields.
func (b *Outbox) pending(ctx context.Context, g *streamgroup.Group, p int, f func([]relEntry) error) error {
	start := "-"
	for {
		ps, err := b.s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: g.Stream(p), Group: g.Name(), Start: start, End: "+", Count: relScanPage,
		}).Result()
		if err != nil {
			if streamgroup.Missing(err) {
				return nil
			}
			return unavailable(err)
		}
		if len(ps) == 0 {
			return nil
		}
		cmds := make([]*redis.XMessageSliceCmd, len(ps))
		_, err = b.s.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
			for i, pe := range ps {
				cmds[i] = pl.XRangeN(ctx, g.Stream(p), pe.ID, pe.ID, 1)
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
				m := message(p, xs[0].ID, xs[0].Values, 0)
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

// SkipReport says what SkipDelivered did.
type SkipReport struct {
	Skipped int `json:"skipped"` // entries acknowledged unseen: their orders are in holder's ERP
	Kept    int `json:"kept"`    // entries left for target to deliver
}

// SkipDelivered acknowledges, in target's consumer group on every
// partition, the order.create entries of every order that holder already
// created (result "created"): target never receives those orders. Entries
// already pending in the group (parked for a retry, or held by a consumer)
// are acknowledged where they are; entries not yet delivered are first read
// into the group by the "_backoff" pseudo-consumer, and those kept are
// scheduled as due at once, so target's workers deliver them first when it
// is active again. Replays meant for target are kept; replays meant for
// another target are acknowledged, as target's workers would do. Run it
// while target is paused: for an active target it is safe (an entry is
// delivered at most as it would have been) but may skip less. Errors:
// Invalid, Unavailable.
func (b *Outbox) SkipDelivered(ctx context.Context, target, holder string) (SkipReport, error) {
	var rep SkipReport
	if !slices.Contains(b.s.targets, target) || !slices.Contains(b.s.targets, holder) || target == holder {
		return rep, erpgate.Errorf(erpgate.Invalid, "skip: unknown targets %q, %q", target, holder)
	}
	g := b.groups[target]
	decide := func(es []relEntry) ([]bool, error) {
		cmds := make([]*redis.StringCmd, len(es))
		_, err := b.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, e := range es {
				if e.typ == erp.TypeOrderCreate && e.only == "" && e.orderID != "" {
					cmds[i] = p.HGet(ctx, b.s.orderKey(e.orderID), "res:"+holder)
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
	for p := range g.Partitions() {
		if err := b.skipDelivered(ctx, g, p, target, decide, &rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// skipDelivered is SkipDelivered on partition p.
func (b *Outbox) skipDelivered(ctx context.Context, g *streamgroup.Group, p int, target string,
	decide func([]relEntry) ([]bool, error), rep *SkipReport) error {
	// 1. Entries already pending in target's group.
	retry := retryKey(b.s.space.Tag(p), target)
	err := b.pending(ctx, g, p, func(es []relEntry) error {
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
		_, err = b.s.rdb.TxPipelined(ctx, func(pl redis.Pipeliner) error {
			pl.XAck(ctx, g.Stream(p), g.Name(), acks...)
			members := make([]any, len(acks))
			for i, id := range acks {
				members[i] = id
			}
			pl.ZRem(ctx, retry, members...)
			return nil
		})
		if err != nil {
			return unavailable(err)
		}
		rep.Skipped += len(acks)
		return nil
	})
	if err != nil {
		return err
	}

	// 2. Entries not yet delivered to target's group.
	now := b.s.now()
	for {
		read, err := g.Read(ctx, p, parking, relScanPage, 0)
		if err != nil {
			if streamgroup.Missing(err) {
				return nil
			}
			return unavailable(err)
		}
		if len(read) == 0 {
			return nil
		}
		es := make([]relEntry, len(read))
		for i, x := range read {
			m := message(p, x.ID, x.Values, 0)
			es[i] = relEntry{id: x.ID, typ: m.Type, orderID: m.OrderID, only: m.Only, found: true}
		}
		skip, err := decide(es)
		if err != nil {
			return err
		}
		var acks []string
		for i, e := range es {
			if skip[i] {
				acks = append(acks, e.id)
				rep.Skipped++
				continue
			}
			// Parked and due now, its delivery uncounted: the workers'
			// Due picks it up first.
			if err := g.Defer(ctx, p, e.id, now, 0); err != nil {
				return unavailable(err)
			}
			rep.Kept++
		}
		if err := g.Ack(ctx, p, acks...); err != nil {
			return unavailable(err)
		}
		if len(read) < relScanPage {
			return nil
		}
	}
}

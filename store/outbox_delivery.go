package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
	"erpgate/order"
)

// The delivery workers' bookkeeping in few round trips.
//
// A worker delivers the entries of a fetched batch concurrently (erp
// Dispatcher.InFlight). Per entry it loads the order, records the ERP's
// answer and acknowledges the entry; with one round trip each, those round
// trips (a write and a read system call on both sides, a wake-up of Redis)
// cost more than the commands. So a batch's orders are loaded in one
// pipeline (LoadOrders), its acknowledgements leave in one XACK (the
// worker's), and concurrent results are recorded through a group commit of
// their own (resultBatcher below, separate from the accepts' so that
// intake never queues behind deliveries).

var (
	_ erp.BatchLoader = (*Store)(nil)
	_ erp.FreshLoader = (*Store)(nil)
)

// LoadOrders returns the canonical orders ids name, in one round trip:
// orders[i] is that of ids[i], or nil with errs[i] NotFound (or Internal for
// a record that does not decode). err is Unavailable, and the slices nil,
// when Redis fails.
func (s *Store) LoadOrders(ctx context.Context, ids []string) (orders []*order.Order, errs []error, err error) {
	orders, _, errs, err = s.LoadOrdersFor(ctx, "", ids)
	return orders, errs, err
}

// LoadOrdersFor is LoadOrders that also reports, per order, whether target
// has no result recorded for it (erp.FreshLoader), in the same round trip.
// With target "" every fresh flag is false.
func (s *Store) LoadOrdersFor(ctx context.Context, target string, ids []string) (orders []*order.Order, fresh []bool, errs []error, err error) {
	if len(ids) == 0 {
		return nil, nil, nil, nil
	}
	fields := []string{"json"}
	if target != "" {
		fields = append(fields, "res:"+target)
	}
	cmds := make([]*redis.SliceCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, s.orderKey(id), fields...)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, nil, unavailable(err)
	}
	orders = make([]*order.Order, len(ids))
	fresh = make([]bool, len(ids))
	errs = make([]error, len(ids))
	for i, cmd := range cmds {
		vals, err := cmd.Result()
		if err != nil {
			errs[i] = unavailable(err)
			continue
		}
		doc, ok := vals[0].(string)
		if !ok {
			errs[i] = notFound(ids[i])
			continue
		}
		o := new(order.Order)
		if err := json.Unmarshal([]byte(doc), o); err != nil {
			errs[i] = erpgate.Wrap(erpgate.Internal, fmt.Errorf("order %s: %w", ids[i], err), "internal error")
			continue
		}
		orders[i] = o
		fresh[i] = target != "" && vals[1] == nil
	}
	return orders, fresh, errs, nil
}

// resultBatcher is the group commit of SetResult: calls that arrive while a
// pipeline is in flight wait and leave together in the next one, up to
// maxResultBatch; a call that finds none in flight leaves at once (an idle
// worker adds no latency). There is at most one pipeline in flight and no
// goroutine while idle: the caller that finds the batcher idle sends, and
// hands over to a new goroutine only when more calls queued meanwhile.
//
// Each call is still its own script call, atomic and answered on its own. A
// caller whose ctx ends returns at once (the one sending a pipeline returns
// when it is answered, bounded by the client's timeouts); if its call had
// been sent, the
// write may still land (as after a network timeout): the result is then
// recorded and the worker, which saw an error, delivers the entry again,
// which the ERP answers as a duplicate.
type resultBatcher struct {
	mu    sync.Mutex
	queue []*resultCall
	busy  bool // a pipeline is being sent
}

// maxResultBatch bounds the calls of one pipeline.
const maxResultBatch = 256

type resultCall struct {
	ctx  context.Context
	keys []string
	args []any
	res  string
	err  error
	done chan struct{}
}

// run runs setResultScript with keys and args and returns its reply.
func (b *resultBatcher) run(ctx context.Context, rdb redis.UniversalClient, keys []string, args ...any) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c := &resultCall{ctx: ctx, keys: keys, args: args, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	lead := !b.busy
	b.busy = true
	b.mu.Unlock()
	if lead {
		b.flush(rdb)
	}
	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// flush sends what is queued, then hands over to a goroutine if more came.
func (b *resultBatcher) flush(rdb redis.UniversalClient) {
	b.mu.Lock()
	n := min(len(b.queue), maxResultBatch)
	batch := make([]*resultCall, n)
	copy(batch, b.queue)
	rest := copy(b.queue, b.queue[n:])
	clear(b.queue[rest:])
	b.queue = b.queue[:rest]
	b.mu.Unlock()

	b.exec(rdb, batch)

	b.mu.Lock()
	more := len(b.queue) > 0
	b.busy = more
	b.mu.Unlock()
	if more {
		go b.flush(rdb)
	}
}

func (b *resultBatcher) exec(rdb redis.UniversalClient, batch []*resultCall) {
	live := batch[:0]
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.err = err // never sent: nothing written
			close(c.done)
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 {
		// Alone: a plain call (Run reloads the script if Redis lost it),
		// without the pipeline's machinery.
		c := live[0]
		c.res, c.err = setResultScript.Run(c.ctx, rdb, c.keys, c.args...).Text()
		close(c.done)
		return
	}
	// Not the first caller's ctx: the others wait for this pipeline too;
	// go-redis's read and write timeouts bound it.
	ctx := context.WithoutCancel(live[0].ctx)
	cmds := make([]*redis.Cmd, len(live))
	pipe := rdb.Pipeline()
	for i, c := range live {
		cmds[i] = setResultScript.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx) // errors are per command, read below
	var retry []int
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			retry = append(retry, i) // not run: sending it in full is safe
			continue
		}
		live[i].res, live[i].err = cmd.Text()
		close(live[i].done)
	}
	if len(retry) == 0 {
		return
	}
	pipe = rdb.Pipeline()
	for _, i := range retry {
		cmds[i] = setResultScript.Eval(ctx, pipe, live[i].keys, live[i].args...)
	}
	_, _ = pipe.Exec(ctx)
	for _, i := range retry {
		live[i].res, live[i].err = cmds[i].Text()
		close(live[i].done)
	}
}

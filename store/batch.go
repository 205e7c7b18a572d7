package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate/internal/partition"
	"erpgate/tracking"
)

// Group commit for Accept.
//
// Every accepted order costs Redis one atomic step, and without batching
// also one network round trip: one read and one write system call on each
// side, one wake-up of Redis's event loop, and with appendfsync always one
// fsync. Under load those per-round-trip costs, not the work itself, are
// most of what Redis and the gateway spend. The accept batcher therefore sends
// concurrent accepts together, as ONE call of the accept script for the
// whole batch (acceptScript loops over the orders).
//
// One script call rather than a pipeline of one call per order, because
// what Redis spends per call is paid once per batch: the command dispatch
// and the script's set-up, the MULTI/EXEC that wraps every script's effects
// in the AOF, the reply. And because Redis reads a client's input 16 KiB
// at a time and writes (with always: fsyncs) the AOF after each read whose
// commands wrote anything: a pipeline of one script call per order was
// fsynced every dozen orders or so, one call for the batch is fsynced once
// (Redis writes nothing until the whole command has arrived). So with
// appendfsync always the batches, and the orders per fsync, grow with the
// load as they should.
//
// Each order is still its own step inside the script: one order's replay,
// mismatch or error is that order's answer only (the script runs each
// order under pcall), and the orders of a batch run one after the other in
// queue order, so two accepts of the same external id in one batch behave
// exactly as two sequential accepts (the first creates, the second replays
// or mismatches). The batch as a whole is atomic too, which is stronger
// than needed and costs nothing: Redis runs one command at a time anyway.
//
// The batching is natural, without a timer: a call that finds a free slot
// is sent at once (an idle gateway adds no latency), and calls arriving
// while every slot is busy queue up and leave together with the next free
// slot, up to maxBatch orders (and about maxBatchBytes of order data) per
// script call. The busier Redis is, the larger the batches and the cheaper
// each order. The flushing goroutines (at most maxPipes, each with one
// call in flight) wait flushIdle for more work before they exit, so a
// steady stream of orders does not start (and grow the stack of) a new
// goroutine per batch, and an idle Store holds none: it needs no Close.
//
// Cancellation: a caller whose ctx ends returns at once. If its call had not
// been sent yet, it is dropped and nothing is written. If it was already in a
// batch, the write may still land, exactly as when a network timeout hits
// a plain request after the command left: the order is then stored without
// its 202, and the shop's retry with the same key gets it as a replay.
// flusher is the queue and the flush loops of a group commit, for calls of
// type C; take says how many queued calls the next batch takes and exec
// sends a batch and finishes its calls.
type flusher[C any] struct {
	maxBatch int // most calls in one batch
	maxPipes int // most batches in flight at once
	take     func(queue []C, max int) int
	exec     func(batch []C)

	mu      sync.Mutex
	queue   []C
	running int           // flush loops running (each has at most one batch in flight)
	idle    int           // of those, waiting for work
	wake    chan struct{} // tells an idle flush loop that work is queued
}

// flushIdle is how long a flush loop waits for more work before it exits.
const flushIdle = 2 * time.Second

// Defaults of Options.AcceptBatch and Options.AcceptPipelines. One batch in
// flight keeps batches deepest (calls that arrive while it runs leave
// together with the next one); two let the gateway build and parse one
// batch while Redis executes the other.
const (
	DefaultAcceptBatch     = 256
	DefaultAcceptPipelines = 2
)

func (f *flusher[C]) init(maxBatch, maxPipes int, take func([]C, int) int, exec func([]C)) {
	if maxBatch <= 0 {
		maxBatch = DefaultAcceptBatch
	}
	if maxPipes <= 0 {
		maxPipes = DefaultAcceptPipelines
	}
	f.maxBatch, f.maxPipes, f.take, f.exec = maxBatch, maxPipes, take, exec
	f.wake = make(chan struct{}, maxPipes)
}

// enqueue queues c and makes sure a flush loop will send it.
func (f *flusher[C]) enqueue(c C) {
	f.mu.Lock()
	f.queue = append(f.queue, c)
	start := false
	switch {
	case f.idle > 0:
		select {
		case f.wake <- struct{}{}:
		default: // a wake-up is pending already
		}
	case f.running < f.maxPipes:
		f.running++
		start = true
	}
	f.mu.Unlock()
	if start {
		go f.flushLoop()
	}
}

// flushLoop sends queued calls, one batch at a time, and exits after
// flushIdle without work.
func (f *flusher[C]) flushLoop() {
	var timer *time.Timer
	for {
		f.mu.Lock()
		n := 0
		if len(f.queue) > 0 {
			n = max(1, f.take(f.queue, f.maxBatch))
		}
		if n == 0 {
			f.idle++
			f.mu.Unlock()
			if timer == nil {
				timer = time.NewTimer(flushIdle)
			} else {
				timer.Reset(flushIdle)
			}
			woken := false
			select {
			case <-f.wake:
				woken = true
			case <-timer.C:
			}
			f.mu.Lock()
			f.idle--
			if !woken && len(f.queue) == 0 {
				f.running--
				f.mu.Unlock()
				return
			}
			f.mu.Unlock()
			continue
		}
		batch := make([]C, n)
		copy(batch, f.queue)
		// Shift the rest down (the queue is short) and clear the tail so
		// finished calls are not kept alive by the backing array.
		rest := copy(f.queue, f.queue[n:])
		clear(f.queue[rest:])
		f.queue = f.queue[:rest]
		f.mu.Unlock()
		f.exec(batch)
	}
}

// wait waits for done or ctx, whichever comes first.
func wait(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// acceptBatcher is the group commit of Accept: a batch is one call of
// acceptScript for orders of ONE partition (see the comment at the top).
// Each partition has its own queue and flush loops: a script call must
// touch keys of one hash slot only (Redis Cluster), and the partition's tag
// puts the orders, their records and the partition's streams in one slot.
// An idle partition holds no goroutine.
type acceptBatcher struct {
	rdb   redis.UniversalClient
	wait  replicaWait
	parts []*acceptQueue
}

// acceptQueue is the group commit of one partition.
type acceptQueue struct {
	b   *acceptBatcher
	tag string // the partition's hash tag
	flusher[*acceptCall]
}

// maxBatchBytes bounds the order data (records and events) of one accept
// script call, so that a batch of large orders does not hold Redis's one
// thread for long: a batch closes at maxBatch orders or at this size,
// whichever comes first (one order always goes).
const maxBatchBytes = 1 << 20

// acceptCall is one order waiting for its batch's reply.
type acceptCall struct {
	ctx  context.Context
	keys []string // ord, ext, trk[, idem]: the order's own keys
	args []any    // the order's values of acceptScript's ARGV
	size int      // bytes of order data, for maxBatchBytes

	// Set by the batcher before done is closed.
	res []string
	err error

	done chan struct{}
}

func newAcceptBatcher(rdb redis.UniversalClient, sp partition.Space, w replicaWait, maxBatch, maxPipes int) *acceptBatcher {
	b := &acceptBatcher{rdb: rdb, wait: w, parts: make([]*acceptQueue, sp.N())}
	for p := range b.parts {
		q := &acceptQueue{b: b, tag: sp.Tag(p)}
		q.init(maxBatch, maxPipes, acceptBatchLen, q.exec)
		b.parts[p] = q
	}
	return b
}

// run accepts one order of partition p (its keys and its values of
// acceptScript's ARGV; size is the bytes of its data) in the next batch of
// that partition and returns its reply as a string slice. It returns ctx's
// error as soon as ctx ends; see the comment at the top for what that means
// for the write.
func (b *acceptBatcher) run(ctx context.Context, p int, keys []string, size int, args ...any) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &acceptCall{ctx: ctx, keys: keys, args: args, size: size, done: make(chan struct{})}
	b.parts[p].enqueue(c)
	if err := wait(ctx, c.done); err != nil {
		return nil, err
	}
	return c.res, c.err
}

// acceptBatchLen is how many queued calls (of one partition's queue) the
// next batch takes.
func acceptBatchLen(q []*acceptCall, maxBatch int) int {
	n, bytes := 0, 0
	for n < len(q) && n < maxBatch {
		bytes += q[n].size
		if n > 0 && bytes > maxBatchBytes {
			break
		}
		n++
	}
	return n
}

// exec sends one batch as one call of acceptScript and hands every call its
// own reply.
func (q *acceptQueue) exec(batch []*acceptCall) {
	live := batch[:0]
	nkeys, nargs := 2, 2
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			// The caller has gone; it was never sent, so nothing is written.
			c.finish(nil, err)
			continue
		}
		live = append(live, c)
		nkeys += len(c.keys)
		nargs += 1 + len(c.args)
	}
	if len(live) == 0 {
		return
	}
	keys := make([]string, 0, nkeys)
	keys = append(keys, tracking.FeedKey(q.tag), outboxKey(q.tag))
	args := make([]any, 0, nargs)
	args = append(args, feedMaxLen, len(live))
	for _, c := range live {
		keys = append(keys, c.keys...)
		args = append(args, len(c.keys))
		args = append(args, c.args...)
	}
	// The call must not die with the first caller's ctx (the others still
	// wait for it); go-redis's read/write timeouts bound it.
	ctx := direct(context.WithoutCancel(live[0].ctx))
	reply, err := q.b.wait.eval(ctx, q.b.rdb, acceptScript, outboxKey(q.tag), keys, args)
	if err == nil && len(reply) != len(live) {
		err = fmt.Errorf("accept script answered %d of %d orders", len(reply), len(live))
	}
	for i, c := range live {
		if err != nil {
			c.finish(nil, err)
			continue
		}
		c.finish(orderReply(reply[i]))
	}
}

// orderReply converts one order's reply ({status, id[, outboxID]} or
// {"err", message}) to strings.
func orderReply(v any) ([]string, error) {
	items, ok := v.([]any)
	if !ok || len(items) < 2 {
		return nil, fmt.Errorf("accept script: malformed reply %v", v)
	}
	res := make([]string, len(items))
	for i, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, fmt.Errorf("accept script: malformed reply %v", v)
		}
		res[i] = s
	}
	if res[0] == "err" {
		return nil, errors.New("accept script: " + res[1])
	}
	return res, nil
}

func (c *acceptCall) finish(res []string, err error) {
	c.res, c.err = res, err
	close(c.done)
}

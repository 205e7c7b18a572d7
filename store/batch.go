package store

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Group commit for Accept.
//
// Every accepted order costs Redis one script call, and without batching
// also one network round trip: one read and one write system call on each
// side, one wake-up of Redis's event loop, and with appendfsync always one
// fsync. Under load those per-round-trip costs, not the script, are most of
// what Redis and the gateway spend. The batcher therefore sends concurrent
// accepts together: one pipeline of many EVALSHA calls, one round trip.
//
// Each order is still its own script call, so each accept stays atomic and
// independent: one order's replay, mismatch or script error is that order's
// answer only. A pipeline is not a transaction; the calls of a batch run one
// after the other in queue order, so two accepts of the same external id in
// one batch behave exactly as two sequential accepts (the first creates, the
// second replays or mismatches).
//
// The batching is natural, without a timer: a call that finds a free
// pipeline slot is sent at once (an idle gateway adds no latency), and calls
// arriving while every slot is busy queue up and leave together with the
// next free slot, up to maxBatch per pipeline. The busier Redis is, the
// larger the batches and the cheaper each order. The flushing goroutines
// (at most maxPipes) wait flushIdle for more work before they exit, so a
// steady stream of orders does not start (and grow the stack of) a new
// goroutine per batch, and an idle Store holds none: it needs no Close.
//
// Cancellation: a caller whose ctx ends returns at once. If its call had not
// been sent yet, it is dropped and nothing is written. If it was already in a
// pipeline, the write may still land, exactly as when a network timeout hits
// a plain request after the command left: the order is then stored without
// its 202, and the shop's retry with the same key gets it as a replay.
type batcher struct {
	rdb      redis.UniversalClient
	maxBatch int // most calls in one pipeline
	maxPipes int // most pipelines in flight at once

	mu      sync.Mutex
	queue   []*scriptCall
	running int           // flush loops running (each has at most one pipeline in flight)
	idle    int           // of those, waiting for work
	wake    chan struct{} // tells an idle flush loop that work is queued
}

// flushIdle is how long a flush loop waits for more work before it exits.
const flushIdle = 2 * time.Second

// Defaults of Options.AcceptBatch and Options.AcceptPipelines. One pipeline
// in flight keeps batches deepest (calls that arrive while it runs leave
// together with the next one); two let the gateway build and parse one
// batch while Redis executes the other.
const (
	DefaultAcceptBatch     = 256
	DefaultAcceptPipelines = 2
)

// scriptCall is one script invocation waiting for its reply.
type scriptCall struct {
	ctx    context.Context
	script *redis.Script
	keys   []string
	args   []any

	// Set by the batcher before done is closed.
	res []string
	err error

	done chan struct{}
}

func newBatcher(rdb redis.UniversalClient, maxBatch, maxPipes int) *batcher {
	if maxBatch <= 0 {
		maxBatch = DefaultAcceptBatch
	}
	if maxPipes <= 0 {
		maxPipes = DefaultAcceptPipelines
	}
	return &batcher{rdb: rdb, maxBatch: maxBatch, maxPipes: maxPipes, wake: make(chan struct{}, maxPipes)}
}

// run executes script with keys and args in the next pipeline and returns
// its reply as a string slice. It returns ctx's error as soon as ctx ends;
// see the type's comment for what that means for the write.
func (b *batcher) run(ctx context.Context, script *redis.Script, keys []string, args ...any) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &scriptCall{ctx: ctx, script: script, keys: keys, args: args, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	start := false
	switch {
	case b.idle > 0:
		select {
		case b.wake <- struct{}{}:
		default: // a wake-up is pending already
		}
	case b.running < b.maxPipes:
		b.running++
		start = true
	}
	b.mu.Unlock()
	if start {
		go b.flushLoop()
	}
	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// flushLoop sends queued calls, one pipeline at a time, and exits after
// flushIdle without work.
func (b *batcher) flushLoop() {
	var timer *time.Timer
	for {
		b.mu.Lock()
		n := min(len(b.queue), b.maxBatch)
		if n == 0 {
			b.idle++
			b.mu.Unlock()
			if timer == nil {
				timer = time.NewTimer(flushIdle)
			} else {
				timer.Reset(flushIdle)
			}
			woken := false
			select {
			case <-b.wake:
				woken = true
			case <-timer.C:
			}
			b.mu.Lock()
			b.idle--
			if !woken && len(b.queue) == 0 {
				b.running--
				b.mu.Unlock()
				return
			}
			b.mu.Unlock()
			continue
		}
		batch := make([]*scriptCall, n)
		copy(batch, b.queue)
		// Shift the rest down (the queue is short) and clear the tail so
		// finished calls are not kept alive by the backing array.
		rest := copy(b.queue, b.queue[n:])
		clear(b.queue[rest:])
		b.queue = b.queue[:rest]
		b.mu.Unlock()
		b.exec(batch)
	}
}

// exec sends one batch as one pipeline and hands every call its own reply.
func (b *batcher) exec(batch []*scriptCall) {
	live := batch[:0]
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			// The caller has gone; it was never sent, so nothing is written.
			c.finish(nil, err)
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	// The pipeline must not die with the first caller's ctx (the others
	// still wait for it); go-redis's read/write timeouts bound it.
	ctx := context.WithoutCancel(live[0].ctx)
	cmds := make([]*redis.Cmd, len(live))
	pipe := b.rdb.Pipeline()
	for i, c := range live {
		cmds[i] = c.script.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx) // errors are per command, read below

	// NOSCRIPT (a restarted or flushed Redis): the script did not run, so
	// sending it again in full is safe; EVAL also reloads the cache.
	var retry []int
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			retry = append(retry, i)
			continue
		}
		live[i].finish(cmd.StringSlice())
	}
	if len(retry) == 0 {
		return
	}
	pipe = b.rdb.Pipeline()
	for _, i := range retry {
		c := live[i]
		cmds[i] = c.script.Eval(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx)
	for _, i := range retry {
		live[i].finish(cmds[i].StringSlice())
	}
}

func (c *scriptCall) finish(res []string, err error) {
	c.res, c.err = res, err
	close(c.done)
}

package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Waiting for replicas (Options.WaitReplicas).
//
// Redis replicates asynchronously: a primary that dies right after it ran an
// accept may lose that accept when its replica is promoted. With
// WaitReplicas = N the accept script is followed by WAIT N timeout, and the
// 202 is given only when N replicas hold the write.
//
// WAIT has no key and counts the writes of its own connection, so it must
// follow the script on the same connection of the same node: it is sent in
// one pipeline with the script, on the client of the primary that owns the
// batch's slot (ClusterClient.MasterForKey; a single node's or Sentinel's
// client is that node already). A go-redis pipeline runs on one pooled
// connection from start to end (baseClient._processPipeline takes one
// connection for the whole pipeline), so the WAIT counts exactly the
// script's write.
//
// Such a node pipeline does not follow the cluster's redirections, so eval
// does: MOVED (the slot has moved: reload the slot map), ASK, TRYAGAIN (a
// slot in migration) and CLUSTERDOWN are retried with backoff. Each of these
// answers means the script did not run; and a retried accept is idempotent
// anyway — the external-id record written in the same script turns a second
// run into a replay of the first — so a retry can never double an order.

// replicaWait is the WAIT setting of the accepts.
type replicaWait struct {
	n       int           // replicas that must hold an accept before it is confirmed; 0: no WAIT
	timeout time.Duration // how long WAIT waits for them
}

// DefaultWaitTimeout is the default of Options.WaitTimeout.
const DefaultWaitTimeout = 500 * time.Millisecond

// redirectRetries bounds the retries of a redirected node pipeline; with
// redirectBackoff doubling from 10 ms that is about 2.5 s, the time a
// failover (cluster-node-timeout plus the election) or a slot's migration
// takes on a healthy cluster.
const (
	redirectRetries = 8
	redirectBackoff = 10 * time.Millisecond
)

// errNotReplicated is the error of an accept that ran on the primary but was
// not confirmed by enough replicas in time: its outcome is unknown (the
// primary holds it; a failover now may lose it), so the caller answers
// outcome_unknown and the shop's retry with the same keys replays or
// stores it.
type errNotReplicated struct{ acked, want int }

func (e errNotReplicated) Error() string {
	return fmt.Sprintf("redis WAIT: %d of %d replicas confirmed the accept in time", e.acked, e.want)
}

// eval runs script with keys (all in the slot of slotKey) and args and
// returns its reply; with w.n > 0 only once w.n replicas hold its writes.
func (w replicaWait) eval(ctx context.Context, rdb redis.UniversalClient, script *redis.Script, slotKey string, keys []string, args []any) ([]any, error) {
	if w.n <= 0 {
		// The client routes the call and follows redirections itself.
		reply, err := script.EvalSha(ctx, rdb, keys, args...).Slice()
		if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			// A restarted or flushed Redis: the script did not run, so
			// sending it again in full is safe; EVAL also reloads the cache.
			reply, err = script.Eval(ctx, rdb, keys, args...).Slice()
		}
		return reply, err
	}
	backoff := redirectBackoff
	for attempt := 0; ; attempt++ {
		reply, err := w.evalOnNode(ctx, rdb, script, slotKey, keys, args)
		if err == nil || attempt == redirectRetries || !redirected(err) {
			return reply, err
		}
		if c, ok := rdb.(*redis.ClusterClient); ok && isMoved(err) {
			c.ReloadState(ctx)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// evalOnNode sends script and WAIT in one pipeline on the connection of the
// primary that owns slotKey's slot.
func (w replicaWait) evalOnNode(ctx context.Context, rdb redis.UniversalClient, script *redis.Script, slotKey string, keys []string, args []any) ([]any, error) {
	var node redis.Cmdable = rdb
	if c, ok := rdb.(*redis.ClusterClient); ok {
		n, err := c.MasterForKey(ctx, slotKey)
		if err != nil {
			return nil, err
		}
		node = n
	}
	send := func(eval func(context.Context, redis.Scripter, []string, ...any) *redis.Cmd) (ev, wt *redis.Cmd) {
		_, _ = node.Pipelined(ctx, func(p redis.Pipeliner) error {
			ev = eval(ctx, p, keys, args...)
			// A pipeline reads with the client's ReadTimeout: the WAIT
			// timeout must stay below it (the gateway's flag is bounded).
			wt = p.Do(ctx, "wait", w.n, w.timeout.Milliseconds())
			return nil
		}) // errors are per command, read below
		return ev, wt
	}
	ev, wt := send(script.EvalSha)
	if err := ev.Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		ev, wt = send(script.Eval)
	}
	reply, err := ev.Slice()
	if err != nil {
		return nil, err
	}
	acked, err := wt.Int64()
	if err != nil {
		return nil, fmt.Errorf("redis WAIT: %w", err)
	}
	if int(acked) < w.n {
		return nil, errNotReplicated{acked: int(acked), want: w.n}
	}
	return reply, nil
}

// redirected reports whether err is a cluster answer that means "not here,
// not now": the command did not run and may be sent again.
func redirected(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	for _, p := range []string{"MOVED ", "ASK ", "TRYAGAIN", "CLUSTERDOWN"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func isMoved(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "MOVED ")
}

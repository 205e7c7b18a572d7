package store

import (
	"context"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Automatic pipelining.
//
// Delivering one order to both ERP targets takes about a dozen small Redis
// commands (load the order, record each target's answer, the shadow
// comparison, the timeline event, the open-order set, the acknowledgements),
// issued by many goroutines at once: every consumer has --erp-in-flight
// calls running. Sent one by one, each is a network round trip, and the
// round trip — a read and a write system call on each side, a wake-up of
// Redis's event loop and of the waiting goroutine — costs both processes
// several times what Redis spends executing the command.
//
// AutoPipeline is a go-redis hook that sends the commands goroutines issue
// at the same time as one pipeline, with the natural batching of the accept
// group commit (batch.go): a command that finds a free slot goes at once
// (an idle gateway adds no latency), commands arriving while every slot is
// busy leave together with the next one. Each command is still its own
// command: its reply and its error are its own, it runs atomically as
// before, and the commands of one goroutine keep their order (a goroutine
// waits for each reply before it sends the next command). Commands of
// different goroutines had no order to keep.
//
// Only plain, non-blocking commands are pipelined (pipelined, below);
// everything else — a blocking XREAD/XREADGROUP, connection set-up (HELLO,
// AUTH, CLIENT), transactions — goes its usual way. A batch that fails as a
// whole (Redis unreachable) fails each of its commands with that error, as
// each would have failed alone.
//
// Cancellation: a command whose ctx has ended before its batch leaves is
// not sent and fails with ctx's error. Once sent, its caller waits for the
// reply even if ctx ends meanwhile — the batch writes the reply into the
// caller's command — bounded by go-redis's read and write timeouts, as a
// batch is never tied to one caller's ctx.
type AutoPipeline struct {
	rdb redis.UniversalClient
	flusher[*pipeCall]

	batches  prometheus.Counter
	commands prometheus.Counter
}

// Defaults of NewAutoPipeline.
const (
	DefaultPipelineBatch = 512 // most commands in one pipeline
	DefaultPipelines     = 4   // most pipelines in flight at once
)

// pipeCall is one command waiting for its batch.
type pipeCall struct {
	ctx  context.Context
	cmd  redis.Cmder
	done chan struct{}
}

// NewAutoPipeline returns the hook for rdb (install it with rdb.AddHook);
// maxBatch and maxPipes ≤ 0 take DefaultPipelineBatch and DefaultPipelines.
// Its counters, erpgate_redis_pipelines_total and
// erpgate_redis_pipelined_commands_total (their ratio is the mean batch),
// are registered with reg when reg is not nil.
func NewAutoPipeline(rdb redis.UniversalClient, maxBatch, maxPipes int, reg prometheus.Registerer) (*AutoPipeline, error) {
	if maxBatch <= 0 {
		maxBatch = DefaultPipelineBatch
	}
	if maxPipes <= 0 {
		maxPipes = DefaultPipelines
	}
	a := &AutoPipeline{
		rdb: rdb,
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "erpgate_redis_pipelines_total",
			Help: "Pipelines the gateway's automatic pipelining sent to Redis (each carries the commands goroutines issued at the same time).",
		}),
		commands: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "erpgate_redis_pipelined_commands_total",
			Help: "Redis commands sent through the automatic pipelining (divided by erpgate_redis_pipelines_total: the mean batch).",
		}),
	}
	a.init(maxBatch, maxPipes, func(q []*pipeCall, max int) int { return min(len(q), max) }, a.exec)
	if reg != nil {
		for _, c := range []prometheus.Collector{a.batches, a.commands} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return a, nil
}

// DialHook is go-redis's dial hook: unchanged.
func (a *AutoPipeline) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessPipelineHook is go-redis's pipeline hook: explicit pipelines and
// transactions go their usual way.
func (a *AutoPipeline) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// ProcessHook sends pipelinable commands with the next batch.
func (a *AutoPipeline) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !pipelined(cmd) || ctx.Value(directKey{}) != nil {
			return next(ctx, cmd)
		}
		if err := ctx.Err(); err != nil {
			cmd.SetErr(err)
			return err
		}
		c := &pipeCall{ctx: ctx, cmd: cmd, done: make(chan struct{})}
		a.enqueue(c)
		<-c.done // see the comment at the top: the batch writes into cmd
		return cmd.Err()
	}
}

// exec sends one batch as one pipeline.
func (a *AutoPipeline) exec(batch []*pipeCall) {
	pipe := a.rdb.Pipeline()
	var ctx context.Context
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.cmd.SetErr(err) // never sent: nothing was written
			continue
		}
		if ctx == nil {
			// Not tied to this caller's ctx: the others wait too.
			ctx = context.WithoutCancel(c.ctx)
		}
		_ = pipe.Process(ctx, c.cmd)
	}
	if n := pipe.Len(); n > 0 {
		_, _ = pipe.Exec(ctx) // errors are per command, in each cmd
		a.batches.Inc()
		a.commands.Add(float64(n))
	}
	for _, c := range batch {
		close(c.done)
	}
}

// directKey marks a ctx whose commands AutoPipeline sends on their own.
type directKey struct{}

// direct returns ctx marked so that AutoPipeline sends its commands on their
// own: for the group commits (batch.go), which are batches already — large
// ones, that would make every small command queued behind them wait.
func direct(ctx context.Context) context.Context {
	return context.WithValue(ctx, directKey{}, true)
}

// pipelinedNames are the commands AutoPipeline batches: plain commands
// that neither block nor change the connection's state. Lower case, as
// go-redis names them.
var pipelinedNames = map[string]bool{
	"get": true, "mget": true, "set": true, "mset": true, "setnx": true, "getdel": true,
	"del": true, "unlink": true, "exists": true, "expire": true, "pexpire": true, "ttl": true, "pttl": true,
	"incr": true, "incrby": true, "decr": true, "decrby": true,
	"hget": true, "hmget": true, "hgetall": true, "hset": true, "hsetnx": true, "hdel": true,
	"hexists": true, "hincrby": true, "hlen": true, "hkeys": true, "hvals": true,
	"zadd": true, "zrem": true, "zscore": true, "zcard": true, "zcount": true, "zrange": true,
	"zrangebyscore": true, "zrevrange": true, "zrevrangebyscore": true, "zremrangebyscore": true,
	"sadd": true, "srem": true, "smembers": true, "sismember": true, "scard": true,
	"lpush": true, "rpush": true, "lrange": true, "llen": true, "ltrim": true,
	"xadd": true, "xack": true, "xdel": true, "xlen": true, "xrange": true, "xrevrange": true,
	"xtrim": true, "xpending": true, "xclaim": true, "xautoclaim": true,
	"xread": true, "xreadgroup": true, // only without BLOCK, see pipelined
	"eval": true, "evalsha": true, "eval_ro": true, "evalsha_ro": true,
}

// pipelined reports whether cmd may go in a batch.
func pipelined(cmd redis.Cmder) bool { return pipelinedName(cmd.Name(), cmd.Args()) }

func pipelinedName(name string, args []any) bool {
	if !pipelinedNames[name] {
		return false
	}
	if name == "xread" || name == "xreadgroup" {
		// A blocking read would hold the whole batch.
		for _, arg := range args {
			if s, ok := arg.(string); ok && strings.EqualFold(s, "block") {
				return false
			}
		}
	}
	return true
}

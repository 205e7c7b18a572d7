package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"erpgate/internal/redistest"
	"erpgate/store"
)

// pipeGate is a go-redis hook that, once armed, holds the next pipeline until
// opened, so a test can line commands up behind it without sleeping.
type pipeGate struct {
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (g *pipeGate) arm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.entered, g.release = true, make(chan struct{}), make(chan struct{})
}

func (g *pipeGate) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (g *pipeGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (g *pipeGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		g.mu.Lock()
		armed, entered, release := g.armed, g.entered, g.release
		g.armed = false
		g.mu.Unlock()
		if armed {
			close(entered)
			<-release
		}
		return next(ctx, cmds)
	}
}

// autoPiped returns a real-Redis client whose AutoPipeline has one
// pipeline in flight at most, the hook, its registry and a pipeGate behind it.
func autoPiped(t *testing.T) (redis.UniversalClient, *store.AutoPipeline, *prometheus.Registry, *pipeGate) {
	t.Helper()
	rdb := redistest.Universal(t)
	reg := prometheus.NewRegistry()
	ap, err := store.NewAutoPipeline(rdb, 0, 1, reg)
	if err != nil {
		t.Fatal(err)
	}
	g := &pipeGate{}
	rdb.AddHook(ap)
	rdb.AddHook(g) // after AutoPipeline: sees the pipelines it sends
	return rdb, ap, reg, g
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestAutoPipelineBatchesConcurrentCommands: commands issued while the one
// pipeline slot is busy leave together, as one pipeline, and each gets its
// own reply — a wrong-type error is that command's alone.
func TestAutoPipelineBatchesConcurrentCommands(t *testing.T) {
	rdb, ap, reg, g := autoPiped(t)
	ctx := t.Context()
	if err := rdb.Set(ctx, "plain", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}

	g.arm()
	held := make(chan error, 1)
	go func() { held <- rdb.Incr(ctx, "n").Err() }()
	<-g.entered // the only slot is busy with the INCR

	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			if i == 0 {
				errs[i] = rdb.HGet(ctx, "plain", "f").Err() // a string: WRONGTYPE
				return
			}
			errs[i] = rdb.Set(ctx, fmt.Sprint("k", i), i, 0).Err()
		})
	}
	for store.QueuedCommands(ap) < n {
		time.Sleep(time.Millisecond) // waiting for the goroutines to queue up, not timing anything
	}
	pipes0 := counterValue(t, reg, "erpgate_redis_pipelines_total")
	cmds0 := counterValue(t, reg, "erpgate_redis_pipelined_commands_total")
	close(g.release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	pipes := counterValue(t, reg, "erpgate_redis_pipelines_total") - pipes0
	cmds := counterValue(t, reg, "erpgate_redis_pipelined_commands_total") - cmds0
	if pipes != 2 || cmds != 1+n {
		t.Errorf("%v commands in %v pipelines, want the held one then all %d queued together: %d in 2", cmds, pipes, n, 1+n)
	}

	if errs[0] == nil || !strings.HasPrefix(errs[0].Error(), "WRONGTYPE") {
		t.Errorf("hget on a string: %v, want WRONGTYPE", errs[0])
	}
	for i := 1; i < n; i++ {
		if errs[i] != nil {
			t.Errorf("set k%d: %v", i, errs[i])
		}
		if v, err := rdb.Get(ctx, fmt.Sprint("k", i)).Result(); err != nil || v != fmt.Sprint(i) {
			t.Errorf("k%d = %q, %v; want %d", i, v, err, i)
		}
	}
}

// TestAutoPipelineLeavesBlockingCommandsAlone: a blocking XREAD is sent on
// its own connection, so it does not hold the one pipeline slot: commands
// issued while it waits are answered, and the XADD among them wakes it.
func TestAutoPipelineLeavesBlockingCommandsAlone(t *testing.T) {
	rdb, _, reg, _ := autoPiped(t)
	ctx := t.Context()
	read := make(chan []redis.XStream, 1)
	go func() {
		res, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{"s", "$"}, Block: 0}).Result()
		if err != nil {
			t.Error(err)
		}
		read <- res
	}()
	// Until the XREAD is registered as blocked, an XADD could come first.
	for {
		info, err := rdb.Info(ctx, "clients").Result()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(info, "blocked_clients:1") {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for i := range 5 {
		if err := rdb.Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: "s", Values: []any{"f", "v"}}).Err(); err != nil {
		t.Fatal(err)
	}
	res := <-read
	if len(res) != 1 || len(res[0].Messages) != 1 || res[0].Messages[0].Values["f"] != "v" {
		t.Errorf("xread = %v, want the one entry", res)
	}
	if got := counterValue(t, reg, "erpgate_redis_pipelined_commands_total"); got != 6 {
		t.Errorf("%v commands pipelined, want the 5 sets and the xadd (not the blocking xread)", got)
	}
}

// TestAutoPipelineDropsCancelledCommands: a command whose ctx ended while
// it waited for its pipeline is not sent and fails with ctx's error.
func TestAutoPipelineDropsCancelledCommands(t *testing.T) {
	rdb, ap, _, g := autoPiped(t)
	ctx := t.Context()
	g.arm()
	held := make(chan error, 1)
	go func() { held <- rdb.Incr(ctx, "n").Err() }()
	<-g.entered

	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rdb.Set(cctx, "never", "x", 0).Err() }()
	for store.QueuedCommands(ap) < 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	close(g.release)
	if err := <-done; err != context.Canceled {
		t.Errorf("cancelled set: %v, want context.Canceled", err)
	}
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Exists(ctx, "never").Result(); err != nil || n != 0 {
		t.Errorf("exists never = %d, %v; want 0 (not sent)", n, err)
	}
	if err := rdb.Set(cctx, "never", "x", 0).Err(); err != context.Canceled {
		t.Errorf("set on a cancelled ctx: %v, want context.Canceled", err)
	}
}

// TestAutoPipelineRunsScriptsAfterAFlush: Script.Run's NOSCRIPT fallback
// (EVALSHA, then EVAL) works through the pipelines.
func TestAutoPipelineRunsScriptsAfterAFlush(t *testing.T) {
	rdb, _, _, _ := autoPiped(t)
	ctx := t.Context()
	script := redis.NewScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`)
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for want := int64(3); want <= 6; want += 3 {
		if got, err := script.Run(ctx, rdb, []string{"c"}, 3).Int64(); err != nil || got != want {
			t.Fatalf("script = %d, %v; want %d", got, err, want)
		}
	}
}

func TestPipelinedCommands(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		cmd  redis.Cmder
		want bool
	}{
		{redis.NewStringCmd(ctx, "get", "k"), true},
		{redis.NewCmd(ctx, "evalsha", "abc", 0), true},
		{redis.NewXStreamSliceCmd(ctx, "xreadgroup", "group", "g", "c", "count", 10, "streams", "s", ">"), true},
		{redis.NewXStreamSliceCmd(ctx, "xreadgroup", "group", "g", "c", "block", 100, "streams", "s", ">"), false},
		{redis.NewXStreamSliceCmd(ctx, "xread", "block", 0, "streams", "s", "$"), false},
		{redis.NewStatusCmd(ctx, "hello", 3), false},
		{redis.NewStatusCmd(ctx, "select", 1), false},
		{redis.NewStatusCmd(ctx, "multi"), false},
		{redis.NewStringSliceCmd(ctx, "blpop", "l", 0), false},
	} {
		if got := store.Pipelined(c.cmd); got != c.want {
			t.Errorf("pipelined(%v) = %v, want %v", c.cmd.Args(), got, c.want)
		}
	}
}

// TestAutoPipelineSurvivesAnOutage: with Redis gone every pipelined
// command fails (none hangs), concurrent ones each with its own error;
// with Redis back they work again on fresh connections.
func TestAutoPipelineSurvivesAnOutage(t *testing.T) {
	rdb, m := redistest.Mini(t)
	ap, err := store.NewAutoPipeline(rdb, 0, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	rdb.AddHook(ap)
	ctx := t.Context()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	m.Close()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = rdb.Get(ctx, "k").Err() })
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			t.Errorf("get %d with Redis down: no error", i)
		}
	}
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "k2", "v2", 0).Err(); err != nil {
		t.Fatalf("set after Redis came back: %v", err)
	}
	if v, err := rdb.Get(ctx, "k2").Result(); err != nil || v != "v2" {
		t.Errorf("get after Redis came back = %q, %v", v, err)
	}
}

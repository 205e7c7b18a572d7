package tracking

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate/internal/redistest"
)

// cmdCounter is a go-redis hook that counts the commands a client sends and
// its round trips (a pipeline is one).
type cmdCounter struct {
	mu    sync.Mutex
	cmds  map[string]int
	trips int
}

func newCmdCounter() *cmdCounter { return &cmdCounter{cmds: map[string]int{}} }

func (c *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.cmds[cmdName(cmd)]++
		c.trips++
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.mu.Lock()
		for _, cmd := range cmds {
			c.cmds[cmdName(cmd)]++
		}
		c.trips++
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

// cmdName names XINFO and XGROUP by their subcommand, as commandstats does.
func cmdName(cmd redis.Cmder) string {
	n := strings.ToLower(cmd.Name())
	if n == "xinfo" || n == "xgroup" {
		if args := cmd.Args(); len(args) > 1 {
			n += "|" + strings.ToLower(fmt.Sprint(args[1]))
		}
	}
	return n
}

func (c *cmdCounter) count(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cmds[name]
}

func (c *cmdCounter) snapshot() (map[string]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.cmds))
	for k, v := range c.cmds {
		m[k] = v
	}
	return m, c.trips
}

// commandUsec reads INFO commandstats: command → (calls, usec).
func commandUsec(ctx context.Context, rdb redis.UniversalClient) (map[string][2]int64, error) {
	s, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	out := map[string][2]int64{}
	for _, line := range strings.Split(s, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		var calls, usec int64
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "calls":
				calls, _ = strconv.ParseInt(v, 10, 64)
			case "usec":
				usec, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		out[strings.TrimPrefix(name, "cmdstat_")] = [2]int64{calls, usec}
	}
	return out, nil
}

// BenchmarkWebhookFeedNoSubscriptions measures what the webhook feed
// consumer costs per feed entry when nobody is subscribed: b.N events are
// appended through the Store at a steady rate (ERPGATE_BENCH_FEED_RATE per
// second, default 4000, about the REST intake the cost was found at; in
// concurrent bursts of 8) while one Webhooks instance with the default
// timings runs, and the benchmark waits until the consumer group has passed
// the last entry with nothing pending. It reports the instance's Redis
// commands and round trips per entry (counted by a hook on its own client:
// the feed consumer and the idle workers' polls) and, from INFO
// commandstats, the Redis CPU of the commands only the consumer sends
// (reads, acks, claims, XINFO, XGROUP, HGETALL; on a shared server other
// clients' stream commands count too, so use a private redis-server, and
// the Lua overhead of the skip script is not in it). ns/op is wall time per
// entry, i.e. the pacing; the instance's own CPU is in a CPU profile under
// the pprof label webhook-consumer=<benchmark name>:
//
//	go test ./tracking -run '^$' -bench WebhookFeed -benchtime 20000x -count 5 \
//	    -cpuprofile /tmp/wh.prof -o /tmp/wh.test
//	go tool pprof -tagfocus webhook-consumer=NoSubscriptions -top /tmp/wh.test /tmp/wh.prof
func BenchmarkWebhookFeedNoSubscriptions(b *testing.B) {
	benchFeedConsumer(b, nil, 0)
}

// BenchmarkWebhookFeedSubscribedElsewhere is the same with one static
// subscription for a shop none of the orders belong to: every entry is read
// and its order's shop looked up (in memory here, a Redis read in the
// gateway), nothing is delivered. It shows what coalescing rounds saves.
func BenchmarkWebhookFeedSubscribedElsewhere(b *testing.B) {
	sub := []Subscription{{ID: "elsewhere", ShopID: "shop-elsewhere", URL: "http://127.0.0.1:1/", Secret: secret}}
	b.Run("coalesce=20ms", func(b *testing.B) { benchFeedConsumer(b, sub, 0) })
	b.Run("coalesce=off", func(b *testing.B) { benchFeedConsumer(b, sub, -1) })
}

func benchFeedConsumer(b *testing.B, static []Subscription, coalesce time.Duration) {
	rate := 4000
	if v, err := strconv.Atoi(os.Getenv("ERPGATE_BENCH_FEED_RATE")); err == nil && v > 0 {
		rate = v
	}
	rdb := redistest.Universal(b)
	ctx := context.Background()
	store, err := NewStore(StoreConfig{Space: testSpace, Client: rdb})
	if err != nil {
		b.Fatal(err)
	}
	own := redistest.Another(b, rdb)
	hook := newCmdCounter()
	own.AddHook(hook)
	w, err := NewWebhooks(WebhooksConfig{
		Space: testSpace, Client: own, Logger: slog.New(slog.DiscardHandler), Static: static, Coalesce: coalesce,
		ShopOf: func(context.Context, string) (string, error) { return "shop", nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Setup(ctx); err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go pprof.Do(runCtx, pprof.Labels("webhook-consumer", b.Name()), func(ctx context.Context) {
		w.Run(ctx)
		close(done)
	})
	defer func() { cancel(); <-done }()

	before, err := commandUsec(ctx, rdb)
	if err != nil {
		b.Fatal(err)
	}
	cmds0, trips0 := hook.snapshot()
	b.ResetTimer()
	// Events come in bursts appended concurrently, as from concurrent
	// requests; a burst every 2ms at the default rate.
	const burst = 8
	tick := time.NewTicker(time.Second * burst / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	for i := 0; i < b.N; {
		<-tick.C
		for j := 0; j < burst && i < b.N; j++ {
			wg.Go(func() {
				if _, err := store.Append(ctx, "ord_bench_"+strconv.Itoa(i%1000), Event{Type: TypeConfirmed, Source: SourceERP}); err != nil {
					b.Error(err)
				}
			})
			i++
		}
		wg.Wait()
	}
	// The feed's newest id, then wait for the group to pass it.
	m, err := rdb.XRevRangeN(ctx, testFeed, "+", "-", 1).Result()
	if err != nil || len(m) != 1 {
		b.Fatalf("feed end: %v %v", m, err)
	}
	last := m[0].ID
	for deadline := time.Now().Add(30 * time.Second); ; {
		gs, err := rdb.XInfoGroups(ctx, testFeed).Result()
		if err != nil {
			b.Fatal(err)
		}
		if len(gs) == 1 && gs[0].LastDeliveredID == last && gs[0].Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("consumer did not pass %s: %+v", last, gs)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cmds1, trips1 := hook.snapshot()
	after, err := commandUsec(ctx, rdb)
	if err != nil {
		b.Fatal(err)
	}
	n := float64(b.N)
	total := 0
	for k, v := range cmds1 {
		total += v - cmds0[k]
	}
	b.ReportMetric(float64(total)/n, "cmds/entry")
	b.ReportMetric(float64(trips1-trips0)/n, "trips/entry")
	var usec int64
	for _, name := range []string{"xreadgroup", "xack", "xautoclaim", "xinfo|stream", "xinfo|groups", "xgroup|setid",
		"xgroup|createconsumer", "xgroup|create", "hgetall"} {
		usec += after[name][1] - before[name][1]
	}
	b.ReportMetric(float64(usec)*1000/n, "redis-ns/entry")
	if testing.Verbose() {
		for k, v := range cmds1 {
			if d := v - cmds0[k]; d > 0 {
				b.Logf("%s: %d", k, d)
			}
		}
	}
}

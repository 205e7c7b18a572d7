package store_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/internal/redistest"
	"erpgate/store"
)

// gate is a go-redis hook that holds every accept script call until
// released and records the number of orders in each, so tests can fill a
// batch deterministically.
type gate struct {
	arrived chan struct{} // receives once per call that reached the hook
	release chan struct{} // closed to let calls through

	mu    sync.Mutex
	sizes []int
}

func newGate() *gate {
	return &gate{arrived: make(chan struct{}, 100), release: make(chan struct{})}
}

func (g *gate) DialHook(next redis.DialHook) redis.DialHook { return next }
func (g *gate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		n, ok := acceptBatchOrders(cmd)
		if !ok {
			return next(ctx, cmd) // not an accept
		}
		g.mu.Lock()
		g.sizes = append(g.sizes, n)
		g.mu.Unlock()
		g.arrived <- struct{}{}
		<-g.release
		return next(ctx, cmd)
	}
}
func (g *gate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// acceptBatchOrders returns the number of orders in an accept script call
// (EVALSHA/EVAL sha numkeys KEYS... feedmaxlen n ...).
func acceptBatchOrders(cmd redis.Cmder) (int, bool) {
	if cmd.Name() != "evalsha" && cmd.Name() != "eval" {
		return 0, false
	}
	args := cmd.Args()
	if len(args) < 3 {
		return 0, false
	}
	nkeys, ok := args[2].(int)
	if !ok || len(args) < 3+nkeys+2 || nkeys < 2 || args[3] != "trk:feed:{p0.0}" {
		return 0, false
	}
	n, ok := args[3+nkeys+1].(int)
	return n, ok
}

func (g *gate) pipelineSizes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.sizes)
}

// gatedStore returns a store on rdb whose first pipeline is held in g (with
// the single call first) when it returns.
func gatedStore(t *testing.T, rdb redis.UniversalClient, first store.Intake) (*store.Store, *gate, <-chan result) {
	t.Helper()
	s := store.New(rdb, store.Options{Now: func() time.Time { return t0 }, AcceptPipelines: 1, Partitions: 1})
	if err := s.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	g := newGate()
	rdb.AddHook(g)
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
	})
	done := startAccept(context.Background(), s, first)
	<-g.arrived
	return s, g, done
}

type result struct {
	acc store.Accepted
	err error
}

func startAccept(ctx context.Context, s *store.Store, in store.Intake) <-chan result {
	done := make(chan result, 1)
	go func() {
		a, err := s.Accept(ctx, in)
		done <- result{a, err}
	}()
	return done
}

// enqueue starts Accept and waits until the call is queued behind the held
// pipeline, so calls queue in the order they are enqueued.
func enqueue(t *testing.T, ctx context.Context, s *store.Store, in store.Intake) <-chan result {
	t.Helper()
	n := store.QueuedAccepts(s)
	done := startAccept(ctx, s, in)
	for store.QueuedAccepts(s) != n+1 {
		select {
		case r := <-done:
			t.Fatalf("Accept returned before it was queued: %+v", r)
		default:
		}
		runtime.Gosched()
	}
	return done
}

// TestAcceptBatchesConcurrentCalls: calls arriving while a pipeline is in
// flight leave together in the next one, and each gets its own order.
func TestAcceptBatchesConcurrentCalls(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s, g, first := gatedStore(t, rdb, intake("ord_000", "shop-a", "EXT-000", "fp0", ""))
		const n = 40
		waits := make([]<-chan result, n)
		for i := range n {
			id := fmt.Sprintf("ord_%03d", i+1)
			waits[i] = enqueue(t, ctx, s, intake(id, "shop-a", "EXT-"+id[4:], "fp", "key-"+id))
		}
		close(g.release)
		if r := <-first; r.err != nil || r.acc.OrderID != "ord_000" {
			t.Fatalf("first call: %+v", r)
		}
		for i, w := range waits {
			r := <-w
			want := fmt.Sprintf("ord_%03d", i+1)
			if r.err != nil || r.acc.OrderID != want || r.acc.Replayed || r.acc.Token != "tok-"+want {
				t.Errorf("call %d: got %+v, want order %s accepted", i+1, r, want)
			}
		}
		if got, want := g.pipelineSizes(), []int{1, n}; !slices.Equal(got, want) {
			t.Errorf("batch sizes %v, want %v (the queued calls in one script call)", got, want)
		}
		if got := rdb.XLen(ctx, "outbox:{p0.0}").Val(); got != n+1 {
			t.Errorf("outbox length %d, want %d", got, n+1)
		}
		if got := len(redistest.Keys(t, rdb, "ord:*")); got != n+1 {
			t.Errorf("%d order records, want %d", got, n+1)
		}
	})
}

// TestAcceptBatchMixedOutcomes: replays, mismatches and new orders in one
// pipeline each get their own answer, in queue order; the same external id
// twice in one batch makes one order.
func TestAcceptBatchMixedOutcomes(t *testing.T) {
	type call struct {
		in           store.Intake
		wantOrder    string // "" for an error
		wantReplayed bool
		wantCode     string
	}
	calls := []call{
		// Replay and mismatch of the order stored before the batch.
		{intake("ord_10", "shop-a", "EXT-OLD", "fpold", ""), "ord_01", true, ""},
		{intake("ord_11", "shop-a", "EXT-OLD", "fp-other", ""), "", false, erpgate.IdempotencyMismatch},
		// A new order, then the same external id again in the same batch:
		// the same content replays it, other content is a mismatch.
		{intake("ord_12", "shop-a", "EXT-NEW", "fpnew", "key-new"), "ord_12", false, ""},
		{intake("ord_13", "shop-a", "EXT-NEW", "fpnew", "key-new"), "ord_12", true, ""},
		{intake("ord_14", "shop-a", "EXT-NEW", "fp-changed", ""), "", false, erpgate.IdempotencyMismatch},
		// The new order's Idempotency-Key reused for something else.
		{intake("ord_15", "shop-a", "EXT-OTHER", "fp-x", "key-new"), "", false, erpgate.IdempotencyMismatch},
		// Another shop with the same external id is another order.
		{intake("ord_16", "shop-b", "EXT-NEW", "fpnew", ""), "ord_16", false, ""},
		// A caller bug is refused before it is queued; it does not disturb
		// the batch.
		{intake("", "shop-a", "EXT-BAD", "fp", ""), "", false, erpgate.Internal},
	}
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		if _, err := newStore(t, rdb).Accept(ctx, intake("ord_01", "shop-a", "EXT-OLD", "fpold", "")); err != nil {
			t.Fatal(err)
		}
		s, g, first := gatedStore(t, rdb, intake("ord_09", "shop-a", "EXT-FIRST", "fp9", ""))
		waits := make([]<-chan result, len(calls))
		for i, c := range calls {
			// A caller bug, and a key claimed for other content (the
			// claim step answers it), are answered before the batch.
			if c.wantCode == erpgate.Internal || c.in.Order.ID == "ord_15" {
				a, err := s.Accept(ctx, c.in)
				waits[i] = func() <-chan result { ch := make(chan result, 1); ch <- result{a, err}; return ch }()
				continue
			}
			waits[i] = enqueue(t, ctx, s, c.in)
		}
		close(g.release)
		<-first
		for i, c := range calls {
			r := <-waits[i]
			if got := code(r.err); got != c.wantCode {
				t.Errorf("call %d (%s): code %q (%v), want %q", i, c.in.Order.ExternalID, got, r.err, c.wantCode)
				continue
			}
			if c.wantOrder != "" && (r.acc.OrderID != c.wantOrder || r.acc.Replayed != c.wantReplayed || r.acc.Token != "tok-"+c.wantOrder) {
				t.Errorf("call %d (%s): got %+v, want order %s replayed=%v", i, c.in.Order.ExternalID, r.acc, c.wantOrder, c.wantReplayed)
			}
		}
		if got, want := g.pipelineSizes(), []int{1, len(calls) - 2}; !slices.Equal(got, want) {
			t.Errorf("batch sizes %v, want %v", got, want)
		}
		// ord_01 (before), ord_09 (first), ord_12, ord_16: nothing else.
		keys := redistest.Keys(t, rdb, "ord:*")
		slices.Sort(keys)
		if want := []string{"ord:{p0.0}:ord_01", "ord:{p0.0}:ord_09", "ord:{p0.0}:ord_12", "ord:{p0.0}:ord_16"}; !slices.Equal(keys, want) {
			t.Errorf("order records %v, want %v", keys, want)
		}
		if got := rdb.XLen(ctx, "outbox:{p0.0}").Val(); got != 4 {
			t.Errorf("outbox length %d, want 4", got)
		}
	})
}

// TestAcceptBatchOrderErrorIsItsOwn: an order whose step fails inside the
// batch's script call (here a key of the wrong type) gets OutcomeUnknown
// (a step can fail after some of its writes); the
// orders before and after it in the same call are accepted as usual, and
// the layout they write is the one readers expect.
func TestAcceptBatchOrderErrorIsItsOwn(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		if err := rdb.HSet(ctx, "idem:ext:{p0.0}:shop-a:EXT-BROKEN", "x", "1").Err(); err != nil {
			t.Fatal(err)
		}
		s, g, first := gatedStore(t, rdb, intake("ord_00", "shop-a", "EXT-00", "fp", ""))
		before := enqueue(t, ctx, s, intake("ord_01", "shop-a", "EXT-01", "fp", "key-1"))
		broken := enqueue(t, ctx, s, intake("ord_02", "shop-a", "EXT-BROKEN", "fp", ""))
		after := enqueue(t, ctx, s, intake("ord_03", "shop-a", "EXT-03", "fp", ""))
		close(g.release)
		<-first
		for _, c := range []struct {
			name string
			ch   <-chan result
			id   string
		}{{"before", before, "ord_01"}, {"after", after, "ord_03"}} {
			if r := <-c.ch; r.err != nil || r.acc.OrderID != c.id || r.acc.Replayed {
				t.Errorf("%s the broken order: %+v, want %s accepted", c.name, r, c.id)
			}
		}
		if r := <-broken; code(r.err) != erpgate.OutcomeUnknown {
			t.Errorf("broken order: %+v, want code outcome_unknown", r)
		}
		if got, want := g.pipelineSizes(), []int{1, 3}; !slices.Equal(got, want) {
			t.Errorf("batch sizes %v, want %v", got, want)
		}
		if got := rdb.Exists(ctx, "ord:{p0.0}:ord_02").Val(); got != 0 {
			t.Errorf("broken order wrote its record")
		}
		h := rdb.HGetAll(ctx, "ord:{p0.0}:ord_01").Val()
		if h["status"] != "accepted" || h["ext"] != "EXT-01" || h["key"] != "key-1" || h["token"] != "tok-ord_01" ||
			h["fp"] != "fp" || h["shop"] != "shop-a" || h["created"] != strconv.FormatInt(t0.UnixMilli(), 10) || h["json"] == "" {
			t.Errorf("record of ord_01: %v", h)
		}
		if v := rdb.Get(ctx, "idem:key:shop-a:key-1").Val(); v != "ord_01 fp EXT-01" {
			t.Errorf("idempotency record %q", v)
		}
		ob := rdb.XRange(ctx, "outbox:{p0.0}", "-", "+").Val()
		if len(ob) != 3 || ob[1].Values["id"] != "ord_01" || ob[1].Values["type"] != "order.create" ||
			ob[1].Values["at"] != strconv.FormatInt(t0.UnixMilli(), 10) || ob[2].Values["id"] != "ord_03" {
			t.Errorf("outbox %v", ob)
		}
		trk := rdb.XRange(ctx, "trk:{p0.0}:ord_01", "-", "+").Val()
		feed := rdb.XRange(ctx, "trk:feed:{p0.0}", "-", "+").Val()
		if len(trk) != 1 || trk[0].Values["ev"] == "" || len(feed) != 3 ||
			feed[1].Values["o"] != "ord_01" || feed[1].Values["e"] != trk[0].ID {
			t.Errorf("tracking stream %v, feed %v", trk, feed)
		}
	})
}

// TestAcceptBatchRedisDown: every waiter of a failed pipeline gets
// Unavailable.
func TestAcceptBatchRedisDown(t *testing.T) {
	rdb := downClient(t)
	s := store.New(rdb, store.Options{AcceptPipelines: 1, Partitions: 1})
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("ord_%02d", i)
			_, errs[i] = s.Accept(context.Background(), intake(id, "shop-a", "EXT-"+id, "fp", ""))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if code(err) != erpgate.Unavailable {
			t.Errorf("call %d: error %v, want code unavailable", i, err)
		}
	}
}

// TestAcceptCancelReturnsPromptly: a caller whose ctx ends returns at once
// with OutcomeUnknown, while Redis has not answered. A call already sent may
// still be written (as after a network timeout); one still queued is not.
func TestAcceptCancelReturnsPromptly(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		sentCtx, cancelSent := context.WithCancel(ctx)
		s := store.New(rdb, store.Options{Now: func() time.Time { return t0 }, AcceptPipelines: 1, Partitions: 1})
		if err := s.Init(ctx); err != nil {
			t.Fatal(err)
		}
		g := newGate()
		rdb.AddHook(g)
		defer func() {
			select {
			case <-g.release:
			default:
				close(g.release)
			}
		}()
		sent := startAccept(sentCtx, s, intake("ord_1", "shop-a", "EXT-1", "fp", ""))
		<-g.arrived // ord_1 is in a pipeline that Redis has not answered

		queuedCtx, cancelQueued := context.WithCancel(ctx)
		queued := enqueue(t, queuedCtx, s, intake("ord_2", "shop-a", "EXT-2", "fp", ""))
		other := enqueue(t, ctx, s, intake("ord_3", "shop-a", "EXT-3", "fp", ""))

		cancelSent()
		cancelQueued()
		for name, ch := range map[string]<-chan result{"sent": sent, "queued": queued} {
			r := <-ch // returns although the pipeline is still held
			if code(r.err) != erpgate.OutcomeUnknown || !errors.Is(r.err, context.Canceled) {
				t.Errorf("%s call: error %v, want outcome_unknown wrapping context.Canceled", name, r.err)
			}
		}

		close(g.release)
		if r := <-other; r.err != nil || r.acc.OrderID != "ord_3" {
			t.Fatalf("uncancelled call: %+v", r)
		}
		// ord_1 had left: it is stored (the shop's retry replays it).
		// ord_2 had not: nothing was written for it.
		if got := rdb.Exists(ctx, "ord:{p0.0}:ord_1").Val(); got != 1 {
			t.Errorf("ord_1 (cancelled after sending) exists=%d, want 1", got)
		}
		if got := rdb.Exists(ctx, "ord:{p0.0}:ord_2", "idem:ext:{p0.0}:shop-a:EXT-2").Val(); got != 0 {
			t.Errorf("ord_2 (cancelled while queued) wrote %d keys, want 0", got)
		}
		if got, want := g.pipelineSizes(), []int{1, 1}; !slices.Equal(got, want) {
			t.Errorf("batch sizes %v, want %v (the cancelled queued call is not sent)", got, want)
		}
	})
}

// TestAcceptAfterScriptFlush: a Redis that lost its script cache (restart,
// SCRIPT FLUSH) gets the script again in full; nothing fails or doubles.
func TestAcceptAfterScriptFlush(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, rdb)
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 10)
		for i := range errs {
			wg.Go(func() {
				id := fmt.Sprintf("ord_%02d", i)
				_, errs[i] = s.Accept(ctx, intake(id, "shop-a", "EXT-"+id, "fp", ""))
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("call %d: %v", i, err)
			}
		}
		if got := rdb.XLen(ctx, "outbox:{p0.0}").Val(); got != 10 {
			t.Errorf("outbox length %d, want 10", got)
		}
		a, err := s.Accept(ctx, intake("ord_99", "shop-a", "EXT-ord_03", "fp", ""))
		if err != nil || !a.Replayed || a.OrderID != "ord_03" {
			t.Errorf("replay after flush: %+v, %v; want ord_03 replayed", a, err)
		}
	})
}

// TestAcceptWakesIdleFlusher: the flush loop that sent one batch waits for
// the next instead of exiting; new work wakes it (no second loop starts).
func TestAcceptWakesIdleFlusher(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	s := store.New(rdb, store.Options{Now: func() time.Time { return t0 }, AcceptPipelines: 1, Partitions: 1})
	ctx := context.Background()
	if err := s.Init(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		id := fmt.Sprintf("ord_%d", i)
		if _, err := s.Accept(ctx, intake(id, "shop-a", "EXT-"+id, "fp", "")); err != nil {
			t.Fatalf("accept %d: %v", i, err)
		}
		for store.IdleFlushers(s) != 1 {
			runtime.Gosched() // until the loop is parked waiting for work
		}
	}
	if got := rdb.XLen(ctx, "outbox:{p0.0}").Val(); got != 5 {
		t.Errorf("outbox length %d, want 5", got)
	}
}

// TestAcceptBatchRealRedisMany: many concurrent accepts on the real server
// all land once (no timing: only the outcome is checked).
func TestAcceptBatchRealRedisMany(t *testing.T) {
	rdb := redistest.Universal(t)
	s := newStore(t, rdb)
	ctx := context.Background()
	const n = 500
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("ord_%03d", i)
			_, errs[i] = s.Accept(ctx, intake(id, "shop-a", "EXT-"+id, "fp", "key-"+id))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if got := rdb.XLen(ctx, "outbox:{p0.0}").Val(); got != n {
		t.Errorf("outbox length %d, want %d", got, n)
	}
	if got := len(redistest.Keys(t, rdb, "idem:key:*")); got != n {
		t.Errorf("%d idempotency keys, want %d", got, n)
	}
}

// BenchmarkAcceptConcurrent is BenchmarkAcceptParallel with as many
// concurrent callers as a busy gateway has requests in flight (64 per
// GOMAXPROCS): the case group commit is for.
//
//	ERPGATE_REDIS_ADDR=127.0.0.1:6390 go test -run X -bench AcceptConcurrent -benchmem ./store
func BenchmarkAcceptConcurrent(b *testing.B) {
	rdb := redistest.Universal(b)
	s := newStore(b, rdb)
	ctx := context.Background()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(64)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := "ord_" + strconv.FormatInt(n.Add(1), 10)
			if _, err := s.Accept(ctx, intake(id, "shop-a", id, "fp", "key-"+id)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

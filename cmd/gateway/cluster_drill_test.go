package main

// The Redis Cluster drills of issue 14: the gateway binary, the simulator
// and a 3-primary/3-replica cluster as real processes; orders flow from a
// shop that retries like a real one while a primary is SIGKILLed, slots
// move between primaries, or one of two gateways is SIGKILLed. Each drill
// ends with every acknowledged order held exactly once by ERP v1 and v2,
// and every acknowledged Idempotency-Key replayed to the same order id.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate/internal/partition"
	"erpgate/internal/redistest"
)

// shop is the drills' load: workers post orders as a shop does — each with
// an Idempotency-Key, retried with the same key and body after a 503
// (honouring Retry-After), a 409 or a cut connection until it is
// acknowledged — spread over the gateways it is given, moving on from one
// that does not answer (what a load balancer does).
type shop struct {
	gws    []string
	prefix string
	client *http.Client
	stop   chan struct{}
	wg     sync.WaitGroup
	seq    atomic.Int64

	mu      sync.Mutex
	acked   map[string]string // Idempotency-Key → order id
	answers map[string]int    // "202", "503", "connection error", … over all attempts
	wrong   []string          // answers no retry can mend (422, 400, a second id for a key)
	gaveUp  []string          // keys still unacknowledged when their retries ran out
}

// shopRetryFor bounds one order's retries: longer than a failover or a
// reshard takes, shorter than a drill.
const shopRetryFor = 40 * time.Second

func startShop(t *testing.T, prefix string, workers int, gws ...string) *shop {
	t.Helper()
	s := &shop{gws: gws, prefix: prefix, client: &http.Client{Timeout: 10 * time.Second},
		stop: make(chan struct{}), acked: map[string]string{}, answers: map[string]int{}}
	for w := range workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for {
				select {
				case <-s.stop:
					return
				default:
				}
				n := s.seq.Add(1)
				s.place(fmt.Sprintf("%s-%d", prefix, n), int(n)+w)
			}
		}()
	}
	t.Cleanup(s.finish)
	return s
}

// place posts one order until it is acknowledged, its retries run out, or
// it gets an answer no retry mends.
func (s *shop) place(key string, first int) {
	body := orderBody(key)
	deadline := time.Now().Add(shopRetryFor)
	for attempt := first; ; attempt++ {
		status, id, wait := s.post(s.gws[attempt%len(s.gws)], key, body)
		switch {
		case status == http.StatusAccepted:
			s.mu.Lock()
			if prev, ok := s.acked[key]; ok && prev != id {
				s.wrong = append(s.wrong, fmt.Sprintf("%s: acknowledged as %s, then as %s", key, prev, id))
			}
			s.acked[key] = id
			s.mu.Unlock()
			return
		case status == 0 || status == http.StatusServiceUnavailable || status == http.StatusConflict:
		default:
			s.mu.Lock()
			s.wrong = append(s.wrong, fmt.Sprintf("%s: answered %d", key, status))
			s.mu.Unlock()
			return
		}
		if time.Now().After(deadline) {
			s.mu.Lock()
			s.gaveUp = append(s.gaveUp, key)
			s.mu.Unlock()
			return
		}
		time.Sleep(wait)
	}
}

// post sends one attempt and returns its status (0: no answer), the order
// id of a 202, and how long to wait before a retry.
func (s *shop) post(gw, key, body string) (status int, id string, wait time.Duration) {
	req, _ := http.NewRequest(http.MethodPost, gw+"/v1/orders", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer demo-shop-key")
	req.Header.Set("Idempotency-Key", key)
	resp, err := s.client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			s.count("no answer within 10s")
		} else {
			s.count("connection error")
		}
		return 0, "", 50 * time.Millisecond
	}
	defer resp.Body.Close()
	var ans struct {
		ID string `json:"id"`
	}
	decodeBody(resp, &ans)
	label := strconv.Itoa(resp.StatusCode)
	wait = 100 * time.Millisecond
	if resp.StatusCode == http.StatusServiceUnavailable {
		secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil {
			label += " without Retry-After"
		} else {
			wait = min(time.Duration(secs)*time.Second, 2*time.Second)
		}
	}
	s.count(label)
	return resp.StatusCode, ans.ID, wait
}

func (s *shop) count(label string) {
	s.mu.Lock()
	s.answers[label]++
	s.mu.Unlock()
}

// waitAcked waits until at least n orders are acknowledged.
func (s *shop) waitAcked(t *testing.T, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d orders acknowledged", n), func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.acked) >= n
	}, s.summary)
}

// finish stops placing new orders and waits for the ones under way.
func (s *shop) finish() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
}

func (s *shop) summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	labels := make([]string, 0, len(s.answers))
	for l := range s.answers {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	var b strings.Builder
	fmt.Fprintf(&b, "%d orders placed, %d acknowledged; answers:", s.seq.Load(), len(s.acked))
	for _, l := range labels {
		fmt.Fprintf(&b, " %s ×%d", l, s.answers[l])
	}
	return b.String()
}

// ids returns the acknowledged order ids.
func (s *shop) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.acked))
	for _, id := range s.acked {
		ids = append(ids, id)
	}
	return ids
}

// checkAnswers fails t unless every order placed was acknowledged, no
// answer was one a retry cannot mend, every 503 said when to retry, and no
// answer but 202, 503, 409 (a retry racing its own first attempt) and the
// expected ones (e.g. "connection error" from a killed gateway) came.
func (s *shop) checkAnswers(t *testing.T, expected ...string) {
	t.Helper()
	s.finish()
	t.Log(s.summary())
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.wrong) > 0 {
		t.Errorf("answers no retry mends: %v", s.wrong[:min(10, len(s.wrong))])
	}
	if len(s.gaveUp) > 0 {
		t.Errorf("%d orders still unacknowledged after %v of retries, e.g. %v", len(s.gaveUp), shopRetryFor, s.gaveUp[:min(5, len(s.gaveUp))])
	}
	for l, n := range s.answers {
		if !slices.Contains(append([]string{"202", "503", "409"}, expected...), l) {
			t.Errorf("%d answers %q", n, l)
		}
	}
}

// replay sends every acknowledged order once more, same key and body, and
// returns the keys whose replay answered another order id (or never 202).
func (s *shop) replay(t *testing.T) (differ []string) {
	t.Helper()
	s.mu.Lock()
	keys := make([]string, 0, len(s.acked))
	for k := range s.acked {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	sort.Strings(keys)
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(keys); i = int(next.Add(1)) - 1 {
				key := keys[i]
				var status int
				var id string
				deadline := time.Now().Add(shopRetryFor)
				for attempt := i; ; attempt++ {
					var wait time.Duration
					status, id, wait = s.post(s.gws[attempt%len(s.gws)], key, orderBody(key))
					if status != 0 && status != http.StatusServiceUnavailable || time.Now().After(deadline) {
						break
					}
					time.Sleep(wait)
				}
				s.mu.Lock()
				want := s.acked[key]
				s.mu.Unlock()
				if status != http.StatusAccepted || id != want {
					mu.Lock()
					differ = append(differ, fmt.Sprintf("%s: replay answered %d %s, first %s", key, status, id, want))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	sort.Strings(differ)
	return differ
}

// checkReplays fails t unless every acknowledged order, sent again with
// its key and body, answers 202 with the same order id.
func (s *shop) checkReplays(t *testing.T) {
	t.Helper()
	if differ := s.replay(t); len(differ) > 0 {
		t.Fatalf("%d replays answered another order than the first 202, e.g. %v", len(differ), differ[:min(5, len(differ))])
	}
}

// clearSim makes the simulator forget its orders (a subtest's check counts
// every order it holds).
func clearSim(t *testing.T, sim string) {
	t.Helper()
	if code := callJSON(t, http.MethodDelete, sim+"/sim/orders", "", "", nil); code >= 300 {
		t.Fatalf("DELETE /sim/orders: %d", code)
	}
}

// drillGateway starts the gateway binary on Redis at redisURL with the
// standalone simulator as both ERPs, and waits until it is ready.
func drillGateway(t *testing.T, gwBin, sim, redisURL string, extra ...string) (string, *proc) {
	t.Helper()
	addr := freePort(t)
	args := append([]string{"--listen", addr, "--redis-url", redisURL,
		"--erp-v1-url", sim + "/erp/v1", "--erp-v2-url", sim + "/erp/v2",
		"--erp-backoff-max", "300ms", "--erp-breaker-open", "300ms", "--erp-timeout", "2s"}, extra...)
	p := startProc(t, gwBin, args...)
	waitReady(t, "http://"+addr)
	return "http://" + addr, p
}

// primaries returns the primaries serving slots, the one serving most slots first.
func primaries(t *testing.T, cl *redistest.Cluster) []redistest.Node {
	t.Helper()
	nodes, err := cl.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ps []redistest.Node
	for _, n := range nodes {
		if n.Primary && !n.Failed && n.Slots > 0 {
			ps = append(ps, n)
		}
	}
	sort.Slice(ps, func(i, j int) bool {
		return ps[i].Slots > ps[j].Slots || ps[i].Slots == ps[j].Slots && ps[i].Addr < ps[j].Addr
	})
	if len(ps) < 2 {
		t.Fatalf("cluster has %d primaries serving slots, want ≥ 2: %+v", len(ps), nodes)
	}
	return ps
}

// TestClusterDrillPrimaryKilled: under load, SIGKILL the primary serving
// most slots; its replica takes over (cluster-node-timeout 2 s), the old
// primary comes back as a replica. With --redis-wait-replicas 1 no
// acknowledged order is lost or doubled and every replay answers the same
// id. With 0 the same drill reports what was lost (a 202 answered before
// the write reached the replica) without failing on it.
func TestClusterDrillPrimaryKilled(t *testing.T) {
	gwBin, sim := startSimProc(t)
	for _, replicas := range []string{"1", "0"} {
		t.Run("wait-replicas-"+replicas, func(t *testing.T) {
			clearSim(t, sim)
			cl := redistest.StartCluster(t)
			gw, _ := drillGateway(t, gwBin, sim, cl.URL(), "--redis-wait-replicas", replicas)
			s := startShop(t, "KILLP"+replicas, 8, gw)
			s.waitAcked(t, 150)

			victim := primaries(t, cl)[0]
			cl.Kill(t, victim.Addr)
			before := len(s.ids())
			t.Logf("SIGKILLed primary %s (%d slots) with %d orders acknowledged", victim.Addr, victim.Slots, before)
			cl.WaitTakenOver(t, victim.Addr, 60*time.Second)
			cl.Restart(t, victim.Addr) // back as the new primary's replica, so WAIT 1 can succeed again
			cl.WaitHealthy(t, 30*time.Second)
			s.waitAcked(t, before+150)
			s.checkAnswers(t)

			ids := s.ids()
			if replicas == "1" {
				waitDelivered(t, sim, ids, "v1", "v2")
				s.checkReplays(t)
				t.Logf("wait-replicas 1: %d acknowledged orders, all in v1 and v2 exactly once, every replay the same id", len(ids))
				return
			}
			lost, doubled := settleAndCount(t, sim, ids)
			differ := s.replay(t)
			t.Logf("wait-replicas 0 (reported, not asserted): %d acknowledged orders; lost in v1/v2: %d/%d; doubled in v1/v2: %d/%d; replays answering another id: %d %v",
				len(ids), lost["v1"], lost["v2"], doubled["v1"], doubled["v2"], len(differ), differ[:min(5, len(differ))])
		})
	}
}

// settleAndCount waits until both ERPs hold every id or stop receiving
// orders for 10 s, and returns per version how many ids are missing and how
// many are held more than once.
func settleAndCount(t *testing.T, sim string, ids []string) (lost, doubled map[string]int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	last, lastChange := -1, time.Now()
	for {
		lost, doubled = map[string]int{}, map[string]int{}
		total := 0
		for _, v := range []string{"v1", "v2"} {
			held := simHolds(t, sim, v)
			for _, id := range ids {
				switch n := held[id]; {
				case n == 0:
					lost[v]++
				case n > 1:
					doubled[v]++
				}
			}
			for _, n := range held {
				total += n
			}
		}
		if total != last {
			last, lastChange = total, time.Now()
		}
		if lost["v1"]+lost["v2"] == 0 || time.Since(lastChange) > 10*time.Second || time.Now().After(deadline) {
			return lost, doubled
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestClusterDrillReshard: under load, move slots from the primary serving
// most of them to another, then back, with redis-cli --cluster reshard.
// Intake keeps answering (a 503 with Retry-After, retried with the same
// key, is the most a shop sees), and every acknowledged order is in v1 and
// v2 exactly once, every replay the same id.
func TestClusterDrillReshard(t *testing.T) {
	gwBin, sim := startSimProc(t)
	cl := redistest.StartCluster(t)
	gw, _ := drillGateway(t, gwBin, sim, cl.URL(), "--redis-wait-replicas", "1")
	s := startShop(t, "RESHARD", 8, gw)
	s.waitAcked(t, 100)

	ps := primaries(t, cl)
	from, to := ps[0], ps[1]
	reshard := func(src, dst redistest.Node, n int) {
		t.Helper()
		start := time.Now()
		out, err := exec.Command("redis-cli", "--cluster", "reshard", to.Addr,
			"--cluster-from", src.ID, "--cluster-to", dst.ID, "--cluster-slots", strconv.Itoa(n), "--cluster-yes").CombinedOutput()
		if err != nil {
			t.Fatalf("reshard %d slots %s → %s: %v\n%s\n%s", n, src.Addr, dst.Addr, err, tail(string(out), 2000), s.summary())
		}
		t.Logf("moved %d slots %s → %s in %v; %s", n, src.Addr, dst.Addr, time.Since(start).Round(time.Millisecond), s.summary())
	}
	// 2,000 slots hold the tags of at least the first partitions of this
	// primary (each partition's tag lies in its own 1/16 of the slots):
	// their orders and outbox streams move while orders flow into them.
	cc := cl.Client(t)
	owners := partitionOwners(t, cc)
	reshard(from, to, 2000)
	movedPartitions(t, cc, owners)
	s.waitAcked(t, len(s.ids())+100)
	owners = partitionOwners(t, cc)
	reshard(to, from, 2000)
	movedPartitions(t, cc, owners)
	s.waitAcked(t, len(s.ids())+100)
	s.checkAnswers(t)

	ids := s.ids()
	waitDelivered(t, sim, ids, "v1", "v2")
	s.checkReplays(t)
	t.Logf("%d acknowledged orders, all in v1 and v2 exactly once, every replay the same id", len(ids))
}

// partitionOwners returns the address of the primary serving each
// partition's slot (the default 16 partitions).
func partitionOwners(t *testing.T, cc *redis.ClusterClient) []string {
	t.Helper()
	ranges, err := cc.ClusterSlots(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	space := partition.MustNew(partition.Default)
	owners := make([]string, space.N())
	for p := range owners {
		slot := int(partition.Slot(space.Tag(p)))
		for _, r := range ranges {
			if r.Start <= slot && slot <= r.End && len(r.Nodes) > 0 {
				owners[p] = r.Nodes[0].Addr
			}
		}
	}
	return owners
}

// movedPartitions fails t unless some partition's slot moved to another
// primary since before, holding keys (orders, streams) on its new one.
func movedPartitions(t *testing.T, cc *redis.ClusterClient, before []string) {
	t.Helper()
	space := partition.MustNew(partition.Default)
	var moved []string
	for p, now := range partitionOwners(t, cc) {
		if now == before[p] {
			continue
		}
		c := redis.NewClient(&redis.Options{Addr: now})
		n, err := c.ClusterCountKeysInSlot(context.Background(), int(partition.Slot(space.Tag(p)))).Result()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("partition %d moved to %s without its keys", p, now)
		}
		moved = append(moved, fmt.Sprintf("p%d (%d keys) %s → %s", p, n, before[p], now))
	}
	if len(moved) == 0 {
		t.Fatalf("no partition's slot moved: %v", before)
	}
	t.Logf("moved partitions: %s", strings.Join(moved, ", "))
}

// TestClusterDrillGatewayKilled: two gateways with their own instance ids
// share the load; one is SIGKILLed while its consumers hold deliveries in
// slow ERP calls and never comes back. The other takes over what it held
// (after --instance-ttl), the shop's retries move to the survivor, and
// every acknowledged order is in v1 and v2 exactly once — on one Redis node
// and on the cluster.
func TestClusterDrillGatewayKilled(t *testing.T) {
	gwBin, sim := startSimProc(t)
	for _, mode := range []string{"one-node", "cluster"} {
		t.Run(mode, func(t *testing.T) {
			clearSim(t, sim)
			var redisURL string
			var nodes []string // the primaries, where the streams are
			if mode == "cluster" {
				cl := redistest.StartCluster(t)
				redisURL = cl.URL()
				for _, p := range primaries(t, cl) {
					nodes = append(nodes, p.Addr)
				}
			} else {
				addr := startRedisServer(t, "--appendonly", "yes")
				redisURL, nodes = "redis://"+addr, []string{addr}
			}
			putJSON(t, sim+"/sim/faults", `{"latency_ms":300}`)
			gwA, procA := drillGateway(t, gwBin, sim, redisURL, "--instance-id", "drill-a", "--instance-ttl", "2s")
			gwB, _ := drillGateway(t, gwBin, sim, redisURL, "--instance-id", "drill-b", "--instance-ttl", "2s")
			s := startShop(t, "KILLGW-"+mode, 8, gwA, gwB)
			s.waitAcked(t, 150)
			waitFor(t, "drill-a's consumers hold deliveries", func() bool { return pendingOf(t, nodes, "drill-a:") >= 10 }, s.summary, procA.output)

			if err := procA.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			procA.cmd.Wait()
			held := pendingOf(t, nodes, "drill-a:")
			before := len(s.ids())
			t.Logf("SIGKILLed gateway drill-a holding %d deliveries; %s", held, s.summary())
			s.waitAcked(t, before+150)
			s.checkAnswers(t, "connection error") // from drill-a, dead
			putJSON(t, sim+"/sim/faults", `{"latency_ms":0}`)

			ids := s.ids()
			waitDelivered(t, sim, ids, "v1", "v2")
			if n := pendingOf(t, nodes, "drill-a:"); n != 0 {
				t.Errorf("the dead instance's consumers still hold %d entries", n)
			}
			s.checkReplays(t)
			t.Logf("%d acknowledged orders (%d before the kill), all in v1 and v2 exactly once, every replay the same id", len(ids), before)
		})
	}
}

// pendingOf sums the pending entries of the consumers whose names start
// with prefix (an instance's consumers are "<instance id>:…") over every
// consumer group of every stream on the given Redis nodes: the drill need
// not know the key layout.
func pendingOf(t *testing.T, nodes []string, prefix string) int64 {
	t.Helper()
	ctx := context.Background()
	var total int64
	for _, addr := range nodes {
		c := redis.NewClient(&redis.Options{Addr: addr})
		iter := c.ScanType(ctx, 0, "", 1000, "stream").Iterator()
		for iter.Next(ctx) {
			groups, err := c.XInfoGroups(ctx, iter.Val()).Result()
			if err != nil {
				continue // a stream without groups, or gone meanwhile
			}
			for _, g := range groups {
				cs, err := c.XInfoConsumers(ctx, iter.Val(), g.Name).Result()
				if err != nil {
					continue
				}
				for _, cons := range cs {
					if strings.HasPrefix(cons.Name, prefix) {
						total += cons.Pending
					}
				}
			}
		}
		err := iter.Err()
		c.Close()
		if err != nil {
			t.Fatalf("pending entries of %s* on %s: %v", prefix, addr, err)
		}
	}
	return total
}

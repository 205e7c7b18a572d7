package tracking

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/internal/backoff"
	"erpgate/internal/instance"
	"erpgate/internal/streamgroup"
)

// Run delivers webhooks until ctx is done, then returns nil. It reads every
// partition's feed through the consumer group (creating it at the feed's
// end on first use), one goroutine per partition, and runs Workers delivery
// workers. Several instances may run it against one Redis; they share the
// work. While nobody is subscribed it does not read the feed but moves the
// group past it every PollInterval.
func (w *Webhooks) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for p := range w.feed.Partitions() {
		wg.Go(func() { w.dispatch(ctx, p) })
	}
	wg.Go(func() { w.trimLoop(ctx) })
	for range w.cfg.Workers {
		wg.Go(func() { w.work(ctx) })
	}
	wg.Wait()
	return nil
}

// Setup creates the feed's consumer group for webhooks if it does not exist
// yet. The group starts at the end of the feed, so events appended before the
// first Setup are never sent as webhooks; call it at startup, before serving
// traffic (Run calls it too). Errors: Unavailable.
func (w *Webhooks) Setup(ctx context.Context) error {
	if err := w.feed.Ensure(ctx, "$"); err != nil {
		return unavailable(err)
	}
	return nil
}

// ensureGroup creates the group on partition p's feed, if missing.
func (w *Webhooks) ensureGroup(ctx context.Context, p int) error {
	return streamgroup.Ensure(ctx, w.rdb, w.feed.Stream(p), WebhookGroup, "$")
}

// readCount is the most feed entries one read or claim returns.
const readCount = 500

// dispatch turns the entries of partition p's feed into due (subscription,
// order) pairs.
//
// Each round first takes over entries other consumers left unacknowledged
// (every ReclaimIdle/2). Then, when nobody is subscribed, it skips the feed
// instead of reading it (see skipUnsubscribed) and waits PollInterval.
// Otherwise it reads new entries for the consumer group and enqueues them.
// With Coalesce, a read that found fewer than readCount entries is followed
// by a Coalesce pause, so that the next read carries more entries, and that
// read does not block and travels with the XACK of the round before in one
// pipeline: one round trip per round instead of two. Only when it finds
// nothing does a blocking read follow (alone: go-redis gives a pipeline its
// client's ReadTimeout, not the read's Block).
func (w *Webhooks) dispatch(ctx context.Context, p int) {
	feed := w.feed.Stream(p)
	for ctx.Err() == nil {
		if err := w.ensureGroup(ctx, p); err != nil {
			if ctx.Err() == nil {
				w.log.Warn("tracking webhooks: creating feed consumer group failed; retrying", "err", err)
				sleep(ctx, w.cfg.PollInterval)
			}
			continue
		}
		break
	}
	var (
		recovered   bool      // the entries this consumer held in the previous run were taken over
		lastAdopt   time.Time // the last look for entries of dead instances
		lastReclaim time.Time
		ack         []string // entries enqueued, not yet acknowledged (Coalesce)
		lastRead    int      // entries the last read returned
		skippedTo   string   // the feed end this loop last skipped to
	)
	coalesce := w.cfg.Coalesce > 0
	// acked notes the outcome of acknowledging ack. Failed, the ids are
	// kept and sent again with the next acknowledgement (XACK is
	// idempotent); should that never work, the entries stay pending and are
	// reclaimed and enqueued again, which repeats a notification, never an
	// event.
	acked := func(ctx context.Context, err error) {
		if err != nil && ctx.Err() == nil {
			w.log.Warn("tracking webhooks: acknowledging feed entries failed; will retry", "err", err)
		}
		if err == nil || streamgroup.Missing(err) || len(ack) > 20*readCount {
			ack = ack[:0]
		}
	}
	flush := func(ctx context.Context) {
		if len(ack) > 0 {
			acked(ctx, w.feed.Ack(ctx, p, ack...))
		}
	}
	defer func() {
		// Shutting down: acknowledge what was enqueued, so that no other
		// instance reclaims and enqueues it again.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		flush(rctx)
		cancel()
	}()
	for ctx.Err() == nil {
		var msgs []redis.XMessage
		var err error
		if !recovered || time.Since(lastAdopt) >= w.cfg.TakeoverEvery {
			lastAdopt = time.Now()
			msgs, err = w.adopt(ctx, p, &recovered)
		}
		if err == nil && len(msgs) == 0 && time.Since(lastReclaim) >= w.cfg.ReclaimIdle/2 {
			lastReclaim = time.Now()
			// Entries another (dead) consumer read but never acknowledged,
			// and our own that failed (ShopOf down): take them over.
			var es []streamgroup.Entry
			es, _, err = w.feed.AutoClaim(ctx, p, w.cfg.Consumer, w.cfg.ReclaimIdle, "0-0", readCount)
			msgs = xmessages(es)
		}
		if err == nil && len(msgs) == 0 {
			var skipped bool
			if skipped, err = w.skipUnsubscribed(ctx, p, &skippedTo); err == nil && skipped {
				flush(ctx)
				lastRead = 0
				sleep(ctx, w.cfg.PollInterval)
				continue
			}
		}
		if err == nil && len(msgs) == 0 {
			args := &redis.XReadGroupArgs{
				Group: WebhookGroup, Consumer: w.cfg.Consumer,
				Streams: []string{feed, ">"}, Count: readCount, Block: w.cfg.Block,
			}
			if w.cfg.ReadPoll > 0 {
				args.Block = -1 // no BLOCK (see ReadPoll)
			}
			var res []redis.XStream
			if coalesce && lastRead > 0 {
				if lastRead < readCount {
					sleep(ctx, w.cfg.Coalesce)
				}
				args.Block = -1 // no BLOCK: answers at once, nil when there is nothing
				var xack *redis.IntCmd
				var read *redis.XStreamSliceCmd
				_, _ = w.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
					if len(ack) > 0 {
						xack = p.XAck(ctx, feed, WebhookGroup, ack...)
					}
					read = p.XReadGroup(ctx, args)
					return nil
				})
				if xack != nil {
					acked(ctx, xack.Err())
				}
				res, err = read.Result()
			} else {
				flush(ctx)
				res, err = w.rdb.XReadGroup(ctx, args).Result()
			}
			for _, st := range res {
				msgs = append(msgs, st.Messages...)
			}
			lastRead = len(msgs)
		}
		if errors.Is(err, redis.Nil) {
			if w.cfg.ReadPoll > 0 {
				sleep(ctx, w.cfg.ReadPoll)
			}
			continue
		}
		if err != nil {
			lastRead = 0
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, errNoGroup) || streamgroup.Missing(err) {
				_ = w.ensureGroup(ctx, p) // the feed was deleted (e.g. flushed): start over
			} else {
				w.log.Warn("tracking webhooks: reading feed failed; retrying", "err", err)
				sleep(ctx, w.cfg.PollInterval)
			}
			continue
		}
		if len(msgs) > 0 {
			done, err := w.enqueue(ctx, msgs)
			ack = append(ack, done...)
			if !coalesce {
				flush(ctx)
			}
			if err != nil && ctx.Err() == nil {
				w.log.Warn("tracking webhooks: enqueueing failed; will retry", "err", err)
				sleep(ctx, w.cfg.PollInterval)
			}
		}
	}
}

// adopt takes over feed entries nobody else will enqueue: first the
// entries this consumer held in the previous run of this instance (at once
// after a restart; *recovered is set when there are none left), then those
// of consumers of dead instances. A live instance's entries are left alone.
func (w *Webhooks) adopt(ctx context.Context, p int, recovered *bool) ([]redis.XMessage, error) {
	from, idle := w.cfg.Consumer, time.Duration(0)
	if *recovered {
		holders, err := w.feed.Holders(ctx, p)
		if err != nil || len(holders) == 0 {
			return nil, err
		}
		var alive func(context.Context, string) (bool, error)
		if w.cfg.Instances != nil {
			alive = w.cfg.Instances.Alive
		}
		self := instance.Of(w.cfg.Consumer)
		orphans, err := instance.Orphans(ctx, holders, self, func(n string) bool { return n == w.cfg.Consumer }, alive)
		if err != nil || len(orphans) == 0 {
			return nil, err
		}
		from, idle = orphans[0], time.Second // the floor keeps two adopters from both taking an entry
	}
	cs, err := w.feed.Claim(ctx, p, from, w.cfg.Consumer, idle, readCount)
	if err != nil {
		return nil, err
	}
	if !*recovered && len(cs) == 0 {
		*recovered = true
	}
	out := xmessages(cs)
	if len(out) > 0 {
		w.log.Info("tracking webhooks: took over feed entries", "from", from, "count", len(out))
	}
	return out, nil
}

// xmessages returns the stream entries of es.
func xmessages(es []streamgroup.Entry) []redis.XMessage {
	if len(es) == 0 {
		return nil
	}
	out := make([]redis.XMessage, len(es))
	for i, e := range es {
		out[i] = e.XMessage
	}
	return out
}

// enqueueScript notes news for (subscription, order) pairs: bump the pair's
// notification counter and make it due now unless it is already scheduled
// (a pending backoff or a worker's lease stays as it is; the counter tells
// that worker to look again).
//
// KEYS: due, gen. ARGV: now ms, member...
var enqueueScript = redis.NewScript(`
for i = 2, #ARGV do
  redis.call('HINCRBY', KEYS[2], ARGV[i], 1)
  redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[i])
end
return #ARGV - 1
`)

// enqueue notes the news in msgs for every subscription of the order's
// shop and returns the ids of the entries it is done with, for the caller to
// acknowledge: all but those whose shop lookup failed (they stay pending and
// are reclaimed), or none when the enqueue script failed.
func (w *Webhooks) enqueue(ctx context.Context, msgs []redis.XMessage) ([]string, error) {
	subs, err := w.load(ctx)
	if err == nil && len(subs) == 0 {
		// About to drop the news: make sure no subscription was created
		// since the cache was filled (the entries were read before this
		// read, so one created after it has none of its events among them).
		subs, err = w.refresh(ctx)
	}
	if err != nil {
		return nil, err
	}
	byShop := make(map[string][]string)
	for _, s := range subs {
		byShop[s.ShopID] = append(byShop[s.ShopID], s.ID)
	}
	shops := make(map[string]string) // order → shop, within this batch
	var members []any
	seen := make(map[string]bool)
	var ack []string
	for _, m := range msgs {
		o, _ := m.Values["o"].(string)
		if o == "" || len(byShop) == 0 {
			ack = append(ack, m.ID)
			continue
		}
		shop, ok := shops[o]
		if !ok {
			shop, err = w.shopOf(ctx, o)
			if err != nil {
				if erpgate.ErrorCode(err) == erpgate.NotFound {
					w.log.Warn("tracking webhooks: event of unknown order dropped", "order", o)
					ack = append(ack, m.ID)
				} else {
					w.log.Warn("tracking webhooks: looking up the order's shop failed; will retry", "order", o, "err", err)
				}
				continue
			}
			shops[o] = shop
		}
		for _, id := range byShop[shop] {
			if k := id + "|" + o; !seen[k] {
				seen[k] = true
				members = append(members, k)
			}
		}
		ack = append(ack, m.ID)
	}
	if len(members) > 0 {
		args := append([]any{w.now().UnixMilli()}, members...)
		if err := enqueueScript.Run(ctx, w.rdb, []string{whDueKey, whGenKey}, args...).Err(); err != nil {
			return nil, err
		}
		for range min(len(members), cap(w.wake)) {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
	return ack, nil
}

// skipScript moves the webhook consumer group of the feed forward to an
// entry id, never back: another instance may have read, or skipped, further
// in the meantime, and XGROUP SETID alone cannot compare. With the feed's
// entries-added counter at that id it keeps the group's entries-read and
// lag exact.
//
// KEYS: feed. ARGV: group, id, entries read or "" (unknown).
// Returns 1 when the group moved, 0 when it was at or past id already, -1
// when there is no such group (or feed).
var skipScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
` + streamLua + `
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  if field(g, 'name') == ARGV[1] then
    if not less(field(g, 'last-delivered-id'), ARGV[2]) then return 0 end
    if ARGV[3] ~= '' then
      redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], ARGV[2], 'ENTRIESREAD', ARGV[3])
    else
      redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], ARGV[2])
    end
    return 1
  end
end
return -1
`)

// streamLua are the Lua helpers of the feed scripts: field reads a field of
// an XINFO reply (a flat list from Redis, a table keyed by name from
// miniredis); less compares stream ids, exactly for any 64-bit parts
// (Redis writes no leading zeros).
const streamLua = streamgroup.FieldLua + `
local function less(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if not am then return true end
  if #am ~= #bm then return #am < #bm end
  if am ~= bm then return am < bm end
  if #as ~= #bs then return #as < #bs end
  return as < bs
end
`

// Trimming the feed.
//
// The feed announces events; the timelines are the record. Its readers
// are the hubs (each instance's live streams and read cache, which need
// the last seconds) and the webhook group (which may lag: a receiver
// down, an instance restarting under load). Appends cap it only at
// FeedMaxLen (a memory bound, DefaultFeedMaxLen); below that the trim loop
// keeps what the webhook group still needs — from its oldest pending
// entry, or its last delivered one — and, whatever the group, the last
// FeedKeep of entries. A fixed length cap alone would drop the news a
// lagging group has not read within seconds at peak load.

// feedTrimScript: KEYS feed; ARGV group, keepFrom (an id: entries from it on
// are kept anyway). Trims the feed below the older of keepFrom and the
// group's oldest needed entry, in one step; returns the number trimmed.
var feedTrimScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
` + streamLua + `
local minid = ARGV[2]
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  if field(g, 'name') == ARGV[1] then
    local need = field(g, 'last-delivered-id')
    if tonumber(field(g, 'pending')) > 0 then
      local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1)
      if #p > 0 then need = p[1][1] end
    end
    if less(need, minid) then minid = need end
  end
end
return redis.call('XTRIM', KEYS[1], 'MINID', minid)
`)

// trimLoop trims the feed every TrimEvery until ctx is done.
func (w *Webhooks) trimLoop(ctx context.Context) {
	t := time.NewTicker(w.cfg.TrimEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := w.TrimFeed(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("tracking webhooks: trimming the feed failed; retrying", "err", err)
		}
	}
}

// TrimFeed trims every partition's feed once (see "Trimming the feed") and
// returns how many entries it removed. Errors: Unavailable.
func (w *Webhooks) TrimFeed(ctx context.Context) (int64, error) {
	keepFrom := fmt.Sprintf("%d-0", w.now().Add(-w.cfg.FeedKeep).UnixMilli())
	var sum int64
	for p := range w.feed.Partitions() {
		n, err := feedTrimScript.Run(ctx, w.rdb, []string{w.feed.Stream(p)}, WebhookGroup, keepFrom).Int64()
		if err != nil {
			return sum, unavailable(err)
		}
		sum += n
	}
	return sum, nil
}

// errNoGroup reports that the feed or its webhook group is missing (the
// feed was deleted, e.g. flushed); the caller creates them again.
var errNoGroup = errors.New("NOGROUP the feed's webhook consumer group is missing")

// feedEnd returns the id of the feed's newest entry and how many entries
// were ever added up to it ("" when the feed has none; entries 0 when Redis
// does not say, before 7.0).
func (w *Webhooks) feedEnd(ctx context.Context, p int) (id string, entries int64, err error) {
	info, err := w.rdb.XInfoStream(ctx, w.feed.Stream(p)).Result()
	if err != nil {
		if streamgroup.Missing(err) {
			return "", 0, errNoGroup
		}
		return "", 0, err
	}
	if info.LastGeneratedID == "" || info.LastGeneratedID == "0-0" {
		return "", 0, nil
	}
	return info.LastGeneratedID, info.EntriesAdded, nil
}

// skipTo moves the group forward to id (see skipScript) and reports whether
// it moved.
func (w *Webhooks) skipTo(ctx context.Context, p int, id string, entries int64) (bool, error) {
	n := ""
	if entries > 0 {
		n = strconv.FormatInt(entries, 10)
	}
	moved, err := skipScript.Run(ctx, w.rdb, []string{w.feed.Stream(p)}, WebhookGroup, id, n).Int()
	if err != nil {
		return false, err
	}
	if moved < 0 {
		return false, errNoGroup
	}
	return moved == 1, nil
}

// skipUnsubscribed moves the consumer group past the feed's entries without
// reading them when there is no subscription at all, and reports whether it
// did (then the caller waits before the next round). *skipped is the feed
// end this caller last skipped to; while the feed has not grown since,
// there is nothing to do. This is what keeps an instance without webhook
// subscriptions from reading and acknowledging every event of every order.
//
// The order of the steps is what makes it safe: the feed's end is captured
// first, the subscriptions are read from Redis after that (not from the
// cache, and the fresh list refreshes the cache), and the group only moves
// up to the captured end. A subscription the read did not see was created
// after the capture, so every event appended after its creation lies beyond
// the captured end, stays unread, and reaches it through the next rounds as
// today. The group never moves back (skipScript), whatever other instances
// read or skip meanwhile, and entries already read but unacknowledged stay
// in the pending list for XAUTOCLAIM.
func (w *Webhooks) skipUnsubscribed(ctx context.Context, p int, skipped *string) (bool, error) {
	if len(w.static) > 0 || w.noSkip.Load() {
		return false, nil
	}
	if subs, err := w.load(ctx); err != nil || len(subs) > 0 {
		return false, err // subscribed (as far as the cache knows): read; a failed load fails the read too
	}
	end, entries, err := w.feedEnd(ctx, p)
	if err != nil || end == "" {
		return end == "" && err == nil, err
	}
	if end == *skipped {
		return true, nil // nothing appended since our last skip: nothing to decide
	}
	subs, err := w.refresh(ctx)
	if err != nil || len(subs) > 0 {
		return false, err
	}
	if _, err := w.skipTo(ctx, p, end, entries); err != nil {
		if strings.Contains(err.Error(), "not supported") {
			// The embedded Redis (miniredis) has no XGROUP SETID: read the
			// feed and acknowledge it instead (enqueue drops the news of
			// an unsubscribed shop), from now on without trying again.
			w.noSkip.Store(true)
			w.log.Debug("tracking webhooks: this Redis cannot move a consumer group; the feed is read instead of skipped", "err", err)
			return false, nil
		}
		return false, err
	}
	*skipped = end
	return true, nil
}

// work claims due pairs and delivers their events until ctx is done.
func (w *Webhooks) work(ctx context.Context) {
	t := time.NewTimer(w.cfg.PollInterval)
	defer t.Stop()
	for ctx.Err() == nil {
		c, err := w.claim(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.Warn("tracking webhooks: claiming work failed", "err", err)
		}
		if c != nil {
			err := w.deliver(ctx, c)
			if ctx.Err() != nil {
				// Shutting down: hand the pair back, due now, so the next
				// process need not wait for the lease to expire.
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				_ = w.retry(rctx, c, c.attempts, w.now())
				cancel()
				return
			}
			if err != nil {
				w.log.Warn("tracking webhooks: delivery bookkeeping failed; the lease will expire and another worker retries",
					"subscription", c.sub, "order", c.order, "err", err)
			}
			continue
		}
		t.Reset(w.cfg.PollInterval)
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-t.C:
		}
	}
}

// claim is a leased (subscription, order) pair.
type claim struct {
	member     string
	sub, order string
	lease      int64 // unix ms; the pair's due score while we hold it
	gen        string
	attempts   int
}

// claimScript takes the first due pair and leases it: its score becomes the
// lease end, so no other worker sees it due until the lease expires.
//
// KEYS: due, gen, att. ARGV: now ms, lease end ms.
var claimScript = redis.NewScript(`
local m = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #m == 0 then return false end
redis.call('ZADD', KEYS[1], ARGV[2], m[1])
return {m[1], redis.call('HGET', KEYS[2], m[1]) or '0', redis.call('HGET', KEYS[3], m[1]) or '0'}
`)

func (w *Webhooks) leaseEnd() int64 {
	return w.now().Add(2*w.cfg.Timeout + 5*time.Second).UnixMilli()
}

func (w *Webhooks) claim(ctx context.Context) (*claim, error) {
	lease := w.leaseEnd()
	res, err := claimScript.Run(ctx, w.rdb, []string{whDueKey, whGenKey, whAttKey}, w.now().UnixMilli(), lease).StringSlice()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(res) != 3 {
		return nil, fmt.Errorf("claim script returned %v", res)
	}
	c := &claim{member: res[0], lease: lease, gen: res[1]}
	c.attempts, _ = strconv.Atoi(res[2])
	c.sub, c.order, _ = strings.Cut(c.member, "|")
	return c, nil
}

// leaseCheck is the common prologue of the scripts below: they change state
// only while the caller still holds its lease.
const leaseCheck = `
if tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '-1') ~= tonumber(ARGV[2]) then return 0 end
`

// advanceScript moves the pair's cursor past an event (delivered, filtered
// out, or dead-lettered), clears the attempt count and renews the lease.
// With dead-letter fields it also appends to the dead-letter stream.
//
// KEYS: due, att, cursor, dead. ARGV: member, lease, new lease, event id,
// cursor ttl ms, [dead maxlen, sub, order, attempts, error, time].
var advanceScript = redis.NewScript(leaseCheck + `
redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
if ARGV[6] then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], '*', 'sub', ARGV[7], 'order', ARGV[8],
    'event', ARGV[4], 'attempts', ARGV[9], 'error', ARGV[10], 'time', ARGV[11])
end
return 1
`)

// retryScript records a failed attempt and schedules the next one.
//
// KEYS: due, att. ARGV: member, lease, attempts, due ms.
var retryScript = redis.NewScript(leaseCheck + `
if ARGV[3] == '0' then redis.call('HDEL', KEYS[2], ARGV[1]) else redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
return 1
`)

// finishScript ends a claim that delivered everything it read: if no news
// arrived since the claim (counter unchanged) the pair leaves the due set,
// else it is due again at once. With force the pair is dropped regardless
// (its subscription is gone).
//
// KEYS: due, gen, att. ARGV: member, lease, counter at claim, now ms, force.
var finishScript = redis.NewScript(leaseCheck + `
local g = redis.call('HGET', KEYS[2], ARGV[1]) or '0'
if g == ARGV[3] or ARGV[5] == '1' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  return 1
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
return 2
`)

// errLeaseLost ends a claim whose lease another worker has taken over.
var errLeaseLost = errors.New("lease lost")

func (w *Webhooks) cursorKey(c *claim) string { return whCurKey + c.sub + ":" + c.order }

// advance moves c's cursor past eventID; dead, when set, dead-letters it.
func (w *Webhooks) advance(ctx context.Context, c *claim, eventID string, dead *DeadLetter) error {
	newLease := w.leaseEnd()
	args := []any{c.member, c.lease, newLease, eventID, w.cfg.CursorTTL.Milliseconds()}
	if dead != nil {
		args = append(args, w.cfg.DeadLetterMaxLen, dead.SubscriptionID, dead.OrderID, dead.Attempts, dead.Error,
			dead.Time.UTC().Format(time.RFC3339Nano))
	}
	n, err := advanceScript.Run(ctx, w.rdb, []string{whDueKey, whAttKey, w.cursorKey(c), whDeadKey}, args...).Int()
	if err != nil {
		return err
	}
	if n == 0 {
		return errLeaseLost
	}
	c.lease = newLease
	return nil
}

// deliver works through the pair's undelivered events in timeline order.
func (w *Webhooks) deliver(ctx context.Context, c *claim) error {
	subs, err := w.load(ctx)
	if err != nil {
		return err
	}
	sub, ok := subs[c.sub]
	if !ok || checkOrderID(c.order) != nil {
		return w.finish(ctx, c, true)
	}
	cursor, err := w.rdb.Get(ctx, w.cursorKey(c)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	skipped := "" // id of the newest filtered-out event not yet recorded
	const page = 100
	for {
		start := "-"
		switch {
		case cursor != "":
			start = "(" + cursor
		case !sub.CreatedAt.IsZero():
			// Nothing delivered to this pair yet: from the subscription's
			// creation on, never the order's history before it.
			start = strconv.FormatInt(sub.CreatedAt.UnixMilli(), 10) + "-0"
		}
		msgs, err := w.rdb.XRangeN(ctx, w.streamKey(c.order), start, "+", page).Result()
		if err != nil {
			return err
		}
		for _, m := range msgs {
			cursor = m.ID
			e, err := decodeEntry(m)
			if err != nil {
				w.log.Error("tracking webhooks: undecodable event skipped", "order", c.order, "err", err)
				skipped = m.ID
				continue
			}
			if !sub.wants(e.Type) {
				skipped = m.ID
				continue
			}
			skipped = ""
			err = w.post(ctx, sub, c.order, e)
			if err == nil {
				w.outcome.WithLabelValues("ok").Inc()
				w.lag.Observe(max(0, w.now().Sub(e.Time).Seconds()))
				if err := w.advance(ctx, c, e.ID, nil); err != nil {
					return ignoreLeaseLost(err)
				}
				c.attempts = 0
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err() // shutting down mid-POST: work releases the pair, attempt not counted
			}
			c.attempts++
			if c.attempts >= w.cfg.MaxAttempts {
				w.outcome.WithLabelValues("dead").Inc()
				w.log.Warn("tracking webhooks: event dead-lettered", "subscription", sub.ID, "order", c.order,
					"event", e.ID, "attempts", c.attempts, "err", err)
				dl := &DeadLetter{SubscriptionID: sub.ID, OrderID: c.order, EventID: e.ID, Attempts: c.attempts,
					Error: truncate(err.Error(), 500), Time: w.now()}
				if err := w.advance(ctx, c, e.ID, dl); err != nil {
					return ignoreLeaseLost(err)
				}
				c.attempts = 0
				continue
			}
			w.outcome.WithLabelValues("retry").Inc()
			w.log.Debug("tracking webhooks: delivery failed; will retry", "subscription", sub.ID, "order", c.order,
				"event", e.ID, "attempt", c.attempts, "err", err)
			return ignoreLeaseLost(w.retry(ctx, c, c.attempts, w.now().Add(w.backoff(c.attempts))))
		}
		if len(msgs) < page {
			break
		}
	}
	if skipped != "" {
		if err := w.advance(ctx, c, skipped, nil); err != nil {
			return ignoreLeaseLost(err)
		}
	}
	return w.finish(ctx, c, false)
}

func ignoreLeaseLost(err error) error {
	if errors.Is(err, errLeaseLost) {
		return nil // another worker owns the pair now; it carries on
	}
	return err
}

func (w *Webhooks) retry(ctx context.Context, c *claim, attempts int, at time.Time) error {
	n, err := retryScript.Run(ctx, w.rdb, []string{whDueKey, whAttKey}, c.member, c.lease, attempts, at.UnixMilli()).Int()
	if err != nil {
		return err
	}
	if n == 0 {
		return errLeaseLost
	}
	return nil
}

func (w *Webhooks) finish(ctx context.Context, c *claim, force bool) error {
	f := "0"
	if force {
		f = "1"
	}
	n, err := finishScript.Run(ctx, w.rdb, []string{whDueKey, whGenKey, whAttKey}, c.member, c.lease, c.gen, w.now().UnixMilli(), f).Int()
	if err != nil {
		return err
	}
	_ = n // 0: lease lost; the new holder finishes
	return nil
}

// backoff returns the jittered delay before attempt n+1 after n failures:
// uniformly in [d/2, d) with d = min(BackoffBase·2^(n-1), BackoffMax).
func (w *Webhooks) backoff(n int) time.Duration {
	return backoff.Policy{Base: w.cfg.BackoffBase, Max: w.cfg.BackoffMax, Jitter: 0.5}.Delay(int64(n), rand.Float64())
}

// post sends one event to sub and reports whether the receiver took it (2xx).
func (w *Webhooks) post(ctx context.Context, sub Subscription, orderID string, e Event) error {
	body, err := json.Marshal(payloadFor(orderID, e)) // webhook_notice.go
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := w.now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "erpgate-webhooks/1")
	req.Header.Set(HeaderWebhookID, orderID+":"+e.ID)
	req.Header.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderWebhookSignature, Sign(sub.Secret, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

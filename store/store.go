// Package store is erpgate's durable state on Redis: the atomic accept of an
// order, the order records with each ERP target's answer, and the outbox the
// delivery workers drain. go-redis types never leave this package.
//
// # Key layout
//
// Orders are spread over the partitions of Options.Partitions (package
// partition); T is a partition's hash tag, braces included ("{p3.17}"). An
// order's partition follows from its business key (shop, external id), and
// its id is drawn into the same partition (NewOrderID), so the id alone
// names T. Every key one atomic step touches shares one tag, so the same
// keys and code serve one node, Sentinel and Redis Cluster.
//
//	ord:T:<orderID>             hash: json (canonical order), shop, ext, token, fp (request
//	                            fingerprint), key (Idempotency-Key or ""), created (unix ms),
//	                            status ("accepted" | "erp_received" | "rejected" | "failed"),
//	                            reason (shop-safe), res:<target> (JSON TargetResult)
//	idem:ext:T:<shop>:<externalID> string "<orderID> <fp>": the natural idempotency key,
//	                            in the order's slot (written by the accept script)
//	idem:key:<shop>:<key>       string "<orderID> <fp> <externalID>": the Idempotency-Key
//	                            claim, in a slot of its own (claim.go)
//	trk:T:<orderID>, trk:dedup:T:<orderID>  the order's timeline, trk:feed:T the partition's
//	                            tracking feed (package tracking); accept writes the first event
//	outbox:T                    stream of partition T, one entry per message: type, id (order
//	                            or document id, of partition p), at (accept time, unix ms),
//	                            and for replays only (the one target that delivers it) and
//	                            replay (the dead-letter id)
//	erp-<target>                consumer group of target on every outbox:T; the
//	                            pseudo-consumer "_backoff" holds entries waiting out a retry
//	outbox:retry:T:<target>     sorted set: parked entry id → due time (unix ms)
//	outbox:dead:T               stream of dead letters: type, id, target, reason, deliveries,
//	                            entry (outbox id), at, dead_at; shown to operators as
//	                            "<dead id>-<p>"
//	outbox:dead:log:T           operator actions on partition p's dead letters (deadletter.go)
//	{release}:…                 the release plan, its history, approvals, manifests,
//	                            shadow comparisons and windows (release*.go): one tag,
//	                            as their scripts touch several together
//	{notices}, {notices}:rev    notices (notices.go); {fb}:log, {fb}:count feedback
//	erpgate:partitions          the partition count, recorded at first Init
//
// Shop ids never contain ':', so the idempotency keys are unambiguous. An
// order's accept writes its records, its first tracking event and its
// outbox entry in one script: the outbox and feed entries go to the streams
// of the order's partition (space.Of(orderID)), under the same hash tag, so
// that on Redis Cluster the script runs within one slot. The consumers read
// every partition (internal/streamgroup). The Idempotency-Key claim is the
// one record of an accept outside its partition (claim.go). Single-key
// records (rate limits, instances, FAQ) carry no tag: each is one slot
// anyway.
//
// # Outbox rules
//
// Every entry stays until every consumer group has acknowledged it: the
// trimmer cuts only below the oldest entry any group still needs (XTRIM
// MINID), never by length. A transient failure parks the entry (still
// pending) with a due time; entries of dead consumers are reclaimed after an
// idle time; after too many deliveries an entry moves to outbox:dead, from
// where an operator replays it into one chosen target.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
	"erpgate/internal/partition"
	"erpgate/internal/streamgroup"
	"erpgate/order"
	"erpgate/tracking"
)

// Limits on what Accept stores.
const (
	MaxIdempotencyKey = 255                        // bytes of an Idempotency-Key
	feedMaxLen        = tracking.DefaultFeedMaxLen // approximate length cap of trk:feed (a notification stream)
)

// Order statuses kept in the record. They are the tracking event types of
// the same meaning.
const (
	StatusAccepted = tracking.TypeAccepted    // stored; no authoritative answer yet
	StatusReceived = tracking.TypeERPReceived // the authoritative ERP holds the order
	StatusRejected = tracking.TypeRejected    // the authoritative ERP refused it
	StatusFailed   = tracking.TypeFailed      // dead-lettered for the authoritative target
)

// TargetResult is what one ERP target answered for an order. It is the
// erp.Result type, so the delivery workers and the store speak one type.
type TargetResult = erp.Result

// Options configures a Store. Zero values take the documented defaults.
type Options struct {
	Targets       []string         // ERP targets with a consumer group; default {"v1", "v2"}
	Now           func() time.Time // default time.Now
	Logger        *slog.Logger     // default: discard
	ScrapeTimeout time.Duration    // bound on the metrics collector's Redis queries; default 2s
	// AcceptBatch and AcceptPipelines tune the group commit of Accept (see
	// batch.go): the most accepts in one call of the accept script (default
	// DefaultAcceptBatch) and the most such calls in flight at once (default
	// DefaultAcceptPipelines).
	AcceptBatch     int
	AcceptPipelines int
	// Partitions is how many partitions the orders and their streams are
	// spread over (default partition.Default). It is recorded in Redis at
	// the first Init; an Init with another number is refused (see
	// PartitionsKey).
	Partitions int
	// WaitReplicas, when positive, makes every accept wait until that many
	// replicas hold it (Redis WAIT, sent after the accept on the same
	// connection: wait.go) before it is confirmed; when fewer confirm
	// within WaitTimeout (default DefaultWaitTimeout) the accept fails with
	// OutcomeUnknown. WaitTimeout must stay below the client's read
	// timeout.
	WaitReplicas int
	WaitTimeout  time.Duration
}

// Store is the Redis-backed order store and outbox. It is safe for
// concurrent use.
type Store struct {
	rdb     redis.UniversalClient
	targets []string
	now     func() time.Time
	log     *slog.Logger
	scrape  time.Duration
	outbox  *Outbox
	accepts *acceptBatcher
	space   partition.Space
}

var _ erp.Orders = (*Store)(nil)

// New returns a Store on rdb. Call Init before use.
func New(rdb redis.UniversalClient, opt Options) *Store {
	s := &Store{rdb: rdb, targets: slices.Clone(opt.Targets), now: opt.Now, log: opt.Logger, scrape: opt.ScrapeTimeout}
	if len(s.targets) == 0 {
		s.targets = []string{erp.V1, erp.V2}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.scrape <= 0 {
		s.scrape = 2 * time.Second
	}
	if opt.Partitions <= 0 {
		opt.Partitions = partition.Default
	}
	sp, err := partition.New(opt.Partitions)
	if err != nil {
		panic("store: " + err.Error()) // flags are validated before; a programming error here
	}
	s.space = sp
	s.outbox = newOutbox(s)
	wt := opt.WaitTimeout
	if wt <= 0 {
		wt = DefaultWaitTimeout
	}
	s.accepts = newAcceptBatcher(rdb, sp, replicaWait{n: opt.WaitReplicas, timeout: wt}, opt.AcceptBatch, opt.AcceptPipelines)
	return s
}

// Space returns the partition space the store's keys are laid out in.
func (s *Store) Space() partition.Space { return s.space }

// PartitionsKey is where the partition count is recorded at first start.
const PartitionsKey = "erpgate:partitions"

// checkPartitions records the store's partition count when Redis has none
// and refuses a different one: the keys of every order and stream depend on
// it, so a gateway with another count would not find the data.
func (s *Store) checkPartitions(ctx context.Context) error {
	want := strconv.Itoa(s.space.N())
	if err := s.rdb.SetNX(ctx, PartitionsKey, want, 0).Err(); err != nil {
		return unavailable(err)
	}
	got, err := s.rdb.Get(ctx, PartitionsKey).Result()
	if err != nil {
		return unavailable(err)
	}
	if got != want {
		return erpgate.Errorf(erpgate.Invalid,
			"store: this Redis holds data laid out in %s partitions, but --partitions is %s: start with --partitions %s "+
				"(changing the count needs a migration: docs/operators.md, \"Scale\")", got, want, got)
	}
	return nil
}

// Targets returns the configured targets.
func (s *Store) Targets() []string { return slices.Clone(s.targets) }

// Init creates the consumer group "erp-<target>" of every target on the
// outbox (creating the stream if needed) and loads the Lua scripts. A new
// group starts at the beginning of the outbox, so a target added later still
// receives every order the outbox holds. It refuses a Redis with data of
// the layout before partitions (CheckLayout). Init is idempotent.
func (s *Store) Init(ctx context.Context) error {
	if err := CheckLayout(ctx, s.rdb); err != nil { // layout.go
		return err
	}
	if err := s.checkPartitions(ctx); err != nil {
		return err
	}
	for _, t := range s.targets {
		if t == "" || strings.ContainsAny(t, " :") {
			return erpgate.Errorf(erpgate.Internal, "store: invalid target name %q", t)
		}
		if err := s.outbox.groups[t].Ensure(ctx, "0"); err != nil {
			return unavailable(err)
		}
	}
	for _, sc := range allScripts {
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			return unavailable(err)
		}
	}
	return nil
}

// PoolSize is the connection pool a gateway of partitions partitions and
// targets ERP targets needs from go-redis (on a Redis Cluster: per node at
// most): go-redis's default (10 per CPU) for requests and bookkeeping, plus
// one connection for every blocked stream read, which holds its
// connection for up to its block time: per partition one outbox reader per
// target, one webhook feed reader and one tracking hub reader.
func PoolSize(partitions, targets int) int {
	return 10*runtime.GOMAXPROCS(0) + partitions*(targets+2)
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// CheckDurability returns an error unless the Redis server persists every
// write to its append-only file (appendonly yes), because a 202 must mean the
// order survives a crash. It asks CONFIG GET and falls back to INFO
// persistence where CONFIG is disabled; a server that answers neither (such
// as the in-memory miniredis) fails. appendfsync other than "always" is
// logged as a warning: up to a second of accepted orders may be lost on a
// power failure.
func (s *Store) CheckDurability(ctx context.Context) error {
	return CheckDurability(ctx, s.rdb, s.log)
}

// CheckDurability is Store.CheckDurability for a client without a store (the
// gateway checks Redis before it builds one); the warning goes to log.
func CheckDurability(ctx context.Context, rdb redis.UniversalClient, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if c, ok := rdb.(*redis.ClusterClient); ok {
		// Every primary holds a share of the orders: each must persist.
		var mu sync.Mutex
		var errs []error
		err := c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			if err := checkDurability(ctx, node, log.With("node", node.Options().Addr)); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("primary %s: %w", node.Options().Addr, err))
				mu.Unlock()
			}
			return nil
		})
		return errors.Join(append(errs, err)...)
	}
	return checkDurability(ctx, rdb, log)
}

// checkDurability is CheckDurability of one server.
func checkDurability(ctx context.Context, rdb redis.Cmdable, log *slog.Logger) error {
	if cfg, err := rdb.ConfigGet(ctx, "append*").Result(); err == nil && cfg["appendonly"] != "" {
		if cfg["appendonly"] != "yes" {
			return errors.New("redis persistence: appendonly is " + cfg["appendonly"] + ", must be yes")
		}
		if f := cfg["appendfsync"]; f != "always" {
			log.Warn("redis appendfsync is not always: a power failure may lose the last second of accepted orders", "appendfsync", f)
		}
		return nil
	}
	info, err := rdb.Info(ctx, "persistence").Result()
	if err != nil {
		return fmt.Errorf("redis persistence: cannot tell (CONFIG GET and INFO failed): %w", err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "aof_enabled:"); ok {
			if v == "1" {
				return nil
			}
			return errors.New("redis persistence: aof_enabled is " + v + ", must be 1")
		}
	}
	return errors.New("redis persistence: server reports no aof_enabled")
}

// Intake is one order to accept.
type Intake struct {
	Order          *order.Order // validated; ID, ShopID, CreatedAt already set by the caller
	Fingerprint    string       // hex sha256 of the shop's request content (caller computes)
	IdempotencyKey string       // optional Idempotency-Key header value ("" = none)
	Token          string       // customer tracking token for this order
	Event          []byte       // tracking.Event.Encode() of the "accepted" event
	// Doc, if set, is json.Marshal(Order), for a caller that has it already
	// (the gateway builds it from the fingerprint's encoding); Accept stores
	// it as the order record instead of encoding the order again.
	Doc []byte
}

// Accepted is the outcome of Accept.
type Accepted struct {
	OrderID, ExternalID, Token string
	// Replayed is true when the order had been accepted before with the same
	// content; nothing was written.
	Replayed bool
}

// Accept stores an order in one atomic Redis step (its part of the one
// script call that accepts it together with concurrent accepts: batch.go).
// If (shop, external id) or (shop, idempotency key) already names an order,
// it returns that order with Replayed set when the fingerprint is the same,
// and an IdempotencyMismatch
// error when it differs; either way nothing is written. Otherwise it writes
// the order record, both idempotency records, the first tracking event (on
// the order's stream and the feed) and the outbox entry, all or nothing.
//
// Errors (*erpgate.Error): IdempotencyMismatch; Invalid for an over-long
// idempotency key; Unavailable when Redis failed before the accept was sent
// (nothing was stored); OutcomeUnknown when it failed after (a lost reply,
// a timeout, ctx ended while the batch was under way: the order may or may
// not be stored, and a retry with the same external id or idempotency key
// is safe — it either stores it or replays it); Internal for a caller bug.
func (s *Store) Accept(ctx context.Context, in Intake) (Accepted, error) {
	if err := checkIntake(in); err != nil {
		return Accepted{}, err
	}
	o := in.Order
	if p := s.space.Of(partition.Join(o.ShopID, o.ExternalID)); s.space.Of(o.ID) != p {
		return Accepted{}, erpgate.Wrap(erpgate.Internal, fmt.Errorf("store.Accept: order id %s is not in partition %d of its external id: draw it with NewOrderID", o.ID, p), "internal error")
	}
	if in.IdempotencyKey != "" {
		return s.acceptWithKey(ctx, in) // claim.go
	}
	return s.accept(ctx, in)
}

// NewOrderID draws an order id with gen into the partition of the order's
// business key (shop, external id), as Accept requires: the id alone then
// names the partition, so every key of the order is found from it.
func (s *Store) NewOrderID(shopID, externalID string, gen func() string) string {
	return s.space.NewID(s.space.Of(partition.Join(shopID, externalID)), gen)
}

// accept runs the atomic accept of in in its partition.
func (s *Store) accept(ctx context.Context, in Intake) (Accepted, error) {
	o := in.Order
	doc := in.Doc
	if doc == nil {
		var err error
		if doc, err = json.Marshal(o); err != nil {
			return Accepted{}, erpgate.Wrap(erpgate.Internal, err, "internal error")
		}
	}
	created := o.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	ms := strconv.FormatInt(created.UnixMilli(), 10)
	p := s.space.Of(o.ID)
	tag := s.space.Tag(p)
	keys := []string{orderKeyIn(tag, o.ID), extKeyIn(tag, o.ShopID, o.ExternalID), tracking.StreamKey(tag, o.ID)}
	res, err := s.accepts.run(ctx, p, keys, len(doc)+len(in.Event),
		o.ID, in.Fingerprint, doc, o.ShopID, o.ExternalID, in.Token, in.Event, ms, in.IdempotencyKey,
	)
	if err != nil {
		return Accepted{}, acceptFailed(err)
	}
	if len(res) < 2 {
		return Accepted{}, erpgate.Wrap(erpgate.Internal, fmt.Errorf("accept script returned %q", res), "internal error")
	}
	switch res[0] {
	case "ok":
		return Accepted{OrderID: o.ID, ExternalID: o.ExternalID, Token: in.Token}, nil
	case "mismatch":
		return Accepted{}, mismatch(res[1])
	case "replay":
		v, err := s.rdb.HMGet(ctx, s.orderKey(res[1]), "ext", "token").Result()
		if err != nil {
			return Accepted{}, unavailable(err)
		}
		ext, _ := v[0].(string)
		tok, _ := v[1].(string)
		if tok == "" {
			return Accepted{}, erpgate.Wrap(erpgate.Internal, fmt.Errorf("idempotency record names order %s without a record", res[1]), "internal error")
		}
		return Accepted{OrderID: res[1], ExternalID: ext, Token: tok, Replayed: true}, nil
	default: // "exists": the caller generated an id already in use
		return Accepted{}, erpgate.Wrap(erpgate.Internal, fmt.Errorf("order id %s already in use", res[1]), "internal error")
	}
}

// mismatch is the error of a reused external id or Idempotency-Key.
func mismatch(existing string) *erpgate.Error {
	return &erpgate.Error{
		Code:    erpgate.IdempotencyMismatch,
		Message: "an order with this external_id or Idempotency-Key was already accepted with different content",
		Err:     fmt.Errorf("existing order %s", existing),
	}
}

func checkIntake(in Intake) error {
	internal := func(msg string) error {
		return erpgate.Wrap(erpgate.Internal, errors.New("store.Accept: "+msg), "internal error")
	}
	switch o := in.Order; {
	case o == nil:
		return internal("nil order")
	case o.ID == "" || strings.ContainsAny(o.ID, " :"):
		return internal("bad order id " + strconv.Quote(o.ID))
	case o.ShopID == "" || strings.Contains(o.ShopID, ":"):
		return internal("bad shop id " + strconv.Quote(o.ShopID))
	case o.ExternalID == "":
		return internal("empty external id")
	case in.Fingerprint == "" || strings.Contains(in.Fingerprint, " "):
		return internal("bad fingerprint")
	case in.Token == "":
		return internal("empty token")
	case len(in.Event) == 0:
		return internal("empty event")
	case len(in.IdempotencyKey) > MaxIdempotencyKey:
		return &erpgate.Error{
			Code:     erpgate.Invalid,
			Message:  fmt.Sprintf("Idempotency-Key is longer than %d bytes", MaxIdempotencyKey),
			Problems: []erpgate.Problem{{Field: "Idempotency-Key", Message: "too long"}},
		}
	}
	return nil
}

// Record is an order as stored, with its status and each target's answer.
type Record struct {
	Order   order.Order
	Token   string
	Status  string                  // "accepted" until the authoritative target answers; then "erp_received" / "rejected" / "failed"
	Reason  string                  // shop-safe reason when rejected/failed
	Results map[string]TargetResult // per target
}

// StatusFor returns the status and reason the order would show if target
// were authoritative: from target's result, or "accepted" while it has no
// final one. The release plan uses it when the authoritative target changes
// (a back-out) to show the new authority's view without rewriting records.
func (r *Record) StatusFor(target string) (status, reason string) {
	res, ok := r.Results[target]
	if !ok {
		return StatusAccepted, ""
	}
	st := statusOf(res.State)
	if st == "" {
		return StatusAccepted, ""
	}
	if res.State == erp.StateCreated {
		return st, ""
	}
	return st, res.Reason
}

// statusOf maps a final result state to the order status it implies; ""
// for pending or unknown.
func statusOf(state string) string {
	switch state {
	case erp.StateCreated:
		return StatusReceived
	case erp.StateRejected:
		return StatusRejected
	case erp.StateDead:
		return StatusFailed
	}
	return ""
}

// Order returns the record of order id. Errors: NotFound, Unavailable.
func (s *Store) Order(ctx context.Context, id string) (*Record, error) {
	if id == "" || strings.ContainsAny(id, " :") {
		return nil, notFound(id)
	}
	h, err := s.rdb.HGetAll(ctx, s.orderKey(id)).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	if len(h) == 0 {
		return nil, notFound(id)
	}
	rec := &Record{Token: h["token"], Status: h["status"], Reason: h["reason"], Results: make(map[string]TargetResult)}
	if err := json.Unmarshal([]byte(h["json"]), &rec.Order); err != nil {
		return nil, erpgate.Wrap(erpgate.Internal, fmt.Errorf("order %s: %w", id, err), "internal error")
	}
	for k, v := range h {
		if t, ok := strings.CutPrefix(k, "res:"); ok {
			var r TargetResult
			if err := json.Unmarshal([]byte(v), &r); err != nil {
				return nil, erpgate.Wrap(erpgate.Internal, fmt.Errorf("order %s result %s: %w", id, t, err), "internal error")
			}
			rec.Results[t] = r
		}
	}
	return rec, nil
}

// OrderByExternalID returns the record of the order shop placed under its own
// order number externalID. Errors: NotFound, Unavailable.
func (s *Store) OrderByExternalID(ctx context.Context, shopID, externalID string) (*Record, error) {
	if shopID == "" || strings.Contains(shopID, ":") || externalID == "" {
		return nil, notFound(externalID)
	}
	v, err := s.rdb.Get(ctx, s.extKey(shopID, externalID)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, notFound(externalID)
	}
	if err != nil {
		return nil, unavailable(err)
	}
	id, _, _ := strings.Cut(v, " ")
	rec, err := s.Order(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec.Order.ShopID != shopID {
		return nil, notFound(externalID)
	}
	return rec, nil
}

// LoadOrder returns the canonical order id (for the delivery workers).
// Errors: NotFound, Unavailable.
func (s *Store) LoadOrder(ctx context.Context, id string) (*order.Order, error) {
	doc, err := s.rdb.HGet(ctx, s.orderKey(id), "json").Result()
	if errors.Is(err, redis.Nil) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, unavailable(err)
	}
	o := new(order.Order)
	if err := json.Unmarshal([]byte(doc), o); err != nil {
		return nil, erpgate.Wrap(erpgate.Internal, fmt.Errorf("order %s: %w", id, err), "internal error")
	}
	return o, nil
}

// SetResult records target's answer r for order orderID. When authoritative,
// it also sets the order's status and reason from r (a pending result leaves
// them). Results only move forward: a pending result never replaces a final
// one, and a created one is replaced only by another created one (at-least-
// once delivery may report the same success twice, never undo it); such a
// call is a no-op, not an error. Errors: NotFound, Unavailable, Internal for
// an unknown state.
func (s *Store) SetResult(ctx context.Context, orderID, target string, r TargetResult, authoritative bool) error {
	status := statusOf(r.State)
	if status == "" && r.State != erp.StatePending {
		return erpgate.Wrap(erpgate.Internal, fmt.Errorf("unknown result state %q", r.State), "internal error")
	}
	if target == "" || orderID == "" {
		return erpgate.Wrap(erpgate.Internal, errors.New("SetResult: empty order id or target"), "internal error")
	}
	doc, err := json.Marshal(r)
	if err != nil {
		return erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	auth := "0"
	if authoritative {
		auth = "1"
	}
	reason := ""
	if r.State != erp.StateCreated {
		reason = r.Reason
	}
	// Concurrent results leave together in one pipeline (outbox_delivery.go).
	res, err := s.outbox.results.run(ctx, s.rdb, []string{s.orderKey(orderID)},
		"res:"+target, doc, r.State, auth, status, reason)
	if err != nil {
		return unavailable(err)
	}
	if res == "nf" {
		return notFound(orderID)
	}
	return nil
}

// Outbox returns the outbox of s.
func (s *Store) Outbox() *Outbox { return s.outbox }

// Key names; see the package comment. tag is a partition's hash tag
// (partition.Space.Tag), braces included.

// parking is the pseudo-consumer holding deferred entries.
const parking = streamgroup.ParkingConsumer

// OutboxKey returns the outbox stream of the partition with hash tag tag.
func OutboxKey(tag string) string { return outboxKey(tag) }

func outboxKey(tag string) string        { return "outbox:" + tag }
func retryKey(tag, target string) string { return "outbox:retry:" + tag + ":" + target }
func deadKey(tag string) string          { return "outbox:dead:" + tag }
func deadLogKey(tag string) string       { return "outbox:dead:log:" + tag }

// orderKey is the record of order id, under its partition's tag.
func (s *Store) orderKey(id string) string { return orderKeyIn(s.space.TagOf(id), id) }

// extKey is the business-key idempotency record of (shop, ext), under the
// partition's tag of the business key — the order's partition.
func (s *Store) extKey(shop, ext string) string {
	return extKeyIn(s.space.TagOf(partition.Join(shop, ext)), shop, ext)
}

func orderKeyIn(tag, id string) string      { return "ord:" + tag + ":" + id }
func extKeyIn(tag, shop, ext string) string { return "idem:ext:" + tag + ":" + shop + ":" + ext }
func idemKey(shop, key string) string       { return "idem:key:" + shop + ":" + key }
func group(target string) string            { return "erp-" + target }
func notFound(what string) *erpgate.Error {
	return erpgate.Errorf(erpgate.NotFound, "order %q not found", what)
}
func unavailable(err error) *erpgate.Error {
	return erpgate.Wrap(erpgate.Unavailable, err, "order store unavailable")
}

// acceptFailed is the error of an accept that Redis did not confirm. Only
// failures that prove the script never ran say "nothing was stored": no
// connection (dial refused, pool exhausted, client closed) or a refusal
// Redis gives before running any script (out of memory, read-only replica,
// loading, busy, no quorum of replicas). Everything else — a connection
// lost after sending, a read timeout, the caller's ctx ending while the
// batch was under way, a script error — may have stored the order.
func acceptFailed(err error) *erpgate.Error {
	if notSent(err) {
		return &erpgate.Error{Code: erpgate.Unavailable, Err: err,
			Message: "order store unavailable: nothing was stored; retry later"}
	}
	return &erpgate.Error{Code: erpgate.OutcomeUnknown, Err: err,
		Message: "the order store failed while accepting: the order may or may not have been stored. " +
			"Retry with the same external_id (and Idempotency-Key, if you sent one): that is safe, " +
			"it either stores the order or answers as for the first acceptance"}
}

// notSent reports whether err proves that a command never reached Redis
// or that Redis refused it before running it.
func notSent(err error) bool {
	if errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, p := range []string{"OOM ", "READONLY ", "LOADING ", "BUSY ", "MASTERDOWN ", "NOREPLICAS ", "MISCONF ", "NOSCRIPT ",
			// Cluster answers: the command did not run (wait.go retries them first).
			"MOVED ", "ASK ", "TRYAGAIN ", "CLUSTERDOWN ", "CROSSSLOT "} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
	}
	return false
}

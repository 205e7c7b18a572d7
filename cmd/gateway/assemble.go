package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"erpgate/erp"
	"erpgate/erp/erpv2"
	"erpgate/erpsim"
	"erpgate/gateway"
	"erpgate/internal/backoff"
	"erpgate/internal/instance"
	"erpgate/internal/partition"
	"erpgate/store"
	"erpgate/tracking"
)

// system is everything run serves, assembled from the options.
type system struct {
	handler http.Handler
	// failed receives the error of a background part that stopped on its own.
	failed chan error
	stops  []func()
	// bgCtx and wg are the background runners' (start).
	bgCtx context.Context
	wg    sync.WaitGroup
}

// newSystem returns an empty system. Its background runners stop after
// the HTTP server has drained (close runs after shutdown), so in-flight
// requests never lose their store.
func newSystem(ctx context.Context) *system {
	s := &system{failed: make(chan error, 4)}
	var cancel context.CancelFunc
	s.bgCtx, cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.stops = append(s.stops, func() { cancel(); s.wg.Wait() })
	return s
}

func (s *system) close() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
}

// background runs f until ctx is done; a non-nil error before that is fatal
// for the process.
func (s *system) background(ctx context.Context, wg *sync.WaitGroup, name string, f func(context.Context) error) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := f(ctx); err != nil && ctx.Err() == nil {
			select {
			case s.failed <- fmt.Errorf("%s stopped: %w", name, err):
			default:
			}
		}
	}()
}

// runner is a background part: it runs until its context is done.
type runner struct {
	name string
	run  func(context.Context) error
}

// start runs the runners of every part in the background.
func (s *system) start(parts ...[]runner) {
	for _, rs := range parts {
		for _, r := range rs {
			s.background(s.bgCtx, &s.wg, r.name, r.run)
		}
	}
}

// base is what every part of the system is built from.
type base struct {
	opt       *options
	log       *slog.Logger
	reg       *prometheus.Registry
	rdb       redis.UniversalClient
	publicURL string
}

// assemble builds the parts of the system, each from the ones before it,
// and starts their background runners once every part is built.
func assemble(ctx context.Context, opt *options, log *slog.Logger, reg *prometheus.Registry,
	rdb redis.UniversalClient, keys *gateway.Keyring, webhooks []tracking.Subscription, publicURL string) (_ *system, err error) {
	sys := newSystem(ctx)
	defer func() {
		if err != nil {
			sys.close() // the embedded simulator, if it was started
		}
	}()
	b := base{opt: opt, log: log, reg: reg, rdb: rdb, publicURL: publicURL}
	// The parts' first calls to Redis share one deadline.
	ictx, icancel := context.WithTimeout(ctx, 10*time.Second)
	defer icancel()

	st, err := newStore(ictx, b)
	if err != nil {
		return nil, err
	}
	self, err := newInstance(ictx, b)
	if err != nil {
		return nil, err
	}
	targets, err := newERPTargets(b)
	sys.stops = append(sys.stops, targets.stop)
	if err != nil {
		return nil, err
	}
	trk, err := newTracking(b, st.Space())
	if err != nil {
		return nil, err
	}
	wh, err := newWebhooks(ictx, b, webhooks, st, self.instances)
	if err != nil {
		return nil, err
	}
	rel, err := newRelease(ictx, b, st, trk.store)
	if err != nil {
		return nil, err
	}
	// --- supplier services (supply.go, issue 6) ---
	supplyW, err := newSupplyWiring(targets.v2URL, opt.erpTimeout, st, trk.store, log)
	if err != nil {
		return nil, fmt.Errorf("erp v2 supply chain: %w", err)
	}
	// --- end supplier services ---
	dl, err := newDelivery(b, st, self.instances, targets, trk.store, rel, supplyW)
	if err != nil {
		return nil, err
	}
	srv, err := newHTTP(b, parts{keys: keys, store: st, instances: self.instances, erp: targets, tracking: trk,
		webhooks: wh.webhooks, release: rel, supply: supplyW, delivery: dl})
	if err != nil {
		return nil, err
	}
	sys.handler = srv
	sys.start(self.runners, trk.runners, wh.runners, rel.runners, dl.runners)
	return sys, nil
}

// newStore opens the store on rdb and registers its metrics.
func newStore(ctx context.Context, b base) (*store.Store, error) {
	st := store.New(b.rdb, store.Options{Targets: []string{erp.V1, erp.V2}, Logger: b.log, Partitions: b.opt.partitions,
		WaitReplicas: b.opt.redisWaitReplicas, WaitTimeout: b.opt.redisWaitTimeout})
	if err := st.Init(ctx); err != nil {
		return nil, fmt.Errorf("store init: %w", err)
	}
	if err := b.reg.Register(st.Collector()); err != nil {
		return nil, err
	}
	return st, nil
}

// instancePart is this instance in the instance registry.
type instancePart struct {
	instances *store.Instances
	runners   []runner
}

// newInstance registers this instance (store/instances.go): it heartbeats
// under its stable id; the stream consumers, named after it, take over a
// dead instance's pending entries, and a restart takes over its own.
func newInstance(ctx context.Context, b base) (instancePart, error) {
	ownManifest, err := checkOwnManifest(b.opt)
	if err != nil {
		return instancePart{}, err
	}
	instances := store.NewInstances(b.rdb, b.opt.instanceTTL)
	bi := buildInfo()
	self := store.Instance{ID: b.opt.instanceID, Version: bi.Version, Commit: bi.Commit, ManifestDigest: ownManifest,
		Address: b.publicURL, Started: time.Now()}
	if err := instances.Heartbeat(ctx, self); err != nil {
		return instancePart{}, fmt.Errorf("instance registry: %w", err)
	}
	return instancePart{instances: instances, runners: []runner{{"instance heartbeat", func(ctx context.Context) error {
		return instances.Run(ctx, self, b.log)
	}}}}, nil
}

// erpTargets are the ERP interfaces the gateway delivers to.
type erpTargets struct {
	v1URL, v2URL string
	adapters     map[string]erp.Adapter
	stop         func() // stops the embedded simulator, if started
}

// newERPTargets builds the adapters of ERP v1 and v2. For an interface
// without a URL it starts the embedded simulator; the embedded ERP v2
// pushes status changes to our callback endpoint (ERP callbacks,
// erp_callback.go) with the demo ERP key.
func newERPTargets(b base) (erpTargets, error) {
	t := erpTargets{v1URL: b.opt.erpV1URL, v2URL: b.opt.erpV2URL, stop: func() {}}
	if t.v1URL == "" || t.v2URL == "" {
		simURL, stop, err := startSimulator(b.opt.erpsimListen, b.publicURL+"/erp/v2/callback", b.log)
		if err != nil {
			return t, err
		}
		t.stop = stop
		if t.v1URL == "" {
			t.v1URL = simURL + "/erp/v1"
		}
		if t.v2URL == "" {
			t.v2URL = simURL + "/erp/v2"
		}
	}
	t.adapters = map[string]erp.Adapter{}
	v2, err := erpv2.New(erpv2.Config{URL: t.v2URL, Timeout: b.opt.erpTimeout})
	if err != nil {
		return t, fmt.Errorf("erp v2: %w", err)
	}
	t.adapters[erp.V2] = v2
	v1, err := newV1Adapter(t.v1URL, b.opt, b.log)
	if err != nil {
		return t, fmt.Errorf("erp v1: %w", err)
	}
	t.adapters[erp.V1] = v1
	b.log.Info("erp targets", "v1", t.v1URL, "v2", t.v2URL)
	return t, nil
}

// trackingPart is the tracking side: timelines, their read cache and the
// live fan-out.
type trackingPart struct {
	cache   *gateway.TrackingCache // nil without --tracking-cache-mib
	store   *tracking.Store
	hub     *tracking.Hub
	runners []runner
}

// newTracking builds timelines and live fan-out over the partitions of
// space (the store's). The tracking read cache
// is invalidated by this instance's appends at once and by every
// instance's appends through the hub's feed; it is live only while the
// hub follows the feed.
func newTracking(b base, space partition.Space) (trackingPart, error) {
	var (
		t   trackingPart
		err error
	)
	invalidate, reset := func(string) {}, func() {}
	if b.opt.trackingCacheMiB > 0 {
		if t.cache, err = gateway.NewTrackingCache(b.opt.trackingCacheMiB<<20, b.reg); err != nil {
			return t, err
		}
		invalidate, reset = t.cache.Invalidate, t.cache.Reset
	}
	if t.store, err = tracking.NewStore(tracking.StoreConfig{Client: b.rdb, Space: space, Registerer: b.reg, OnAppend: invalidate}); err != nil {
		return t, err
	}
	t.hub, err = tracking.NewHub(tracking.HubConfig{
		Client: b.rdb, Store: t.store, Logger: b.log, Registerer: b.reg, OnFeed: invalidate, OnGap: reset,
		Poll: embeddedFeedPoll(b.opt),
	})
	if err != nil {
		return t, err
	}
	cache, hub := t.cache, t.hub
	t.runners = []runner{{"tracking hub", func(ctx context.Context) error {
		if cache != nil {
			go func() {
				select {
				case <-hub.Ready():
					cache.SetLive(true)
				case <-ctx.Done():
				}
			}()
			defer cache.SetLive(false)
		}
		return hub.Run(ctx)
	}}}
	return t, nil
}

// webhooksPart is the signed webhooks to the shops' back offices.
type webhooksPart struct {
	webhooks *tracking.Webhooks
	runners  []runner
}

// newWebhooks builds the webhooks: the static subscriptions from the
// config file and those shops register.
func newWebhooks(ctx context.Context, b base, static []tracking.Subscription, st *store.Store, instances *store.Instances) (webhooksPart, error) {
	for i := range static {
		static[i].Static = true
	}
	wh, err := tracking.NewWebhooks(tracking.WebhooksConfig{
		Client: b.rdb, Space: st.Space(), ReadPoll: embeddedFeedPoll(b.opt), Logger: b.log, Registerer: b.reg, Static: static,
		Consumer: instance.Consumer(b.opt.instanceID, "webhooks"), Instances: instances,
		ShopOf: func(ctx context.Context, id string) (string, error) {
			o, err := st.LoadOrder(ctx, id)
			if err != nil {
				return "", err
			}
			return o.ShopID, nil
		},
	})
	if err != nil {
		return webhooksPart{}, err
	}
	if err := wh.Setup(ctx); err != nil {
		return webhooksPart{}, fmt.Errorf("webhooks: %w", err)
	}
	return webhooksPart{webhooks: wh, runners: []runner{{"webhooks", wh.Run}}}, nil
}

// releasePart is the release plan and what watches its results.
type releasePart struct {
	rel      *store.Releases
	shadow   *erp.Shadow
	timeline erp.ResultHook
	runners  []runner
}

// newRelease loads the release plan (store/release.go): every worker loop
// reads the cached plan, refreshed in the background; it is loaded before
// the workers start so that they never run on the built-in default after a
// back-out. Every delivery result feeds the shadow comparison and the
// automatic back-out rule (erp/shadow.go).
func newRelease(ctx context.Context, b base, st *store.Store, trk *tracking.Store) (releasePart, error) {
	relMetrics := erp.NewReleaseMetrics()
	if err := relMetrics.Register(b.reg); err != nil {
		return releasePart{}, err
	}
	timeline := timelineHook(trk, b.log)
	rel := st.Releases(store.ReleaseOptions{Metrics: relMetrics, Logger: b.log, Hook: timeline})
	if err := rel.Load(ctx); err != nil {
		return releasePart{}, fmt.Errorf("release plan: %w", err)
	}
	shadow, err := erp.NewShadow(erp.ShadowConfig{
		Plan: rel.View, Store: rel, Backout: rel.AutoBackout, Metrics: relMetrics, Logger: b.log,
	})
	if err != nil {
		return releasePart{}, err
	}
	return releasePart{rel: rel, shadow: shadow, timeline: timeline, runners: []runner{{"release plan watcher", rel.Run}}}, nil
}

// delivery is the way to the ERP: the delivery workers (outbox
// consumers) and the status poller.
type delivery struct {
	disp *erp.Dispatcher
	// authority names an order's authoritative target.
	authority func(ctx context.Context, id string) (string, error)
	runners   []runner
}

// newDelivery builds the delivery workers, the v1 status poller and the
// outbox trimmer. A result recorded under a plan that changed during the
// ERP call is re-recorded for the new authoritative target
// (erp.Reauthorize).
//
// ERP status (issue 5): ERP v2 pushes status changes to the callback
// endpoint; ERP v1 cannot, so the poller asks it about the orders it
// created (its open-order set, filled by openOrdersHook) while it is their
// authoritative target. Either way only the authoritative target's
// statuses reach the timeline.
func newDelivery(b base, st *store.Store, instances *store.Instances, targets erpTargets, trk *tracking.Store,
	rp releasePart, supplyW *supplyWiring) (delivery, error) {
	opt, rel := b.opt, rp.rel
	delivering := make(map[string]erp.Adapter, len(targets.adapters))
	for t, a := range targets.adapters {
		delivering[t] = rp.shadow.Adapter(a)
	}
	plan := rel
	open := st.OpenOrders()
	authority := func(ctx context.Context, id string) (string, error) {
		o, err := st.LoadOrder(ctx, id)
		if err != nil {
			return "", err
		}
		return plan.Authoritative(o), nil
	}
	poller, err := erp.NewPoller(erp.PollerConfig{
		Target: erp.V1, Adapter: targets.adapters[erp.V1], Open: open, Authority: authority,
		Record: pollRecorder(trk), Finished: timelineFinished(trk), Revision: rel.Applied,
		CallTimeout: opt.erpTimeout, Logger: b.log, Registerer: b.reg,
	})
	if err != nil {
		return delivery{}, err
	}
	disp := erp.NewDispatcher(erp.DispatcherConfig{
		Outbox: st.Outbox(), Orders: st, Adapters: delivering, Plan: plan,
		Name: opt.instanceID, Instances: instances,
		Logger: b.log, Registerer: b.reg, Consumers: opt.consumers, InFlight: opt.erpInFlight, CallTimeout: opt.erpTimeout,
		ReadPoll:       embeddedFeedPoll(opt), // the embedded Redis re-runs blocked reads after every command
		OnResult:       erp.Reauthorize(rel, st, b.log, erp.ChainHooks(rp.shadow.OnResult, rp.timeline, openOrdersHook(open, b.log))),
		Backoff:        backoff.Policy{Base: min(time.Second, opt.erpBackoffMax/2), Max: opt.erpBackoffMax, Jitter: 0.3},
		BreakerOpenFor: opt.erpBreakerOpen, MaxDeliveries: opt.erpMaxDeliveries,
		ReclaimMinIdle: opt.erpReclaimIdle, ReclaimEvery: min(opt.erpReclaimIdle/2, 30*time.Second),
		// Supplier documents go to v2 only (supply.go).
		Handlers: supplyW.handlers,
	})
	return delivery{disp: disp, authority: authority, runners: []runner{
		{"status poller", poller.Run},
		{"delivery workers", disp.Run},
		{"outbox trimmer", func(ctx context.Context) error {
			return st.Outbox().RunTrimmer(ctx, 10*time.Second)
		}},
	}}, nil
}

// parts are the parts the HTTP surface serves.
type parts struct {
	keys      *gateway.Keyring
	store     *store.Store
	instances *store.Instances
	erp       erpTargets
	tracking  trackingPart
	webhooks  *tracking.Webhooks
	release   releasePart
	supply    *supplyWiring
	delivery  delivery
}

// newHTTP builds the HTTP handler on the parts, with the maintenance
// notices, pilot feedback and FAQ (notices.go: global records in Redis,
// read through the notice board) and release management (cmdb.go: the
// CMDB snapshot, the release library key).
func newHTTP(b base, p parts) (*gateway.Server, error) {
	opt, st, rel, wh, disp := b.opt, p.store, p.release.rel, p.webhooks, p.delivery.disp
	nf := newNoticesAndFeedback(st, rel, wh, opt.noticeLeadTime, b.log)
	// --- release management (issue 15): instance registry, CMDB, release library key ---
	var manifestKey []byte
	if opt.releasePublicKey != "" {
		var err error
		if manifestKey, err = readPublicKey(opt.releasePublicKey); err != nil {
			return nil, err
		}
	}
	cmdbW := cmdbWiring{opt: opt, rdb: b.rdb, registry: storeInstances{p.instances}, rel: rel, disp: disp, keys: p.keys, webhooks: wh, v1URL: p.erp.v1URL, v2URL: p.erp.v2URL}
	// --- end release management ---

	cfg := gateway.Config{
		PublicURL: b.publicURL, Logger: b.log, Registerer: b.reg, Gatherer: b.reg,
		Store: st, Keyring: p.keys, Timelines: p.tracking.store, Live: p.tracking.hub, TrackingCache: p.tracking.cache, Release: rel, Plan: rel,
		Authority: p.delivery.authority, Events: p.tracking.store, Webhooks: wh, // ERP callbacks and webhook admin
		Outbox: st.Outbox(), // outbox and dead-letter admin
		Ready: func(ctx context.Context) error {
			if err := st.Ping(ctx); err != nil {
				return errors.New("redis unreachable")
			}
			if !disp.Running() {
				return errors.New("delivery workers not running")
			}
			return nil
		},
		Supplier: p.supply.config,                                // supplier services (supply.go)
		Notices:  nf.notices, Feedback: nf.feedback, FAQ: nf.faq, // notices.go
		CMDB: gateway.CMDBFunc(cmdbW.snapshot), ManifestKey: manifestKey, // release management (cmdb.go)
	}
	opt.hardening.configure(&cfg, b.rdb) // hardening.go
	srv, err := gateway.New(cfg)
	if err != nil {
		return nil, err
	}
	p.supply.attach(srv) // supply.go
	return srv, nil
}

// embeddedFeedPoll is how often the stream readers (the tracking hub, the
// webhooks' feed readers, the delivery workers' outbox readers: one per
// partition each) poll on the embedded Redis, where a blocked read is
// re-run after every command (tracking.HubConfig.Poll); 0 (blocking reads)
// on a real Redis.
func embeddedFeedPoll(opt *options) time.Duration {
	if opt.redisURL == "" {
		return 50 * time.Millisecond
	}
	return 0
}

// demoERPCallbackKey is the demo ERP client's key (gateway.DemoClients),
// with which the embedded simulator pushes status changes.
const demoERPCallbackKey = "demo-erp-callback-key"

// startSimulator serves the ERP simulator in-process on addr and returns its
// base URL. Its orders move through the demo lifecycle (delivered about 25 s
// after the order; PUT /sim/lifecycle changes the pace), and v2 pushes each
// status change to callbackURL.
func startSimulator(addr, callbackURL string, log *slog.Logger) (string, func(), error) {
	sim := erpsim.New(erpsim.Config{Logger: log.With("component", "erpsim"),
		Lifecycle: erpsim.DemoLifecycle, CallbackURL: callbackURL, CallbackToken: demoERPCallbackKey})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("embedded ERP simulator: listen %s: %w", addr, err)
	}
	hs := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	// Goods receipts of arrived shipments and replenishment (erpsim
	// supply.go, issue 6), once a second on the simulator's clock.
	supplyCtx, supplyStop := context.WithCancel(context.Background())
	go sim.RunSupply(supplyCtx, time.Second)
	url := "http://" + ln.Addr().String()
	log.Warn("EMBEDDED ERP SIMULATOR: orders go to a simulated ERP, not a real one", "url", url,
		"inspect", url+"/sim/orders", "faults", url+"/sim/faults", "lifecycle", url+"/sim/lifecycle")
	return url, func() {
		supplyStop()
		sim.Close() // lifecycle driver and status push
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}, nil
}

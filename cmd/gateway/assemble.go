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
	"erpgate/internal/instance"
	"erpgate/store"
	"erpgate/tracking"
)

// system is everything run serves, assembled from the options.
type system struct {
	handler http.Handler
	// failed receives the error of a background part that stopped on its own.
	failed chan error
	stops  []func()
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

// assemble builds the store, the ERP side (embedded simulator or real
// endpoints), the delivery workers and the HTTP handler.
func assemble(ctx context.Context, opt *options, log *slog.Logger, reg *prometheus.Registry,
	rdb redis.UniversalClient, keys *gateway.Keyring, webhooks []tracking.Subscription, publicURL string) (*system, error) {
	sys := &system{failed: make(chan error, 4)}
	bgCtx, bgCancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	// Background parts stop after the HTTP server has drained (close runs
	// after shutdown), so in-flight requests never lose their store.
	sys.stops = append(sys.stops, func() { bgCancel(); wg.Wait() })

	st := store.New(rdb, store.Options{Targets: []string{erp.V1, erp.V2}, Logger: log, Partitions: opt.partitions})
	ictx, icancel := context.WithTimeout(ctx, 10*time.Second)
	defer icancel()
	if err := st.Init(ictx); err != nil {
		return nil, fmt.Errorf("store init: %w", err)
	}
	if err := reg.Register(st.Collector()); err != nil {
		return nil, err
	}

	// The instance registry (store/instances.go): this instance heartbeats
	// under its stable id; the stream consumers, named after it, take over
	// a dead instance's pending entries, and a restart takes over its own.
	ownManifest, err := checkOwnManifest(opt)
	if err != nil {
		return nil, err
	}
	instances := store.NewInstances(rdb, opt.instanceTTL)
	b := buildInfo()
	self := store.Instance{ID: opt.instanceID, Version: b.Version, Commit: b.Commit, ManifestDigest: ownManifest,
		Address: publicURL, Started: time.Now()}
	if err := instances.Heartbeat(ictx, self); err != nil {
		return nil, fmt.Errorf("instance registry: %w", err)
	}
	sys.background(bgCtx, &wg, "instance heartbeat", func(ctx context.Context) error {
		return instances.Run(ctx, self, log)
	})

	v1URL, v2URL := opt.erpV1URL, opt.erpV2URL
	if v1URL == "" || v2URL == "" {
		// The embedded ERP v2 pushes status changes to our callback
		// endpoint (ERP callbacks, erp_callback.go) with the demo ERP key.
		simURL, stop, err := startSimulator(opt.erpsimListen, publicURL+"/erp/v2/callback", log)
		if err != nil {
			return nil, err
		}
		sys.stops = append(sys.stops, stop)
		if v1URL == "" {
			v1URL = simURL + "/erp/v1"
		}
		if v2URL == "" {
			v2URL = simURL + "/erp/v2"
		}
	}
	adapters := map[string]erp.Adapter{}
	v2, err := erpv2.New(erpv2.Config{URL: v2URL, Timeout: opt.erpTimeout})
	if err != nil {
		return nil, fmt.Errorf("erp v2: %w", err)
	}
	adapters[erp.V2] = v2
	v1, err := newV1Adapter(v1URL, opt, log)
	if err != nil {
		return nil, fmt.Errorf("erp v1: %w", err)
	}
	adapters[erp.V1] = v1
	log.Info("erp targets", "v1", v1URL, "v2", v2URL)

	// Tracking: timelines, live fan-out, webhooks.
	// The tracking read cache is invalidated by this instance's appends at
	// once and by every instance's appends through the hub's feed; it is
	// live only while the hub follows the feed.
	var cache *gateway.TrackingCache
	invalidate, reset := func(string) {}, func() {}
	if opt.trackingCacheMiB > 0 {
		if cache, err = gateway.NewTrackingCache(opt.trackingCacheMiB<<20, reg); err != nil {
			return nil, err
		}
		invalidate, reset = cache.Invalidate, cache.Reset
	}
	trk, err := tracking.NewStore(tracking.StoreConfig{Client: rdb, Registerer: reg, OnAppend: invalidate})
	if err != nil {
		return nil, err
	}
	hub, err := tracking.NewHub(tracking.HubConfig{
		Client: rdb, Store: trk, Logger: log, Registerer: reg, OnFeed: invalidate, OnGap: reset,
		Poll: embeddedFeedPoll(opt),
	})
	if err != nil {
		return nil, err
	}
	sys.background(bgCtx, &wg, "tracking hub", func(ctx context.Context) error {
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
	})
	for i := range webhooks {
		webhooks[i].Static = true
	}
	wh, err := tracking.NewWebhooks(tracking.WebhooksConfig{
		Client: rdb, Logger: log, Registerer: reg, Static: webhooks,
		Consumer: instance.Consumer(opt.instanceID, "webhooks"), Instances: instances,
		ShopOf: func(ctx context.Context, id string) (string, error) {
			o, err := st.LoadOrder(ctx, id)
			if err != nil {
				return "", err
			}
			return o.ShopID, nil
		},
	})
	if err != nil {
		return nil, err
	}
	if err := wh.Setup(ictx); err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	sys.background(bgCtx, &wg, "webhooks", wh.Run)

	// Release plan (store/release.go): every worker loop reads the cached
	// plan, refreshed in the background; it is loaded before the workers
	// start so that they never run on the built-in default after a
	// back-out. Every delivery result feeds the shadow comparison and the
	// automatic back-out rule (erp/shadow.go), and a result recorded under a
	// plan that changed during the ERP call is re-recorded for the new
	// authoritative target (erp.Reauthorize).
	relMetrics := erp.NewReleaseMetrics()
	if err := relMetrics.Register(reg); err != nil {
		return nil, err
	}
	timeline := timelineHook(trk, log)
	rel := st.Releases(store.ReleaseOptions{Metrics: relMetrics, Logger: log, Hook: timeline})
	if err := rel.Load(ictx); err != nil {
		return nil, fmt.Errorf("release plan: %w", err)
	}
	sys.background(bgCtx, &wg, "release plan watcher", rel.Run)
	shadow, err := erp.NewShadow(erp.ShadowConfig{
		Plan: rel.View, Store: rel, Backout: rel.AutoBackout, Metrics: relMetrics, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	delivering := make(map[string]erp.Adapter, len(adapters))
	for t, a := range adapters {
		delivering[t] = shadow.Adapter(a)
	}
	plan := rel
	// --- supplier services (supply.go, issue 6) ---
	supplyW, err := newSupplyWiring(v2URL, opt.erpTimeout, st, trk, log)
	if err != nil {
		return nil, fmt.Errorf("erp v2 supply chain: %w", err)
	}
	// --- end supplier services ---

	// ERP status (issue 5): ERP v2 pushes status changes to the callback
	// endpoint; ERP v1 cannot, so the poller asks it about the orders it
	// created (its open-order set, filled by openOrdersHook) while it is
	// their authoritative target. Either way only the authoritative
	// target's statuses reach the timeline.
	open := st.OpenOrders()
	authority := func(ctx context.Context, id string) (string, error) {
		o, err := st.LoadOrder(ctx, id)
		if err != nil {
			return "", err
		}
		return plan.Authoritative(o), nil
	}
	poller, err := erp.NewPoller(erp.PollerConfig{
		Target: erp.V1, Adapter: adapters[erp.V1], Open: open, Authority: authority,
		Record: pollRecorder(trk), Finished: timelineFinished(trk), Revision: rel.Applied,
		CallTimeout: opt.erpTimeout, Logger: log, Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	sys.background(bgCtx, &wg, "status poller", poller.Run)

	disp := erp.NewDispatcher(erp.DispatcherConfig{
		Outbox: st.Outbox(), Orders: st, Adapters: delivering, Plan: plan,
		Name: opt.instanceID, Instances: instances,
		Logger: log, Registerer: reg, Consumers: opt.consumers, InFlight: opt.erpInFlight, CallTimeout: opt.erpTimeout,
		OnResult:       erp.Reauthorize(rel, st, log, erp.ChainHooks(shadow.OnResult, timeline, openOrdersHook(open, log))),
		Backoff:        erp.Backoff{Base: min(time.Second, opt.erpBackoffMax/2), Max: opt.erpBackoffMax, Jitter: 0.3},
		BreakerOpenFor: opt.erpBreakerOpen, MaxDeliveries: opt.erpMaxDeliveries,
		ReclaimMinIdle: opt.erpReclaimIdle, ReclaimEvery: min(opt.erpReclaimIdle/2, 30*time.Second),
		// Supplier documents go to v2 only (supply.go).
		Handlers: supplyW.handlers,
	})
	sys.background(bgCtx, &wg, "delivery workers", disp.Run)
	sys.background(bgCtx, &wg, "outbox trimmer", func(ctx context.Context) error {
		return st.Outbox().RunTrimmer(ctx, 10*time.Second)
	})

	// Maintenance notices, pilot feedback, the FAQ (notices.go in
	// cmd/gateway): global records in Redis, read through the notice board.
	nf := newNoticesAndFeedback(st, rel, wh, opt.noticeLeadTime, log)
	// --- release management (issue 15): instance registry, CMDB, release library key ---
	var manifestKey []byte
	if opt.releasePublicKey != "" {
		if manifestKey, err = readPublicKey(opt.releasePublicKey); err != nil {
			return nil, err
		}
	}
	cmdbW := cmdbWiring{opt: opt, rdb: rdb, registry: storeInstances{instances}, rel: rel, disp: disp, keys: keys, webhooks: wh, v1URL: v1URL, v2URL: v2URL}
	// --- end release management ---

	cfg := gateway.Config{
		PublicURL: publicURL, Logger: log, Registerer: reg, Gatherer: reg,
		Store: st, Keyring: keys, Timelines: trk, Live: hub, TrackingCache: cache, Release: rel, Plan: rel,
		Authority: authority, Events: trk, Webhooks: wh, // ERP callbacks and webhook admin
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
		Supplier: supplyW.config,                                 // supplier services (supply.go)
		Notices:  nf.notices, Feedback: nf.feedback, FAQ: nf.faq, // notices.go
		CMDB: gateway.CMDBFunc(cmdbW.snapshot), ManifestKey: manifestKey, // release management (cmdb.go)
	}
	opt.hardening.configure(&cfg, rdb) // hardening.go
	srv, err := gateway.New(cfg)
	if err != nil {
		return nil, err
	}
	supplyW.attach(srv) // supply.go
	sys.handler = srv
	return sys, nil
}

// embeddedFeedPoll is how often the tracking hub polls the feed on the
// embedded Redis, where a blocked XREAD is re-run after every command
// (tracking.HubConfig.Poll); 0 (a blocking read) on a real Redis.
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

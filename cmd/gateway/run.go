package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"erpgate/gateway"
	"erpgate/store"
	"erpgate/tracking"
)

// run is the whole program; main only calls it. It returns when ctx is
// cancelled (SIGINT/SIGTERM) after a graceful shutdown, or on a fatal error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 1 {
		switch args[1] {
		case "release":
			return runRelease(ctx, args[1:], getenv, stdout, stderr)
		case "cmdb":
			return runCMDB(ctx, args[1:], getenv, stdout, stderr)
		case "migrate-layout":
			return runMigrateLayout(ctx, args[1:], getenv, stdout, stderr) // migrate.go
		}
	}
	if len(args) > 1 && args[1] == "deadletters" {
		return runDeadLetters(ctx, args[1:], getenv, stdout, stderr)
	}
	opt, err := parseFlags(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flagHelp) {
			return nil
		}
		return err
	}
	if opt.showVersion {
		return printVersion(stdout)
	}
	log, err := newLogger(opt, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerBuildInfo(reg)

	// Clients and keys.
	clients := gateway.DemoClients()
	var webhooks []tracking.Subscription
	if opt.configFile != "" {
		fc, err := loadConfig(opt.configFile)
		if err != nil {
			return err
		}
		clients, webhooks = fc.Clients, fc.Webhooks
	} else {
		log.Warn("no --config given: the DEMO credentials are active; do not expose this gateway",
			"shop_key", "demo-shop-key", "admin_token", "demo-admin-token",
			"supplier_keys", "demo-supplier-key-1 (SUP-1), demo-supplier-key-2 (SUP-2)")
	}
	keys, err := gateway.NewKeyring(clients)
	if err != nil {
		return err
	}

	// Redis: embedded (not durable) or real (durability checked).
	rdb, closeRedis, err := openRedis(ctx, opt, log)
	if err != nil {
		return err
	}
	defer closeRedis()
	if opt.redisPipelines > 0 {
		ap, err := store.NewAutoPipeline(rdb, 0, opt.redisPipelines, reg)
		if err != nil {
			return err
		}
		rdb.AddHook(ap)
	}

	ln, err := net.Listen("tcp", opt.listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", opt.listen, err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	opt.boundAddr = addr
	if ln, err = opt.hardening.listen(ln, reg); err != nil { // hardening.go
		return err
	}
	publicURL := opt.publicURL
	if publicURL == "" {
		publicURL = "http://" + addr
	}
	sys, err := assemble(ctx, opt, log, reg, rdb, keys, webhooks, publicURL)
	if err != nil {
		return err
	}
	defer sys.close()

	srv := &http.Server{
		Handler:           sys.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ConnContext:       gateway.ConnContext, // 408 for a header that does not arrive (hardening.go)
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	stopMetrics, err := opt.hardening.serveMetrics(reg, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("gateway listening", "addr", addr, "url", "http://"+addr, "version", buildInfo().Version, "commit", buildInfo().Commit)

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case err := <-sys.failed:
		shutdown(srv, opt.shutdownTimeout, log)
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: no new requests; finishing in-flight ones", "timeout", opt.shutdownTimeout)
	shutdown(srv, opt.shutdownTimeout, log)
	return nil
}

func shutdown(srv *http.Server, timeout time.Duration, log *slog.Logger) {
	sctx, scancel := context.WithTimeout(context.Background(), timeout)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("graceful shutdown incomplete", "err", err)
		srv.Close()
	}
}

func newLogger(opt *options, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(opt.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	hopt := &slog.HandlerOptions{Level: level}
	switch opt.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, hopt)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopt)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", opt.logFormat)
}

// openRedis connects to --redis-url, or starts an embedded in-memory Redis.
// A real Redis must have AOF on unless --allow-volatile-redis: a 202 has to
// mean the order survives a crash.
func openRedis(ctx context.Context, opt *options, log *slog.Logger) (redis.UniversalClient, func(), error) {
	if opt.redisURL == "" {
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return nil, nil, fmt.Errorf("embedded redis: %w", err)
		}
		log.Warn("EMBEDDED IN-MEMORY REDIS: nothing is durable; every order is lost when this process stops. Use --redis-url for anything real.", "addr", m.Addr())
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
		return rdb, func() { rdb.Close(); m.Close() }, nil
	}
	rdb, err := newRedisClient(opt.redisURL, store.PoolSize(opt.partitions, 2))
	if err != nil {
		return nil, nil, err
	}
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	defer pcancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("redis %s unreachable: %w", redactURL(opt.redisURL), err)
	}
	if err := checkCluster(pctx, rdb); err != nil {
		rdb.Close()
		return nil, nil, err
	}
	// store.CheckDurability also warns when appendfsync is not always.
	if err := store.CheckDurability(pctx, rdb, log); err != nil {
		if !opt.allowVolatileRedis {
			rdb.Close()
			return nil, nil, fmt.Errorf("%w; refusing to start because a 202 must mean durable (enable appendonly, or pass --allow-volatile-redis)", err)
		}
		log.Warn("VOLATILE REDIS allowed by flag: accepted orders may be lost in a Redis crash", "reason", err)
	}
	log.Info("redis connected", "url", redactURL(opt.redisURL))
	return rdb, func() { rdb.Close() }, nil
}

// newRedisClient understands redis:// and rediss:// for a single node,
// redis+sentinel://[:password@]h1:p1,h2:p2/mastername for Sentinel and
// redis+cluster://[:password@]h1:p1,h2:p2 (rediss+cluster:// with TLS) for
// Redis Cluster. The same store code serves all three: every key one atomic
// step touches carries its partition's hash tag (package store). poolSize
// (0: go-redis's default) bounds the connections, per node for a cluster
// (store.PoolSize).
func newRedisClient(raw string, poolSize int) (redis.UniversalClient, error) {
	switch {
	case strings.HasPrefix(raw, "redis://"), strings.HasPrefix(raw, "rediss://"), strings.HasPrefix(raw, "unix://"):
		o, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("--redis-url: %w", err)
		}
		if poolSize > 0 {
			o.PoolSize = poolSize
		}
		return redis.NewClient(o), nil
	case strings.HasPrefix(raw, "redis+cluster://"), strings.HasPrefix(raw, "rediss+cluster://"):
		o, err := parseClusterURL(raw)
		if err != nil {
			return nil, err
		}
		if poolSize > 0 {
			o.PoolSize = poolSize
		}
		return redis.NewClusterClient(o), nil
	case strings.HasPrefix(raw, "redis+sentinel://"):
		rest := strings.TrimPrefix(raw, "redis+sentinel://")
		password := ""
		if auth, hosts, ok := strings.Cut(rest, "@"); ok {
			// [:password@]: the same password for the master and the Sentinels.
			password, rest = strings.TrimPrefix(auth, ":"), hosts
		}
		hosts, master, ok := strings.Cut(rest, "/")
		if !ok || master == "" || hosts == "" {
			return nil, errors.New("--redis-url: redis+sentinel://[:password@]h1:p1,h2:p2/<master name>")
		}
		return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: master, SentinelAddrs: strings.Split(hosts, ","),
			Password: password, SentinelPassword: password, PoolSize: poolSize}), nil
	}
	return nil, fmt.Errorf("--redis-url: unsupported scheme in %q (redis://, rediss://, unix://, redis+sentinel://, redis+cluster://, rediss+cluster://)", redactURL(raw))
}

// parseClusterURL reads redis+cluster://[[user]:password@]h1:p1,h2:p2[?opts]
// (rediss+cluster:// for TLS) into cluster options: the hosts are seeds, the
// client learns the rest of the cluster from them. opts are go-redis's
// (dial_timeout=3s, ...). Redirections and cluster-down answers are retried
// with backoff (MaxRedirects, MinRetryBackoff/MaxRetryBackoff): a slot that
// moves or a primary that fails over costs a retry, not an error.
func parseClusterURL(raw string) (*redis.ClusterOptions, error) {
	const usage = "--redis-url: redis+cluster://[:password@]h1:p1,h2:p2 (or rediss+cluster:// for TLS)"
	scheme, rest, _ := strings.Cut(raw, "+cluster://")
	auth := ""
	if a, hosts, ok := strings.Cut(rest, "@"); ok {
		auth, rest = a+"@", hosts
	}
	hosts, query, _ := strings.Cut(rest, "?")
	hosts = strings.TrimSuffix(hosts, "/")
	seeds := strings.Split(hosts, ",")
	for _, h := range seeds {
		if h == "" || !strings.Contains(h, ":") || strings.ContainsAny(h, "/") {
			return nil, errors.New(usage)
		}
	}
	// go-redis's own form: the first seed as the host, the others as addr=.
	q := make([]string, 0, len(seeds))
	for _, h := range seeds[1:] {
		q = append(q, "addr="+h)
	}
	if query != "" {
		q = append(q, query)
	}
	o, err := redis.ParseClusterURL(scheme + "://" + auth + seeds[0] + "?" + strings.Join(q, "&"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", usage, err)
	}
	if !strings.Contains(query, "max_redirects") {
		o.MaxRedirects = 8 // a reshard under load may redirect an old slot map more than the default 3 times
	}
	return o, nil
}

// checkCluster refuses a node of a Redis Cluster named by a single-node or
// Sentinel URL (errClusterNode), even with --allow-volatile-redis: such a
// client would follow no redirection, so every key outside the node's slots
// would fail. A server that does not answer INFO is left to the durability
// check.
func checkCluster(ctx context.Context, rdb redis.UniversalClient) error {
	if _, ok := rdb.(*redis.ClusterClient); ok {
		return nil
	}
	info, err := rdb.Info(ctx, "cluster").Result()
	if err == nil && strings.Contains(info, "cluster_enabled:1") {
		return errClusterNode
	}
	return nil
}

// errClusterNode is checkCluster's answer for a node of a Redis Cluster
// named as a single node: it is refused even with --allow-volatile-redis.
var errClusterNode = errors.New("redis is a Redis Cluster node: name the cluster with redis+cluster://h1:p1,h2:p2,... " +
	"(a single-node client does not follow the cluster's redirections)")

// redactURL hides a password in a Redis URL for logs and errors.
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = "***@" + rest[at+1:]
	}
	return scheme + "://" + rest
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"erpgate/gateway"
	"erpgate/store"
)

// hardeningOptions are the admission, rate limit and metrics-access
// settings (docs/hardening.md).
type hardeningOptions struct {
	maxConnections   int
	maxInFlight      int
	maxBodyMiB       int
	maxUnauthBodyMiB int
	rateLimit        float64
	rateBurst        int
	metricsToken     string
	metricsListen    string
}

func addHardeningFlags(fs *flag.FlagSet, env func(name, def string) string, o *hardeningOptions) {
	d := gateway.DefaultLimits()
	fs.IntVar(&o.maxConnections, "max-connections", envInt(env, "ERPGATE_MAX_CONNECTIONS", 16384), "most open client connections; beyond, a connection is answered 503 and closed; 0 = no limit [ERPGATE_MAX_CONNECTIONS]")
	fs.IntVar(&o.maxInFlight, "max-in-flight", envInt(env, "ERPGATE_MAX_IN_FLIGHT", d.MaxInFlight), "most requests served at once; beyond, 503 overloaded at once (load shedding); -1 = no limit [ERPGATE_MAX_IN_FLIGHT]")
	fs.IntVar(&o.maxBodyMiB, "max-body-mib", envInt(env, "ERPGATE_MAX_BODY_MIB", int(d.MaxBodyBytes>>20)), "MiB of request bodies all requests together may hold while read; beyond, 503 overloaded [ERPGATE_MAX_BODY_MIB]")
	fs.IntVar(&o.maxUnauthBodyMiB, "max-unauth-body-mib", envInt(env, "ERPGATE_MAX_UNAUTH_BODY_MIB", int(d.MaxUnauthBodyBytes>>20)), "MiB of it that requests not yet authenticated (WS-Security, HMAC signatures) may hold [ERPGATE_MAX_UNAUTH_BODY_MIB]")
	fs.Float64Var(&o.rateLimit, "rate-limit", envFloat(env, "ERPGATE_RATE_LIMIT", 0), "default requests per second per shop or supplier client, shared by all instances through Redis; a client's rate_limit in --config overrides it; 0 = no limit [ERPGATE_RATE_LIMIT]")
	fs.IntVar(&o.rateBurst, "rate-burst", envInt(env, "ERPGATE_RATE_BURST", 0), "requests a client may send at once under --rate-limit (0 = one second's worth) [ERPGATE_RATE_BURST]")
	fs.StringVar(&o.metricsToken, "metrics-token", env("ERPGATE_METRICS_TOKEN", ""), "bearer token /metrics requires; empty = open [ERPGATE_METRICS_TOKEN]")
	fs.StringVar(&o.metricsListen, "metrics-listen", env("ERPGATE_METRICS_LISTEN", ""), "serve /metrics on this separate address (e.g. 10.0.0.5:9100) and not on --listen [ERPGATE_METRICS_LISTEN]")
}

// envInt and envFloat are env for numeric defaults: a malformed value
// keeps def and is reported by check.
func envInt(env func(name, def string) string, name string, def int) int {
	var v int
	if _, err := fmt.Sscan(env(name, fmt.Sprint(def)), &v); err != nil {
		return def
	}
	return v
}

func envFloat(env func(name, def string) string, name string, def float64) float64 {
	var v float64
	if _, err := fmt.Sscan(env(name, fmt.Sprint(def)), &v); err != nil {
		return def
	}
	return v
}

func (o *hardeningOptions) check() error {
	switch {
	case o.maxConnections < 0:
		return errors.New("--max-connections must be ≥ 0")
	case o.maxBodyMiB < 1 || o.maxUnauthBodyMiB < 1:
		return errors.New("--max-body-mib and --max-unauth-body-mib must be ≥ 1")
	case o.maxUnauthBodyMiB > o.maxBodyMiB:
		return errors.New("--max-unauth-body-mib must not exceed --max-body-mib")
	case o.rateLimit < 0 || o.rateBurst < 0:
		return errors.New("--rate-limit and --rate-burst must be ≥ 0")
	}
	return nil
}

// configure sets the gateway's admission limits, rate limits and metrics
// access.
func (o *hardeningOptions) configure(cfg *gateway.Config, rdb redis.UniversalClient) {
	cfg.Limits = gateway.Limits{MaxInFlight: o.maxInFlight,
		MaxBodyBytes: int64(o.maxBodyMiB) << 20, MaxUnauthBodyBytes: int64(o.maxUnauthBodyMiB) << 20}
	cfg.RateLimiter = store.NewRateLimiter(rdb)
	cfg.DefaultRateLimit = gateway.RateLimit{PerSecond: o.rateLimit, Burst: o.rateBurst}
	cfg.MetricsToken = o.metricsToken
	cfg.NoMetricsRoute = o.metricsListen != ""
}

// listen wraps the gateway's listener with the connection limit.
func (o *hardeningOptions) listen(ln net.Listener, reg prometheus.Registerer) (net.Listener, error) {
	return gateway.LimitListener(ln, o.maxConnections, reg)
}

// serveMetrics serves /metrics on --metrics-listen, if set; stop shuts
// it down.
func (o *hardeningOptions) serveMetrics(reg prometheus.Gatherer, log *slog.Logger) (stop func(), err error) {
	if o.metricsListen == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", o.metricsListen)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen %s: %w", o.metricsListen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", gateway.MetricsHandler(reg, o.metricsToken))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("metrics listening", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

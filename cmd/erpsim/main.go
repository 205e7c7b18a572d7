// Command erpsim runs the ERP simulator (package erpsim) standalone: SOAP
// interfaces at /erp/v1 and /erp/v2 (each with ?wsdl), the inspection API
// GET /sim/orders, the catalog at /sim/catalog, and fault injection set by
// flags at start and through GET/PUT /sim/faults at runtime.
//
//	go run ./cmd/erpsim --listen 127.0.0.1:8090 --latency 50ms --error-rate 0.1
//
// Every flag has an environment default (ERPSIM_LISTEN, ERPSIM_LATENCY,
// ERPSIM_ERROR_RATE, ERPSIM_LOST_REPLY_RATE, ERPSIM_DOWN, ERPSIM_MAX_ORDERS);
// a flag wins over its variable. The simulator keeps everything in memory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"erpgate/erpsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "erpsim:", err)
		os.Exit(1)
	}
}

// shutdownGrace bounds how long a shutdown waits for calls in flight.
const shutdownGrace = 10 * time.Second

// options are the parsed flags.
type options struct {
	listen        string
	latency       time.Duration
	errorRate     float64
	lostReplyRate float64
	down          bool
	maxOrders     int
	step          time.Duration
	autoRestock   time.Duration
	callbackURL   string
	callbackToken string
	cpuProfile    string
}

// parseFlags reads args (args[0] is the program name) over environment
// defaults. It returns flag.ErrHelp after printing usage for -h.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("erpsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8090", "listen address; port 0 picks a free port [ERPSIM_LISTEN]")
	fs.DurationVar(&o.latency, "latency", 0, "added latency of every SOAP call, e.g. 200ms [ERPSIM_LATENCY]")
	fs.Float64Var(&o.errorRate, "error-rate", 0, "share of SOAP calls (0..1) refused with a transient SERVICE_BUSY fault [ERPSIM_ERROR_RATE]")
	fs.Float64Var(&o.lostReplyRate, "lost-reply-rate", 0, "share of SOAP calls (0..1) carried out whose reply is lost [ERPSIM_LOST_REPLY_RATE]")
	fs.BoolVar(&o.down, "down", false, "start with the ERP down: every SOAP call gets 503 [ERPSIM_DOWN]")
	fs.IntVar(&o.maxOrders, "max-orders", erpsim.DefaultMaxOrders, "orders each interface version holds at most [ERPSIM_MAX_ORDERS]")
	fs.DurationVar(&o.step, "lifecycle-step", erpsim.DemoLifecycle.Step, "time between two lifecycle steps of an order (confirmed → allocated → picked → shipped → delivered); 0 = orders stay confirmed [ERPSIM_LIFECYCLE_STEP]")
	fs.DurationVar(&o.autoRestock, "auto-restock", erpsim.DemoLifecycle.AutoRestock, "a backordered quantity arrives by itself after this long; 0 = only goods receipts restock [ERPSIM_AUTO_RESTOCK]")
	fs.StringVar(&o.callbackURL, "callback-url", "", "where ERP v2 pushes status changes, e.g. http://127.0.0.1:8080/erp/v2/callback; empty = no push [ERPSIM_CALLBACK_URL]")
	fs.StringVar(&o.callbackToken, "callback-token", "demo-erp-callback-key", "bearer key for the status push [ERPSIM_CALLBACK_TOKEN]")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the simulator to this file until it stops (it shares the machine in benchmarks: what it costs matters)")
	for flagName, env := range map[string]string{
		"listen": "ERPSIM_LISTEN", "latency": "ERPSIM_LATENCY", "error-rate": "ERPSIM_ERROR_RATE",
		"lost-reply-rate": "ERPSIM_LOST_REPLY_RATE", "down": "ERPSIM_DOWN", "max-orders": "ERPSIM_MAX_ORDERS",
		"lifecycle-step": "ERPSIM_LIFECYCLE_STEP", "auto-restock": "ERPSIM_AUTO_RESTOCK",
		"callback-url": "ERPSIM_CALLBACK_URL", "callback-token": "ERPSIM_CALLBACK_TOKEN",
	} {
		if v := getenv(env); v != "" {
			if err := fs.Set(flagName, v); err != nil {
				return o, fmt.Errorf("%s=%q: %w", env, v, err)
			}
		}
	}
	if len(args) > 0 {
		args = args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.latency < 0 || o.latency > erpsim.MaxLatencyMS*time.Millisecond {
		return o, fmt.Errorf("--latency must be between 0 and %v", erpsim.MaxLatencyMS*time.Millisecond)
	}
	if o.maxOrders < 1 {
		return o, errors.New("--max-orders must be at least 1")
	}
	return o, nil
}

// run is the whole program; main only calls it. It serves until ctx is
// cancelled, then shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	cfg := erpsim.Config{
		Faults: erpsim.Faults{
			LatencyMS:     int(o.latency / time.Millisecond),
			ErrorRate:     o.errorRate,
			LostReplyRate: o.lostReplyRate,
			Down:          o.down,
		},
		MaxOrders:     o.maxOrders,
		Lifecycle:     erpsim.LifecycleConfig{Step: o.step, AutoRestock: o.autoRestock},
		CallbackURL:   o.callbackURL,
		CallbackToken: o.callbackToken,
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg.Logger = log
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	sim := erpsim.New(cfg)
	defer sim.Close() // stops the lifecycle driver and the status push
	// Goods receipts and replenishment run on the simulator's clock.
	supplyCtx, stopSupply := context.WithCancel(ctx)
	defer stopSupply()
	go sim.RunSupply(supplyCtx, time.Second)

	// Listen before serving, so the address (and a port 0 choice) is known
	// and logged before the first request can come.
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	url := "http://" + ln.Addr().String()
	log.Info("erpsim listening", "url", url, "versions", sim.Versions(), "faults", fmt.Sprintf("%+v", cfg.Faults),
		"max_orders", o.maxOrders, "go", goVersion())
	for _, v := range sim.Versions() {
		fmt.Fprintf(stdout, "erpsim: ERP %s: SOAP %s/erp/%s, WSDL %s/erp/%s?wsdl\n", v, url, v, url, v)
	}
	fmt.Fprintf(stdout, "erpsim: orders %s/sim/orders, faults %s/sim/faults, catalog %s/sim/catalog\n", url, url, url)

	srv := &http.Server{
		Handler:           sim,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		// Injected latency may hold an answer for up to MaxLatencyMS.
		WriteTimeout: erpsim.MaxLatencyMS*time.Millisecond + time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("erpsim shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return ""
}

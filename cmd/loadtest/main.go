// Command loadtest drives an erpgate gateway with an open-loop request mix
// and, with --verify, checks against the ERP simulator that every
// acknowledged order was created in the ERP exactly once.
//
//	go run ./cmd/loadtest --target http://127.0.0.1:8080 --rate 2000 --duration 30s --verify http://127.0.0.1:8090
//
// Exit status: 0 on success (and for -h), 1 when verification fails, the
// run is interrupted or could not be done, 2 for a bad command line.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"erpgate/loadtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// errUsage marks a bad command line (exit status 2).
var errUsage = errors.New("usage")

const usageHead = `loadtest sends an open-loop mix of requests to an erpgate gateway.

Requests go out on a fixed schedule (--rate for a constant rate, --steps for a
stepped one); each latency is measured from the request's intended send time,
so a slow server cannot hide its queueing delay. With --verify it then checks
against the ERP simulator's /sim/orders that every acknowledged order was
created in the ERP exactly once.

Only loopback targets (127.0.0.0/8, ::1, localhost) are accepted unless
--allow-remote is given: the tool sends thousands of requests a second and
creates real orders, so pointing it at a shared or production system by
mistake would be a denial-of-service attack and would fill an ERP with fake
orders.

Usage: loadtest [flags]

`

type options struct {
	cfg           loadtest.Config
	rate          float64
	steps         string
	duration      time.Duration
	mix           string
	verify        string
	versions      string
	verifyTimeout time.Duration
	jsonOut       bool
	report        string
	soapTemplate  string
	quiet         bool
	cpuProfile    string
	sse           loadtest.SSEConfig
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	name := "loadtest"
	if len(args) > 0 {
		name = args[0]
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageHead)
		fs.PrintDefaults()
	}
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	o := &options{}
	c := &o.cfg
	fs.StringVar(&c.Target, "target", env("ERPGATE_TARGET", loadtest.DefaultTarget), "gateway base URL [ERPGATE_TARGET]")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow non-loopback --target and --verify URLs (see above why this is off)")
	fs.Float64Var(&o.rate, "rate", 100, "constant arrival rate, requests per second (ignored with --steps)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "run length at --rate")
	fs.StringVar(&o.steps, "steps", "", "stepped schedule RATE:DURATION,…, e.g. 1000:10s,2000:10s (overrides --rate/--duration)")
	fs.StringVar(&o.mix, "mix", loadtest.DefaultMix.String(), "operation weights: rest, soap, repeat (same key and body as an earlier order), track (JSON), page (the customer's HTML page), supplier, health")
	fs.StringVar(&c.ShopKey, "shop-key", env("ERPGATE_SHOP_KEY", loadtest.DefaultShopKey), "shop API key [ERPGATE_SHOP_KEY]")
	fs.StringVar(&c.SupplierKey, "supplier-key", env("ERPGATE_SUPPLIER_KEY", loadtest.DefaultSupplierKey), "supplier API key [ERPGATE_SUPPLIER_KEY]")
	fs.IntVar(&c.MaxInflight, "max-inflight", loadtest.DefaultMaxInflight, "most concurrent requests; due requests beyond wait (and the wait counts in their latency)")
	fs.DurationVar(&c.Timeout, "timeout", loadtest.DefaultTimeout, "deadline of one request")
	fs.DurationVar(&c.LateAfter, "late-after", loadtest.DefaultLateAfter, "a request starting this long after its intended time counts as late")
	fs.DurationVar(&c.Drain, "drain", loadtest.DefaultDrain, "after the schedule, how long backlogged requests may still start")
	fs.IntVar(&c.MaxLines, "max-lines", loadtest.DefaultMaxLines, "largest number of lines of a generated order (1…N, small orders most frequent)")
	fs.IntVar(&c.Warmup, "warmup", 0, "REST orders to send before the schedule, unmeasured, so repeats and tracking reads have orders from the start")
	fs.StringVar(&c.RunID, "run-id", "", "prefix of this run's external ids (default: lt<time>-<random>)")
	fs.Uint64Var(&c.Seed, "seed", 0, "seed of the operation sequence and the generated orders (default random)")
	fs.StringVar(&o.soapTemplate, "soap-template", "", "file with a text/template of the SOAP order envelope (default: the built-in one for soap/orderws)")
	fs.StringVar(&o.verify, "verify", "", "ERP simulator base URL; after the run check every acknowledged order reached the ERP exactly once")
	fs.StringVar(&o.versions, "verify-versions", "v2", "ERP versions every order must reach: v2, v1 or v1,v2")
	fs.DurationVar(&o.verifyTimeout, "verify-timeout", 60*time.Second, "how long to wait for deliveries to settle")
	fs.BoolVar(&o.jsonOut, "json", false, "print the result as JSON on stdout (the table goes to stderr)")
	fs.StringVar(&o.report, "report", "", "write a self-contained HTML report with charts to this file")
	fs.BoolVar(&c.UseNetHTTP, "net-http", false, "send with Go's net/http client instead of the built-in lean HTTP/1.1 client (which leaves more CPU to the server on a shared machine)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress line each second")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the load tool itself to this file (to keep the tool cheap: it shares the machine with what it measures)")
	fs.IntVar(&o.sse.Streams, "sse", 0, "live tracking mode: hold this many event streams open (GET /v1/tracking/{id}/events) on orders the tool creates, and measure event fan-out latency and the gateway's RSS; --rate, --steps, --mix and --verify do not apply")
	fs.IntVar(&o.sse.PerOrder, "sse-per-order", 1, "with --sse: streams on each created order")
	fs.Float64Var(&o.sse.OpenRate, "sse-open-rate", loadtest.DefaultSSEOpenRate, "with --sse: orders created (and their streams opened) per second")
	fs.DurationVar(&o.sse.Hold, "sse-hold", loadtest.DefaultSSEHold, "with --sse: how long all streams stay open after the last one opened")
	if err := fs.Parse(args[min(1, len(args)):]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	var err error
	if o.steps != "" {
		c.Schedule, err = loadtest.ParseSteps(o.steps)
	} else {
		c.Schedule = loadtest.ConstantRate(o.rate, o.duration)
		err = c.Schedule.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if c.Mix, err = loadtest.ParseMix(o.mix); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if o.soapTemplate != "" {
		b, err := os.ReadFile(o.soapTemplate)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		t, err := loadtest.ParseSOAPEnvelope(string(b))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		st := loadtest.DefaultSOAPTemplate()
		st.Envelope = t
		c.SOAP = st
	}
	if !c.AllowRemote {
		for _, u := range []string{c.Target, o.verify} {
			if u == "" {
				continue
			}
			if err := loadtest.CheckLoopback(u); err != nil {
				return nil, fmt.Errorf("%w: %v", errUsage, err)
			}
		}
	}
	return o, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprintln(stderr, "loadtest:", err)
		}
		return err
	}
	if !o.quiet {
		o.cfg.Progress = stderr
	}
	if o.cfg.RunID == "" {
		o.cfg.RunID = loadtest.NewRunID(time.Now())
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if o.sse.Streams > 0 {
		return runSSE(ctx, o, stdout, stderr)
	}

	var (
		vcfg loadtest.VerifyConfig
		base *loadtest.Baseline
	)
	if o.verify != "" {
		vcfg = loadtest.VerifyConfig{
			SimURL: o.verify, AllowRemote: o.cfg.AllowRemote, Versions: strings.Split(o.versions, ","),
			Timeout: o.verifyTimeout, Target: o.cfg.Target, ShopKey: o.cfg.ShopKey, RunID: o.cfg.RunID,
		}
		if !o.quiet {
			vcfg.Progress = stderr
		}
		// The baseline tells this run's ERP orders from those already there;
		// without it "unexpected" means nothing, so an unreachable simulator
		// stops us before any load is sent.
		if base, err = loadtest.Snapshot(ctx, vcfg); err != nil {
			return fmt.Errorf("verify: before the run: %w", err)
		}
	}

	fmt.Fprintf(stderr, "loadtest: run %s: %s against %s, mix %s\n", o.cfg.RunID, o.cfg.Schedule, o.cfg.Target, o.cfg.Mix)
	res, err := loadtest.Run(ctx, o.cfg)
	if err != nil {
		return err
	}

	var verr error
	switch {
	case ctx.Err() != nil:
		// Interrupted: report what was measured, but a verification of a
		// cut-short run would only wait for orders still in flight.
		verr = fmt.Errorf("interrupted: %w", ctx.Err())
	case o.verify != "":
		v, err := loadtest.Verify(ctx, vcfg, base, res.Acked, res.AmbiguousOrders)
		switch {
		case err != nil:
			verr = err
		case v.Failed:
			res.Verification = v
			verr = fmt.Errorf("%w: %s", loadtest.ErrVerification, v.Reason)
		case !v.Settled:
			// Nothing lost, but the gateway still had deliveries queued
			// when the wait ended: not a pass, and not a loss either.
			res.Verification = v
			verr = fmt.Errorf("%w: %s (raise --verify-timeout, or lower the load)", loadtest.ErrNotSettled, strings.TrimPrefix(v.Reason, "not settled: "))
		default:
			res.Verification = v
		}
	}

	table := stdout
	if o.jsonOut {
		table = stderr
	}
	if err := loadtest.WriteText(table, res); err != nil {
		return err
	}
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	}
	if o.report != "" {
		if err := writeReport(o.report, res); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "loadtest: report written to %s\n", o.report)
	}
	return verr
}

// runSSE is the --sse mode: live tracking streams instead of a request mix.
func runSSE(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	cfg := o.sse
	cfg.Target, cfg.AllowRemote, cfg.ShopKey = o.cfg.Target, o.cfg.AllowRemote, o.cfg.ShopKey
	cfg.Timeout, cfg.RunID, cfg.Seed, cfg.Progress = o.cfg.Timeout, o.cfg.RunID, o.cfg.Seed, o.cfg.Progress
	if o.cfg.MaxLines != loadtest.DefaultMaxLines {
		cfg.MaxLines = o.cfg.MaxLines
	}
	fmt.Fprintf(stderr, "loadtest: run %s: %d live tracking streams (%d per order, %g orders/s, held %s) against %s\n",
		cfg.RunID, cfg.Streams, max(cfg.PerOrder, 1), cfg.OpenRate, cfg.Hold, cfg.Target)
	res, err := loadtest.RunSSE(ctx, cfg)
	if err != nil { // only a bad configuration
		err = fmt.Errorf("%w: %v", errUsage, err)
		fmt.Fprintln(stderr, "loadtest:", err)
		return err
	}
	table := stdout
	if o.jsonOut {
		table = stderr
	}
	if err := loadtest.WriteSSEText(table, res); err != nil {
		return err
	}
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted: %w", ctx.Err())
	case res.Opened == 0:
		return errors.New("sse: no stream could be opened")
	}
	return nil
}

func writeReport(path string, res *loadtest.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := loadtest.WriteHTML(f, res); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

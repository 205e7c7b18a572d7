// Package erpsim is the ERP simulator: an importable http.Handler that
// behaves like the company's ERP on its SOAP interfaces, so that the gateway
// can be run, demonstrated and tested without a real ERP.
//
// It serves:
//
//	POST /erp/v2          SOAP 1.1 interface v2 (soap/erpv2ws)
//	GET  /erp/v2?wsdl     its WSDL, soap:address rewritten to the request's host
//	GET  /sim/orders      JSON: one element per order held (?version=&external_ref=)
//	DELETE /sim/orders    forget every order (?version= for one version)
//	GET  /sim/faults      JSON: the fault injection in force (?version= for one)
//	PUT  /sim/faults      change it (fields left out keep their value)
//	GET  /sim/catalog     JSON: the products the ERP sells
//	GET  /sim/lifecycle   JSON: the order lifecycle's speed; PUT changes it
//	GET  /sim/stock       JSON: stock on hand and backordered, per version
//	POST /sim/restock     a goods receipt {"sku","quantity"}: allocates backorders
//	GET  /sim/callback    JSON: where v2 pushes status changes, and counters;
//	PUT  /sim/callback    changes it {"url","token"}
//	GET  /healthz         "ok" (even while the simulated ERP is "down")
//
// With Config.Lifecycle set, orders move on by themselves (lifecycle.go),
// and v2 pushes every status change to Config.CallbackURL (push.go).
//
// Each interface version is a separate simulated system with its own order
// store and number series (v2: SO-2V-000001, …); they share the catalog, the
// inspection API, the clock and the fault injection. A version lives in its
// own file (v2.go; v1.go for the old release) and registers itself with
// registerVersion from an init function, so adding one touches no other file.
//
// The simulator is bounded: each version holds at most Config.MaxOrders
// orders (default DefaultMaxOrders); beyond that it refuses creates with a
// transient SERVICE_UNAVAILABLE fault. It is safe for concurrent use.
package erpsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"erpgate/soap"
)

// DefaultMaxOrders bounds each version's order store. An order costs about
// 1–3 KiB (the decoded request is kept to answer GetSalesOrder), so the
// default caps a version at a few GiB in the worst case.
const DefaultMaxOrders = 1_000_000

// Config configures a Sim. The zero value is a working simulator with the
// demo catalog, no faults and the real clock.
type Config struct {
	// Faults is the fault injection in force at start, for every version.
	Faults Faults
	// MaxOrders caps the orders each version holds (0: DefaultMaxOrders).
	MaxOrders int
	// Catalog is what the ERP sells (nil: DemoCatalog()). An order line with
	// a sku not listed here is refused with UNKNOWN_SKU.
	Catalog []Product
	// Clock returns the current time (nil: time.Now). Tests inject a fake
	// clock; the order lifecycle (issue 5) runs on it.
	Clock func() time.Time
	// Rand returns a uniform number in [0, 1) and decides injected errors
	// (nil: math/rand/v2). It must be safe for concurrent use.
	Rand func() float64
	// Logger receives one line per injected fault and per refused order at
	// debug level, and store-full warnings (nil: discard).
	Logger *slog.Logger

	// Lifecycle moves orders from confirmed to delivered on Clock
	// (lifecycle.go); the zero value leaves them confirmed.
	Lifecycle LifecycleConfig
	// CallbackURL, when set, receives a SOAP SalesOrderStatusChanged call
	// (soap/erpv2cb) for every status change of a v2 order, with
	// "Authorization: Bearer <CallbackToken>" (push.go). PUT /sim/callback
	// changes both at runtime.
	CallbackURL   string
	CallbackToken string
}

// Validate reports whether c can build a simulator.
func (c Config) Validate() error {
	if c.MaxOrders < 0 {
		return errors.New("erpsim: MaxOrders must not be negative")
	}
	if err := c.Faults.validate(); err != nil {
		return fmt.Errorf("erpsim: %w", err)
	}
	if err := c.Lifecycle.validate(); err != nil {
		return fmt.Errorf("erpsim: %w", err)
	}
	if err := validCallbackURL(c.CallbackURL); err != nil {
		return fmt.Errorf("erpsim: %w", err)
	}
	seen := make(map[string]bool, len(c.Catalog))
	for _, p := range c.Catalog {
		if p.SKU == "" || seen[p.SKU] {
			return fmt.Errorf("erpsim: catalog: empty or repeated sku %q", p.SKU)
		}
		seen[p.SKU] = true
	}
	return nil
}

// Sim is the simulated ERP. Create it with New; it is an http.Handler.
type Sim struct {
	clock   func() time.Time
	rand    func() float64
	log     *slog.Logger
	catalog map[string]Product
	// products keeps the catalog in the configured order for /sim/catalog.
	products []Product
	faults   faultState
	versions map[string]*version
	names    []string // sorted version names
	mux      *http.ServeMux
	// sleep waits d or until ctx is done; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
	// supply is the supply chain (supply.go), built on first use.
	supply supplyState
	// life runs the order lifecycle, push sends v2's status changes;
	// advanceMu serialises applying lifecycle steps (lifecycle.go, push.go).
	life      *lifecycle
	push      *pusher
	advanceMu sync.Mutex
	// strictOnly turns the fast path off (fast.go): tests compare.
	strictOnly bool
}

// New returns a simulator configured by cfg. It panics if cfg is invalid
// (see Config.Validate), as a misconfigured simulator is a programming
// error; cmd/erpsim validates flags before calling it.
func New(cfg Config) *Sim {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	s := &Sim{
		clock: cfg.Clock,
		rand:  cfg.Rand,
		log:   cfg.Logger,
		sleep: sleepCtx,
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Float64
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.products = cfg.Catalog
	if s.products == nil {
		s.products = DemoCatalog()
	}
	s.products = slices.Clone(s.products)
	s.catalog = make(map[string]Product, len(s.products))
	for _, p := range s.products {
		s.catalog[p.SKU] = p
	}
	maxOrders := cfg.MaxOrders
	if maxOrders == 0 {
		maxOrders = DefaultMaxOrders
	}
	s.versions = make(map[string]*version, len(versionConstructors))
	for name, mk := range versionConstructors {
		v := mk(s)
		v.name = name
		v.store = newStore(name, v.numberPrefix, maxOrders)
		s.versions[name] = v
		s.names = append(s.names, name)
	}
	sort.Strings(s.names)
	s.faults.init(cfg.Faults, s.names)
	s.life = newLifecycle(cfg.Lifecycle, s.products, s.names)
	s.push = newPusher(s.log, s.rand, cfg.CallbackURL, cfg.CallbackToken)
	s.OnBackorder(s.onBackorder) // purchase orders for what backorders miss (supply.go)
	s.mux = s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Versions returns the names of the simulated interface versions, sorted.
func (s *Sim) Versions() []string { return slices.Clone(s.names) }

func (s *Sim) routes() *http.ServeMux {
	mux := http.NewServeMux()
	for _, name := range s.names {
		v := s.versions[name]
		mux.HandleFunc("POST "+v.path, s.handleSOAP(v))
		mux.HandleFunc("GET "+v.path, s.handleWSDL(v))
	}
	mux.HandleFunc("GET /sim/orders", s.handleListOrders)
	mux.HandleFunc("DELETE /sim/orders", s.handleResetOrders)
	mux.HandleFunc("GET /sim/faults", s.handleGetFaults)
	mux.HandleFunc("PUT /sim/faults", s.handlePutFaults)
	mux.HandleFunc("GET /sim/catalog", s.handleCatalog)
	s.lifecycleRoutes(mux) // lifecycle, stock, restock, callback (lifecycle.go)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// version is one simulated ERP interface: its endpoint, its WSDL, its own
// order store and the function that answers its SOAP operations.
type version struct {
	name         string // "v1", "v2"; set by New from the registration
	path         string // "/erp/v2"
	wsdl         []byte // served at path?wsdl
	numberPrefix string // ERP order numbers are numberPrefix + 6+ digits
	store        *store // set by New
	// serve answers one SOAP request: it returns the response body (a
	// generated response type) or an error, which is a *soap.Fault. It runs
	// after fault injection has let the request through.
	serve func(ctx context.Context, req *soap.Request) (any, error)
	// ns is the namespace of the version's operations; fast holds the
	// operations the fast path reads (fast.go), by local name.
	ns   string
	fast map[string]fastOp
	// fault builds a fault in the version's own detail format: faultCode
	// is soap.FaultClient or soap.FaultServer, code the ErpFault's error
	// code — codeServiceBusy, codeServiceUnavailable or any injected one.
	fault func(faultCode, code, msg string) *soap.Fault
}

// Fault causes every version must be able to express (as fault).
const (
	codeServiceBusy        = "SERVICE_BUSY"
	codeServiceUnavailable = "SERVICE_UNAVAILABLE"
)

// versionConstructors holds every simulated version by name. Each version's
// file registers its constructor from init.
var versionConstructors = map[string]func(*Sim) *version{}

// registerVersion adds a version. It is called from init functions only.
func registerVersion(name string, mk func(*Sim) *version) {
	if _, dup := versionConstructors[name]; dup {
		panic("erpsim: version " + name + " registered twice")
	}
	versionConstructors[name] = mk
}

// handleSOAP serves one SOAP call to v after fault injection.
func (s *Sim) handleSOAP(v *version) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f := s.faults.get(v.name)
		if !s.inject(w, r, v, f) {
			return
		}
		var (
			ver  soap.Version
			op   string
			body any
			err  error
		)
		if c, ok := s.readFast(r, v); ok {
			ver, op = soap.V11, c.op
			body, err = c.serve(c.in)
		} else {
			req, rerr := soap.ReadRequest(r, requestLimits())
			if rerr != nil {
				soap.WriteFault(w, soap.VersionOf(r), soap.FaultFromError(rerr))
				return
			}
			ver, op = req.Version, req.Operation.Local
			body, err = v.serve(r.Context(), req)
		}
		if f.LostReplyRate > 0 && s.rand() < f.LostReplyRate {
			// The ERP did the work but the answer never arrives: the
			// connection is cut. This is the case idempotent delivery is for.
			s.log.Debug("erpsim: injected lost reply", "version", v.name, "operation", op)
			panic(http.ErrAbortHandler)
		}
		if err != nil {
			soap.WriteFault(w, ver, soap.FaultFromError(err))
			return
		}
		if err := soap.WriteResponse(w, ver, body); err != nil {
			s.log.Error("erpsim: writing response", "version", v.name, "operation", op, "err", err)
		}
	}
}

// readFast reads r by the fast path (fast.go) unless it is off.
func (s *Sim) readFast(r *http.Request, v *version) (fastCall, bool) {
	if s.strictOnly {
		return fastCall{}, false
	}
	return v.readFast(r, requestLimits())
}

// inject applies the fault injection f to a SOAP call. It reports whether
// the call may proceed; if not, it has answered (or abandoned) the request.
func (s *Sim) inject(w http.ResponseWriter, r *http.Request, v *version, f Faults) bool {
	if f.Down {
		s.refuseDown(w)
		return false
	}
	if f.LatencyMS > 0 {
		if err := s.sleep(r.Context(), time.Duration(f.LatencyMS)*time.Millisecond); err != nil {
			return false // the caller gave up; nobody reads an answer
		}
	}
	if f.ErrorRate > 0 && s.rand() < f.ErrorRate {
		s.log.Debug("erpsim: injected busy fault", "version", v.name)
		soap.WriteFault(w, soap.VersionOf(r), v.fault(soap.FaultServer, codeServiceBusy, "the ERP is busy, try again later"))
		return false
	}
	if f.FaultCode != "" {
		faultCode := soap.FaultClient
		if f.FaultCode == codeServiceBusy || f.FaultCode == codeServiceUnavailable {
			faultCode = soap.FaultServer
		}
		s.log.Debug("erpsim: injected fault", "version", v.name, "code", f.FaultCode)
		soap.WriteFault(w, soap.VersionOf(r), v.fault(faultCode, f.FaultCode, f.FaultMessage))
		return false
	}
	return true
}

// refuseDown answers like a load balancer in front of an ERP that is down.
func (s *Sim) refuseDown(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, "ERP unavailable (simulated outage)", http.StatusServiceUnavailable)
}

// requestLimits are soap.DefaultLimits with room for the largest valid
// canonical order (500 lines, every text at its maximum length in
// multi-byte characters: several MiB of XML), so that the ERP never refuses
// an order the gateway accepted for its size.
func requestLimits() soap.Limits {
	l := soap.DefaultLimits()
	l.MaxBytes = 16 << 20
	l.MaxElements = 50_000
	return l
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

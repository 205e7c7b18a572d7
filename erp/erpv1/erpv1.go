// Package erpv1 is the adapter for ERP interface v1, the old release's order
// interface (soap/erpv1ws): it down-translates the canonical order into v1's
// flatter shape without losing anything, and makes delivery exactly-once on
// an interface that is not idempotent.
//
// # Exactly once on a non-idempotent ERP
//
// v1's CreateOrder creates a new order on every call. The adapter therefore
// looks the order up by its reference (the gateway's order id) before it
// creates it, and answers a found order as a duplicate (Confirmation
// .Duplicate) instead of creating it again. So a worker that dies between
// v1's answer and the acknowledgement in Redis causes no second order: the
// redelivery finds the first. When the create call itself fails in a way
// that may have created the order (timeout, lost connection, Server fault),
// the adapter looks again at once and, if the order is there, reports
// success. Concurrent deliveries of one order inside one process are
// serialised per reference.
//
// What the adapter cannot rule out: two gateway processes delivering the
// same order at the same moment (the outbox's reclaim idle time must exceed
// the adapter's call timeout, so a live worker's entry is never reclaimed),
// and an ERP that keeps working on a create after the caller has given up
// and commits it after the follow-up lookup. FindOrderByReference lists
// every order held for a reference, so such a double is visible; the
// adapter logs a warning whenever it sees one and always uses the oldest.
//
// # What v1's own fields hold
//
// Reference ← id (exactly; an id v1 cannot hold is refused, never cut),
// CustomerOrderNo ← external_id, CustomerName ← customer.name,
// DeliveryName ← shipping_address.name, DeliveryAddress ← "line1, line2,
// postal_code city, region", DeliveryCountry, Currency; per line LineNo,
// ItemNo ← sku (exactly), ItemText ← description, Quantity, NetPrice ←
// (quantity × unit_price − discount) / quantity rounded to cents, halves
// away from zero; ShipVia ← shipping.method, ShippingCharge ← shipping.price
// rounded to cents. Texts are trimmed, made one line and XML-safe, and cut
// to v1's lengths (soap/erpv1ws Max* constants). v1 therefore books
// BookedTotal(o), which can differ from o.Total() by v1's rounding; a
// confirmation reports o.Total() when v1 booked exactly that.
//
// # The ERPGATE1 encoding
//
// v1 has no field for much of the canonical order (customer id, e-mail and
// phone; the structured address; the billing address; line discounts and
// exact unit prices; the requested delivery date; notes; the gateway's shop
// id and acceptance time), and holds some values only approximately (texts
// cut to v1's lengths, prices rounded to cents). ToV1 fills v1's fields as
// well as they allow and carries the rest in the order's free texts:
//
//   - Remarks (≤ 4000 characters) starts with a human-readable part for the
//     old ERP's users: labelled lines such as "Requested delivery date:
//     2025-03-01", "Notes: …", "Contact: …", "Invoice to: …", "Deliver to:
//     …" and "Shipping: …" (when v1's fields cut them), "Line 2: 3 × 18.4900
//     less discount 0.47" (at most 2400 characters, cut with "…"). Nothing
//     reads this part back.
//   - Then the line "-- erpgate: data to restore the web order, do not edit
//     below --" and the data lines.
//   - The data is one compact JSON object (the delta, see below), split into
//     pieces. Piece k of n is written as "ERPGATE1 <k>/<n> <piece>": piece 1
//     as the last line of Remarks, pieces 2..n each as one OrderText (≤ 4000
//     characters, at most 999). Joining the pieces in order gives the JSON.
//   - The JSON holds only what v1's fields do not hold exactly: keys h
//     (integrity tag, required), shop, ext, at (RFC 3339 UTC), cid, cn, em,
//     ph, sa {n, l1, l2, c, pc, r, co} (shipping address), ba (billing
//     address in the canonical JSON form), cur, l [{i (0-based line), d
//     (description), u (unit price), r (discount)}], sm, sp (shipping method
//     and price), rd (requested delivery date), no (notes). A key that is
//     absent takes v1's field (or empty where v1 has none). Amounts are
//     decimal strings, as in the canonical JSON.
//   - h is base64url of the first 12 bytes of the SHA-256 of the order's
//     canonical JSON (as encoding/json's Encoder writes order.Order, with
//     CreatedAt in UTC, newline included). FromV1 recomputes it over the restored order, so an
//     order edited in the ERP, or a translation bug, is reported (ErrCorrupt)
//     instead of returning a different order.
//   - "ERPGATE1" is the version of this encoding; a change to it gets a new
//     prefix, and decoders keep reading the old one.
//
// The JSON is text, not base64: most orders fit in Remarks alone, and the
// old ERP's users can still read it. It contains no line break (JSON
// escapes them) and escapes U+FFFE and U+FFFF, the only characters it would
// otherwise carry that XML 1.0 forbids.
package erpv1

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gowsdl "github.com/hooklift/gowsdl/soap"

	"erpgate/erp"
	"erpgate/erp/internal/soapcall"
	"erpgate/order"
	"erpgate/soap/erpv1ws"
)

// SOAP operation names, as they appear in the causes of errors.
const (
	OpCreateOrder          = "CreateOrder"
	OpFindOrderByReference = "FindOrderByReference"
	OpGetOrderStatus       = "GetOrderStatus"
)

// Defaults of Config.
const (
	DefaultCallTimeout      = 10 * time.Second
	DefaultMaxResponseBytes = 16 << 20
)

// Config configures an Adapter.
type Config struct {
	// URL is v1's SOAP endpoint, e.g. "http://127.0.0.1:8090/erp/v1".
	// Required.
	URL string
	// HTTPClient sends the calls (nil: a client of its own). The adapter does
	// not change it; it wraps its transport to bound answers. Leave its
	// Timeout zero: the adapter sets a deadline per call.
	HTTPClient *http.Client
	// CallTimeout bounds each SOAP call (0: DefaultCallTimeout). A create
	// of one order makes up to three calls (lookup, create, lookup).
	CallTimeout time.Duration
	// MaxResponseBytes bounds every answer the adapter reads, faults
	// included (0: DefaultMaxResponseBytes). A FindOrderByReference with
	// details of a 500-line order is about 2 MiB.
	MaxResponseBytes int64
	// Logger receives a warning when v1 holds an order twice, and debug
	// lines for duplicates found (nil: discard).
	Logger *slog.Logger
}

// Validate reports whether c can build an Adapter.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("erpv1: URL must be an http(s) URL, got %q", c.URL)
	}
	if c.CallTimeout < 0 {
		return errors.New("erpv1: CallTimeout must not be negative")
	}
	if c.MaxResponseBytes < 0 {
		return errors.New("erpv1: MaxResponseBytes must not be negative")
	}
	return nil
}

// Adapter speaks ERP interface v1. It is safe for concurrent use.
type Adapter struct {
	svc     erpv1ws.OrderService
	post    *soapcall.Client // the lookup's and create's own path (wire.go)
	timeout time.Duration
	log     *slog.Logger
	locks   refLocks
}

var _ erp.Adapter = (*Adapter)(nil)

// New returns an adapter for the v1 endpoint cfg.URL.
func New(cfg Config) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	hc := soapcall.NewHTTPClient(cfg.HTTPClient, soapcall.Limit{MaxBytes: cfg.MaxResponseBytes, Err: errTooLarge, RefuseAnnounced: true})
	client := gowsdl.NewClient(cfg.URL, gowsdl.WithHTTPClient(hc))
	return &Adapter{
		svc:     erpv1ws.NewOrderService(client),
		post:    soapcall.NewClient(cfg.URL, hc, nil),
		timeout: cfg.CallTimeout,
		log:     cfg.Logger,
		locks:   refLocks{m: make(map[string]*refLock)},
	}, nil
}

// Target returns erp.V1.
func (a *Adapter) Target() string { return erp.V1 }

// CreateOrder creates o in v1 exactly once: it looks o.ID up first and
// answers an order found as a duplicate; otherwise it creates it (see the
// package documentation). The confirmation's Total is o.Total() when v1
// booked exactly the rounded net prices ToV1 sent (see BookedTotal), else
// v1's own total. Errors are *erp.Error: KindPermanent with Code
// CodeUntranslatable (o cannot be expressed in v1, or has no ID),
// CodeUnknownSKU or CodeInvalidOrder; anything else is KindTransient (see
// the codes in faults.go).
func (a *Adapter) CreateOrder(ctx context.Context, o *order.Order) (erp.Confirmation, error) {
	if o == nil || o.ID == "" {
		return erp.Confirmation{}, &erp.Error{Kind: erp.KindPermanent, Code: CodeUntranslatable,
			Reason: "the order has no id", Err: errors.New("erpv1: CreateOrder needs an order with an ID")}
	}
	req, err := ToV1(o)
	if err != nil {
		return erp.Confirmation{}, &erp.Error{Kind: erp.KindPermanent, Code: CodeUntranslatable,
			Reason: "the order cannot be expressed in the old ERP's format", Err: fmt.Errorf("%s: %w", OpCreateOrder, err)}
	}
	unlock, err := a.locks.lock(ctx, o.ID)
	if err != nil {
		return erp.Confirmation{}, classify(ctx, OpCreateOrder, err, nil)
	}
	defer unlock()

	// v1 cannot create idempotently: look first — unless the workers know
	// no earlier attempt can have reached v1 (erp.FirstDelivery).
	if !erp.FirstDelivery(ctx) {
		rec, err := a.find(ctx, o.ID, false)
		if err != nil {
			return erp.Confirmation{}, err
		}
		if rec != nil {
			a.log.Debug("erpv1: order already in v1, not created again", "ref", o.ID, "erp_order_number", rec.OrderNumber)
			return confirmation(o, rec.OrderNumber, rec.Status, rec.OrderTotal, rec.LineCount, true), nil
		}
	}

	cctx, cancel := context.WithTimeout(ctx, a.timeout)
	resp, err := a.createOrder(cctx, req)
	cancel()
	if err == nil {
		if resp.OrderNumber == "" || (resp.Reference != "" && resp.Reference != o.ID) {
			// Created, but we cannot tell which order: the next attempt's
			// lookup will find it.
			return erp.Confirmation{}, soapcall.BadResponse(OpCreateOrder, fmt.Errorf("answer without order number or for another reference: %+v", resp))
		}
		return confirmation(o, resp.OrderNumber, resp.Status, resp.OrderTotal, resp.LineCount, false), nil
	}
	e := classify(ctx, OpCreateOrder, err, o)
	if e.Kind == erp.KindTransient && ctx.Err() == nil {
		// The order may have been created and only the answer lost. Look
		// again now rather than leave it to the next attempt.
		if rec, ferr := a.find(ctx, o.ID, false); ferr == nil && rec != nil {
			a.log.Debug("erpv1: create answer lost, order found", "ref", o.ID, "erp_order_number", rec.OrderNumber, "err", err)
			return confirmation(o, rec.OrderNumber, rec.Status, rec.OrderTotal, rec.LineCount, false), nil
		}
	}
	return erp.Confirmation{}, e
}

// OrderStatus returns v1's current status of the order with reference ref,
// by polling: it finds the order's number, then asks for its status.
// Status words are mapped to the common vocabulary (confirmed, backordered,
// allocated, picked, shipped, delivered, cancelled, rejected). Errors are
// *erp.Error; an unknown ref is KindPermanent with Code "not_found".
func (a *Adapter) OrderStatus(ctx context.Context, ref string) (erp.Status, error) {
	rec, err := a.find(ctx, ref, false)
	if err != nil {
		return erp.Status{}, err
	}
	if rec == nil {
		return erp.Status{}, notFound(ref)
	}
	cctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	resp, err := a.svc.GetOrderStatusContext(cctx, &erpv1ws.GetOrderStatus{OrderNumber: rec.OrderNumber})
	if err != nil {
		return erp.Status{}, classify(ctx, OpGetOrderStatus, err, nil)
	}
	if resp.OrderNumber != rec.OrderNumber || resp.Status == nil {
		return erp.Status{}, soapcall.BadResponse(OpGetOrderStatus, fmt.Errorf("status answer %+v lacks status or is for another order", resp))
	}
	st := erp.Status{
		ERPOrderNumber: resp.OrderNumber,
		Status:         statusWord(resp.Status),
		Carrier:        resp.Carrier,
		TrackingNumber: resp.TrackingNo,
	}
	if resp.PlannedDelivery != nil {
		st.ExpectedDelivery = string(*resp.PlannedDelivery)
	}
	return st, nil
}

// FetchOrder reads the order v1 holds with reference ref (the oldest, if
// there are several) and up-translates it with FromV1: the canonical order
// as it was sent. It is how a back-out check proves that v1 holds every
// order intact. Errors are *erp.Error: KindPermanent Code "not_found" for
// an unknown ref, KindPermanent CodeBadResponse when v1's copy does not
// restore (errors.Is ErrCorrupt or ErrNoGatewayData), or a transient one.
func (a *Adapter) FetchOrder(ctx context.Context, ref string) (*order.Order, error) {
	rec, err := a.find(ctx, ref, true)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, notFound(ref)
	}
	o, err := FromV1(rec.Order)
	if err != nil {
		return nil, &erp.Error{Kind: erp.KindPermanent, Code: CodeBadResponse, Reason: soapcall.ReasonBadAnswer,
			Err: fmt.Errorf("%s: v1's copy of %s does not restore: %w", OpFindOrderByReference, ref, err)}
	}
	return o, nil
}

// find returns the oldest order v1 holds with reference ref, or nil.
// Errors are classified.
func (a *Adapter) find(ctx context.Context, ref string, details bool) (*erpv1ws.OrderRecord, error) {
	cctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	resp, err := a.findOrderByReference(cctx, &erpv1ws.FindOrderByReference{Reference: ref, IncludeDetails: details})
	if err != nil {
		return nil, classify(ctx, OpFindOrderByReference, err, nil)
	}
	var first *erpv1ws.OrderRecord
	n := 0
	for _, m := range resp.Match {
		if m == nil || m.Reference != ref || m.OrderNumber == "" {
			continue
		}
		n++
		if first == nil {
			first = m
		}
	}
	if len(resp.Match) > 0 && first == nil {
		return nil, soapcall.BadResponse(OpFindOrderByReference, fmt.Errorf("matches for %q without order number or for another reference", ref))
	}
	if n > 1 {
		a.log.Warn("erpv1: v1 holds an order more than once; using the oldest", "ref", ref, "orders", n, "erp_order_number", first.OrderNumber)
	}
	if details && first != nil && first.Order == nil {
		return nil, soapcall.BadResponse(OpFindOrderByReference, fmt.Errorf("match for %q without the order's details", ref))
	}
	return first, nil
}

func notFound(ref string) *erp.Error {
	return &erp.Error{Kind: erp.KindPermanent, Code: CodeNotFound, Reason: "the ERP has no order with this reference",
		Err: fmt.Errorf("%s: no order with reference %q", OpFindOrderByReference, ref)}
}

// confirmation builds an erp.Confirmation for o from v1's answer.
//
// v1 books net prices rounded to cents, so its total is o's total rounded
// line by line. When v1 booked exactly what ToV1 sent (its total equals
// BookedTotal(o)), the confirmation carries o's exact total — v1 agreed,
// and the difference is only v1's rounding, which the adapter undoes like
// every other loss. When v1 booked anything else, its own figure is
// reported, so that the shadow comparison with v2 shows the disagreement.
// An unreadable total is reported as zero rather than failing a create
// that happened.
func confirmation(o *order.Order, number string, st *erpv1ws.OrderStatus, total *erpv1ws.Amount, lines int32, dup bool) erp.Confirmation {
	t, err := parseAmount(total)
	if err != nil {
		t = 0
	}
	if booked, err := BookedTotal(o); err == nil && booked == t {
		t = o.Total()
	}
	return erp.Confirmation{ERPOrderNumber: number, Status: statusWord(st), Total: t, LineCount: int(lines), Duplicate: dup}
}

// statusWords maps v1's status codes to the common vocabulary.
var statusWords = map[erpv1ws.OrderStatus]string{
	erpv1ws.OrderStatusENTERED:   "confirmed",
	erpv1ws.OrderStatusBACKORDER: "backordered",
	erpv1ws.OrderStatusRELEASED:  "allocated",
	erpv1ws.OrderStatusPICKED:    "picked",
	erpv1ws.OrderStatusSHIPPED:   "shipped",
	erpv1ws.OrderStatusDELIVERED: "delivered",
	erpv1ws.OrderStatusCANCELLED: "cancelled",
	erpv1ws.OrderStatusREJECTED:  "rejected",
}

// statusWord maps a v1 status; a code v1 added later is shown as "unknown"
// rather than passing the ERP's text on.
func statusWord(st *erpv1ws.OrderStatus) string {
	if st == nil {
		return "unknown"
	}
	if w, ok := statusWords[erpv1ws.OrderStatus(strings.TrimSpace(string(*st)))]; ok {
		return w
	}
	return "unknown"
}

// refLocks serialises the deliveries of one reference inside this process,
// so that two concurrent deliveries cannot both find nothing and both create.
type refLocks struct {
	mu sync.Mutex
	m  map[string]*refLock
}

type refLock struct {
	sem   chan struct{}
	users int // holders and waiters; the entry is dropped at zero
}

// lock takes ref's lock or gives up when ctx is done.
func (l *refLocks) lock(ctx context.Context, ref string) (unlock func(), err error) {
	l.mu.Lock()
	e := l.m[ref]
	if e == nil {
		e = &refLock{sem: make(chan struct{}, 1)}
		l.m[ref] = e
	}
	e.users++
	l.mu.Unlock()
	select {
	case e.sem <- struct{}{}:
		return func() {
			<-e.sem
			l.release(ref, e)
		}, nil
	case <-ctx.Done():
		l.release(ref, e)
		return nil, ctx.Err()
	}
}

func (l *refLocks) release(ref string, e *refLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.users--
	if e.users == 0 {
		delete(l.m, ref)
	}
}

// errTooLarge is returned for an answer beyond Config.MaxResponseBytes.
var errTooLarge = errors.New("erpv1: answer exceeds the size limit")

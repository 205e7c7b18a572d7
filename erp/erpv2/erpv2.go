// Package erpv2 is the adapter for ERP interface v2, the new release's
// sales-order WebService (soap/erpv2ws): it translates the canonical order
// to v2's wire types and back, calls the ERP through the gowsdl-generated
// client with a deadline per call (CreateSalesOrder, the call of every
// delivery, writes its request by hand from the same generated type; see
// wire.go), and classifies every failure as an *erp.Error.
//
// Classification (erp.Error.Code in parentheses):
//
//	ErpFault UNKNOWN_SKU                 permanent (unknown_sku)   Reason names the skus, from our own order
//	ErpFault INVALID_ORDER               permanent (invalid_order) Reason names the canonical fields concerned
//	ErpFault NOT_FOUND                   permanent (not_found)
//	ErpFault SERVICE_BUSY / _UNAVAILABLE transient (service_busy / service_unavailable)
//	ErpFault INVALID_REQUEST             transient (invalid_request): our message does not fit the ERP's
//	                                     schema — a bug on our side, not the order's; retries end in the
//	                                     dead-letter stream where operators see it
//	other SOAP fault, HTTP status ≥ 400  transient (soap_fault, http_status)
//	timeout of the per-call deadline     transient (timeout)
//	caller's context done                transient (canceled)
//	connection refused/reset, DNS, …     transient (unreachable)
//	unreadable or inconsistent answer    transient (bad_response)
//
// Reason is always written by this package; the ERP's own text is kept in
// Err for operators and never reaches a shop.
//
// Metrics: the adapter records none. The delivery worker times every
// adapter call as erpgate_erp_call_duration_seconds{target,operation}, for
// all targets alike; a second histogram of the same name here would clash
// with it on the shared registry.
package erpv2

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	gsoap "github.com/hooklift/gowsdl/soap"

	"erpgate/erp"
	"erpgate/erp/internal/soapcall"
	"erpgate/order"
	"erpgate/soap/erpv2ws"
)

// Defaults of Config.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 8 << 20 // a 500-line order read back is ~0.5 MiB
)

// SOAP operation names, as they appear in the causes of errors.
const (
	OpCreateSalesOrder    = "CreateSalesOrder"
	OpGetSalesOrder       = "GetSalesOrder"
	OpGetSalesOrderStatus = "GetSalesOrderStatus"
)

// Config configures an Adapter.
type Config struct {
	// URL is the v2 endpoint, e.g. "http://127.0.0.1:8090/erp/v2".
	URL string
	// Timeout bounds each SOAP call (0: DefaultTimeout). A sooner deadline
	// on the caller's context still applies.
	Timeout time.Duration
	// HTTPClient sends the calls (nil: a client with its own pooled
	// transport). Its Timeout should be zero: the per-call deadline rules.
	HTTPClient *http.Client
	// MaxResponseBytes bounds the body of one answer (0:
	// DefaultMaxResponseBytes), so a misbehaving ERP cannot exhaust memory.
	MaxResponseBytes int64
}

// Validate reports whether c is usable.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("erpv2: URL %q must be an absolute http(s) URL", c.URL)
	}
	if c.Timeout < 0 || c.MaxResponseBytes < 0 {
		return errors.New("erpv2: Timeout and MaxResponseBytes must not be negative")
	}
	return nil
}

// Adapter is the ERP v2 adapter. It is safe for concurrent use.
type Adapter struct {
	svc     erpv2ws.SalesOrderService
	post    *soapcall.Client // the create call's own path (wire.go)
	timeout time.Duration
}

var _ erp.Adapter = (*Adapter)(nil)

// New returns an adapter for the v2 endpoint in cfg. It fails on an invalid
// Config.
func New(cfg Config) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Adapter{timeout: cfg.Timeout}
	if a.timeout == 0 {
		a.timeout = DefaultTimeout
	}
	maxBody := cfg.MaxResponseBytes
	if maxBody == 0 {
		maxBody = DefaultMaxResponseBytes
	}
	client := newHTTPClient(cfg.HTTPClient, maxBody)
	headers := map[string]string{"User-Agent": "erpgate-erpv2"}
	a.svc = erpv2ws.NewSalesOrderService(gsoap.NewClient(cfg.URL,
		gsoap.WithHTTPClient(client),
		gsoap.WithHTTPHeaders(headers),
	))
	a.post = soapcall.NewClient(cfg.URL, client, headers)
	return a, nil
}

// Target returns erp.V2.
func (a *Adapter) Target() string { return erp.V2 }

// CreateOrder creates o in the ERP with CreateSalesOrder, keyed by o.ID. An
// order the ERP already holds comes back with Duplicate set. Errors are
// *erp.Error (see the package comment).
func (a *Adapter) CreateOrder(ctx context.Context, o *order.Order) (erp.Confirmation, error) {
	if o == nil || o.ID == "" {
		return erp.Confirmation{}, &erp.Error{Kind: erp.KindPermanent, Code: "invalid_order",
			Reason: "the order has no id", Err: errors.New("erpv2: CreateOrder needs an order with an ID")}
	}
	req := &erpv2ws.CreateSalesOrder{SalesOrder: toV2(o)}
	var res *erpv2ws.CreateSalesOrderResponse
	err := a.call(ctx, func(ctx context.Context) (err error) {
		res, err = a.createSalesOrder(ctx, req)
		return err
	})
	if err != nil {
		return erp.Confirmation{}, classify(ctx, OpCreateSalesOrder, o, err)
	}
	c, err := confirmation(o.ID, res)
	if err != nil {
		return erp.Confirmation{}, soapcall.BadResponse(OpCreateSalesOrder, err)
	}
	return c, nil
}

// OrderStatus reads the ERP's status of the order with external reference
// ref (GetSalesOrderStatus). An unknown ref is a permanent *erp.Error with
// Code "not_found".
func (a *Adapter) OrderStatus(ctx context.Context, ref string) (erp.Status, error) {
	req := &erpv2ws.GetSalesOrderStatus{ExternalReference: ref}
	var res *erpv2ws.GetSalesOrderStatusResponse
	err := a.call(ctx, func(ctx context.Context) (err error) {
		res, err = a.svc.GetSalesOrderStatusContext(ctx, req)
		return err
	})
	if err != nil {
		return erp.Status{}, classify(ctx, OpGetSalesOrderStatus, nil, err)
	}
	if res.SalesOrderNumber == "" || res.Status == nil || (res.ExternalReference != "" && res.ExternalReference != ref) {
		return erp.Status{}, soapcall.BadResponse(OpGetSalesOrderStatus, fmt.Errorf("status answer %+v lacks number or status, or is for another order", res))
	}
	st := erp.Status{
		ERPOrderNumber: res.SalesOrderNumber,
		Status:         string(*res.Status),
		Carrier:        res.Carrier,
		TrackingNumber: res.TrackingNumber,
	}
	if res.ExpectedDeliveryDate != nil {
		st.ExpectedDelivery = string(*res.ExpectedDeliveryDate)
	}
	return st, nil
}

// FetchOrder reads back the whole order the ERP holds for ref
// (GetSalesOrder), translated to the canonical form. It is a v2-only
// capability (erptest.OrderFetcher): v2 carries every canonical field, so
// the result equals the order that was created.
func (a *Adapter) FetchOrder(ctx context.Context, ref string) (*order.Order, error) {
	req := &erpv2ws.GetSalesOrder{ExternalReference: ref}
	var res *erpv2ws.GetSalesOrderResponse
	err := a.call(ctx, func(ctx context.Context) (err error) {
		res, err = a.svc.GetSalesOrderContext(ctx, req)
		return err
	})
	if err != nil {
		return nil, classify(ctx, OpGetSalesOrder, nil, err)
	}
	if res.SalesOrder == nil || res.SalesOrder.ExternalReference != ref {
		return nil, soapcall.BadResponse(OpGetSalesOrder, errors.New("the answer holds no order, or another one"))
	}
	o, err := fromV2(res.SalesOrder)
	if err != nil {
		return nil, soapcall.BadResponse(OpGetSalesOrder, err)
	}
	return o, nil
}

// call runs one SOAP call under the per-call deadline.
func (a *Adapter) call(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	return fn(ctx)
}

// confirmation checks a create answer and turns it into an erp.Confirmation.
func confirmation(ref string, res *erpv2ws.CreateSalesOrderResponse) (erp.Confirmation, error) {
	if res.SalesOrderNumber == "" || res.Status == nil || res.OrderTotal == nil {
		return erp.Confirmation{}, fmt.Errorf("create answer %+v lacks number, status or total", res)
	}
	if res.ExternalReference != "" && res.ExternalReference != ref {
		return erp.Confirmation{}, fmt.Errorf("create answer is for %q, not %q", res.ExternalReference, ref)
	}
	total, err := order.ParseDecimal(string(*res.OrderTotal))
	if err != nil {
		return erp.Confirmation{}, fmt.Errorf("create answer total %q: %w", *res.OrderTotal, err)
	}
	return erp.Confirmation{
		ERPOrderNumber: res.SalesOrderNumber,
		Status:         string(*res.Status),
		Total:          total,
		LineCount:      int(res.LineCount),
		Duplicate:      res.AlreadyExists,
	}, nil
}

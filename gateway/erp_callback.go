package gateway

// The ERP's status push (ERP interface v2, WSDL: soap/erpv2cb/callback.wsdl).
//
// ERP v2 calls SalesOrderStatusChanged here for every status change of an
// order it holds. The change becomes an event on the order's timeline —
// only while v2 is the order's authoritative target (the release plan says
// whose answers customers see); otherwise it is acknowledged as "ignored"
// and counted. Delivery is at-least-once, so each change carries an EventId
// that is the event's dedup key: a repeated push is recorded once.
//
// The endpoint speaks SOAP like the interface it belongs to: every answer
// is an envelope, and refusals are faults with a CallbackFault detail —
// HTTP 401/403 for credentials (a fixable setting: the ERP retries), HTTP
// 500 with faultcode Client for a message that can never succeed (unknown
// order, invalid content: the ERP gives up), faultcode Server when we
// cannot record it now (the ERP retries).

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"erpgate"
	"erpgate/erp"
	"erpgate/soap"
	"erpgate/soap/erpv2cb"
	"erpgate/tracking"
)

// erpCallbackPath is where ERP v2 pushes status changes (POST) and where
// the callback WSDL is served (GET ?wsdl).
const erpCallbackPath = "/erp/v2/callback"

// Authority returns the ERP target that is authoritative for an order now.
// Errors: erpgate.NotFound for an unknown order, others when it cannot be
// decided now.
type Authority func(ctx context.Context, orderID string) (string, error)

// TimelineAppender records events on order timelines; *tracking.Store
// implements it.
type TimelineAppender interface {
	Append(ctx context.Context, orderID string, e tracking.Event) (tracking.Event, error)
}

// Push outcomes (the outcome label of erpgate_tracking_erp_pushes_total).
const (
	pushRecorded     = "recorded"      // on the timeline (or there already: a repeat)
	pushIgnored      = "ignored"       // v2 is not authoritative for the order: dropped
	pushUnknownOrder = "unknown_order" // no such order
	pushInvalid      = "invalid"       // not a valid status change message
	pushRefused      = "unauthorized"  // missing or wrong credentials
	pushError        = "error"         // could not be recorded now; the ERP retries
)

var pushOutcomes = []string{pushRecorded, pushIgnored, pushUnknownOrder, pushInvalid, pushRefused, pushError}

// Limits of a pushed status change.
const (
	maxPushText       = 64  // order number, carrier, tracking number, sku
	maxPushReason     = 500 // characters
	maxPushShortItems = 50
	maxPushBytes      = 256 << 10
)

// initERPCallbacks sets up the ERP callback and webhook admin parts of s
// from cfg.
func (s *Server) initERPCallbacks(cfg Config) error {
	s.authority, s.events, s.webhooks = cfg.Authority, cfg.Events, cfg.Webhooks
	s.pushes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "erpgate_tracking_erp_pushes_total",
		Help: "Status changes pushed by ERP v2 to the callback endpoint, by outcome (ignored: v2 was not authoritative for the order).",
	}, []string{"outcome"})
	for _, o := range pushOutcomes {
		s.pushes.WithLabelValues(o)
	}
	if s.authority != nil && s.events != nil {
		if err := cfg.Registerer.Register(s.pushes); err != nil {
			return fmt.Errorf("gateway: erp callback metrics: %w", err)
		}
	}
	return nil
}

// ERPStatus is an order's status as an ERP target reports it, pushed (v2)
// or polled (v1), in the common status vocabulary.
type ERPStatus struct {
	Target           string // erp.V1, erp.V2
	Status           string // confirmed, backordered, allocated, picked, shipped, delivered, cancelled, rejected
	ERPOrderNumber   string
	Carrier          string
	TrackingNumber   string
	ExpectedDelivery string // "YYYY-MM-DD" or ""
	Reason           string // for cancelled and rejected
	// Short lists what a backordered order waits for, e.g. "2 × SKU-1011".
	Short []string
	// At is when the ERP changed the status; zero means when recorded.
	At time.Time
}

// erpEventTypes maps ERP status words to timeline event types.
var erpEventTypes = map[string]string{
	"confirmed":   tracking.TypeConfirmed,
	"backordered": tracking.TypeBackorder,
	"allocated":   tracking.TypeAllocated,
	"picked":      tracking.TypePicked,
	"shipped":     tracking.TypeShipped,
	"delivered":   tracking.TypeDelivered,
	"cancelled":   tracking.TypeCancelled,
	"rejected":    tracking.TypeRejected,
}

// ERPStatusEvent returns the timeline event that tells a customer about st:
// its type, a summary in plain words and the structured details (target,
// erp_order_number, carrier, tracking_number, expected_delivery, reason,
// short_items). ok is false for a status word that is no event. The caller
// adds the dedup key.
func ERPStatusEvent(st ERPStatus) (ev tracking.Event, ok bool) {
	typ, ok := erpEventTypes[st.Status]
	if !ok {
		return tracking.Event{}, false
	}
	d := map[string]string{"target": st.Target}
	set := func(k, v string) {
		if v != "" {
			d[k] = clipBytes(v, tracking.MaxDetailValue)
		}
	}
	set(tracking.DetailERPOrderNumber, st.ERPOrderNumber)
	set(tracking.DetailCarrier, st.Carrier)
	set(tracking.DetailTrackingNumber, st.TrackingNumber)
	set(tracking.DetailExpectedDelivery, st.ExpectedDelivery)
	set(tracking.DetailReason, st.Reason)
	set("short_items", strings.Join(st.Short, ", "))
	expected := ""
	if t, err := time.Parse(time.DateOnly, st.ExpectedDelivery); err == nil {
		expected = t.Format("Monday, 2 January 2006")
	}
	var b strings.Builder
	switch typ {
	case tracking.TypeConfirmed:
		b.WriteString("Your order is confirmed")
		if st.ERPOrderNumber != "" {
			b.WriteString(" (order number " + st.ERPOrderNumber + ")")
		}
		if expected != "" {
			b.WriteString(". Expected delivery: " + expected)
		}
	case tracking.TypeBackorder:
		b.WriteString("Some items are not in stock yet")
		if len(st.Short) > 0 {
			b.WriteString(" (" + strings.Join(st.Short, ", ") + ")")
		}
		b.WriteString("; we have ordered them from our supplier")
		if expected != "" {
			b.WriteString(". New expected delivery: " + expected)
		}
	case tracking.TypeAllocated:
		b.WriteString("Your items are reserved and being prepared for shipping")
	case tracking.TypePicked:
		b.WriteString("Your parcel is packed and waiting for the carrier")
	case tracking.TypeShipped:
		b.WriteString("Your parcel is on its way")
		if st.Carrier != "" {
			b.WriteString(" with " + st.Carrier)
		}
		if st.TrackingNumber != "" {
			b.WriteString(" (tracking number " + st.TrackingNumber + ")")
		}
		if expected != "" {
			b.WriteString(". Expected delivery: " + expected)
		}
	case tracking.TypeDelivered:
		b.WriteString("Your parcel has been delivered")
	case tracking.TypeCancelled:
		b.WriteString("Your order was cancelled")
		if st.Reason != "" {
			b.WriteString(": " + st.Reason)
		}
	case tracking.TypeRejected:
		b.WriteString("We could not fulfil this order")
		if st.Reason != "" {
			b.WriteString(": " + st.Reason)
		}
	}
	summary := b.String()
	if utf8.RuneCountInString(summary) > tracking.MaxSummaryLen {
		summary = string([]rune(summary)[:tracking.MaxSummaryLen-1]) + "…"
	}
	return tracking.Event{Time: st.At, Type: typ, Source: tracking.SourceERP, Summary: summary, Details: d}, true
}

// clipBytes shortens s to at most n bytes without splitting a character.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// handleERPCallbackWSDL serves the callback WSDL (see handleWSDL).
func (s *Server) handleERPCallbackWSDL() echo.HandlerFunc {
	return handleWSDL(erpv2cb.WSDL, erpv2cb.DefaultLocation, erpCallbackPath, func(msg string) *soap.Fault {
		return callbackFault(soap.FaultClient, http.StatusMethodNotAllowed, erpv2cb.ErrorCodeINVALID_REQUEST, msg)
	})
}

// handleERPCallback is the SalesOrderStatusChanged endpoint.
func (s *Server) handleERPCallback() echo.HandlerFunc {
	lim := soap.DefaultLimits()
	lim.MaxBytes = maxPushBytes
	return func(c echo.Context) error {
		w, r := c.Response(), c.Request()
		version := soap.VersionOf(r)
		fail := func(outcome string, f *soap.Fault) error {
			s.pushes.WithLabelValues(outcome).Inc()
			writeChallengeFault(w, version, f)
			return nil
		}
		key := bearer(c)
		cl, known := s.keys.Lookup(key)
		switch {
		case key == "" || !known:
			return fail(pushRefused, callbackFault(soap.FaultClient, http.StatusUnauthorized, erpv2cb.ErrorCodeUNAUTHORIZED,
				"send Authorization: Bearer <ERP callback key>"))
		case cl.Kind != KindERP:
			return fail(pushRefused, callbackFault(soap.FaultClient, http.StatusForbidden, erpv2cb.ErrorCodeUNAUTHORIZED,
				"this key may not push ERP status changes"))
		}
		req, err := soap.ReadRequest(r, lim)
		if err != nil {
			return fail(pushInvalid, soap.FaultFromError(err))
		}
		version = req.Version
		if err := req.CheckMustUnderstand(); err != nil {
			return fail(pushInvalid, soap.FaultFromError(err))
		}
		if req.Operation.Space != erpv2cb.Namespace || req.Operation.Local != erpv2cb.OpStatusChanged {
			return fail(pushInvalid, callbackFault(soap.FaultClient, 0, erpv2cb.ErrorCodeINVALID_REQUEST,
				"unknown operation: this endpoint serves "+erpv2cb.OpStatusChanged+" in "+erpv2cb.Namespace))
		}
		var in erpv2cb.SalesOrderStatusChanged
		if err := req.Decode(&in); err != nil {
			return fail(pushInvalid, callbackFault(soap.FaultClient, 0, erpv2cb.ErrorCodeINVALID_REQUEST,
				erpv2cb.OpStatusChanged+" does not match the schema"))
		}
		st, err := pushStatus(&in)
		if err != nil {
			return fail(pushInvalid, callbackFault(soap.FaultClient, 0, erpv2cb.ErrorCodeINVALID_REQUEST, erpgate.ErrorMessage(err)))
		}
		outcome, err := s.recordPush(r.Context(), in.ExternalReference, in.EventId, st)
		switch {
		case erpgate.ErrorCode(err) == erpgate.NotFound:
			return fail(pushUnknownOrder, callbackFault(soap.FaultClient, 0, erpv2cb.ErrorCodeNOT_FOUND,
				"no order with external reference "+in.ExternalReference))
		case erpgate.ErrorCode(err) == erpgate.Invalid:
			// The timeline refused the event: sending it again cannot help.
			return fail(pushInvalid, callbackFault(soap.FaultClient, 0, erpv2cb.ErrorCodeINVALID_REQUEST, erpgate.ErrorMessage(err)))
		case err != nil:
			s.log.WarnContext(r.Context(), "erp status push not recorded", "order", in.ExternalReference, "event", in.EventId, "err", err,
				"request_id", w.Header().Get(echo.HeaderXRequestID))
			return fail(pushError, callbackFault(soap.FaultServer, 0, erpv2cb.ErrorCodeSERVICE_UNAVAILABLE, "the status change cannot be recorded now; send it again later"))
		}
		s.pushes.WithLabelValues(outcome).Inc()
		out := erpv2cb.OutcomeRecorded
		if outcome == pushIgnored {
			out = erpv2cb.OutcomeIgnored
		}
		if err := soap.WriteResponse(w, version, &erpv2cb.SalesOrderStatusChangedResponse{EventId: in.EventId, Outcome: &out}); err != nil {
			s.log.WarnContext(r.Context(), "soap response not written", "err", err)
		}
		return nil
	}
}

// recordPush puts a pushed status change on the order's timeline if v2 is
// authoritative for the order, and returns the outcome.
func (s *Server) recordPush(ctx context.Context, orderID, eventID string, st ERPStatus) (string, error) {
	auth, err := s.authority(ctx, orderID)
	if err != nil {
		return "", err
	}
	if auth != erp.V2 {
		return pushIgnored, nil
	}
	ev, _ := ERPStatusEvent(st)
	ev.Details[tracking.DetailDedup] = "v2:" + eventID
	if _, err := s.events.Append(ctx, orderID, ev); err != nil {
		return "", err
	}
	return pushRecorded, nil
}

// pushStatus checks a pushed status change and returns it in the gateway's
// terms. Errors are erpgate.Invalid with every problem found.
func pushStatus(in *erpv2cb.SalesOrderStatusChanged) (ERPStatus, error) {
	var probs []erpgate.Problem
	bad := func(field, msg string) { probs = append(probs, erpgate.Problem{Field: field, Message: msg}) }
	text := func(field, v string, required bool, max int) {
		switch {
		case required && strings.TrimSpace(v) == "":
			bad(field, "is required")
		case !utf8.ValidString(v) || strings.ContainsFunc(v, isControl):
			bad(field, "must be printable UTF-8 text")
		case utf8.RuneCountInString(v) > max:
			bad(field, "must be at most "+strconv.Itoa(max)+" characters")
		}
	}
	text("EventId", in.EventId, true, erpv2cb.MaxEventIDLen)
	text("ExternalReference", in.ExternalReference, true, tracking.MaxOrderIDLen)
	text("SalesOrderNumber", in.SalesOrderNumber, false, maxPushText)
	text("Carrier", in.Carrier, false, maxPushText)
	text("TrackingNumber", in.TrackingNumber, false, maxPushText)
	text("Reason", in.Reason, false, maxPushReason)
	st := ERPStatus{Target: erp.V2, ERPOrderNumber: in.SalesOrderNumber, Carrier: in.Carrier,
		TrackingNumber: in.TrackingNumber, Reason: in.Reason}
	if in.Status == nil {
		bad("Status", "is required")
	} else if st.Status = string(*in.Status); erpEventTypes[st.Status] == "" {
		bad("Status", "must be one of confirmed, backordered, allocated, picked, shipped, delivered, cancelled, rejected")
	}
	if in.StatusChangedAt == nil {
		bad("StatusChangedAt", "is required")
	} else if t, err := time.Parse(time.RFC3339Nano, string(*in.StatusChangedAt)); err != nil {
		bad("StatusChangedAt", "must be a date-time with a zone, e.g. 2026-03-02T09:30:00Z")
	} else {
		st.At = t.UTC()
	}
	if in.ExpectedDeliveryDate != nil {
		st.ExpectedDelivery = string(*in.ExpectedDeliveryDate)
		if _, err := time.Parse(time.DateOnly, st.ExpectedDelivery); err != nil {
			bad("ExpectedDeliveryDate", "must be a date YYYY-MM-DD")
		}
	}
	if in.Sequence < 1 {
		bad("Sequence", "must be 1 or more")
	}
	if len(in.ShortItem) > maxPushShortItems {
		bad("ShortItem", "at most "+strconv.Itoa(maxPushShortItems)+" items")
	} else {
		for i, it := range in.ShortItem {
			f := fmt.Sprintf("ShortItem[%d]", i+1)
			if it == nil {
				bad(f, "is empty")
				continue
			}
			text(f+".Sku", it.Sku, true, maxPushText)
			if it.QuantityShort < 1 {
				bad(f+".QuantityShort", "must be 1 or more")
			}
			st.Short = append(st.Short, strconv.FormatInt(it.QuantityShort, 10)+" × "+it.Sku)
		}
	}
	if len(probs) > 0 {
		msg := "invalid status change: " + probs[0].Field + " " + probs[0].Message
		if len(probs) > 1 {
			msg += fmt.Sprintf(" (and %d more problems)", len(probs)-1)
		}
		return ERPStatus{}, &erpgate.Error{Code: erpgate.Invalid, Message: msg, Problems: probs}
	}
	return st, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// callbackFault builds a fault with the callback WSDL's CallbackFault
// detail. status 0 means 500, as WS-I BP wants for faults.
func callbackFault(code string, status int, ec erpv2cb.ErrorCode, msg string) *soap.Fault {
	if status == 0 {
		status = http.StatusInternalServerError
	}
	return &soap.Fault{Code: code, String: msg, HTTPStatus: status,
		Detail:        soap.FaultDetail{Code: string(ec), Message: msg},
		DetailElement: &erpv2cb.CallbackFault{ErrorCode: &ec, Message: msg}}
}

package tracking

import (
	"net/url"
	"strings"
	"time"
)

// HandlingDays is how many days after goods arrive from a supplier the
// customer's parcel is expected, when a supplier event carries only the
// supplier's date (promised_date or expected_arrival) and no explicit
// expected_delivery: one day to receive and pick, one to ship.
const HandlingDays = 2

// Summary is the state of an order as derived from its timeline.
type Summary struct {
	// Status is the type of the latest status-bearing event ("" for an empty
	// timeline). Supplier events (po_*, goods_received) do not change it: to
	// the customer, a backordered order stays backordered until it is allocated.
	Status      string    `json:"status"`
	StatusLabel string    `json:"status_label"`
	StatusTime  time.Time `json:"status_time,omitzero"`
	// ExpectedDelivery is the current expected delivery date "YYYY-MM-DD".
	ExpectedDelivery string `json:"expected_delivery,omitempty"`
	// OriginalExpectedDelivery is the first date promised; Delayed reports
	// that ExpectedDelivery was revised to a later date since.
	OriginalExpectedDelivery string `json:"original_expected_delivery,omitempty"`
	Delayed                  bool   `json:"delayed,omitempty"`
	// Carrier, TrackingNumber and TrackingURL are set once shipped.
	Carrier        string `json:"carrier,omitempty"`
	TrackingNumber string `json:"tracking_number,omitempty"`
	TrackingURL    string `json:"tracking_url,omitempty"`
	ERPOrderNumber string `json:"erp_order_number,omitempty"`
	// Reason explains a rejection, cancellation or failure.
	Reason string `json:"reason,omitempty"`
	// Final reports that nothing more will happen (delivered, cancelled,
	// rejected).
	Final bool `json:"final,omitempty"`
}

var labels = map[string]string{
	TypeAccepted:    "Order received",
	TypeERPReceived: "Being processed",
	TypeConfirmed:   "Confirmed",
	TypeBackorder:   "Waiting for stock",
	TypeAllocated:   "Being prepared",
	TypePicked:      "Packed",
	TypeShipped:     "Shipped",
	TypeDelivered:   "Delivered",
	TypeCancelled:   "Cancelled",
	TypeRejected:    "Could not be processed",
	TypeFailed:      "Processing delayed",
	TypePOIssued:    "Ordered from our supplier",
	TypePOAcked:     "Supplier confirmed the date",
	TypePOShipped:   "Supplier shipped the goods",
	TypePOReceived:  "Goods arrived at our warehouse",
}

// Label returns the customer-facing name of an event type, or a tidied form
// of the type itself for types this package does not know.
func Label(eventType string) string {
	if l, ok := labels[eventType]; ok {
		return l
	}
	s := strings.ReplaceAll(eventType, "_", " ")
	if s == "" {
		return "Unknown"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// StatusBearing reports whether an event of this type sets the order status.
// Supplier steps and unknown types do not.
func StatusBearing(eventType string) bool {
	switch eventType {
	case TypePOIssued, TypePOAcked, TypePOShipped, TypePOReceived:
		return false
	}
	_, ok := labels[eventType]
	return ok
}

// Final reports whether an order with this status is finished.
func Final(status string) bool {
	return status == TypeDelivered || status == TypeCancelled || status == TypeRejected
}

// Step places a status on the four-step progress bar shown to customers:
// 0 placed, 1 confirmed (incl. backorder and preparation), 2 shipped,
// 3 delivered; -1 for cancelled and rejected, which leave the bar.
func Step(status string) int {
	switch status {
	case TypeConfirmed, TypeBackorder, TypeAllocated, TypePicked:
		return 1
	case TypeShipped:
		return 2
	case TypeDelivered:
		return 3
	case TypeCancelled, TypeRejected:
		return -1
	default:
		return 0
	}
}

// Derive computes the order's Summary from its timeline, oldest event first
// (as Timeline returns it).
//
// The status is the type of the latest status-bearing event. The expected
// delivery date is the latest expected_delivery detail of any event; a
// supplier acknowledgement or shipment notice that carries only the
// supplier's date moves it to that date plus HandlingDays when that is later.
// Carrier details come from the latest event that names a tracking number.
func Derive(events []Event) Summary {
	var s Summary
	for _, e := range events {
		if StatusBearing(e.Type) {
			s.Status, s.StatusTime = e.Type, e.Time
		}
		d := e.Details
		if v := d[DetailERPOrderNumber]; v != "" {
			s.ERPOrderNumber = v
		}
		if v := d[DetailReason]; v != "" && (e.Type == TypeRejected || e.Type == TypeCancelled || e.Type == TypeFailed) {
			s.Reason = v
		}
		if v := d[DetailExpectedDelivery]; validDate(v) {
			s.reviseDelivery(v, true)
		} else if e.Source == SourceSupplier && (e.Type == TypePOAcked || e.Type == TypePOShipped) {
			v := d[DetailExpectedArrival]
			if !validDate(v) {
				v = d[DetailPromisedDate]
			}
			if t, err := time.Parse(time.DateOnly, v); err == nil {
				s.reviseDelivery(t.AddDate(0, 0, HandlingDays).Format(time.DateOnly), false)
			}
		}
		if v := d[DetailTrackingNumber]; v != "" {
			s.TrackingNumber = v
			s.Carrier = d[DetailCarrier]
			s.TrackingURL = safeURL(d[DetailTrackingURL])
			if s.TrackingURL == "" {
				s.TrackingURL = CarrierTrackingURL(s.Carrier, v)
			}
		}
	}
	if s.Reason != "" && s.Status != TypeRejected && s.Status != TypeCancelled && s.Status != TypeFailed {
		s.Reason = "" // the problem was resolved by a later event
	}
	s.StatusLabel = Label(s.Status)
	if s.Status == "" {
		s.StatusLabel = "No updates yet"
	}
	s.Final = Final(s.Status)
	s.Delayed = s.OriginalExpectedDelivery != "" && s.ExpectedDelivery > s.OriginalExpectedDelivery
	return s
}

// reviseDelivery sets the expected delivery date. An explicit date (from the
// ERP or a supplier event that says so) always wins; a date computed from a
// supplier's date only ever moves it later.
func (s *Summary) reviseDelivery(date string, explicit bool) {
	if !explicit && date <= s.ExpectedDelivery {
		return
	}
	if s.OriginalExpectedDelivery == "" {
		s.OriginalExpectedDelivery = date
	}
	s.ExpectedDelivery = date
}

func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// safeURL returns u if it is an absolute http(s) URL, else "". Tracking URLs
// come from outside systems and end up in a link a customer clicks.
func safeURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return ""
	}
	return u
}

// carriers maps a lower-case carrier name to its public tracking page; %s is
// replaced by the query-escaped tracking number.
var carriers = map[string]string{
	"dhl":    "https://www.dhl.com/global-en/home/tracking/tracking-parcel.html?submit=1&tracking-id=%s",
	"ups":    "https://www.ups.com/track?tracknum=%s",
	"dpd":    "https://tracking.dpd.de/status/en_US/parcel/%s",
	"gls":    "https://gls-group.com/track/%s",
	"fedex":  "https://www.fedex.com/fedextrack/?trknbr=%s",
	"hermes": "https://www.myhermes.de/empfangen/sendungsverfolgung/sendungsinformation#%s",
	"usps":   "https://tools.usps.com/go/TrackConfirmAction?tLabels=%s",
}

// CarrierTrackingURL returns the public tracking page of a parcel for the
// carriers this package knows (DHL, UPS, DPD, GLS, FedEx, Hermes, USPS), or
// "" for others.
func CarrierTrackingURL(carrier, trackingNumber string) string {
	tmpl, ok := carriers[strings.ToLower(strings.TrimSpace(carrier))]
	if !ok || trackingNumber == "" {
		return ""
	}
	return strings.Replace(tmpl, "%s", url.QueryEscape(trackingNumber), 1)
}

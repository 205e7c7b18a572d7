// Package tracking is the customer's view of an order: one ordered timeline of
// events from every source (gateway, ERP, suppliers), the order status and
// expected delivery derived from it, live fan-out to streams, and signed
// webhooks for the shop's back office.
//
// Redis layout (shared with the store's accept script, which writes the first
// event in the same atomic step as the order):
//
//	trk:<orderID>   stream, one entry per event, field "ev" = JSON Event (without ID;
//	                the entry id is the event id)
//	trk:feed:T      stream of partition T (T = partition.Space.Tag(p), braces
//	                included) of notifications for live fan-out, fields "o" = order
//	                id (of partition p), "e" = event entry id in trk:<orderID>
//	trk:dedup:<orderID>  hash, dedup key → event id (Append with Details["dedup"])
//
// plus the webhook keys under the hash tag {trk:wh} (see webhook.go) and the
// consumer group "trk-webhooks" on every trk:feed:T. An order's events are
// announced on its partition's feed (space.Of(orderID)), in the same slot as
// the accept's other keys; the hub and the webhooks read every partition.
//
// The pieces: Store appends and reads timelines (Append is one Lua step that
// writes the event and announces it on the feed); Derive turns a timeline
// into the order's status, expected delivery and parcel; Hub follows the
// feed once per process and fans events out to local subscribers, and
// ServeSSE streams a timeline with resume; Webhooks delivers every event of
// a shop's orders to its subscriptions, signed (Sign, VerifySignature);
// RenderPage writes the customer's tracking page. Nothing here imports echo:
// the gateway's handlers call these functions.
package tracking

import (
	"encoding/json"
	"time"

	"erpgate/internal/partition"
)

// Event sources.
const (
	SourceGateway  = "gateway"
	SourceERP      = "erp"
	SourceSupplier = "supplier"
)

// Event types. The order status is the type of the latest status-bearing event.
const (
	TypeAccepted    = "accepted"     // gateway stored the order durably
	TypeERPReceived = "erp_received" // the authoritative ERP holds the order
	TypeRejected    = "rejected"     // the ERP refused the order
	TypeFailed      = "failed"       // delivery dead-lettered
	TypeConfirmed   = "confirmed"
	TypeBackorder   = "backordered"
	TypeAllocated   = "allocated"
	TypePicked      = "picked"
	TypeShipped     = "shipped"
	TypeDelivered   = "delivered" // the customer has the parcel
	TypeCancelled   = "cancelled"
	TypePOIssued    = "po_issued"
	TypePOAcked     = "po_acknowledged"
	TypePOShipped   = "po_shipped"
	TypePOReceived  = "goods_received"
)

// Event is one entry of an order's timeline.
type Event struct {
	ID      string            `json:"id,omitempty"` // stream entry id; set when read back
	Time    time.Time         `json:"time"`
	Type    string            `json:"type"`
	Source  string            `json:"source"`
	Summary string            `json:"summary"`
	Details map[string]string `json:"details,omitempty"`
}

// StreamKey returns the Redis key of an order's timeline stream; tag is the
// hash tag of the order's partition (partition.Space.TagOf(orderID)), so
// that the timeline shares the slot of the order's record and streams.
func StreamKey(tag, orderID string) string { return "trk:" + tag + ":" + orderID }

// FeedKey returns the feed stream of the partition with hash tag tag: every
// new event of an order of that partition is announced on it.
func FeedKey(tag string) string { return "trk:feed:" + tag }

// feedKeys returns the feed stream of every partition of space.
func feedKeys(space partition.Space) []string {
	keys := make([]string, space.N())
	for p := range keys {
		keys[p] = FeedKey(space.Tag(p))
	}
	return keys
}

// Encode returns the JSON stored in the "ev" field (ID omitted).
func (e Event) Encode() []byte {
	e.ID = ""
	b, _ := json.Marshal(e)
	return b
}

// Detail keys with a defined meaning. Producers put these into Event.Details;
// Derive reads them. Values are strings; dates are civil dates "YYYY-MM-DD".
const (
	// DetailDedup is the idempotency key of an event (e.g. the ERP's push id).
	// Append records an event with a given dedup key once per order and strips
	// the key from the stored details.
	DetailDedup = "dedup"
	// DetailExpectedDelivery is the date the customer can expect the parcel,
	// as promised by the ERP or revised after a supplier update.
	DetailExpectedDelivery = "expected_delivery"
	// DetailPromisedDate is the date a supplier promises to ship or deliver a
	// purchase order to the warehouse (po_acknowledged).
	DetailPromisedDate = "promised_date"
	// DetailExpectedArrival is when a supplier's shipment is expected at the
	// warehouse (po_shipped).
	DetailExpectedArrival = "expected_arrival"
	DetailCarrier         = "carrier"
	DetailTrackingNumber  = "tracking_number"
	// DetailTrackingURL is the carrier's public tracking page (http or https).
	// Append fills it in for known carriers when it is missing.
	DetailTrackingURL    = "tracking_url"
	DetailERPOrderNumber = "erp_order_number"
	// DetailReason explains a rejection, cancellation or failure in words fit
	// for a customer.
	DetailReason = "reason"
)

// Types lists every event type this package knows, in lifecycle order.
var Types = []string{
	TypeAccepted, TypeERPReceived, TypeConfirmed, TypeBackorder, TypePOIssued,
	TypePOAcked, TypePOShipped, TypePOReceived, TypeAllocated, TypePicked,
	TypeShipped, TypeDelivered, TypeCancelled, TypeRejected, TypeFailed,
}

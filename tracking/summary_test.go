package tracking

import (
	"testing"
	"time"
)

func ev(typ, source string, kv ...string) Event {
	d := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i]] = kv[i+1]
	}
	return Event{Type: typ, Source: source, Details: d, Time: t0}
}

func TestDerive(t *testing.T) {
	tests := []struct {
		name   string
		events []Event
		want   Summary
	}{
		{
			name: "empty",
			want: Summary{StatusLabel: "No updates yet"},
		},
		{
			name: "complete lifecycle",
			events: []Event{
				ev(TypeAccepted, SourceGateway),
				ev(TypeERPReceived, SourceGateway),
				ev(TypeConfirmed, SourceERP, DetailERPOrderNumber, "SO-9", DetailExpectedDelivery, "2026-03-06"),
				ev(TypeAllocated, SourceERP),
				ev(TypePicked, SourceERP),
				ev(TypeShipped, SourceERP, DetailCarrier, "UPS", DetailTrackingNumber, "1Z999"),
				ev(TypeDelivered, SourceERP),
			},
			want: Summary{Status: TypeDelivered, StatusLabel: "Delivered", StatusTime: t0, ExpectedDelivery: "2026-03-06",
				OriginalExpectedDelivery: "2026-03-06", Carrier: "UPS", TrackingNumber: "1Z999",
				TrackingURL: "https://www.ups.com/track?tracknum=1Z999", ERPOrderNumber: "SO-9", Final: true},
		},
		{
			name: "backorder: supplier steps keep the status and revise the date later",
			events: []Event{
				ev(TypeAccepted, SourceGateway),
				ev(TypeConfirmed, SourceERP, DetailExpectedDelivery, "2026-03-06"),
				ev(TypeBackorder, SourceERP),
				ev(TypePOIssued, SourceERP),
				ev(TypePOAcked, SourceSupplier, DetailPromisedDate, "2026-03-10"),
				ev(TypePOShipped, SourceSupplier, DetailExpectedArrival, "2026-03-09"), // earlier: computed dates never move it back
			},
			want: Summary{Status: TypeBackorder, StatusLabel: "Waiting for stock", StatusTime: t0,
				ExpectedDelivery: "2026-03-12", OriginalExpectedDelivery: "2026-03-06", Delayed: true},
		},
		{
			name: "explicit expected delivery wins even when earlier",
			events: []Event{
				ev(TypeConfirmed, SourceERP, DetailExpectedDelivery, "2026-03-06"),
				ev(TypePOAcked, SourceSupplier, DetailPromisedDate, "2026-03-10"),
				ev(TypeAllocated, SourceERP, DetailExpectedDelivery, "2026-03-08"),
			},
			want: Summary{Status: TypeAllocated, StatusLabel: "Being prepared", StatusTime: t0,
				ExpectedDelivery: "2026-03-08", OriginalExpectedDelivery: "2026-03-06", Delayed: true},
		},
		{
			name: "rejected with reason; unsafe tracking url dropped, garbage date ignored",
			events: []Event{
				ev(TypeAccepted, SourceGateway, DetailExpectedDelivery, "tomorrow"),
				ev(TypeShipped, SourceERP, DetailCarrier, "Nobody", DetailTrackingNumber, "X1", DetailTrackingURL, "javascript:alert(1)"),
				ev(TypeRejected, SourceERP, DetailReason, "SKU-9999 is not sold"),
			},
			want: Summary{Status: TypeRejected, StatusLabel: "Could not be processed", StatusTime: t0,
				Carrier: "Nobody", TrackingNumber: "X1", Reason: "SKU-9999 is not sold", Final: true},
		},
		{
			name: "a failure resolved by a later event loses its reason",
			events: []Event{
				ev(TypeFailed, SourceGateway, DetailReason, "ERP unreachable"),
				ev(TypeConfirmed, SourceERP),
			},
			want: Summary{Status: TypeConfirmed, StatusLabel: "Confirmed", StatusTime: t0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Derive(tt.events)
			if got != tt.want {
				t.Errorf("Derive:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDeriveStatusIsLatest(t *testing.T) {
	later := ev(TypeShipped, SourceERP)
	later.Time = t0.Add(time.Hour)
	s := Derive([]Event{ev(TypeConfirmed, SourceERP), later, ev(TypePOReceived, SourceSupplier)})
	if s.Status != TypeShipped || !s.StatusTime.Equal(later.Time) {
		t.Errorf("status = %s at %v, want shipped at %v", s.Status, s.StatusTime, later.Time)
	}
}

func TestLabelAndCarrier(t *testing.T) {
	if got, want := Label("customs_hold"), "Customs hold"; got != want {
		t.Errorf("Label(unknown) = %q, want %q", got, want)
	}
	for _, typ := range Types {
		if Label(typ) == "" {
			t.Errorf("Label(%s) is empty", typ)
		}
	}
	if got, want := CarrierTrackingURL(" dhl ", "a b&c"), "https://www.dhl.com/global-en/home/tracking/tracking-parcel.html?submit=1&tracking-id=a+b%26c"; got != want {
		t.Errorf("CarrierTrackingURL = %q, want %q", got, want)
	}
	if got := CarrierTrackingURL("Pigeon Post", "1"); got != "" {
		t.Errorf("unknown carrier url = %q, want empty", got)
	}
}

// TestEventTypeWireValues: the names say what the types mean, and the wire
// values stored in Redis, sent in webhooks and shown by the API never
// change with a rename.
func TestEventTypeWireValues(t *testing.T) {
	for name, got := range map[string]string{
		"erp_received": TypeERPReceived, // the ERP holds the order
		"delivered":    TypeDelivered,   // the customer has the parcel
		"shipped":      TypeShipped,
		"accepted":     TypeAccepted,
	} {
		if got != name {
			t.Errorf("got %q, want %q", got, name)
		}
	}
}

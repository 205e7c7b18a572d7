package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/internal/redistest"
	"erpgate/order"
	"erpgate/soap"
	"erpgate/soap/orderws"
	"erpgate/store"
)

// All identifiers in this file start with soap/SOAP so that they cannot
// collide with the REST tests of the same package.

var soapUpdate = flag.Bool("update-soap", false, "rewrite the SOAP golden files in testdata/soap")

// soapUpdateGolden reports whether golden files are to be rewritten: with
// -update-soap, or with the package's -update flag if one is defined.
func soapUpdateGolden() bool {
	if *soapUpdate {
		return true
	}
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// soapNow is the fixed clock of these tests; soapOrderXML's delivery date
// lies a week after it.
var soapNow = time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)

const soapPublicURL = "https://track.example"

type soapEnv struct {
	srv   *httptest.Server
	rdb   redis.UniversalClient
	store *store.Store
	reg   *prometheus.Registry
}

// newSOAPEnv starts the gateway over the real store: on the real test Redis
// when ERPGATE_REDIS_ADDR is set (CI), else on miniredis, so the tests run
// everywhere and against the real thing where it exists.
func newSOAPEnv(t *testing.T) *soapEnv {
	t.Helper()
	var rdb redis.UniversalClient
	if os.Getenv("ERPGATE_REDIS_ADDR") != "" || os.Getenv("ERPGATE_REDIS_REQUIRED") == "1" {
		rdb = redistest.Universal(t)
	} else {
		rdb, _ = redistest.Mini(t)
	}
	st := store.New(rdb, store.Options{Now: func() time.Time { return soapNow }, Partitions: 1})
	if err := st.Init(context.Background()); err != nil {
		t.Fatalf("store init: %v", err)
	}
	keys, err := NewKeyring(append(DemoClients(),
		Client{ID: "shop-2", Kind: KindShop, KeySHA256: HashKey("shop-2-key")}))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	gw, err := New(Config{PublicURL: soapPublicURL, Store: st, Keyring: keys, Registerer: reg, Gatherer: reg,
		Now: func() time.Time { return soapNow }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return &soapEnv{srv: srv, rdb: rdb, store: st, reg: reg}
}

// soapEnvelope wraps body elements in a SOAP 1.1 envelope. The service
// namespace is bound to the prefix "o" on the Envelope, as SoapUI and .NET
// clients do, so every test also proves that such prefixes resolve.
func soapEnvelope(header, body string) string {
	h := ""
	if header != "" {
		h = "<soap:Header>" + header + "</soap:Header>"
	}
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:o="urn:erpgate:orders:v1">` +
		h + `<soap:Body>` + body + `</soap:Body></soap:Envelope>`
}

// soapOrderXML is a valid SubmitOrder element; lineExtra is inserted into
// the first line (after Quantity: UnitPrice and more), orderExtra before
// Notes.
type soapOrder struct {
	ext, email, unitPrice, lineExtra, orderExtra string
}

func (o soapOrder) xml() string {
	if o.ext == "" {
		o.ext = "SHOP-1001"
	}
	if o.email == "" {
		o.email = "ada@example.com"
	}
	price := "<o:UnitPrice>19.99</o:UnitPrice>"
	if o.unitPrice != "-" {
		if o.unitPrice != "" {
			price = "<o:UnitPrice>" + o.unitPrice + "</o:UnitPrice>"
		}
	} else {
		price = ""
	}
	return `<o:SubmitOrder><o:Order>` +
		`<o:ExternalId>` + o.ext + `</o:ExternalId>` +
		`<o:Customer><o:Id>C-42</o:Id><o:Name>Ada Lovelace</o:Name><o:Email>` + o.email + `</o:Email><o:Phone>+44 20 7946 0000</o:Phone></o:Customer>` +
		`<o:ShippingAddress><o:Name>Ada Lovelace</o:Name><o:Line1>12 St James's Square</o:Line1><o:City>London</o:City><o:PostalCode>SW1Y 4JH</o:PostalCode><o:Country>GB</o:Country></o:ShippingAddress>` +
		`<o:BillingAddress><o:Name>Analytical Engines Ltd</o:Name><o:Line1>1 Babbage Row</o:Line1><o:Line2>Floor 2</o:Line2><o:City>Cambridge</o:City><o:PostalCode>CB2 1TN</o:PostalCode><o:Region>Cambridgeshire</o:Region><o:Country>GB</o:Country></o:BillingAddress>` +
		`<o:Currency>EUR</o:Currency>` +
		`<o:Line><o:Sku>SKU-1001</o:Sku><o:Description>Widget</o:Description><o:Quantity>2</o:Quantity>` + price + `<o:Discount> 5.000 </o:Discount>` + o.lineExtra + `</o:Line>` +
		`<o:Line><o:Sku>SKU-1002</o:Sku><o:Quantity>1</o:Quantity><o:UnitPrice>5.5</o:UnitPrice></o:Line>` +
		`<o:Shipping><o:Method>standard</o:Method><o:Price>4.90</o:Price></o:Shipping>` +
		`<o:RequestedDeliveryDate>2025-06-10</o:RequestedDeliveryDate>` + o.orderExtra +
		`<o:Notes>Leave at the door</o:Notes>` +
		`</o:Order></o:SubmitOrder>`
}

// soapWantOrder is the canonical order soapOrder{}.xml() must become.
func soapWantOrder() order.Order {
	return order.Order{
		ExternalID: "SHOP-1001",
		Customer:   order.Customer{ID: "C-42", Name: "Ada Lovelace", Email: "ada@example.com", Phone: "+44 20 7946 0000"},
		ShippingAddress: order.Address{Name: "Ada Lovelace", Line1: "12 St James's Square", City: "London",
			PostalCode: "SW1Y 4JH", Country: "GB"},
		BillingAddress: &order.Address{Name: "Analytical Engines Ltd", Line1: "1 Babbage Row", Line2: "Floor 2",
			City: "Cambridge", PostalCode: "CB2 1TN", Region: "Cambridgeshire", Country: "GB"},
		Currency: "EUR",
		Lines: []order.Line{
			{SKU: "SKU-1001", Description: "Widget", Quantity: 2, UnitPrice: order.MustDecimal("19.99"), Discount: order.MustDecimal("5")},
			{SKU: "SKU-1002", Quantity: 1, UnitPrice: order.MustDecimal("5.5")},
		},
		Shipping:              order.Shipping{Method: "standard", Price: order.MustDecimal("4.9")},
		RequestedDeliveryDate: "2025-06-10",
		Notes:                 "Leave at the door",
	}
}

type soapReply struct {
	status int
	header http.Header
	body   []byte
}

// call POSTs a SOAP 1.1 envelope. hdr adds or (with "") removes headers;
// the default authenticates as the demo shop.
func (e *soapEnv) call(t *testing.T, envelope string, hdr map[string]string) soapReply {
	t.Helper()
	return e.do(t, http.MethodPost, soapOrdersPath, strings.NewReader(envelope), hdr)
}

func (e *soapEnv) do(t *testing.T, method, path string, body io.Reader, hdr map[string]string) soapReply {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("Authorization", "Bearer demo-shop-key")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return soapReply{status: resp.StatusCode, header: resp.Header, body: b}
}

// ok decodes a 200 response into v.
func (r soapReply) ok(t *testing.T, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body:\n%s", r.status, r.body)
	}
	if err := soap.ParseResponse(r.body, v); err != nil {
		t.Fatalf("ParseResponse: %v; body:\n%s", err, r.body)
	}
}

// fault parses a fault response and checks its HTTP status and fault code.
func (r soapReply) fault(t *testing.T, status int, code string) *soap.Fault {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body:\n%s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") && !strings.HasPrefix(ct, "application/soap+xml") {
		t.Errorf("Content-Type = %q, want a SOAP envelope", ct)
	}
	f, err := soap.ParseFault(r.body)
	if err != nil {
		t.Fatalf("ParseFault: %v; body:\n%s", err, r.body)
	}
	if f.Code != code {
		t.Errorf("fault code = %q, want %q (%s)", f.Code, code, f.String)
	}
	return f
}

func (e *soapEnv) submit(t *testing.T, o soapOrder) *orderws.SubmitOrderResponse {
	t.Helper()
	var out orderws.SubmitOrderResponse
	e.call(t, soapEnvelope("", o.xml()), nil).ok(t, &out)
	return &out
}

// snapshot describes everything in the Redis database: each key with its
// type and size. "Nothing stored" means an unchanged snapshot.
func (e *soapEnv) snapshot(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys := redistest.Keys(t, e.rdb, "*")
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		typ := e.rdb.Type(ctx, k).Val()
		var n int64
		switch typ {
		case "stream":
			n = e.rdb.XLen(ctx, k).Val()
		case "hash":
			n = e.rdb.HLen(ctx, k).Val()
		case "zset":
			n = e.rdb.ZCard(ctx, k).Val()
		case "string":
			n = e.rdb.StrLen(ctx, k).Val()
		}
		out[k] = fmt.Sprintf("%s/%d", typ, n)
	}
	return out
}

func (e *soapEnv) outboxLen(t *testing.T) int64 {
	t.Helper()
	n, err := e.rdb.XLen(context.Background(), "outbox:{p0.0}").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	return n
}

// intake returns erpgate_intake_orders_total{channel="soap",outcome}.
func (e *soapEnv) intake(t *testing.T, outcome string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "erpgate_intake_orders_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["channel"] == "soap" && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no erpgate_intake_orders_total{channel=soap,outcome=%s}", outcome)
	return 0
}

func soapGetOrder(id, ext string) string {
	s := "<o:GetOrder>"
	if id != "" {
		s += "<o:OrderId>" + id + "</o:OrderId>"
	}
	if ext != "" {
		s += "<o:ExternalId>" + ext + "</o:ExternalId>"
	}
	return s + "</o:GetOrder>"
}

func soapGetStatus(id, ext string) string {
	return strings.ReplaceAll(soapGetOrder(id, ext), "o:GetOrder>", "o:GetOrderStatus>")
}

func TestSOAPSubmitGetStatusRoundTrip(t *testing.T) {
	e := newSOAPEnv(t)
	acc := e.submit(t, soapOrder{})
	if !strings.HasPrefix(acc.OrderId, "ord_") || len(acc.OrderId) != 30 {
		t.Errorf("OrderId = %q, want ord_ + 26 characters", acc.OrderId)
	}
	if acc.ExternalId != "SHOP-1001" || acc.Status != "accepted" || acc.Replayed {
		t.Errorf("got ExternalId %q Status %q Replayed %v, want SHOP-1001 accepted false", acc.ExternalId, acc.Status, acc.Replayed)
	}
	if acc.Tracking == nil || acc.Tracking.Token == "" {
		t.Fatalf("Tracking = %+v, want url and token", acc.Tracking)
	}
	wantURL := soapPublicURL + "/track/" + acc.OrderId + "?token=" + acc.Tracking.Token
	if string(acc.Tracking.Url) != wantURL {
		t.Errorf("Tracking.Url = %q, want %q", acc.Tracking.Url, wantURL)
	}

	// GetOrder by id and by external id: the order as submitted, exactly
	// (amounts included), read back through the wire types.
	for _, sel := range []struct{ name, id, ext string }{{"by id", acc.OrderId, ""}, {"by external id", "", "SHOP-1001"}} {
		t.Run(sel.name, func(t *testing.T) {
			var got orderws.GetOrderResponse
			e.call(t, soapEnvelope("", soapGetOrder(sel.id, sel.ext)), nil).ok(t, &got)
			if got.OrderId != acc.OrderId || got.ExternalId != "SHOP-1001" || got.Status != store.StatusAccepted {
				t.Errorf("got %s/%s/%s, want %s/SHOP-1001/accepted", got.OrderId, got.ExternalId, got.Status, acc.OrderId)
			}
			if got.CreatedAt == nil || string(*got.CreatedAt) != "2025-06-02T10:00:00.000Z" {
				t.Errorf("CreatedAt = %v, want 2025-06-02T10:00:00.000Z", got.CreatedAt)
			}
			back, err := orderFromWire(got.Order, soapNow)
			if err != nil {
				t.Fatalf("the returned order does not translate back: %v", err)
			}
			if want := soapWantOrder(); !reflect.DeepEqual(*back, want) {
				t.Errorf("order read back:\n got %+v\nwant %+v", *back, want)
			}
			if got.Tracking == nil || string(got.Tracking.Url) != wantURL {
				t.Errorf("Tracking = %+v, want url %s", got.Tracking, wantURL)
			}
		})
	}

	var st orderws.GetOrderStatusResponse
	e.call(t, soapEnvelope("", soapGetStatus(acc.OrderId, "")), nil).ok(t, &st)
	if st.OrderId != acc.OrderId || st.Status != store.StatusAccepted || st.Tracking == nil || string(st.Tracking.Url) != wantURL {
		t.Errorf("GetOrderStatus = %+v, want %s accepted %s", st, acc.OrderId, wantURL)
	}

	// The REST API sees the same order: one store, one intake.
	r := e.do(t, http.MethodGet, "/v1/orders/"+acc.OrderId, nil, nil)
	var rest struct {
		ID    string      `json:"id"`
		Order order.Order `json:"order"`
	}
	if err := json.Unmarshal(r.body, &rest); err != nil || r.status != http.StatusOK {
		t.Fatalf("REST GET: %d %v\n%s", r.status, err, r.body)
	}
	want := soapWantOrder()
	want.ID, want.ShopID, want.CreatedAt = acc.OrderId, "demo-shop", soapNow
	if !reflect.DeepEqual(rest.Order, want) {
		t.Errorf("REST view of the SOAP order:\n got %+v\nwant %+v", rest.Order, want)
	}
	if got := e.intake(t, "accepted"); got != 1 {
		t.Errorf(`intake{soap,accepted} = %v, want 1`, got)
	}
	if got := e.outboxLen(t); got != 1 {
		t.Errorf("outbox length = %d, want 1", got)
	}
}

func TestSOAPReplayReturnsSameOrder(t *testing.T) {
	e := newSOAPEnv(t)
	first := e.submit(t, soapOrder{})
	// Same content, different spelling: amounts with other trailing zeros.
	again := e.submit(t, soapOrder{unitPrice: "19.9900"})
	if again.OrderId != first.OrderId || !again.Replayed || again.Tracking.Token != first.Tracking.Token {
		t.Errorf("replay = %s replayed=%v, want %s replayed=true with the same token", again.OrderId, again.Replayed, first.OrderId)
	}
	// The same order through REST is the same submission, too: the
	// channels share the intake and the canonical fingerprint.
	want := soapWantOrder()
	body, _ := json.Marshal(want)
	r := e.do(t, http.MethodPost, "/v1/orders", bytes.NewReader(body), map[string]string{"Content-Type": "application/json"})
	var rest struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.body, &rest); err != nil || r.status != http.StatusAccepted || rest.ID != first.OrderId {
		t.Errorf("REST replay: status %d id %q, want 202 %s\n%s", r.status, rest.ID, first.OrderId, r.body)
	}
	if got := e.outboxLen(t); got != 1 {
		t.Errorf("outbox length = %d, want 1 (one order)", got)
	}
	if got := e.intake(t, "replayed"); got != 1 {
		t.Errorf("intake{soap,replayed} = %v, want 1", got)
	}
}

func TestSOAPIdempotencyMismatch(t *testing.T) {
	e := newSOAPEnv(t)
	e.submit(t, soapOrder{})
	before := e.snapshot(t)
	f := e.call(t, soapEnvelope("", soapOrder{unitPrice: "18.99"}.xml()), nil).fault(t, http.StatusInternalServerError, soap.FaultClient)
	if f.Detail.Code != erpgate.IdempotencyMismatch {
		t.Errorf("detail code = %q, want %q", f.Detail.Code, erpgate.IdempotencyMismatch)
	}
	if after := e.snapshot(t); !reflect.DeepEqual(after, before) {
		t.Errorf("store changed:\nbefore %v\nafter  %v", before, after)
	}
	if got := e.intake(t, "conflict"); got != 1 {
		t.Errorf("intake{soap,conflict} = %v, want 1", got)
	}

	// An IdempotencyKey reused for another order is a mismatch as well.
	e.submit(t, soapOrder{ext: "SHOP-2", orderExtra: ""})
	withKey := func(ext string) string {
		return strings.Replace(soapOrder{ext: ext}.xml(), "</o:Order>", "</o:Order><o:IdempotencyKey>k-1</o:IdempotencyKey>", 1)
	}
	var first orderws.SubmitOrderResponse
	e.call(t, soapEnvelope("", withKey("SHOP-3")), nil).ok(t, &first)
	f = e.call(t, soapEnvelope("", withKey("SHOP-4")), nil).fault(t, http.StatusInternalServerError, soap.FaultClient)
	if f.Detail.Code != erpgate.IdempotencyMismatch {
		t.Errorf("key reuse: detail code = %q, want %q", f.Detail.Code, erpgate.IdempotencyMismatch)
	}
}

// soapHasProblem reports whether f lists a problem for field whose message
// contains msg.
func soapHasProblem(f *soap.Fault, field, msg string) bool {
	for _, p := range f.Detail.Problems {
		if p.Field == field && strings.Contains(p.Message, msg) {
			return true
		}
	}
	return false
}

func TestSOAPInvalidOrders(t *testing.T) {
	type problem struct{ field, msg string }
	tests := []struct {
		name string
		body string
		code string
		want []problem
	}{
		{"decimal with a comma, reported with the other problems",
			soapOrder{unitPrice: "19,99", email: "not-an-email"}.xml(), erpgate.Invalid,
			[]problem{{"Order/Line[1]/UnitPrice", "decimal number"}, {"Order/Customer/Email", ""}}},
		{"decimal with an exponent", soapOrder{unitPrice: "1E2"}.xml(), erpgate.Invalid,
			[]problem{{"Order/Line[1]/UnitPrice", "decimal number"}}},
		{"five significant fractional digits", soapOrder{unitPrice: "19.99001"}.xml(), erpgate.Invalid,
			[]problem{{"Order/Line[1]/UnitPrice", "at most 4 fractional digits"}}},
		{"empty amount", strings.Replace(soapOrder{}.xml(), "<o:Price>4.90</o:Price>", "<o:Price></o:Price>", 1), erpgate.Invalid,
			[]problem{{"Order/Shipping/Price", "decimal number"}}},
		{"missing unit price is not a free item", soapOrder{unitPrice: "-"}.xml(), erpgate.Invalid,
			[]problem{{"Order/Line[1]/UnitPrice", "required"}}},
		{"misspelt optional element", soapOrder{lineExtra: "<o:Discout>5</o:Discout>"}.xml(), erpgate.Invalid,
			[]problem{{"Order/Line[1]/Discout", "unknown element"}}},
		{"unqualified element", soapOrder{orderExtra: "<Notes>x</Notes>"}.xml(), erpgate.Invalid,
			[]problem{{"Order/Notes", "namespace"}}},
		{"element given twice", soapOrder{orderExtra: "<o:Currency>USD</o:Currency>"}.xml(), erpgate.Invalid,
			[]problem{{"Order/Currency", "at most once"}}},
		{"quantity not an integer", strings.Replace(soapOrder{}.xml(), "<o:Quantity>2<", "<o:Quantity>two<", 1), erpgate.Invalid,
			[]problem{{"Order/Line[1]/Quantity", "integer"}}},
		{"element inside a text element", strings.Replace(soapOrder{}.xml(), "<o:Sku>SKU-1001</o:Sku>", "<o:Sku><o:x/></o:Sku>", 1), erpgate.Invalid,
			[]problem{{"Order/Line[1]/Sku", "must not contain elements"}}},
		{"validation problems named by WSDL path",
			strings.NewReplacer("<o:Country>GB</o:Country></o:ShippingAddress>", "<o:Country>XX</o:Country></o:ShippingAddress>",
				"<o:Quantity>1<", "<o:Quantity>0<").Replace(soapOrder{}.xml()), erpgate.Invalid,
			[]problem{{"Order/ShippingAddress/Country", ""}, {"Order/Line[2]/Quantity", ""}}},
		{"no lines", `<o:SubmitOrder><o:Order><o:ExternalId>X-1</o:ExternalId></o:Order></o:SubmitOrder>`, erpgate.Invalid,
			[]problem{{"Order/Shipping", "required"}, {"Order/Line", ""}, {"Order/Customer/Name", ""}}},
		{"no order", `<o:SubmitOrder/>`, erpgate.Invalid, []problem{{"Order", "required"}}},
		{"discount above the line value", strings.Replace(soapOrder{}.xml(), "<o:Discount> 5.000 </o:Discount>", "<o:Discount>50</o:Discount>", 1),
			erpgate.Unprocessable, []problem{{"Order/Line[1]/Discount", ""}}},
		{"delivery date in the past", strings.Replace(soapOrder{}.xml(), "2025-06-10", "2025-05-01", 1),
			erpgate.Unprocessable, []problem{{"Order/RequestedDeliveryDate", "past"}}},
		{"bad idempotency key", strings.Replace(soapOrder{}.xml(), "</o:Order>", "</o:Order><o:IdempotencyKey>a b</o:IdempotencyKey>", 1),
			erpgate.Invalid, []problem{{"IdempotencyKey", ""}}},
		{"unknown operation", `<o:CancelOrder><o:OrderId>x</o:OrderId></o:CancelOrder>`, erpgate.Invalid, nil},
		{"operation in another namespace", `<SubmitOrder xmlns="urn:other"/>`, erpgate.Invalid, nil},
		{"GetOrder with both selectors", soapGetOrder("ord_1", "SHOP-1"), erpgate.Invalid, []problem{{"OrderId", "exactly one"}}},
		{"GetOrder with none", soapGetOrder("", ""), erpgate.Invalid, []problem{{"OrderId", "exactly one"}}},
	}
	e := newSOAPEnv(t)
	before := e.snapshot(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := e.call(t, soapEnvelope("", tt.body), nil).fault(t, http.StatusInternalServerError, soap.FaultClient)
			if f.Detail.Code != tt.code {
				t.Errorf("detail code = %q, want %q (%s)", f.Detail.Code, tt.code, f.String)
			}
			for _, p := range tt.want {
				if !soapHasProblem(f, p.field, p.msg) {
					t.Errorf("no problem %q ~ %q; got %+v", p.field, p.msg, f.Detail.Problems)
				}
			}
		})
	}
	if after := e.snapshot(t); !reflect.DeepEqual(after, before) {
		t.Errorf("invalid requests changed the store:\nbefore %v\nafter  %v", before, after)
	}
	if got := e.intake(t, "invalid"); got < 15 {
		t.Errorf("intake{soap,invalid} = %v, want every invalid SubmitOrder counted (>= 15)", got)
	}
}

func TestSOAPHostileRequests(t *testing.T) {
	valid := soapOrder{}.xml()
	bomb := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>` +
		strings.TrimPrefix(soapEnvelope("", strings.Replace(valid, "Leave at the door", "&lol3;", 1)), `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	xxe := `<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>` +
		strings.TrimPrefix(soapEnvelope("", strings.Replace(valid, "Leave at the door", "&x;", 1)), `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	deep := soapEnvelope("", strings.Replace(valid, "Leave at the door", strings.Repeat("<a>", 100000)+strings.Repeat("</a>", 100000), 1))
	huge := bytes.Repeat([]byte("x"), 2<<20)

	tests := []struct {
		name   string
		method string
		body   string
		hdr    map[string]string
		status int // 0: any 4xx or a 500 fault
	}{
		{"entity bomb", "POST", bomb, nil, 0},
		{"external entity", "POST", xxe, nil, 0},
		{"two body elements", "POST", soapEnvelope("", valid+valid), nil, http.StatusInternalServerError},
		{"SOAPAction spoofing", "POST", soapEnvelope("", valid), map[string]string{"SOAPAction": `"urn:erpgate:orders:v1/GetOrder"`}, http.StatusInternalServerError},
		{"oversize", "POST", soapEnvelope("", strings.Replace(valid, "Leave at the door", string(huge), 1)), nil, http.StatusRequestEntityTooLarge},
		{"100k-deep nesting", "POST", deep, nil, 0},
		{"huge attribute", "POST", soapEnvelope("", strings.Replace(valid, "<o:Order>", `<o:Order a="`+strings.Repeat("y", 200<<10)+`">`, 1)), nil, 0},
		{"truncated", "POST", soapEnvelope("", valid)[:900], nil, http.StatusInternalServerError},
		{"declared Latin-1", "POST", strings.Replace(soapEnvelope("", valid), `encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1), nil, 0},
		{"invalid UTF-8", "POST", strings.Replace(soapEnvelope("", valid), "Leave at the door", "Leave \xff\xfe", 1), nil, 0},
		{"not XML", "POST", "{\"external_id\": \"x\"}", nil, 0},
		{"wrong content type", "POST", soapEnvelope("", valid), map[string]string{"Content-Type": "application/json"}, http.StatusUnsupportedMediaType},
		{"SOAP 1.2 envelope under a 1.1 content type", "POST", strings.Replace(soapEnvelope("", valid), "http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope", 1), nil, 0},
		{"unknown mustUnderstand header", "POST", soapEnvelope(`<x:Tx xmlns:x="urn:tx" soap:mustUnderstand="1">1</x:Tx>`, valid), nil, http.StatusInternalServerError},
	}
	e := newSOAPEnv(t)
	before := e.snapshot(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.method, soapOrdersPath, strings.NewReader(tt.body), tt.hdr)
			switch {
			case tt.status != 0 && r.status != tt.status:
				t.Fatalf("status = %d, want %d; body:\n%.2000s", r.status, tt.status, r.body)
			case r.status == http.StatusOK || r.status < 400:
				t.Fatalf("status = %d, want a refusal; body:\n%.2000s", r.status, r.body)
			}
			if r.status == http.StatusInternalServerError || r.header.Get("Content-Type") != "" && strings.Contains(r.header.Get("Content-Type"), "xml") {
				f, err := soap.ParseFault(r.body)
				if err != nil {
					t.Fatalf("not a fault: %v\n%.2000s", err, r.body)
				}
				t.Logf("%d %s: %s %+v", r.status, f.Code, f.String, f.Detail)
				if f.Code == soap.FaultServer {
					t.Errorf("fault code Server (%s), want a client-side fault", f.String)
				}
			}
			if bytes.Contains(r.body, []byte("root:")) {
				t.Errorf("response leaks /etc/passwd:\n%s", r.body)
			}
		})
	}
	if after := e.snapshot(t); !reflect.DeepEqual(after, before) {
		t.Errorf("hostile requests changed the store:\nbefore %v\nafter  %v", before, after)
	}
	if n := e.outboxLen(t); n != 0 {
		t.Errorf("outbox length = %d, want 0", n)
	}
}

func soapUsernameToken(user, pass, typ string, mustUnderstand bool) string {
	mu := ""
	if mustUnderstand {
		mu = ` soap:mustUnderstand="1"`
	}
	t := ""
	if typ != "" {
		t = ` Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0` + typ + `"`
	}
	return `<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"` + mu + `>` +
		`<wsse:UsernameToken><wsse:Username>` + user + `</wsse:Username><wsse:Password` + t + `>` + pass + `</wsse:Password></wsse:UsernameToken>` +
		`</wsse:Security>`
}

func TestSOAPAuthentication(t *testing.T) {
	noBearer := map[string]string{"Authorization": ""}
	tests := []struct {
		name    string
		header  string
		hdr     map[string]string
		status  int    // 200 or the fault's HTTP status
		code    string // detail code of the fault
		msg     string // part of the fault string
		shop    string // for 200: who the order belongs to
		fcode   string // fault code; default Client
		extSufx string
	}{
		{"no credentials", "", noBearer, 401, erpgate.Unauthorized, "missing credentials", "", "", ""},
		{"wrong bearer key", "", map[string]string{"Authorization": "Bearer nope"}, 401, erpgate.Unauthorized, "invalid API key", "", "", ""},
		{"basic auth is not accepted", "", map[string]string{"Authorization": "Basic ZGVtbzpkZW1v"}, 401, erpgate.Unauthorized, "Bearer", "", "", ""},
		{"supplier key", "", map[string]string{"Authorization": "Bearer demo-supplier-key-1"}, 403, erpgate.Forbidden, "", "", "", ""},
		{"UsernameToken PasswordText", soapUsernameToken("demo-shop", "demo-shop-key", "#PasswordText", true), noBearer, 200, "", "", "demo-shop", "", "a"},
		{"UsernameToken without Type", soapUsernameToken("shop-2", "shop-2-key", "", false), noBearer, 200, "", "", "shop-2", "", "b"},
		{"UsernameToken and bearer of the same shop", soapUsernameToken("demo-shop", "demo-shop-key", "", false), nil, 200, "", "", "demo-shop", "", "c"},
		{"UsernameToken wrong password", soapUsernameToken("demo-shop", "guess", "#PasswordText", false), noBearer, 500, erpgate.Unauthorized, "invalid", "", "", ""},
		{"UsernameToken wrong user", soapUsernameToken("shop-2", "demo-shop-key", "", false), noBearer, 500, erpgate.Unauthorized, "invalid", "", "", ""},
		{"UsernameToken PasswordDigest", soapUsernameToken("demo-shop", "aGFzaA==", "#PasswordDigest", false), noBearer, 500, erpgate.Unauthorized, "PasswordDigest", "", "", ""},
		{"UsernameToken of a supplier", soapUsernameToken("demo-supplier-1", "demo-supplier-key-1", "", false), noBearer, 500, erpgate.Forbidden, "", "", "", ""},
		{"UsernameToken and bearer of different shops", soapUsernameToken("shop-2", "shop-2-key", "", false), nil, 500, erpgate.Unauthorized, "different clients", "", "", ""},
		{"bad bearer is not rescued by a good token", soapUsernameToken("demo-shop", "demo-shop-key", "", false), map[string]string{"Authorization": "Bearer nope"}, 401, erpgate.Unauthorized, "", "", "", ""},
		{"unknown mandatory header", `<x:Tx xmlns:x="urn:tx" soap:mustUnderstand="1"/>`, nil, 500, "", "", "", soap.FaultMustUnderstand, ""},
	}
	e := newSOAPEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.snapshot(t)
			ext := "AUTH-" + tt.extSufx
			r := e.call(t, soapEnvelope(tt.header, soapOrder{ext: ext}.xml()), tt.hdr)
			if tt.status == 200 {
				var acc orderws.SubmitOrderResponse
				r.ok(t, &acc)
				rec, err := e.srv.Config.Handler.(*Server).store.Order(context.Background(), acc.OrderId)
				if err != nil || rec.Order.ShopID != tt.shop {
					t.Errorf("stored order shop = %v (%v), want %s", rec, err, tt.shop)
				}
				return
			}
			fc := tt.fcode
			if fc == "" {
				fc = soap.FaultClient
			}
			f := r.fault(t, tt.status, fc)
			if tt.code != "" && f.Detail.Code != tt.code {
				t.Errorf("detail code = %q, want %q", f.Detail.Code, tt.code)
			}
			if !strings.Contains(f.String, tt.msg) {
				t.Errorf("fault string %q does not mention %q", f.String, tt.msg)
			}
			if got := r.header.Get("WWW-Authenticate"); (tt.status == 401) != (got != "") {
				t.Errorf("WWW-Authenticate = %q with status %d", got, tt.status)
			}
			if after := e.snapshot(t); !reflect.DeepEqual(after, before) {
				t.Errorf("refused request changed the store:\nbefore %v\nafter  %v", before, after)
			}
		})
	}

	// A shop sees only its own orders, whichever way it asks.
	acc := e.submit(t, soapOrder{ext: "MINE-1"})
	for _, body := range []string{soapGetOrder(acc.OrderId, ""), soapGetOrder("", "MINE-1"), soapGetStatus(acc.OrderId, "")} {
		f := e.call(t, soapEnvelope("", body), map[string]string{"Authorization": "Bearer shop-2-key"}).
			fault(t, http.StatusInternalServerError, soap.FaultClient)
		if f.Detail.Code != erpgate.NotFound {
			t.Errorf("other shop's order: detail code = %q, want %q", f.Detail.Code, erpgate.NotFound)
		}
	}
}

func TestSOAPWSDL(t *testing.T) {
	e := newSOAPEnv(t)
	if n := bytes.Count(orderws.WSDL, []byte(`location="`+orderws.DefaultLocation+`"`)); n != 1 {
		t.Fatalf("the WSDL names DefaultLocation %d times, want exactly once (the rewrite depends on it)", n)
	}
	host := strings.TrimPrefix(e.srv.URL, "http://")
	tests := []struct {
		name, query string
		hdr         map[string]string
		want        string
	}{
		{"wsdl", "?wsdl", nil, `location="http://` + host + `/soap/orders"`},
		{"WSDL upper case", "?WSDL", nil, `location="http://` + host + `/soap/orders"`},
		{"behind a TLS proxy", "?wsdl", map[string]string{"X-Forwarded-Proto": "https"}, `location="https://` + host + `/soap/orders"`},
		{"hostile Host header", "?wsdl", map[string]string{"Host": `evil"><x a="`}, `location="` + orderws.DefaultLocation + `"`},
		{"no credentials needed", "?wsdl", map[string]string{"Authorization": ""}, `location="http://`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+soapOrdersPath+tt.query, nil)
			for k, v := range tt.hdr {
				if k == "Host" {
					req.Host = v
				} else if v != "" {
					req.Header.Set(k, v)
				}
			}
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
				t.Fatalf("status %d content type %q, want 200 text/xml", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if !bytes.Contains(b, []byte(tt.want)) {
				t.Errorf("WSDL lacks %s", tt.want)
			}
			// Apart from the address, it is the committed file.
			i := bytes.Index(b, []byte(`<soap:address location="`))
			j := bytes.Index(orderws.WSDL, []byte(`<soap:address location="`))
			if i < 0 || !bytes.Equal(b[:i], orderws.WSDL[:j]) {
				t.Errorf("served WSDL differs from orderws.WSDL before the address")
			}
		})
	}
	r := e.do(t, http.MethodGet, soapOrdersPath, nil, nil)
	r.fault(t, http.StatusMethodNotAllowed, soap.FaultClient)
}

// soapNormalise replaces what differs between runs (ids, tokens) by
// placeholders.
func soapNormalise(b []byte, id, token string) []byte {
	b = bytes.ReplaceAll(b, []byte(id), []byte("ord_00000000000000000000000000"))
	return bytes.ReplaceAll(b, []byte(token), []byte("TOKEN"))
}

func soapGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "soap", name)
	if soapUpdateGolden() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestSOAPGolden ./gateway -update-soap)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (rerun with -update-soap if intended):\n got %s\nwant %s", name, got, want)
	}
}

func TestSOAPGolden(t *testing.T) {
	e := newSOAPEnv(t)
	r := e.call(t, soapEnvelope("", soapOrder{}.xml()), nil)
	var acc orderws.SubmitOrderResponse
	r.ok(t, &acc)
	id, tok := acc.OrderId, acc.Tracking.Token
	soapGolden(t, "submit_order_response.xml", soapNormalise(r.body, id, tok))

	r = e.call(t, soapEnvelope("", soapOrder{}.xml()), nil)
	soapGolden(t, "submit_order_replayed_response.xml", soapNormalise(r.body, id, tok))

	r = e.call(t, soapEnvelope("", soapGetOrder(id, "")), nil)
	soapGolden(t, "get_order_response.xml", soapNormalise(r.body, id, tok))

	// Once the ERPs have answered: per-target results, the authoritative
	// one's verdict as the order's status and reason.
	ctx := context.Background()
	if err := e.store.SetResult(ctx, id, "v1", store.TargetResult{State: "created", ERPOrderNumber: "V1-000042",
		ERPStatus: "confirmed", Attempts: 1, UpdatedAt: soapNow.Add(time.Second)}, false); err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetResult(ctx, id, "v2", store.TargetResult{State: "rejected", Reason: "SKU-1002 is not sold",
		Attempts: 1, UpdatedAt: soapNow.Add(2 * time.Second)}, true); err != nil {
		t.Fatal(err)
	}
	r = e.call(t, soapEnvelope("", soapGetOrder(id, "")), nil)
	soapGolden(t, "get_order_with_results_response.xml", soapNormalise(r.body, id, tok))

	r = e.call(t, soapEnvelope("", soapGetStatus("", "SHOP-1001")), nil)
	soapGolden(t, "get_order_status_response.xml", soapNormalise(r.body, id, tok))

	r = e.call(t, soapEnvelope("", soapOrder{ext: "BAD-1", unitPrice: "19,99", email: "nope"}.xml()), nil)
	r.fault(t, http.StatusInternalServerError, soap.FaultClient)
	soapGolden(t, "validation_fault.xml", r.body)

	r = e.call(t, soapEnvelope("", soapOrder{}.xml()), map[string]string{"Authorization": ""})
	r.fault(t, http.StatusUnauthorized, soap.FaultClient)
	soapGolden(t, "unauthorized_fault.xml", r.body)
}

func TestSOAPParseXSDDecimal(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = error
	}{
		{"19.99", "19.99"}, {" 19.99\n", "19.99"}, {"+5", "5.00"}, {"-5", "-5.00"}, {"007.50", "7.50"},
		{".5", "0.50"}, {"5.", "5.00"}, {"1.23450000", "1.2345"}, {"0", "0.00"}, {"0000000000000000001", "1.00"},
		{"1.23456", ""}, {"1e3", ""}, {"19,99", ""}, {"", ""}, {".", ""}, {"+", ""}, {"+-1", ""}, {"--1", ""},
		{"1.2.3", ""}, {"NaN", ""}, {"１", ""}, {"10000000000000", ""}, {"0x10", ""},
	}
	for _, tt := range tests {
		d, err := parseXSDDecimal(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("parseXSDDecimal(%q) = %s, want an error", tt.in, d)
		case tt.want != "" && (err != nil || d.String() != tt.want):
			t.Errorf("parseXSDDecimal(%q) = %s, %v, want %s", tt.in, d, err, tt.want)
		}
	}
}

func TestSOAPPath(t *testing.T) {
	tests := map[string]string{
		"lines[0].unit_price":         "Order/Line[1]/UnitPrice",
		"lines[12].sku":               "Order/Line[13]/Sku",
		"shipping_address.country":    "Order/ShippingAddress/Country",
		"billing_address.postal_code": "Order/BillingAddress/PostalCode",
		"customer.email":              "Order/Customer/Email",
		"lines":                       "Order/Line",
		"requested_delivery_date":     "Order/RequestedDeliveryDate",
		"":                            "",
		"something_new":               "Order/something_new",
	}
	for in, want := range tests {
		if got := soapPath(in); got != want {
			t.Errorf("soapPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// --- third-party tools: zeep, xmllint, wsdl2h ---

// soapRequireTool skips the test when a tool is missing, unless
// ERPGATE_REQUIRE_TOOLS=1 (CI), where a missing tool is a failure.
func soapRequireTool(t *testing.T, name string, probe ...string) {
	t.Helper()
	if err := exec.Command(probe[0], probe[1:]...).Run(); err != nil {
		if os.Getenv("ERPGATE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s is required (ERPGATE_REQUIRE_TOOLS=1) but not usable: %v", name, err)
		}
		t.Skipf("%s not available (%v); install it or set ERPGATE_REQUIRE_TOOLS=1 to make this a failure", name, err)
	}
}

// TestZeepClient proves the WSDL with a SOAP client nobody here wrote:
// Debian's python3-zeep loads the live WSDL, submits an order and reads it
// back (scripts/zeep_orders.py asserts every field).
func TestZeepClient(t *testing.T) {
	soapRequireTool(t, "python3-zeep (/usr/bin/python3 -c 'import zeep')", "/usr/bin/python3", "-c", "import zeep")
	e := newSOAPEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", filepath.Join("..", "scripts", "zeep_orders.py"),
		"--key", "demo-shop-key", "--client-id", "demo-shop", "--delivery-date", "2025-06-10",
		e.srv.URL+soapOrdersPath+"?wsdl")
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "NO_PROXY=*", "no_proxy=*")
	out, err := cmd.CombinedOutput()
	t.Logf("zeep_orders.py:\n%s", out)
	if err != nil {
		t.Fatalf("zeep_orders.py failed: %v", err)
	}
	if got := e.intake(t, "accepted"); got < 1 {
		t.Errorf("intake{soap,accepted} = %v after the zeep run, want >= 1", got)
	}
}

// TestWSDLCheck runs scripts/wsdl-check.sh: every soap/*/*.wsdl must be
// well-formed (xmllint), its schemas must compile (xmllint), gSOAP's wsdl2h
// must accept it, and the golden envelopes of this package must be valid
// against the schemas they claim.
func TestWSDLCheck(t *testing.T) {
	soapRequireTool(t, "xmllint (libxml2-utils)", "xmllint", "--version")
	soapRequireTool(t, "wsdl2h (gsoap)", "sh", "-c", "command -v wsdl2h")
	golden, err := filepath.Glob(filepath.Join("testdata", "soap", "*.xml"))
	if err != nil || len(golden) == 0 {
		t.Fatalf("no golden envelopes to validate (%v)", err)
	}
	slices.Sort(golden)
	abs := make([]string, len(golden))
	for i, g := range golden {
		abs[i], _ = filepath.Abs(g)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join("..", "scripts", "wsdl-check.sh")}, abs...)...)
	out, err := cmd.CombinedOutput()
	t.Logf("wsdl-check.sh:\n%s", out)
	if err != nil {
		t.Fatalf("wsdl-check.sh failed: %v", err)
	}
}

func TestSOAP12Envelope(t *testing.T) {
	e := newSOAPEnv(t)
	acc := e.submit(t, soapOrder{})
	env := strings.Replace(soapEnvelope("", soapGetStatus(acc.OrderId, "")), soap.NS11, soap.NS12, 1)
	r := e.call(t, env, map[string]string{"Content-Type": `application/soap+xml; charset=utf-8; action="urn:erpgate:orders:v1/GetOrderStatus"`})
	var st orderws.GetOrderStatusResponse
	r.ok(t, &st)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/soap+xml") {
		t.Errorf("Content-Type = %q, want application/soap+xml", ct)
	}
	if !bytes.Contains(r.body, []byte(soap.NS12)) || st.OrderId != acc.OrderId {
		t.Errorf("SOAP 1.2 answer: order %q, body\n%s", st.OrderId, r.body)
	}
	// A 1.2 fault uses the 1.2 codes.
	r = e.call(t, strings.Replace(soapEnvelope("", soapGetStatus("", "")), soap.NS11, soap.NS12, 1),
		map[string]string{"Content-Type": "application/soap+xml"})
	f := r.fault(t, http.StatusInternalServerError, soap.FaultClient)
	if !bytes.Contains(r.body, []byte("soap:Sender")) || f.Detail.Code != erpgate.Invalid {
		t.Errorf("SOAP 1.2 fault: code %q, body\n%s", f.Detail.Code, r.body)
	}
}

// FuzzSOAPSubmitOrderDecode feeds arbitrary envelopes through the SOAP
// decoding of SubmitOrder. It must never panic; problems must name request
// paths; and an order that translates must survive the trip back to the
// wire types and in again unchanged (amounts exact). Inputs are envelopes
// of about 2 KiB, so fuzz with a short minimisation time:
//
//	go test -run XXX -fuzz FuzzSOAPSubmitOrderDecode -fuzzminimizetime 1s ./gateway
func FuzzSOAPSubmitOrderDecode(f *testing.F) {
	for _, body := range []string{
		soapOrder{}.xml(),
		soapOrder{unitPrice: "19,99", email: "x"}.xml(),
		soapOrder{unitPrice: "-"}.xml(),
		soapOrder{unitPrice: " +007.50000 "}.xml(),
		soapOrder{lineExtra: "<o:Discout>1</o:Discout>"}.xml(),
		soapOrder{orderExtra: "<o:Currency>USD</o:Currency><Notes/>"}.xml(),
		strings.Replace(soapOrder{}.xml(), "<o:Quantity>2<", "<o:Quantity>99999999999999999999<", 1),
		`<o:SubmitOrder/>`,
		`<o:SubmitOrder><o:Order><o:Line/><o:Line><o:Sku><o:x/></o:Sku></o:Line></o:Order></o:SubmitOrder>`,
	} {
		f.Add([]byte(soapEnvelope("", body)))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, soapOrdersPath, bytes.NewReader(body))
		r.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req, err := soap.ReadRequest(r, soap.Limits{})
		if err != nil {
			return
		}
		var in orderws.SubmitOrder
		if err := req.DecodeStrict(&in); err != nil {
			if f := soap.FaultFromError(err); f.Code != soap.FaultClient {
				t.Fatalf("decode error is a %s fault: %v", f.Code, err)
			}
			return
		}
		o, err := orderFromWire(in.Order, soapNow)
		if err != nil {
			for _, p := range erpgate.ErrorProblems(err) {
				if p.Field != "" && !strings.HasPrefix(p.Field, "Order") {
					t.Fatalf("problem path %q is not a request path", p.Field)
				}
			}
			return
		}
		back, err := orderFromWire(wireOrder(o), soapNow)
		if err != nil {
			t.Fatalf("wireOrder(o) does not translate back: %v\n%+v", err, o)
		}
		if !reflect.DeepEqual(back, o) {
			t.Fatalf("round trip changed the order:\n got %+v\nwant %+v", back, o)
		}
	})
}

// FuzzSOAPParseXSDDecimal checks parseXSDDecimal against exact rational
// arithmetic: whatever it accepts has exactly the value of the input.
func FuzzSOAPParseXSDDecimal(f *testing.F) {
	for _, s := range []string{"19.99", " +007.50 ", ".5", "5.", "1.23450000", "-0.0001", "1e3", "999999999999.9999", "1000000000000.0001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseXSDDecimal(s)
		if err != nil {
			return
		}
		want, ok := new(big.Rat).SetString(strings.TrimPrefix(strings.Trim(s, xmlSpace), "+"))
		if !ok {
			t.Fatalf("parseXSDDecimal(%q) = %s, but it is not a number", s, d)
		}
		got, _ := new(big.Rat).SetString(d.String())
		if got.Cmp(want) != 0 {
			t.Fatalf("parseXSDDecimal(%q) = %s, want %s", s, d, want.FloatString(8))
		}
		if again, err := parseXSDDecimal(d.String()); err != nil || again != d {
			t.Fatalf("parseXSDDecimal(%q) = %v, %v; want %s", d.String(), again, err, d)
		}
	})
}

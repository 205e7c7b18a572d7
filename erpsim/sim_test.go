package erpsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	gsoap "github.com/hooklift/gowsdl/soap"

	"erpgate/erpsim"
	"erpgate/soap/erpv2ws"
)

// newSim starts a simulator behind a real HTTP server and returns it with
// a generated v2 client pointed at it.
func newSim(t *testing.T, cfg erpsim.Config) (*erpsim.Sim, *httptest.Server, erpv2ws.SalesOrderService) {
	t.Helper()
	sim := erpsim.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	client := erpv2ws.NewSalesOrderService(gsoap.NewClient(srv.URL + "/erp/v2"))
	return sim, srv, client
}

func ptr[T any](v T) *T { return &v }

func money(s string) *erpv2ws.Money { return ptr(erpv2ws.Money(s)) }

// salesOrder returns a valid v2 sales order with one line per sku.
func salesOrder(ref string, skus ...string) *erpv2ws.SalesOrder {
	if len(skus) == 0 {
		skus = []string{"SKU-1001", "SKU-1002"}
	}
	so := &erpv2ws.SalesOrder{
		ExternalReference:      ref,
		SalesChannel:           "demo-shop",
		CustomerOrderReference: "WEB-1",
		OrderedAt:              ptr(erpv2ws.Timestamp("2025-03-01T09:30:00Z")),
		Customer:               &erpv2ws.Customer{CustomerNumber: "C-1", Name: "Zoë Müller", Email: "zoe@example.com", Phone: "+49 30 1234"},
		ShipTo:                 &erpv2ws.Address{Name: "Zoë Müller", Street1: "Straße 1", Street2: "Hinterhaus", City: "Berlin", PostalCode: "10115", Region: "BE", CountryCode: "DE"},
		BillTo:                 &erpv2ws.Address{Name: "Firma GmbH", Street1: "Weg 2", City: "Köln", PostalCode: "50667", CountryCode: "DE"},
		Currency:               "EUR",
		Shipping:               &erpv2ws.Shipping{Method: "DHL Paket", Price: money("4.99")},
		RequestedDeliveryDate:  ptr(erpv2ws.CalendarDate("2025-03-14")),
		Notes:                  "Bitte klingeln.\nDanke",
	}
	for i, sku := range skus {
		so.Line = append(so.Line, &erpv2ws.OrderLine{
			LineNumber: int32(i + 1), Sku: sku, Description: "item " + sku,
			Quantity: 2, UnitPrice: money("10.005"), Discount: money("0.01"),
		})
	}
	return so
}

func create(ctx context.Context, c erpv2ws.SalesOrderService, so *erpv2ws.SalesOrder) (*erpv2ws.CreateSalesOrderResponse, error) {
	return c.CreateSalesOrderContext(ctx, &erpv2ws.CreateSalesOrder{SalesOrder: so})
}

// faultOf decodes the v2 fault in an error of the generated client.
type fault struct {
	Code   string            `xml:"Body>Fault>faultcode"`
	String string            `xml:"Body>Fault>faultstring"`
	Detail *erpv2ws.ErpFault `xml:"Body>Fault>detail>ErpFault"`
}

func faultOf(t *testing.T, err error) fault {
	t.Helper()
	var he *gsoap.HTTPError
	if !errors.As(err, &he) {
		t.Fatalf("error %v (%T) is not an HTTP error carrying a fault", err, err)
	}
	if he.StatusCode != http.StatusInternalServerError {
		t.Fatalf("fault status = %d, want 500", he.StatusCode)
	}
	var f fault
	if err := xml.Unmarshal(he.ResponseBody, &f); err != nil {
		t.Fatalf("decoding fault %q: %v", he.ResponseBody, err)
	}
	if f.Detail == nil || f.Detail.ErrorCode == nil {
		t.Fatalf("fault %q has no ErpFault detail", he.ResponseBody)
	}
	return f
}

func listOrders(t *testing.T, srv *httptest.Server, query string) []erpsim.OrderInfo {
	t.Helper()
	res, err := http.Get(srv.URL + "/sim/orders" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /sim/orders%s: status %d", query, res.StatusCode)
	}
	var out []erpsim.OrderInfo
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCreateIsIdempotentByExternalReference(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	_, srv, c := newSim(t, erpsim.Config{Clock: func() time.Time { return now }})
	ctx := t.Context()

	first, err := create(ctx, c, salesOrder("ord_a"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := first.SalesOrderNumber, "SO-2V-000001"; got != want {
		t.Errorf("number = %q, want %q", got, want)
	}
	if first.AlreadyExists {
		t.Error("first create: AlreadyExists = true, want false")
	}
	// 2 × (2 × 10.005 − 0.01) + 4.99 = 44.99
	if got, want := string(*first.OrderTotal), "44.99"; got != want {
		t.Errorf("total = %q, want %q", got, want)
	}
	if first.LineCount != 2 || *first.Status != erpv2ws.OrderStatusConfirmed || first.ExternalReference != "ord_a" || first.Currency != "EUR" {
		t.Errorf("response = %+v, want 2 lines, confirmed, ord_a, EUR", first)
	}

	again, err := create(ctx, c, salesOrder("ord_a"))
	if err != nil {
		t.Fatal(err)
	}
	if !again.AlreadyExists || again.SalesOrderNumber != first.SalesOrderNumber {
		t.Errorf("repeat: AlreadyExists=%v number=%q, want true and %q", again.AlreadyExists, again.SalesOrderNumber, first.SalesOrderNumber)
	}
	other, err := create(ctx, c, salesOrder("ord_b"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := other.SalesOrderNumber, "SO-2V-000002"; got != want {
		t.Errorf("second order number = %q, want %q", got, want)
	}

	got := listOrders(t, srv, "")
	want := []erpsim.OrderInfo{
		{Version: "v2", ExternalRef: "ord_a", ERPOrderNumber: "SO-2V-000001", CreateCalls: 2, Status: "confirmed", Total: 449900, Currency: "EUR", LineCount: 2, CreatedAt: now},
		{Version: "v2", ExternalRef: "ord_b", ERPOrderNumber: "SO-2V-000002", CreateCalls: 1, Status: "confirmed", Total: 449900, Currency: "EUR", LineCount: 2, CreatedAt: now},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("orders =\n%+v\nwant\n%+v", got, want)
	}
}

func TestConcurrentCreatesMakeOneOrder(t *testing.T) {
	sim, _, c := newSim(t, erpsim.Config{})
	const n = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		numbers = map[string]int{}
		fresh   int
	)
	for range n {
		wg.Go(func() {
			res, err := create(t.Context(), c, salesOrder("ord_race"))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			numbers[res.SalesOrderNumber]++
			if !res.AlreadyExists {
				fresh++
			}
		})
	}
	wg.Wait()
	if len(numbers) != 1 || fresh != 1 {
		t.Errorf("numbers = %v, fresh creates = %d; want one number and one fresh create", numbers, fresh)
	}
	orders := sim.Orders(erpsim.Filter{ExternalRef: "ord_race"})
	if len(orders) != 1 || orders[0].CreateCalls != n {
		t.Errorf("orders = %+v, want one with create_calls %d", orders, n)
	}
}

func TestUnknownSKUIsRefusedWithTypedFault(t *testing.T) {
	sim, _, c := newSim(t, erpsim.Config{})
	_, err := create(t.Context(), c, salesOrder("ord_x", "SKU-1001", "SKU-9999", "SKU-1003", "NOPE"))
	f := faultOf(t, err)
	if f.Code != "soap:Client" {
		t.Errorf("faultcode = %q, want soap:Client", f.Code)
	}
	if got, want := *f.Detail.ErrorCode, erpv2ws.ErrorCodeUNKNOWN_SKU; got != want {
		t.Errorf("ErrorCode = %q, want %q", got, want)
	}
	if !strings.Contains(f.Detail.Message, "SKU-9999") || !strings.Contains(f.String, "SKU-9999") {
		t.Errorf("message %q / faultstring %q does not name the sku", f.Detail.Message, f.String)
	}
	var lines []string
	for _, is := range f.Detail.Issue {
		lines = append(lines, fmt.Sprintf("%d:%s:%s", is.LineNumber, is.Sku, is.Field))
	}
	if got, want := strings.Join(lines, " "), "2:SKU-9999:Line[2].Sku 4:NOPE:Line[4].Sku"; got != want {
		t.Errorf("issues = %s, want %s", got, want)
	}
	if n := sim.OrderCount("v2"); n != 0 {
		t.Errorf("orders held = %d, want 0", n)
	}
}

func TestInvalidOrders(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*erpv2ws.SalesOrder)
		field string
	}{
		{"no external reference", func(so *erpv2ws.SalesOrder) { so.ExternalReference = "" }, "ExternalReference"},
		{"reference too long", func(so *erpv2ws.SalesOrder) { so.ExternalReference = strings.Repeat("x", 65) }, "ExternalReference"},
		{"no customer", func(so *erpv2ws.SalesOrder) { so.Customer = nil }, "Customer"},
		{"no ship-to", func(so *erpv2ws.SalesOrder) { so.ShipTo = nil }, "ShipTo"},
		{"bad country", func(so *erpv2ws.SalesOrder) { so.ShipTo.CountryCode = "Deutschland" }, "ShipTo.CountryCode"},
		{"bad bill-to city", func(so *erpv2ws.SalesOrder) { so.BillTo.City = " " }, "BillTo.City"},
		{"bad currency", func(so *erpv2ws.SalesOrder) { so.Currency = "eur" }, "Currency"},
		{"no lines", func(so *erpv2ws.SalesOrder) { so.Line = nil }, "Line"},
		{"zero quantity", func(so *erpv2ws.SalesOrder) { so.Line[1].Quantity = 0 }, "Line[2].Quantity"},
		{"float price", func(so *erpv2ws.SalesOrder) { so.Line[0].UnitPrice = money("1e3") }, "Line[1].UnitPrice"},
		{"five decimals", func(so *erpv2ws.SalesOrder) { so.Line[0].UnitPrice = money("1.00001") }, "Line[1].UnitPrice"},
		{"negative discount", func(so *erpv2ws.SalesOrder) { so.Line[0].Discount = money("-1") }, "Line[1].Discount"},
		{"discount above gross", func(so *erpv2ws.SalesOrder) { so.Line[0].Discount = money("20.02") }, "Line[1].Discount"},
		{"line numbering", func(so *erpv2ws.SalesOrder) { so.Line[1].LineNumber = 7 }, "Line[2].LineNumber"},
		{"overflowing line", func(so *erpv2ws.SalesOrder) {
			so.Line[0].UnitPrice, so.Line[0].Quantity = money("999999999999"), 1_000_000
		}, "Line[1]"},
		{"no shipping", func(so *erpv2ws.SalesOrder) { so.Shipping = nil }, "Shipping"},
		{"bad delivery date", func(so *erpv2ws.SalesOrder) { so.RequestedDeliveryDate = ptr(erpv2ws.CalendarDate("14.03.2025")) }, "RequestedDeliveryDate"},
		{"bad ordered-at", func(so *erpv2ws.SalesOrder) { so.OrderedAt = ptr(erpv2ws.Timestamp("2025-03-01 09:30")) }, "OrderedAt"},
		{"notes too long", func(so *erpv2ws.SalesOrder) { so.Notes = strings.Repeat("ü", 4001) }, "Notes"},
	}
	sim, _, c := newSim(t, erpsim.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			so := salesOrder("ord_invalid")
			tt.edit(so)
			_, err := create(t.Context(), c, so)
			f := faultOf(t, err)
			if got := *f.Detail.ErrorCode; got != erpv2ws.ErrorCodeINVALID_ORDER {
				t.Fatalf("ErrorCode = %q, want INVALID_ORDER (%s)", got, f.Detail.Message)
			}
			var fields []string
			for _, is := range f.Detail.Issue {
				fields = append(fields, is.Field)
			}
			if len(fields) != 1 || fields[0] != tt.field {
				t.Errorf("issue fields = %q, want [%s]", fields, tt.field)
			}
		})
	}
	if n := sim.OrderCount(""); n != 0 {
		t.Errorf("orders held = %d, want 0", n)
	}
}

func TestReadBack(t *testing.T) {
	sim, _, c := newSim(t, erpsim.Config{})
	ctx := t.Context()
	so := salesOrder("ord_read")
	created, err := create(ctx, c, so)
	if err != nil {
		t.Fatal(err)
	}

	got, err := c.GetSalesOrderContext(ctx, &erpv2ws.GetSalesOrder{ExternalReference: "ord_read"})
	if err != nil {
		t.Fatal(err)
	}
	if got.SalesOrderNumber != created.SalesOrderNumber || *got.OrderTotal != *created.OrderTotal || got.LineCount != 2 || got.CreatedAt == nil {
		t.Errorf("GetSalesOrder header = %+v, want the created order", got)
	}
	wantXML, _ := xml.Marshal(so)
	gotXML, _ := xml.Marshal(got.SalesOrder)
	if !bytes.Equal(gotXML, wantXML) {
		t.Errorf("order read back =\n%s\nwant\n%s", gotXML, wantXML)
	}

	st, err := c.GetSalesOrderStatusContext(ctx, &erpv2ws.GetSalesOrderStatus{ExternalReference: "ord_read"})
	if err != nil {
		t.Fatal(err)
	}
	if *st.Status != erpv2ws.OrderStatusConfirmed || st.SalesOrderNumber != created.SalesOrderNumber || st.Carrier != "" || st.ExpectedDeliveryDate != nil {
		t.Errorf("status = %+v, want confirmed without shipping data", st)
	}

	shipped := erpsim.OrderStatus{Status: erpsim.StatusShipped, Carrier: "DHL", TrackingNumber: "00340434161234567890", ExpectedDelivery: "2025-03-05"}
	if err := sim.SetStatus("v2", "ord_read", shipped); err != nil {
		t.Fatal(err)
	}
	st, err = c.GetSalesOrderStatusContext(ctx, &erpv2ws.GetSalesOrderStatus{ExternalReference: "ord_read"})
	if err != nil {
		t.Fatal(err)
	}
	if *st.Status != "shipped" || st.Carrier != "DHL" || st.TrackingNumber != shipped.TrackingNumber || *st.ExpectedDeliveryDate != "2025-03-05" {
		t.Errorf("status after SetStatus = %+v, want shipped by DHL", st)
	}
	if err := sim.SetStatus("v2", "ord_nope", shipped); !errors.Is(err, erpsim.ErrNotFound) {
		t.Errorf("SetStatus(unknown ref) = %v, want ErrNotFound", err)
	}
	if err := sim.SetStatus("v2", "ord_read", erpsim.OrderStatus{Status: "teleported"}); err == nil {
		t.Error("SetStatus(unknown status) = nil, want an error")
	}
}

func TestUnknownReferenceIsNotFound(t *testing.T) {
	_, _, c := newSim(t, erpsim.Config{})
	_, err := c.GetSalesOrderStatusContext(t.Context(), &erpv2ws.GetSalesOrderStatus{ExternalReference: "ord_nope"})
	if f := faultOf(t, err); *f.Detail.ErrorCode != erpv2ws.ErrorCodeNOT_FOUND || f.Code != "soap:Client" {
		t.Errorf("fault = %s %s, want soap:Client NOT_FOUND", f.Code, *f.Detail.ErrorCode)
	}
	_, err = c.GetSalesOrderContext(t.Context(), &erpv2ws.GetSalesOrder{ExternalReference: "ord_nope"})
	if f := faultOf(t, err); *f.Detail.ErrorCode != erpv2ws.ErrorCodeNOT_FOUND {
		t.Errorf("GetSalesOrder fault = %s, want NOT_FOUND", *f.Detail.ErrorCode)
	}
}

func TestUnknownOperationIsInvalidRequest(t *testing.T) {
	_, srv, _ := newSim(t, erpsim.Config{})
	body := `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
		`<CancelSalesOrder xmlns="urn:erpgate:erp:v2"><ExternalReference>x</ExternalReference></CancelSalesOrder></soap:Body></soap:Envelope>`
	res, err := http.Post(srv.URL+"/erp/v2", "text/xml; charset=utf-8", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	f := faultOf(t, &gsoap.HTTPError{StatusCode: res.StatusCode, ResponseBody: b})
	if *f.Detail.ErrorCode != erpv2ws.ErrorCodeINVALID_REQUEST {
		t.Errorf("ErrorCode = %s, want INVALID_REQUEST", *f.Detail.ErrorCode)
	}
}

func TestStoreIsBounded(t *testing.T) {
	sim, _, c := newSim(t, erpsim.Config{MaxOrders: 2})
	ctx := t.Context()
	for _, ref := range []string{"ord_1", "ord_2"} {
		if _, err := create(ctx, c, salesOrder(ref)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := create(ctx, c, salesOrder("ord_3"))
	if f := faultOf(t, err); f.Code != "soap:Server" || *f.Detail.ErrorCode != erpv2ws.ErrorCodeSERVICE_UNAVAILABLE {
		t.Errorf("create beyond MaxOrders: fault %s %s, want soap:Server SERVICE_UNAVAILABLE", f.Code, *f.Detail.ErrorCode)
	}
	// A repeat of a held order is still answered: it needs no room.
	if res, err := create(ctx, c, salesOrder("ord_1")); err != nil || !res.AlreadyExists {
		t.Errorf("repeat create when full = %+v, %v; want AlreadyExists", res, err)
	}
	if err := sim.Reset(""); err != nil {
		t.Fatal(err)
	}
	res, err := create(ctx, c, salesOrder("ord_3"))
	if err != nil {
		t.Fatal(err)
	}
	// Numbers are never reused, also across a reset.
	if res.SalesOrderNumber != "SO-2V-000003" {
		t.Errorf("number after reset = %q, want SO-2V-000003", res.SalesOrderNumber)
	}
}

func TestWSDLIsServedWithThisAddress(t *testing.T) {
	_, srv, _ := newSim(t, erpsim.Config{})
	for _, q := range []string{"?wsdl", "?WSDL"} {
		res, err := http.Get(srv.URL + "/erp/v2" + q)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", q, res.StatusCode)
		}
		var doc struct {
			Service struct {
				Port struct {
					Address struct {
						Location string `xml:"location,attr"`
					} `xml:"address"`
				} `xml:"port"`
			} `xml:"service"`
		}
		if err := xml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("served WSDL is not XML: %v", err)
		}
		if got, want := doc.Service.Port.Address.Location, srv.URL+"/erp/v2"; got != want {
			t.Errorf("soap:address location = %q, want %q", got, want)
		}
	}
	res, err := http.Get(srv.URL + "/erp/v2")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET without ?wsdl: status %d, want 405", res.StatusCode)
	}
}

func TestCatalog(t *testing.T) {
	_, srv, _ := newSim(t, erpsim.Config{})
	res, err := http.Get(srv.URL + "/sim/catalog")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got []erpsim.Product
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 20 || got[0].SKU != "SKU-1001" || got[19].SKU != "SKU-1020" {
		t.Errorf("catalog = %d products from %v, want SKU-1001 … SKU-1020", len(got), got[0])
	}
	low := 0
	for _, p := range got {
		if p.Stock < 5 {
			low++
		}
		if p.Price <= 0 || p.Name == "" || p.Supplier == "" {
			t.Errorf("product %+v lacks price, name or supplier", p)
		}
	}
	if low == 0 {
		t.Error("no product with low stock for backorder scenarios")
	}
}

func TestListOrdersFilters(t *testing.T) {
	_, srv, c := newSim(t, erpsim.Config{})
	for _, ref := range []string{"ord_1", "ord_2", "ord_3"} {
		if _, err := create(t.Context(), c, salesOrder(ref)); err != nil {
			t.Fatal(err)
		}
	}
	if got := listOrders(t, srv, "?version=v2&external_ref=ord_2"); len(got) != 1 || got[0].ERPOrderNumber != "SO-2V-000002" {
		t.Errorf("filtered = %+v, want ord_2 only", got)
	}
	if got := listOrders(t, srv, "?external_ref=ord_9"); len(got) != 0 {
		t.Errorf("unknown ref = %+v, want []", got)
	}
	res, err := http.Get(srv.URL + "/sim/orders?version=v9")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown version: status %d, want 400", res.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/sim/orders?version=v2", nil)
	if res, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE: status %d, want 204", res.StatusCode)
	}
	if got := listOrders(t, srv, ""); len(got) != 0 {
		t.Errorf("after DELETE: %d orders, want 0", len(got))
	}
}

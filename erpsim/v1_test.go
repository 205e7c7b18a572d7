package erpsim_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	gsoap "github.com/hooklift/gowsdl/soap"

	"erpgate/erpsim"
	"erpgate/soap/erpv1ws"
)

// v1Sim starts a simulator behind a real HTTP server and returns it with a
// generated v1 client pointed at it.
func v1Sim(t *testing.T, cfg erpsim.Config) (*erpsim.Sim, *httptest.Server, erpv1ws.OrderService) {
	t.Helper()
	sim := erpsim.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv, erpv1ws.NewOrderService(gsoap.NewClient(srv.URL + "/erp/v1"))
}

func v1Amt(s string) *erpv1ws.Amount { a := erpv1ws.Amount(s); return &a }

// v1Order returns a valid v1 order with one line per item.
func v1Order(ref string, items ...string) *erpv1ws.Order {
	if len(items) == 0 {
		items = []string{"SKU-1001", "SKU-1002"}
	}
	text := erpv1ws.Text4000("ERPGATE1 2/2 tail")
	o := &erpv1ws.Order{
		Reference:       ref,
		CustomerOrderNo: "WEB-1",
		CustomerName:    "Zoë Müller",
		DeliveryName:    "Zoë Müller",
		DeliveryAddress: "Straße 1, Hinterhaus, 10115 Berlin",
		DeliveryCountry: "DE",
		Currency:        "EUR",
		ShipVia:         "DHL Paket",
		ShippingCharge:  v1Amt("4.99"),
		Remarks:         "Notes: Bitte klingeln.\nERPGATE1 1/2 {\"h\":",
		OrderText:       []*erpv1ws.Text4000{&text},
	}
	for i, item := range items {
		o.Line = append(o.Line, &erpv1ws.OrderLine{LineNo: int32(i + 1), ItemNo: item, ItemText: "item " + item, Quantity: 2, NetPrice: v1Amt("10.01")})
	}
	return o
}

// v1FaultOf decodes the v1 fault in an error of the generated client.
type v1FaultBody struct {
	Code   string            `xml:"Body>Fault>faultcode"`
	String string            `xml:"Body>Fault>faultstring"`
	Detail *erpv1ws.ErpFault `xml:"Body>Fault>detail>ErpFault"`
}

func v1FaultOf(t *testing.T, err error) v1FaultBody {
	t.Helper()
	var he *gsoap.HTTPError
	if !errors.As(err, &he) {
		t.Fatalf("error %v (%T) is not an HTTP error carrying a fault", err, err)
	}
	if he.StatusCode != http.StatusInternalServerError {
		t.Fatalf("fault status = %d, want 500", he.StatusCode)
	}
	var f v1FaultBody
	if err := xml.Unmarshal(he.ResponseBody, &f); err != nil {
		t.Fatalf("decoding fault %q: %v", he.ResponseBody, err)
	}
	if f.Detail == nil || f.Detail.ErrorCode == nil {
		t.Fatalf("fault %q has no v1 ErpFault detail", he.ResponseBody)
	}
	return f
}

func v1List(t *testing.T, srv *httptest.Server, query string) []erpsim.OrderInfo {
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

// TestV1CreateIsNotIdempotent: every CreateOrder makes a new order; a
// repeat is a second element in /sim/orders with the same external_ref.
func TestV1CreateIsNotIdempotent(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	_, srv, c := v1Sim(t, erpsim.Config{Clock: func() time.Time { return now }})
	var numbers []string
	for range 2 {
		res, err := c.CreateOrderContext(t.Context(), &erpv1ws.CreateOrder{Order: v1Order("ord_rep")})
		if err != nil {
			t.Fatal(err)
		}
		// 2 lines × 2 × 10.01 + 4.99.
		if res.Reference != "ord_rep" || *res.Status != erpv1ws.OrderStatusENTERED || *res.OrderTotal != "45.03" ||
			res.Currency != "EUR" || res.LineCount != 2 {
			t.Errorf("CreateOrderResponse = %+v (status %v, total %v)", res, *res.Status, *res.OrderTotal)
		}
		numbers = append(numbers, res.OrderNumber)
	}
	if want := []string{"V1-000001", "V1-000002"}; !reflect.DeepEqual(numbers, want) {
		t.Errorf("order numbers = %v, want %v", numbers, want)
	}
	got := v1List(t, srv, "?version=v1&external_ref=ord_rep")
	if len(got) != 2 {
		t.Fatalf("/sim/orders lists %d v1 orders for ord_rep, want 2: %+v", len(got), got)
	}
	for i, o := range got {
		if o.Version != "v1" || o.ExternalRef != "ord_rep" || o.ERPOrderNumber != numbers[i] || o.CreateCalls != 1 ||
			o.Status != "confirmed" || o.Total.String() != "45.03" || o.LineCount != 2 || !o.CreatedAt.Equal(now) {
			t.Errorf("order %d = %+v", i, o)
		}
	}
}

// TestV1StoreIsSeparateFromV2: the two versions model two systems.
func TestV1StoreIsSeparateFromV2(t *testing.T) {
	sim, srv, c := v1Sim(t, erpsim.Config{})
	if _, err := c.CreateOrderContext(t.Context(), &erpv1ws.CreateOrder{Order: v1Order("ord_sep")}); err != nil {
		t.Fatal(err)
	}
	if n := sim.OrderCount("v2"); n != 0 {
		t.Errorf("v2 holds %d orders after a v1 create, want 0", n)
	}
	if got := v1List(t, srv, "?version=v2&external_ref=ord_sep"); len(got) != 0 {
		t.Errorf("v2 lists %+v", got)
	}
	if got := v1List(t, srv, "?external_ref=ord_sep"); len(got) != 1 || got[0].Version != "v1" {
		t.Errorf("all versions list %+v, want the one v1 order", got)
	}
	if err := sim.Reset("v2"); err != nil {
		t.Fatal(err)
	}
	if n := sim.OrderCount("v1"); n != 1 {
		t.Errorf("v1 holds %d orders after resetting v2, want 1", n)
	}
}

// TestV1FindAndStatus: FindOrderByReference lists every order, oldest first,
// with the order as entered on request; GetOrderStatus polls by number.
func TestV1FindAndStatus(t *testing.T) {
	sim, _, c := v1Sim(t, erpsim.Config{})
	sent := v1Order("ord_find", "SKU-1003")
	for range 2 {
		if _, err := c.CreateOrderContext(t.Context(), &erpv1ws.CreateOrder{Order: sent}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateOrderContext(t.Context(), &erpv1ws.CreateOrder{Order: v1Order("ord_other")}); err != nil {
		t.Fatal(err)
	}

	res, err := c.FindOrderByReferenceContext(t.Context(), &erpv1ws.FindOrderByReference{Reference: "ord_find"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Match) != 2 || res.Match[0].OrderNumber != "V1-000001" || res.Match[1].OrderNumber != "V1-000002" {
		t.Fatalf("matches = %+v, want V1-000001 and V1-000002", res.Match)
	}
	if m := res.Match[0]; m.Order != nil || m.Reference != "ord_find" || *m.OrderTotal != "25.01" || m.LineCount != 1 || m.EnteredAt == nil {
		t.Errorf("match without details = %+v", m)
	}
	res, err = c.FindOrderByReferenceContext(t.Context(), &erpv1ws.FindOrderByReference{Reference: "ord_find", IncludeDetails: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Match[0].Order, sent) {
		t.Errorf("order as entered = %+v, want %+v", res.Match[0].Order, sent)
	}
	res, err = c.FindOrderByReferenceContext(t.Context(), &erpv1ws.FindOrderByReference{Reference: "ord_none"})
	if err != nil || len(res.Match) != 0 {
		t.Errorf("find of an unknown reference = %+v, %v; want no match and no fault", res, err)
	}

	st, err := c.GetOrderStatusContext(t.Context(), &erpv1ws.GetOrderStatus{OrderNumber: "V1-000002"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Reference != "ord_find" || *st.Status != erpv1ws.OrderStatusENTERED || st.StatusDate == nil || st.Carrier != "" {
		t.Errorf("status = %+v", st)
	}
	if err := sim.SetStatus("v1", "ord_find", erpsim.OrderStatus{Status: erpsim.StatusShipped, Carrier: "DHL", TrackingNumber: "00340", ExpectedDelivery: "2025-03-05"}); err != nil {
		t.Fatal(err)
	}
	st, err = c.GetOrderStatusContext(t.Context(), &erpv1ws.GetOrderStatus{OrderNumber: "V1-000001"})
	if err != nil {
		t.Fatal(err)
	}
	if *st.Status != erpv1ws.OrderStatusSHIPPED || st.Carrier != "DHL" || st.TrackingNo != "00340" || st.PlannedDelivery == nil || *st.PlannedDelivery != "2025-03-05" {
		t.Errorf("status after shipping = %+v", st)
	}
	for _, number := range []string{"V1-000009", "V2-000001", "V1-", "V1-x", "nope"} {
		_, err := c.GetOrderStatusContext(t.Context(), &erpv1ws.GetOrderStatus{OrderNumber: number})
		if f := v1FaultOf(t, err); f.Code != "soap:Client" || *f.Detail.ErrorCode != erpv1ws.ErrorCodeNOT_FOUND {
			t.Errorf("status of %q: fault %+v, want Client NOT_FOUND", number, f)
		}
	}
	// Numbers stay valid after a reset of the store: the search does not
	// rely on positions.
	if err := sim.Reset("v1"); err != nil {
		t.Fatal(err)
	}
	r, err := c.CreateOrderContext(t.Context(), &erpv1ws.CreateOrder{Order: v1Order("ord_after")})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := c.GetOrderStatusContext(t.Context(), &erpv1ws.GetOrderStatus{OrderNumber: r.OrderNumber}); err != nil || st.Reference != "ord_after" {
		t.Errorf("status of %s after reset = %+v, %v", r.OrderNumber, st, err)
	}
}

func TestV1UnknownItemIsRefused(t *testing.T) {
	sim, _, c := v1Sim(t, erpsim.Config{})
	_, err := c.CreateOrderContext(t.Context(), &erpv1ws.CreateOrder{Order: v1Order("ord_bad", "SKU-1001", "SKU-9999", "NOPE")})
	f := v1FaultOf(t, err)
	if f.Code != "soap:Client" || *f.Detail.ErrorCode != erpv1ws.ErrorCodeUNKNOWN_SKU {
		t.Fatalf("fault = %+v, want Client UNKNOWN_SKU", f)
	}
	want := []*erpv1ws.Issue{
		{Field: "Line[2].ItemNo", LineNo: 2, ItemNo: "SKU-9999", Text: "unknown item SKU-9999"},
		{Field: "Line[3].ItemNo", LineNo: 3, ItemNo: "NOPE", Text: "unknown item NOPE"},
	}
	if !reflect.DeepEqual(f.Detail.Issue, want) {
		t.Errorf("issues = %+v, want %+v", f.Detail.Issue, want)
	}
	if n := sim.OrderCount("v1"); n != 0 {
		t.Errorf("a refused order was stored (%d orders)", n)
	}
}

func TestV1InvalidOrders(t *testing.T) {
	_, _, c := v1Sim(t, erpsim.Config{})
	long := func(n int) string { return strings.Repeat("é", n) }
	text := func(s string) *erpv1ws.Text4000 { x := erpv1ws.Text4000(s); return &x }
	for name, c2 := range map[string]struct {
		mutate func(o *erpv1ws.Order)
		field  string
	}{
		"no reference":       {func(o *erpv1ws.Order) { o.Reference = "" }, "Reference"},
		"long reference":     {func(o *erpv1ws.Order) { o.Reference = long(erpv1ws.MaxReferenceLen + 1) }, "Reference"},
		"long customer name": {func(o *erpv1ws.Order) { o.CustomerName = long(erpv1ws.MaxCustomerNameLen + 1) }, "CustomerName"},
		"long address":       {func(o *erpv1ws.Order) { o.DeliveryAddress = long(erpv1ws.MaxDeliveryAddressLen + 1) }, "DeliveryAddress"},
		"bad country":        {func(o *erpv1ws.Order) { o.DeliveryCountry = "de" }, "DeliveryCountry"},
		"bad currency":       {func(o *erpv1ws.Order) { o.Currency = "EURO" }, "Currency"},
		"long remarks":       {func(o *erpv1ws.Order) { o.Remarks = long(erpv1ws.MaxRemarksLen + 1) }, "Remarks"},
		"long order text":    {func(o *erpv1ws.Order) { o.OrderText = []*erpv1ws.Text4000{text(long(erpv1ws.MaxOrderTextLen + 1))} }, "OrderText[1]"},
		"too many order texts": {func(o *erpv1ws.Order) {
			o.OrderText = nil
			for range erpv1ws.MaxOrderTexts + 1 {
				o.OrderText = append(o.OrderText, text("x"))
			}
		}, "OrderText"},
		"no lines":           {func(o *erpv1ws.Order) { o.Line = nil }, "Line"},
		"line numbering":     {func(o *erpv1ws.Order) { o.Line[1].LineNo = 7 }, "Line[2].LineNo"},
		"long item text":     {func(o *erpv1ws.Order) { o.Line[0].ItemText = long(erpv1ws.MaxItemTextLen + 1) }, "Line[1].ItemText"},
		"zero quantity":      {func(o *erpv1ws.Order) { o.Line[0].Quantity = 0 }, "Line[1].Quantity"},
		"three decimals":     {func(o *erpv1ws.Order) { o.Line[0].NetPrice = v1Amt("1.005") }, "Line[1].NetPrice"},
		"negative price":     {func(o *erpv1ws.Order) { o.Line[0].NetPrice = v1Amt("-1") }, "Line[1].NetPrice"},
		"no shipping charge": {func(o *erpv1ws.Order) { o.ShippingCharge = nil }, "ShippingCharge"},
	} {
		t.Run(name, func(t *testing.T) {
			o := v1Order("ord_inv")
			c2.mutate(o)
			_, err := c.CreateOrderContext(t.Context(), &erpv1ws.CreateOrder{Order: o})
			f := v1FaultOf(t, err)
			if f.Code != "soap:Client" || *f.Detail.ErrorCode != erpv1ws.ErrorCodeINVALID_ORDER {
				t.Fatalf("fault = %+v, want Client INVALID_ORDER", f)
			}
			var fields []string
			for _, is := range f.Detail.Issue {
				fields = append(fields, is.Field)
			}
			if len(fields) == 0 || fields[0] != c2.field {
				t.Errorf("issue fields = %v, want %s first", fields, c2.field)
			}
		})
	}
}

// TestV1SharesFaultInjection: v1 answers injected faults in its own
// detail format, and can be taken down alone.
func TestV1SharesFaultInjection(t *testing.T) {
	sim, _, c := v1Sim(t, erpsim.Config{Faults: erpsim.Faults{ErrorRate: 1}})
	_, err := c.FindOrderByReferenceContext(t.Context(), &erpv1ws.FindOrderByReference{Reference: "x"})
	if f := v1FaultOf(t, err); f.Code != "soap:Server" || *f.Detail.ErrorCode != erpv1ws.ErrorCodeSERVICE_BUSY {
		t.Errorf("fault = %+v, want Server SERVICE_BUSY", f)
	}
	if err := sim.SetFaults(erpsim.Faults{}); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetVersionFaults("v1", erpsim.Faults{Down: true}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateOrderContext(t.Context(), &erpv1ws.CreateOrder{Order: v1Order("ord_down")})
	var he *gsoap.HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("create on a downed v1 = %v, want 503", err)
	}
	if n := sim.OrderCount("v1"); n != 0 {
		t.Errorf("a downed v1 stored %d orders", n)
	}
	if f, _ := sim.VersionFaults("v2"); f.Down {
		t.Error("taking v1 down took v2 down")
	}
	// A lost reply: v1 did the work, so a blind retry would make a second
	// order — the case the v1 adapter's lookup-before-create exists for.
	if err := sim.SetVersionFaults("v1", erpsim.Faults{LostReplyRate: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateOrderContext(t.Context(), &erpv1ws.CreateOrder{Order: v1Order("ord_lost")}); err == nil {
		t.Fatal("create with a lost reply succeeded")
	}
	if n := sim.OrderCount("v1"); n != 1 {
		t.Errorf("orders after a lost reply = %d, want 1", n)
	}
}

func TestV1WSDLIsServed(t *testing.T) {
	_, srv, _ := v1Sim(t, erpsim.Config{})
	res, err := http.Get(srv.URL + "/erp/v1?wsdl")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`targetNamespace="urn:erpgate:erp:v1"`)) {
		t.Fatalf("GET /erp/v1?wsdl: %d %.200s", res.StatusCode, b)
	}
	if want := `location="` + srv.URL + `/erp/v1"`; !bytes.Contains(b, []byte(want)) {
		t.Errorf("WSDL lacks %s", want)
	}
}

// TestV1MessagesMatchTheWSDLSchema checks erpv1.wsdl, the generated types
// and the simulator against each other with xmllint.
func TestV1MessagesMatchTheWSDLSchema(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not installed")
	}
	dir := t.TempDir()
	xsd := filepath.Join(dir, "erpv1.xsd")
	start := bytes.Index(erpv1ws.WSDL, []byte("<xsd:schema "))
	end := bytes.Index(erpv1ws.WSDL, []byte("</xsd:schema>"))
	schema := strings.Replace(string(erpv1ws.WSDL[start:end+len("</xsd:schema>")]), "<xsd:schema ",
		`<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:erpgate:erp:v1" `, 1)
	if err := os.WriteFile(xsd, []byte(schema), 0o600); err != nil {
		t.Fatal(err)
	}
	validate := func(name string, doc []byte) {
		t.Helper()
		f := filepath.Join(dir, name+".xml")
		if err := os.WriteFile(f, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(xmllint, "--noout", "--schema", xsd, f).CombinedOutput(); err != nil {
			t.Errorf("%s does not match the schema: %v\n%s\n%s", name, err, out, doc)
		}
	}
	inner := func(doc []byte, path string) []byte {
		t.Helper()
		var env struct {
			Body struct {
				Inner []byte `xml:",innerxml"`
			} `xml:"Body"`
		}
		if err := xml.Unmarshal(doc, &env); err != nil {
			t.Fatalf("response %q: %v", doc, err)
		}
		b := bytes.TrimSpace(env.Body.Inner)
		if path == "" {
			return b
		}
		var f struct {
			Detail struct {
				Inner []byte `xml:",innerxml"`
			} `xml:"detail"`
		}
		if err := xml.Unmarshal(b, &f); err != nil {
			t.Fatalf("fault %q: %v", b, err)
		}
		return bytes.TrimSpace(f.Detail.Inner)
	}
	sim, srv, _ := v1Sim(t, erpsim.Config{})
	call := func(name string, body any) []byte {
		t.Helper()
		req, err := xml.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		validate(name, req)
		env := `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + string(req) + `</soap:Body></soap:Envelope>`
		res, err := http.Post(srv.URL+"/erp/v1", "text/xml; charset=utf-8", strings.NewReader(env))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return b
	}
	validate("CreateOrderResponse", inner(call("CreateOrder", &erpv1ws.CreateOrder{Order: v1Order("ord_schema")}), ""))
	validate("FindOrderByReferenceResponse", inner(call("FindOrderByReference", &erpv1ws.FindOrderByReference{Reference: "ord_schema", IncludeDetails: true}), ""))
	validate("FindOrderByReferenceResponse-none", inner(call("FindOrderByReference-none", &erpv1ws.FindOrderByReference{Reference: "nope"}), ""))
	validate("GetOrderStatusResponse", inner(call("GetOrderStatus", &erpv1ws.GetOrderStatus{OrderNumber: "V1-000001"}), ""))
	if err := sim.SetStatus("v1", "ord_schema", erpsim.OrderStatus{Status: "delivered", Carrier: "DHL", TrackingNumber: "1", ExpectedDelivery: "2025-03-05"}); err != nil {
		t.Fatal(err)
	}
	validate("GetOrderStatusResponse-delivered", inner(call("GetOrderStatus", &erpv1ws.GetOrderStatus{OrderNumber: "V1-000001"}), ""))
	validate("ErpFault-unknown", inner(call("CreateOrder-unknown", &erpv1ws.CreateOrder{Order: v1Order("ord_u", "SKU-0")}), "detail"))
	bad := v1Order("ord_i")
	bad.Currency = "eur" // fits the schema, not the ERP
	validate("ErpFault-invalid", inner(call("CreateOrder-invalid", &erpv1ws.CreateOrder{Order: bad}), "detail"))
	validate("ErpFault-not-found", inner(call("GetOrderStatus-missing", &erpv1ws.GetOrderStatus{OrderNumber: "V1-999999"}), "detail"))
	if err := sim.SetFaults(erpsim.Faults{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	validate("ErpFault-busy", inner(call("GetOrderStatus-busy", &erpv1ws.GetOrderStatus{OrderNumber: "V1-000001"}), "detail"))
}

// FuzzV1 feeds arbitrary SOAP bodies to the v1 endpoint: the simulator must
// answer every one with a response or a fault, never panic, and never store
// an order it refused.
func FuzzV1(f *testing.F) {
	valid, _ := xml.Marshal(&erpv1ws.CreateOrder{Order: v1Order("ord_fuzz")})
	f.Add(string(valid))
	f.Add(strings.Replace(string(valid), "10.01", "1e999", 1))
	f.Add(strings.Replace(string(valid), "<Quantity>2</Quantity>", "<Quantity>2147483647</Quantity>", 1))
	f.Add(`<FindOrderByReference xmlns="urn:erpgate:erp:v1"><Reference>ord_fuzz</Reference><IncludeDetails>true</IncludeDetails></FindOrderByReference>`)
	f.Add(`<GetOrderStatus xmlns="urn:erpgate:erp:v1"><OrderNumber>V1-000001</OrderNumber></GetOrderStatus>`)
	f.Add(`<CreateOrder xmlns="urn:erpgate:erp:v1"><Order><Line/><OrderText/></Order></CreateOrder>`)
	sim := erpsim.New(erpsim.Config{})
	f.Fuzz(func(t *testing.T, body string) {
		before := sim.OrderCount("v1")
		env := `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + body + `</soap:Body></soap:Envelope>`
		req := httptest.NewRequest(http.MethodPost, "/erp/v1", strings.NewReader(env))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
		case http.StatusInternalServerError, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if sim.OrderCount("v1") != before {
				t.Fatalf("a refused request (%d) stored an order: %s", rec.Code, rec.Body)
			}
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
	})
}

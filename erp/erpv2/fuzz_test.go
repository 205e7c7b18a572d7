package erpv2

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"regexp"
	"strings"
	"testing"

	gsoap "github.com/hooklift/gowsdl/soap"

	"erpgate/erp"
	"erpgate/order"
	"erpgate/order/ordertest"
	"erpgate/soap/erpv2ws"
)

var (
	skuReason   = regexp.MustCompile(`^(.+) (?:is|are) not sold by us$`)
	fieldReason = regexp.MustCompile(`^the ERP cannot accept this order: (.+)$`)
	canonPath   = regexp.MustCompile(`^[a-z_]+(\[\d+\])?(\.[a-z_0-9]+)?$`)
)

// FuzzClassify feeds arbitrary ERP error answers to the classification:
// it must never panic, every result is classified, only the three business
// codes are permanent, and Reason is one of our own texts — built from our
// own order's skus or canonical field names, never from the answer.
func FuzzClassify(f *testing.F) {
	env := func(inner string) string {
		return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>x</faultstring><detail>` +
			inner + `</detail></soap:Fault></soap:Body></soap:Envelope>`
	}
	f.Add(500, env(`<ErpFault xmlns="urn:erpgate:erp:v2"><ErrorCode>UNKNOWN_SKU</ErrorCode><Message>unknown sku EVIL</Message><Issue><Field>Line[2].Sku</Field><LineNumber>2</LineNumber><Sku>EVIL</Sku><Text>t</Text></Issue></ErpFault>`))
	f.Add(500, env(`<ErpFault xmlns="urn:erpgate:erp:v2"><ErrorCode>INVALID_ORDER</ErrorCode><Message>m</Message><Issue><Field>Line[1].Quantity&lt;script&gt;</Field><Text>t</Text></Issue><Issue><Field>ShipTo.City</Field><Text>t</Text></Issue></ErpFault>`))
	f.Add(500, env(`<ErpFault xmlns="urn:erpgate:erp:v2"><ErrorCode>NOT_FOUND</ErrorCode><Message>m</Message></ErpFault>`))
	f.Add(500, env(`<ErpFault xmlns="urn:erpgate:erp:v2"><ErrorCode>UNKNOWN_SKU</ErrorCode><Message>m</Message><Issue><Field>Line[99999999999].Sku</Field><LineNumber>-4</LineNumber><Text>t</Text></Issue></ErpFault>`))
	f.Add(503, "<html>down</html>")
	f.Add(500, "")
	o := ordertest.Valid()
	f.Fuzz(func(t *testing.T, status int, body string) {
		e := classify(context.Background(), OpCreateSalesOrder, o, &gsoap.HTTPError{StatusCode: status, ResponseBody: []byte(body)})
		if e == nil || (e.Kind != erp.KindTransient && e.Kind != erp.KindPermanent) {
			t.Fatalf("unclassified: %+v", e)
		}
		if e.Kind == erp.KindPermanent && e.Code != CodeUnknownSKU && e.Code != CodeInvalidOrder && e.Code != CodeNotFound {
			t.Fatalf("permanent with code %q", e.Code)
		}
		switch r := e.Reason; r {
		case reasonUnavailable, reasonBadAnswer, "the ERP has no order with this reference",
			"an item in this order is not sold by us", "the ERP cannot accept this order's data":
		default:
			if m := skuReason.FindStringSubmatch(r); m != nil {
				for _, sku := range splitList(m[1]) {
					if !hasSKU(o.Lines, sku) {
						t.Fatalf("Reason %q names %q, which is not in our order", r, sku)
					}
				}
			} else if m := fieldReason.FindStringSubmatch(r); m != nil {
				for _, p := range splitList(m[1]) {
					if !canonPath.MatchString(p) && !strings.HasSuffix(p, " more") {
						t.Fatalf("Reason %q names %q, which is not a canonical field", r, p)
					}
				}
			} else {
				t.Fatalf("Reason %q is not one of ours", r)
			}
		}
	})
}

// FuzzFromV2 feeds arbitrary GetSalesOrder answers to the translation back:
// no panic, and what it accepts survives another round trip unchanged.
func FuzzFromV2(f *testing.F) {
	b, _ := xml.Marshal(&erpv2ws.GetSalesOrderResponse{SalesOrder: toV2(ordertest.Valid())})
	f.Add(string(b))
	f.Add(strings.Replace(string(b), "34.95", "+.5", 1))
	f.Fuzz(func(t *testing.T, body string) {
		var res erpv2ws.GetSalesOrderResponse
		if xml.Unmarshal([]byte(body), &res) != nil || res.SalesOrder == nil {
			return
		}
		o, err := fromV2(res.SalesOrder)
		if err != nil {
			return
		}
		again, err := fromV2(toV2(o))
		if err != nil {
			t.Fatalf("fromV2(toV2(%+v)): %v", o, err)
		}
		if o.CreatedAt.Equal(again.CreatedAt) {
			again.CreatedAt = o.CreatedAt
		}
		if b1, b2 := mustJSON(t, o), mustJSON(t, again); b1 != b2 {
			t.Fatalf("second round trip changed the order:\n%s\n%s", b1, b2)
		}
	})
}

func splitList(s string) []string {
	s = strings.ReplaceAll(s, " and ", ", ")
	return strings.Split(s, ", ")
}

func hasSKU(lines []order.Line, sku string) bool {
	for _, l := range lines {
		if l.SKU == sku {
			return true
		}
	}
	return false
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

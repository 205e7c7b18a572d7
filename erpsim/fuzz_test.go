package erpsim_test

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"erpgate/erpsim"
	"erpgate/soap/erpv2ws"
)

// FuzzV2 feeds arbitrary SOAP bodies to the v2 endpoint: the simulator must
// answer every one with a response or a fault, never panic, and never store
// an order it refused.
func FuzzV2(f *testing.F) {
	valid, _ := xml.Marshal(&erpv2ws.CreateSalesOrder{SalesOrder: salesOrder("ord_fuzz")})
	f.Add(string(valid))
	f.Add(strings.Replace(string(valid), "10.005", "1e999", 1))
	f.Add(strings.Replace(string(valid), "<Quantity>2</Quantity>", "<Quantity>9223372036854775807</Quantity>", 1))
	f.Add(`<GetSalesOrder xmlns="urn:erpgate:erp:v2"><ExternalReference>ord_fuzz</ExternalReference></GetSalesOrder>`)
	f.Add(`<GetSalesOrderStatus xmlns="urn:erpgate:erp:v2"/>`)
	f.Add(`<CreateSalesOrder xmlns="urn:erpgate:erp:v2"><SalesOrder><Line/><Line/></SalesOrder></CreateSalesOrder>`)
	sim := erpsim.New(erpsim.Config{})
	f.Fuzz(func(t *testing.T, body string) {
		before := sim.OrderCount("")
		env := `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + body + `</soap:Body></soap:Envelope>`
		req := httptest.NewRequest(http.MethodPost, "/erp/v2", strings.NewReader(env))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
		case http.StatusInternalServerError, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if sim.OrderCount("") != before {
				t.Fatalf("a refused request (%d) stored an order: %s", rec.Code, rec.Body)
			}
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
	})
}

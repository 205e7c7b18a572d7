package erpv2

import (
	"context"
	"encoding/xml"
	"strconv"
	"strings"

	"erpgate/erp"
	"erpgate/erp/internal/soapcall"
	"erpgate/order"
	"erpgate/soap/erpv2ws"
)

// Codes of erp.Error this adapter returns (see the package comment).
const (
	CodeUnknownSKU         = soapcall.CodeUnknownSKU
	CodeInvalidOrder       = soapcall.CodeInvalidOrder
	CodeNotFound           = soapcall.CodeNotFound
	CodeServiceBusy        = soapcall.CodeServiceBusy
	CodeServiceUnavailable = soapcall.CodeServiceUnavailable
	CodeInvalidRequest     = soapcall.CodeInvalidRequest
	CodeSOAPFault          = soapcall.CodeSOAPFault
	CodeHTTPStatus         = soapcall.CodeHTTPStatus
	CodeTimeout            = soapcall.CodeTimeout
	CodeCanceled           = soapcall.CodeCanceled
	CodeUnreachable        = soapcall.CodeUnreachable
	CodeBadResponse        = soapcall.CodeBadResponse
)

// Shop-safe reasons of the transient kinds. A transient failure is retried,
// so a shop sees it at most as "still being delivered".
const (
	reasonUnavailable = soapcall.ReasonUnavailable
	reasonBadAnswer   = soapcall.ReasonBadAnswer
)

// classify turns a failed call into an *erp.Error. ctx is the caller's
// context (not the per-call one) and o the order being created, if any:
// reasons about the order are written from our own data.
func classify(ctx context.Context, op string, o *order.Order, err error) *erp.Error {
	return soapcall.Classify(ctx, op, err, errResponseTooLarge, func(status int, body []byte) *erp.Error {
		if f := parseFault(body); f != nil {
			return soapcall.ClassifyFault(op, o, f.shared(status), canonicalField)
		}
		return nil
	})
}

// soapFault is a SOAP 1.1 fault with v2's typed detail.
type soapFault struct {
	Code   string            `xml:"faultcode"`
	String string            `xml:"faultstring"`
	Detail *erpv2ws.ErpFault `xml:"detail>ErpFault"`
}

// parseFault reads the SOAP 1.1 fault in an error answer, or returns nil.
func parseFault(body []byte) *soapFault {
	var env struct {
		Body struct {
			Fault *soapFault `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
	}
	if xml.Unmarshal(body, &env) != nil {
		return nil
	}
	return env.Body.Fault
}

// shared reads a v2 fault with its typed detail into the shared form.
func (f *soapFault) shared(status int) *soapcall.Fault {
	sf := &soapcall.Fault{Status: status, Code: f.Code, String: f.String}
	if f.Detail != nil && f.Detail.ErrorCode != nil {
		sf.ErrorCode, sf.Message, sf.Issues = string(*f.Detail.ErrorCode), f.Detail.Message, issuesOf(f.Detail.Issue)
	}
	return sf
}

// issuesOf turns v2's issues into soapcall's, keeping nil ones in place
// (the operator's message counts them).
func issuesOf(in []*erpv2ws.Issue) []*soapcall.Issue {
	out := make([]*soapcall.Issue, len(in))
	for i, is := range in {
		if is != nil {
			out[i] = &soapcall.Issue{Field: is.Field, Line: int(is.LineNumber), Text: is.Text}
		}
	}
	return out
}

// v2Fields maps v2 field paths to canonical JSON paths.
var v2Fields = map[string]string{
	"ExternalReference":       "id",
	"SalesChannel":            "shop_id",
	"CustomerOrderReference":  "external_id",
	"OrderedAt":               "created_at",
	"Customer":                "customer",
	"Customer.CustomerNumber": "customer.id",
	"Customer.Name":           "customer.name",
	"Customer.Email":          "customer.email",
	"Customer.Phone":          "customer.phone",
	"ShipTo":                  "shipping_address",
	"BillTo":                  "billing_address",
	"Currency":                "currency",
	"Line":                    "lines",
	"Shipping":                "shipping",
	"Shipping.Method":         "shipping.method",
	"Shipping.Price":          "shipping.price",
	"RequestedDeliveryDate":   "requested_delivery_date",
	"Notes":                   "notes",
}

var v2AddressFields = map[string]string{
	"Name": "name", "Street1": "line1", "Street2": "line2", "City": "city",
	"PostalCode": "postal_code", "Region": "region", "CountryCode": "country",
}

var v2LineFields = map[string]string{
	"LineNumber": "", "Sku": "sku", "Description": "description", "Quantity": "quantity",
	"UnitPrice": "unit_price", "Discount": "discount",
}

// canonicalField maps a v2 field path ("Line[3].UnitPrice", "ShipTo.City")
// to the canonical one ("lines[2].unit_price", "shipping_address.city").
// Paths it does not know are not mapped, so no ERP text gets through.
func canonicalField(f string) (string, bool) {
	if c, ok := v2Fields[f]; ok {
		return c, true
	}
	head, tail, _ := strings.Cut(f, ".")
	switch head {
	case "ShipTo", "BillTo":
		if c, ok := v2AddressFields[tail]; ok {
			return v2Fields[head] + "." + c, true
		}
		return "", false
	}
	n, ok := soapcall.LineOf(head)
	if !ok {
		return "", false
	}
	path := "lines[" + strconv.Itoa(n-1) + "]"
	if tail == "" {
		return path, true
	}
	c, ok := v2LineFields[tail]
	switch {
	case !ok:
		return "", false
	case c == "":
		return path, true
	default:
		return path + "." + c, true
	}
}

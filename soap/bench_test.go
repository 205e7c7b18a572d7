package soap

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"erpgate"
)

// orderEnvelope is a SubmitOrder request of n lines as a shop's toolkit
// would send it (prefix declared on Envelope, WS-Security header).
func orderEnvelope(n int) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<soapenv:Envelope xmlns:soapenv="` + NS11 + `" xmlns:ord="urn:erpgate:test">`)
	b.WriteString(strings.ReplaceAll(wsseHeader, "soap:", "soapenv:"))
	b.WriteString(`<soapenv:Body><ord:SubmitOrder><ord:Order><ord:ExternalId>WEB-100234</ord:ExternalId><ord:Currency>EUR</ord:Currency>`)
	b.WriteString(`<ord:Notes>Please ring twice &amp; leave at the door</ord:Notes>`)
	for i := range n {
		fmt.Fprintf(&b, `<ord:Line><ord:Sku>SKU-%04d</ord:Sku><ord:Quantity>%d</ord:Quantity><ord:UnitPrice>%d.99</ord:UnitPrice></ord:Line>`, 1001+i%20, 1+i%3, 10+i)
	}
	b.WriteString(`</ord:Order></ord:SubmitOrder></soapenv:Body></soapenv:Envelope>`)
	return []byte(b.String())
}

// rewindBody lets one *http.Request be read again and again without
// allocating a new reader per iteration.
type rewindBody struct{ bytes.Reader }

func (*rewindBody) Close() error { return nil }

func benchRequest(doc []byte) (*http.Request, *rewindBody) {
	r := httptest.NewRequest(http.MethodPost, "/soap/orders", nil)
	r.Header.Set("Content-Type", ct11)
	r.Header.Set("SOAPAction", `"urn:erpgate:test#SubmitOrder"`)
	body := &rewindBody{}
	r.Body, r.ContentLength = body, int64(len(doc))
	return r, body
}

func BenchmarkReadRequest(b *testing.B) {
	for _, lines := range []int{5, 50, 500} {
		doc := orderEnvelope(lines)
		b.Run(fmt.Sprintf("lines=%d", lines), func(b *testing.B) {
			r, body := benchRequest(doc)
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				body.Reset(doc)
				if _, err := ReadRequest(r, DefaultLimits()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadRequestAndDecode(b *testing.B) {
	for _, lines := range []int{5, 50} {
		doc := orderEnvelope(lines)
		b.Run(fmt.Sprintf("lines=%d", lines), func(b *testing.B) {
			r, body := benchRequest(doc)
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				body.Reset(doc)
				req, err := ReadRequest(r, DefaultLimits())
				if err != nil {
					b.Fatal(err)
				}
				var in testSubmitOrder
				if err := req.Decode(&in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the writer, not a recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header       { return d.h }
func (*discardWriter) WriteHeader(int)             {}
func (*discardWriter) Write(p []byte) (int, error) { return io.Discard.Write(p) }

func BenchmarkWriteResponse(b *testing.B) {
	w := &discardWriter{h: http.Header{}}
	resp := &testSubmitOrderResponse{OrderID: "ord_01JD5Q7K3M9V2X4N6P8R0T2W4Y", Status: "accepted"}
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteResponse(w, V11, resp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteFault(b *testing.B) {
	w := &discardWriter{h: http.Header{}}
	f := FaultFromError(&erpgate.Error{Code: erpgate.Invalid, Message: "the order is invalid",
		Problems: []erpgate.Problem{{Field: "lines[0].sku", Message: "required"}, {Field: "currency", Message: "not ISO 4217"}}})
	b.ReportAllocs()
	for b.Loop() {
		WriteFault(w, V11, f)
	}
}

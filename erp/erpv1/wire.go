package erpv1

import (
	"context"
	"encoding/xml"

	"erpgate/erp/internal/soapcall"
	"erpgate/soap/erpv1ws"
)

// The calls of every delivery — the lookup before a create and the create —
// go their own way (soapcall.Envelope, soapcall.Client): their requests are
// written by hand, byte for byte what gowsdl's client marshals for the
// generated request types (TestEnvelopesMatchMarshal), and sent as gowsdl
// does; their answers are read with soapcall.ScanResponse when they are in
// the plain form, else by soapcall.Decode as gowsdl reads them
// (FuzzScanResponses). The other operations still use the generated client.

const (
	namespace    = "urn:erpgate:erp:v1"
	actionCreate = namespace + "/" + OpCreateOrder // as the generated client sends them
	actionFind   = namespace + "/" + OpFindOrderByReference
)

// createEnvelope writes the request envelope of CreateOrder, as gowsdl's
// client would marshal it, without its reflection: a typical order 6.9 µs
// vs encoding/xml 19 µs, the largest 3.6 ms vs 6.9 ms
// (BenchmarkCreateEnvelope, median of 5, -benchtime=2000x).
func createEnvelope(req *erpv1ws.CreateOrder) []byte {
	size := 1024
	if o := req.Order; o != nil {
		size += 160*len(o.Line) + len(o.Remarks) + len(o.DeliveryAddress)
		for _, t := range o.OrderText {
			if t != nil {
				size += len(*t) + 24
			}
		}
	}
	e := soapcall.NewEnvelope(OpCreateOrder, namespace, size)
	if o := req.Order; o != nil {
		e.Open("Order")
		e.String("Reference", o.Reference)
		e.String("CustomerOrderNo", o.CustomerOrderNo)
		e.String("CustomerName", o.CustomerName)
		e.String("DeliveryName", o.DeliveryName)
		e.String("DeliveryAddress", o.DeliveryAddress)
		e.String("DeliveryCountry", o.DeliveryCountry)
		e.String("Currency", o.Currency)
		for _, l := range o.Line {
			if l == nil {
				continue
			}
			e.Open("Line")
			e.Int("LineNo", int64(l.LineNo))
			e.String("ItemNo", l.ItemNo)
			e.String("ItemText", l.ItemText)
			e.Int("Quantity", int64(l.Quantity))
			if l.NetPrice != nil {
				e.Text("NetPrice", string(*l.NetPrice))
			}
			e.Close("Line")
		}
		e.String("ShipVia", o.ShipVia)
		if o.ShippingCharge != nil {
			e.Text("ShippingCharge", string(*o.ShippingCharge))
		}
		e.String("Remarks", o.Remarks)
		for _, t := range o.OrderText {
			if t != nil {
				e.Text("OrderText", string(*t))
			}
		}
		e.Close("Order")
	}
	return e.Finish(OpCreateOrder)
}

// findEnvelope writes the request envelope of FindOrderByReference, sent
// before every create: 0.26 µs vs encoding/xml 16 µs, 2 vs 13 allocations
// (BenchmarkFindEnvelope, median of 5, -benchtime=2000x).
func findEnvelope(req *erpv1ws.FindOrderByReference) []byte {
	e := soapcall.NewEnvelope(OpFindOrderByReference, namespace, 256+len(req.Reference))
	e.String("Reference", req.Reference)
	e.Bool("IncludeDetails", req.IncludeDetails)
	return e.Finish(OpFindOrderByReference)
}

// createOrder is CreateOrderContext of the generated client, with the
// request written by createEnvelope.
func (a *Adapter) createOrder(ctx context.Context, req *erpv1ws.CreateOrder) (*erpv1ws.CreateOrderResponse, error) {
	body, err := a.post.Post(ctx, actionCreate, createEnvelope(req))
	if err != nil {
		return nil, err
	}
	res := new(erpv1ws.CreateOrderResponse)
	if scanCreateResponse(body, res) {
		return res, nil
	}
	res = new(erpv1ws.CreateOrderResponse)
	if err := soapcall.Decode(body, res); err != nil {
		return nil, err
	}
	return res, nil
}

// findOrderByReference is FindOrderByReferenceContext of the generated
// client, with the request written by findEnvelope.
func (a *Adapter) findOrderByReference(ctx context.Context, req *erpv1ws.FindOrderByReference) (*erpv1ws.FindOrderByReferenceResponse, error) {
	body, err := a.post.Post(ctx, actionFind, findEnvelope(req))
	if err != nil {
		return nil, err
	}
	res := new(erpv1ws.FindOrderByReferenceResponse)
	if scanFindResponse(body, res) {
		return res, nil
	}
	res = new(erpv1ws.FindOrderByReferenceResponse)
	if err := soapcall.Decode(body, res); err != nil {
		return nil, err
	}
	return res, nil
}

var (
	createResponseName = xml.Name{Space: namespace, Local: OpCreateOrder + "Response"}
	findResponseName   = xml.Name{Space: namespace, Local: OpFindOrderByReference + "Response"}
)

// scanCreateResponse reads a create answer in the plain form with
// soapcall.ScanResponse into res, as soapcall.Decode would; false means
// Decode must read it (res is then partly filled: use a new one).
func scanCreateResponse(body []byte, res *erpv1ws.CreateOrderResponse) bool {
	var seen uint32
	ok := soapcall.ScanResponse(body, createResponseName, func(f *soapcall.Fields, local string) bool {
		switch local {
		case "OrderNumber":
			return f.StringOnce(&res.OrderNumber, &seen, 1<<0)
		case "Reference":
			return f.StringOnce(&res.Reference, &seen, 1<<1)
		case "Status":
			return scanStatus(f, &res.Status, &seen, 1<<2)
		case "OrderTotal":
			return scanAmount(f, &res.OrderTotal, &seen, 1<<3)
		case "Currency":
			return f.StringOnce(&res.Currency, &seen, 1<<4)
		case "LineCount":
			return scanInt32(f, &res.LineCount, &seen, 1<<5)
		}
		return false
	})
	if ok {
		res.XMLName = createResponseName
	}
	return ok
}

// scanFindResponse reads a lookup answer without details (no Order in a
// match) as scanCreateResponse reads a create answer.
func scanFindResponse(body []byte, res *erpv1ws.FindOrderByReferenceResponse) bool {
	ok := soapcall.ScanResponse(body, findResponseName, func(f *soapcall.Fields, local string) bool {
		if local != "Match" {
			return false
		}
		m := new(erpv1ws.OrderRecord)
		res.Match = append(res.Match, m)
		var seen uint32
		return f.Struct(func(f *soapcall.Fields, local string) bool {
			switch local {
			case "OrderNumber":
				return f.StringOnce(&m.OrderNumber, &seen, 1<<0)
			case "Reference":
				return f.StringOnce(&m.Reference, &seen, 1<<1)
			case "Status":
				return scanStatus(f, &m.Status, &seen, 1<<2)
			case "EnteredAt":
				var s string
				ok := f.StringOnce(&s, &seen, 1<<3)
				ts := erpv1ws.Timestamp(s)
				m.EnteredAt = &ts
				return ok
			case "OrderTotal":
				return scanAmount(f, &m.OrderTotal, &seen, 1<<4)
			case "Currency":
				return f.StringOnce(&m.Currency, &seen, 1<<5)
			case "LineCount":
				return scanInt32(f, &m.LineCount, &seen, 1<<6)
			}
			return false // Order (details) and unknown elements: Decode
		})
	})
	if ok {
		res.XMLName = findResponseName
	}
	return ok
}

func scanStatus(f *soapcall.Fields, v **erpv1ws.OrderStatus, seen *uint32, bit uint32) bool {
	var s string
	ok := f.StringOnce(&s, seen, bit)
	st := erpv1ws.OrderStatus(s)
	*v = &st
	return ok
}

func scanAmount(f *soapcall.Fields, v **erpv1ws.Amount, seen *uint32, bit uint32) bool {
	var s string
	ok := f.StringOnce(&s, seen, bit)
	a := erpv1ws.Amount(s)
	*v = &a
	return ok
}

func scanInt32(f *soapcall.Fields, v *int32, seen *uint32, bit uint32) bool {
	if !soapcall.Once(seen, bit) {
		return false
	}
	n, ok := f.Int32()
	*v = n
	return ok
}

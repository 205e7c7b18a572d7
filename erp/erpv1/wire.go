package erpv1

import (
	"context"

	"erpgate/erp/internal/soapcall"
	"erpgate/soap/erpv1ws"
)

// The calls of every delivery — the lookup before a create and the create —
// go their own way (soapcall.Envelope, soapcall.Client): their requests are
// written by hand, byte for byte what gowsdl's client marshals for the
// generated request types (TestEnvelopesMatchMarshal), and sent and read
// as gowsdl does. The other operations still use the generated client.

const (
	namespace    = "urn:erpgate:erp:v1"
	actionCreate = namespace + "/" + OpCreateOrder // as the generated client sends them
	actionFind   = namespace + "/" + OpFindOrderByReference
)

// createEnvelope writes the request envelope of CreateOrder.
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

// findEnvelope writes the request envelope of FindOrderByReference.
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
	if err := soapcall.Decode(body, res); err != nil {
		return nil, err
	}
	return res, nil
}

package erpv2

import (
	"context"

	"erpgate/erp/internal/soapcall"
	"erpgate/soap/erpv2ws"
)

const (
	namespace    = "urn:erpgate:erp:v2"
	actionCreate = namespace + "/" + OpCreateSalesOrder // as the generated client sends it
)

// createEnvelope writes the request envelope of CreateSalesOrder: the bytes
// gowsdl's client would marshal for req with encoding/xml
// (TestCreateEnvelopeMatchesMarshal), without its reflection.
func createEnvelope(req *erpv2ws.CreateSalesOrder) []byte {
	size := 1024
	if so := req.SalesOrder; so != nil {
		size += 256*len(so.Line) + len(so.Notes)
	}
	e := soapcall.NewEnvelope(OpCreateSalesOrder, namespace, size)
	if so := req.SalesOrder; so != nil {
		e.Open("SalesOrder")
		e.String("ExternalReference", so.ExternalReference)
		e.String("SalesChannel", so.SalesChannel)
		e.String("CustomerOrderReference", so.CustomerOrderReference)
		if so.OrderedAt != nil {
			e.Text("OrderedAt", string(*so.OrderedAt))
		}
		if c := so.Customer; c != nil {
			e.Open("Customer")
			e.String("CustomerNumber", c.CustomerNumber)
			e.String("Name", c.Name)
			e.String("Email", c.Email)
			e.String("Phone", c.Phone)
			e.Close("Customer")
		}
		writeAddress(e, "ShipTo", so.ShipTo)
		writeAddress(e, "BillTo", so.BillTo)
		e.String("Currency", so.Currency)
		for _, l := range so.Line {
			if l == nil {
				continue
			}
			e.Open("Line")
			e.Int("LineNumber", int64(l.LineNumber))
			e.String("Sku", l.Sku)
			e.String("Description", l.Description)
			e.Int("Quantity", l.Quantity)
			if l.UnitPrice != nil {
				e.Text("UnitPrice", string(*l.UnitPrice))
			}
			if l.Discount != nil {
				e.Text("Discount", string(*l.Discount))
			}
			e.Close("Line")
		}
		if s := so.Shipping; s != nil {
			e.Open("Shipping")
			e.String("Method", s.Method)
			if s.Price != nil {
				e.Text("Price", string(*s.Price))
			}
			e.Close("Shipping")
		}
		if so.RequestedDeliveryDate != nil {
			e.Text("RequestedDeliveryDate", string(*so.RequestedDeliveryDate))
		}
		e.String("Notes", so.Notes)
		e.Close("SalesOrder")
	}
	return e.Finish(OpCreateSalesOrder)
}

// createSalesOrder is CreateSalesOrderContext of the generated client,
// with the request written by createEnvelope.
func (a *Adapter) createSalesOrder(ctx context.Context, req *erpv2ws.CreateSalesOrder) (*erpv2ws.CreateSalesOrderResponse, error) {
	body, err := a.post.Post(ctx, actionCreate, createEnvelope(req))
	if err != nil {
		return nil, err
	}
	res := new(erpv2ws.CreateSalesOrderResponse)
	if err := soapcall.Decode(body, res); err != nil {
		return nil, err
	}
	return res, nil
}

func writeAddress(e *soapcall.Envelope, name string, a *erpv2ws.Address) {
	if a == nil {
		return
	}
	e.Open(name)
	e.String("Name", a.Name)
	e.String("Street1", a.Street1)
	e.String("Street2", a.Street2)
	e.String("City", a.City)
	e.String("PostalCode", a.PostalCode)
	e.String("Region", a.Region)
	e.String("CountryCode", a.CountryCode)
	e.Close(name)
}

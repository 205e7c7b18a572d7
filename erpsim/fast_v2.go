package erpsim

import (
	"encoding/xml"

	"erpgate/soap/erpv2ws"
)

// The v2 requests the fast path reads (fast.go), into the generated types
// as encoding/xml fills them. Each value element may appear once (a bit of
// seen per field); Line repeats.

func readV2Create(f *fields) *erpv2ws.CreateSalesOrder {
	in := &erpv2ws.CreateSalesOrder{XMLName: xml.Name{Space: erpv2ws.Namespace, Local: "CreateSalesOrder"}}
	var seen uint32
	for f.child() {
		if f.local != "SalesOrder" || !f.once(&seen, 1) {
			f.skip()
			break
		}
		in.SalesOrder = readV2SalesOrder(f)
	}
	return in
}

func readV2SalesOrder(f *fields) *erpv2ws.SalesOrder {
	so := new(erpv2ws.SalesOrder)
	var seen uint32
	for f.child() {
		switch f.local {
		case "ExternalReference":
			f.str(&so.ExternalReference, &seen, 1<<0)
		case "SalesChannel":
			f.str(&so.SalesChannel, &seen, 1<<1)
		case "CustomerOrderReference":
			f.str(&so.CustomerOrderReference, &seen, 1<<2)
		case "OrderedAt":
			so.OrderedAt = textPtrOnce[erpv2ws.Timestamp](f, &seen, 1<<3)
		case "Customer":
			if f.once(&seen, 1<<4) {
				so.Customer = readV2Customer(f)
			}
		case "ShipTo":
			if f.once(&seen, 1<<5) {
				so.ShipTo = readV2Address(f)
			}
		case "BillTo":
			if f.once(&seen, 1<<6) {
				so.BillTo = readV2Address(f)
			}
		case "Currency":
			f.str(&so.Currency, &seen, 1<<7)
		case "Line":
			so.Line = append(so.Line, readV2Line(f))
		case "Shipping":
			if f.once(&seen, 1<<8) {
				so.Shipping = readV2Shipping(f)
			}
		case "RequestedDeliveryDate":
			so.RequestedDeliveryDate = textPtrOnce[erpv2ws.CalendarDate](f, &seen, 1<<9)
		case "Notes":
			f.str(&so.Notes, &seen, 1<<10)
		default:
			f.skip()
		}
	}
	return so
}

func readV2Customer(f *fields) *erpv2ws.Customer {
	c := new(erpv2ws.Customer)
	var seen uint32
	for f.child() {
		switch f.local {
		case "CustomerNumber":
			f.str(&c.CustomerNumber, &seen, 1<<0)
		case "Name":
			f.str(&c.Name, &seen, 1<<1)
		case "Email":
			f.str(&c.Email, &seen, 1<<2)
		case "Phone":
			f.str(&c.Phone, &seen, 1<<3)
		default:
			f.skip()
		}
	}
	return c
}

func readV2Address(f *fields) *erpv2ws.Address {
	a := new(erpv2ws.Address)
	var seen uint32
	for f.child() {
		switch f.local {
		case "Name":
			f.str(&a.Name, &seen, 1<<0)
		case "Street1":
			f.str(&a.Street1, &seen, 1<<1)
		case "Street2":
			f.str(&a.Street2, &seen, 1<<2)
		case "City":
			f.str(&a.City, &seen, 1<<3)
		case "PostalCode":
			f.str(&a.PostalCode, &seen, 1<<4)
		case "Region":
			f.str(&a.Region, &seen, 1<<5)
		case "CountryCode":
			f.str(&a.CountryCode, &seen, 1<<6)
		default:
			f.skip()
		}
	}
	return a
}

func readV2Line(f *fields) *erpv2ws.OrderLine {
	l := new(erpv2ws.OrderLine)
	var seen uint32
	for f.child() {
		switch f.local {
		case "LineNumber":
			l.LineNumber = int32(f.integer(&seen, 1<<0, 32))
		case "Sku":
			f.str(&l.Sku, &seen, 1<<1)
		case "Description":
			f.str(&l.Description, &seen, 1<<2)
		case "Quantity":
			l.Quantity = f.integer(&seen, 1<<3, 64)
		case "UnitPrice":
			l.UnitPrice = textPtrOnce[erpv2ws.Money](f, &seen, 1<<4)
		case "Discount":
			l.Discount = textPtrOnce[erpv2ws.Money](f, &seen, 1<<5)
		default:
			f.skip()
		}
	}
	return l
}

func readV2Shipping(f *fields) *erpv2ws.Shipping {
	s := new(erpv2ws.Shipping)
	var seen uint32
	for f.child() {
		switch f.local {
		case "Method":
			f.str(&s.Method, &seen, 1<<0)
		case "Price":
			s.Price = textPtrOnce[erpv2ws.Money](f, &seen, 1<<1)
		default:
			f.skip()
		}
	}
	return s
}

package erpsim

import (
	"encoding/xml"

	"erpgate/soap/erpv1ws"
)

// The v1 requests the fast path reads (fast.go), into the generated types
// as encoding/xml fills them. Each value element may appear once (a bit of
// seen per field); lists (Line, OrderText) repeat.

func readV1Create(f *fields) *erpv1ws.CreateOrder {
	in := &erpv1ws.CreateOrder{XMLName: xml.Name{Space: erpv1ws.Namespace, Local: "CreateOrder"}}
	var seen uint32
	for f.child() {
		if f.local != "Order" || !f.once(&seen, 1) {
			f.skip()
			break
		}
		in.Order = readV1Order(f)
	}
	return in
}

func readV1Order(f *fields) *erpv1ws.Order {
	o := new(erpv1ws.Order)
	var seen uint32
	for f.child() {
		switch f.local {
		case "Reference":
			f.str(&o.Reference, &seen, 1<<0)
		case "CustomerOrderNo":
			f.str(&o.CustomerOrderNo, &seen, 1<<1)
		case "CustomerName":
			f.str(&o.CustomerName, &seen, 1<<2)
		case "DeliveryName":
			f.str(&o.DeliveryName, &seen, 1<<3)
		case "DeliveryAddress":
			f.str(&o.DeliveryAddress, &seen, 1<<4)
		case "DeliveryCountry":
			f.str(&o.DeliveryCountry, &seen, 1<<5)
		case "Currency":
			f.str(&o.Currency, &seen, 1<<6)
		case "Line":
			o.Line = append(o.Line, readV1Line(f))
		case "ShipVia":
			f.str(&o.ShipVia, &seen, 1<<7)
		case "ShippingCharge":
			o.ShippingCharge = textPtrOnce[erpv1ws.Amount](f, &seen, 1<<8)
		case "Remarks":
			f.str(&o.Remarks, &seen, 1<<9)
		case "OrderText":
			o.OrderText = append(o.OrderText, textPtr[erpv1ws.Text4000](f))
		default:
			f.skip()
		}
	}
	return o
}

func readV1Line(f *fields) *erpv1ws.OrderLine {
	l := new(erpv1ws.OrderLine)
	var seen uint32
	for f.child() {
		switch f.local {
		case "LineNo":
			l.LineNo = int32(f.integer(&seen, 1<<0, 32))
		case "ItemNo":
			f.str(&l.ItemNo, &seen, 1<<1)
		case "ItemText":
			f.str(&l.ItemText, &seen, 1<<2)
		case "Quantity":
			l.Quantity = int32(f.integer(&seen, 1<<3, 32))
		case "NetPrice":
			l.NetPrice = textPtrOnce[erpv1ws.Amount](f, &seen, 1<<4)
		default:
			f.skip()
		}
	}
	return l
}

func readV1Find(f *fields) *erpv1ws.FindOrderByReference {
	in := &erpv1ws.FindOrderByReference{XMLName: xml.Name{Space: erpv1ws.Namespace, Local: "FindOrderByReference"}}
	var seen uint32
	for f.child() {
		switch f.local {
		case "Reference":
			f.str(&in.Reference, &seen, 1<<0)
		case "IncludeDetails":
			in.IncludeDetails = f.boolean(&seen, 1<<1)
		default:
			f.skip()
		}
	}
	return in
}

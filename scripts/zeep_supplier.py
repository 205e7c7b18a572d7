#!/usr/bin/python3
"""Drive erpgate's SOAP SupplierService with zeep, a SOAP client nobody here wrote.

It loads the live WSDL, lets zeep generate the client from it, and works a
purchase order the way a supplier would:

  1. ListPurchaseOrders (Authorization: Bearer via a requests Session):
     the purchase order given on the command line is among them
  2. GetPurchaseOrder (WS-Security UsernameToken, PasswordText): lines,
     amounts exact (Decimal), status issued
  3. AcknowledgePurchaseOrder: every line accepted with a promised date;
     again with the same content: Replayed = true
  4. SubmitShippingNotice: the confirmed quantities, expected today
  5. GetDocument / ListDocuments: the acknowledgement and the notice
  6. faults zeep must parse from the WSDL's detail element: the same
     acknowledgement Id with other content (idempotency_mismatch), a notice
     shipping more than confirmed (unprocessable, with the element path), a
     purchase order that is not this supplier's (not_found), a wrong key
     (unauthorized)

Run it with Debian's python3-zeep (apt-get install python3-zeep), i.e. with
/usr/bin/python3:

  ERPGATE_SUPPLIER_KEY=demo-supplier-key-2 \
  /usr/bin/python3 scripts/zeep_supplier.py http://127.0.0.1:8080/soap/supplier?wsdl PO-000001

Environment: ERPGATE_SUPPLIER_KEY (default demo-supplier-key-2),
ERPGATE_SUPPLIER_ID (the UsernameToken user, default demo-supplier-2),
ERPGATE_TODAY (the document date, default today in UTC: the gateway refuses
documents dated in the future).

Exit status: 0 when every check passed, 1 on the first mismatch or
unexpected error, 2 on usage errors. The gateway's Go test TestSupplierZeep
runs this script against an in-process gateway.
"""

import datetime
import decimal
import os
import sys
import traceback

import requests
import zeep
from zeep.exceptions import Fault
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

FAULT_NS = "urn:erpgate:fault"
D = decimal.Decimal


class Mismatch(Exception):
    """A check failed."""


def eq(what, got, want):
    if got != want:
        raise Mismatch(f"{what}: got {got!r}, want {want!r}")


def dec(v):
    if v is None:
        return None
    if isinstance(v, float):
        raise Mismatch(f"amount {v!r} came back as a float")
    return D(str(v))


def session():
    s = requests.Session()
    s.trust_env = False  # loopback only: ignore proxy settings
    return s


def transport(s):
    return Transport(session=s, timeout=30, operation_timeout=30)


def bearer_client(wsdl, key):
    s = session()
    s.headers["Authorization"] = "Bearer " + key
    return zeep.Client(wsdl, transport=transport(s))


def fault_detail(f):
    if f.detail is None:
        raise Mismatch(f"fault {f.message!r} has no detail")
    err = f.detail.find(f"{{{FAULT_NS}}}error")
    if err is None:
        raise Mismatch(f"fault {f.message!r}: no {{{FAULT_NS}}}error in the detail")
    problems = [(p.findtext(f"{{{FAULT_NS}}}field"), p.findtext(f"{{{FAULT_NS}}}message"))
                for p in err.findall(f"{{{FAULT_NS}}}problem")]
    return err.findtext(f"{{{FAULT_NS}}}code"), problems


def expect_fault(what, call, code):
    try:
        call()
    except Fault as f:
        got, problems = fault_detail(f)
        eq(what + ": fault code", got, code)
        print(f"ok: {what}: fault {code}: {f.message}")
        return problems
    raise Mismatch(f"{what}: no fault, want {code}")


def run(wsdl, number):
    key = os.environ.get("ERPGATE_SUPPLIER_KEY", "demo-supplier-key-2")
    user = os.environ.get("ERPGATE_SUPPLIER_ID", "demo-supplier-2")
    today = datetime.date.fromisoformat(os.environ.get("ERPGATE_TODAY") or datetime.datetime.now(datetime.timezone.utc).date().isoformat())
    print(f"zeep {zeep.__version__}, WSDL {wsdl}")
    sup = bearer_client(wsdl, key)
    wsse = zeep.Client(wsdl, transport=transport(session()), wsse=UsernameToken(user, key))

    page = sup.service.ListPurchaseOrders(Status=["issued"], Limit=50)
    numbers = [po.Number for po in (page.PurchaseOrder or [])]
    if number not in numbers:
        raise Mismatch(f"ListPurchaseOrders: {number} not among {numbers}")
    print(f"ok: ListPurchaseOrders -> {len(numbers)} issued, {number} among them")

    got = wsse.service.GetPurchaseOrder(PurchaseOrderNumber=number)
    po = got.PurchaseOrder
    eq("GetPurchaseOrder.Number", po.Number, number)
    eq("GetPurchaseOrder.Status", po.Status, "issued")
    if not po.Line:
        raise Mismatch("GetPurchaseOrder: no lines")
    for ln in po.Line:
        if dec(ln.UnitPrice) <= 0:
            raise Mismatch(f"line {ln.LineNumber}: unit price {ln.UnitPrice!r}")
    print(f"ok: GetPurchaseOrder (UsernameToken) -> {len(po.Line)} lines, first {po.Line[0].Quantity} x {po.Line[0].Sku} at {dec(po.Line[0].UnitPrice)}")

    promised = today + datetime.timedelta(days=3)
    ack = {"Id": "ZEEP-ACK-" + number, "Date": today,
           "Line": [{"LineNumber": ln.LineNumber, "Status": "accepted", "PromisedDate": promised} for ln in po.Line]}
    r = sup.service.AcknowledgePurchaseOrder(PurchaseOrderNumber=number, Acknowledgement=ack)
    eq("acknowledgement status", r.Document.Status, "accepted")
    eq("acknowledgement Replayed", bool(r.Replayed), False)
    r = sup.service.AcknowledgePurchaseOrder(PurchaseOrderNumber=number, Acknowledgement=ack)
    eq("repeated acknowledgement Replayed", r.Replayed, True)
    print("ok: AcknowledgePurchaseOrder -> accepted; again -> Replayed")

    changed = dict(ack, Line=[dict(l, PromisedDate=promised + datetime.timedelta(days=1)) for l in ack["Line"]])
    expect_fault("same acknowledgement Id, other content",
                 lambda: sup.service.AcknowledgePurchaseOrder(PurchaseOrderNumber=number, Acknowledgement=changed),
                 "idempotency_mismatch")

    too_many = {"Id": "ZEEP-ASN-BAD", "ShipDate": today, "ExpectedDelivery": today, "Carrier": "DHL",
                "Line": [{"LineNumber": po.Line[0].LineNumber, "Quantity": po.Line[0].Quantity + 1}]}
    problems = expect_fault("shipping more than confirmed",
                            lambda: sup.service.SubmitShippingNotice(PurchaseOrderNumber=number, ShippingNotice=too_many),
                            "unprocessable")
    if ("ShippingNotice/Line[1]/Quantity" not in [p[0] for p in problems]):
        raise Mismatch(f"problems {problems} do not name ShippingNotice/Line[1]/Quantity")

    asn = {"Id": "ZEEP-ASN-" + number, "ShipDate": today, "ExpectedDelivery": today, "Carrier": "DHL",
           "TrackingNumber": "00340434161234567890",
           "Line": [{"LineNumber": ln.LineNumber, "Quantity": ln.Quantity} for ln in po.Line],
           "Package": [{"Id": "PKG-1", "WeightKg": D("12.5")}]}
    r = sup.service.SubmitShippingNotice(PurchaseOrderNumber=number, ShippingNotice=asn)
    eq("shipping notice status", r.Document.Status, "accepted")
    eq("shipping notice weight", dec(r.Document.ShippingNotice.Package[0].WeightKg), D("12.5"))
    print("ok: SubmitShippingNotice -> accepted")

    # A response with one element: zeep hands back the Document itself.
    doc = wsse.service.GetDocument(Kind="acknowledgement", Id=ack["Id"])
    eq("GetDocument.Id", doc.Id, ack["Id"])
    eq("GetDocument.PurchaseOrderNumber", doc.PurchaseOrderNumber, number)
    eq("GetDocument.Acknowledgement.Line[1].PromisedDate", str(doc.Acknowledgement.Line[0].PromisedDate), str(promised))
    if doc.Status not in ("accepted", "delivered"):
        raise Mismatch(f"GetDocument.Status {doc.Status!r}")
    docs = sup.service.ListDocuments(Kind="shipping_notice")
    if asn["Id"] not in [d.Id for d in (docs.Document or [])]:
        raise Mismatch("ListDocuments does not list the shipping notice")
    print(f"ok: GetDocument -> {doc.Status}; ListDocuments lists the notice")

    expect_fault("someone else's purchase order",
                 lambda: sup.service.GetPurchaseOrder(PurchaseOrderNumber="PO-999999"), "not_found")
    print("ok: isolation: an order that is not ours is not_found")
    expect_fault("wrong key", lambda: bearer_client(wsdl, "wrong-key").service.ListPurchaseOrders(), "unauthorized")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        run(sys.argv[1], sys.argv[2])
    except Mismatch as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        return 1
    print("zeep_supplier: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

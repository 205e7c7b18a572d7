#!/usr/bin/python3
"""Drive erpgate's SOAP OrderService with zeep, a SOAP client nobody here wrote.

It loads the live WSDL, lets zeep generate the client from it, and then
places and follows an order the way a shop would:

  1. SubmitOrder (Authorization: Bearer via a requests Session)
  2. SubmitOrder again: the same order comes back, Replayed = true
  3. GetOrder by OrderId and by ExternalId (WS-Security UsernameToken,
     PasswordText): every field as submitted, amounts exact (Decimal)
  4. GetOrderStatus: status and the same tracking link
  5. faults zeep must parse from the WSDL's detail element: the same
     ExternalId with other content (idempotency_mismatch), an invalid order
     (invalid, with field paths), a wrong key (unauthorized), an unknown
     order (not_found)

Run it with Debian's python3-zeep (apt-get install python3-zeep), i.e. with
/usr/bin/python3, not a pyenv/venv python:

  /usr/bin/python3 scripts/zeep_orders.py http://127.0.0.1:8080/soap/orders?wsdl

Options: --key (default demo-shop-key), --client-id (default demo-shop, the
UsernameToken user), --delivery-date (default: a week from today; the gateway
refuses dates in the past), --external-id (default: random).

Exit status: 0 when every check passed, 1 on the first mismatch or
unexpected error, 2 on usage errors. The gateway's Go test TestZeepClient
runs this script against an in-process gateway.
"""

import argparse
import datetime
import decimal
import sys
import traceback
import uuid

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
    """An amount as zeep returns it (Decimal, or str for a toolkit that
    keeps the union's lexical form) as an exact Decimal."""
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


def wsse_client(wsdl, client_id, key):
    return zeep.Client(wsdl, transport=transport(session()), wsse=UsernameToken(client_id, key))


def fault_detail(f):
    """Returns (code, [(field, message)]) of a fault's erpgate detail."""
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


def order_data(ext, delivery):
    return {
        "ExternalId": ext,
        "Customer": {"Id": "C-7", "Name": "Grace Hopper", "Email": "grace@example.com", "Phone": "+1 555 0100"},
        "ShippingAddress": {"Name": "Grace Hopper", "Line1": "1 Navy Yard", "City": "Arlington",
                            "PostalCode": "22202", "Region": "VA", "Country": "US"},
        "BillingAddress": {"Name": "Hopper Consulting", "Line1": "2 Compiler Way", "Line2": "Suite 3",
                           "City": "New York", "PostalCode": "10001", "Country": "US"},
        "Currency": "EUR",
        "Line": [
            {"Sku": "SKU-1001", "Description": "Widget, blue", "Quantity": 3,
             "UnitPrice": D("19.99"), "Discount": D("2.50")},
            {"Sku": "SKU-1002", "Quantity": 1, "UnitPrice": D("0.1")},
        ],
        "Shipping": {"Method": "express", "Price": D("7.95")},
        "RequestedDeliveryDate": delivery,
        "Notes": "Ring twice — sent by zeep",
    }


def check_order(got, want):
    eq("Order.ExternalId", got.ExternalId, want["ExternalId"])
    for part in ("Customer", "ShippingAddress", "BillingAddress"):
        for k, v in want[part].items():
            eq(f"Order.{part}.{k}", getattr(getattr(got, part), k), v)
    eq("Order.Currency", got.Currency, want["Currency"])
    eq("number of lines", len(got.Line), len(want["Line"]))
    for i, (gl, wl) in enumerate(zip(got.Line, want["Line"]), start=1):
        eq(f"Line[{i}].Sku", gl.Sku, wl["Sku"])
        eq(f"Line[{i}].Description", gl.Description, wl.get("Description"))
        eq(f"Line[{i}].Quantity", gl.Quantity, wl["Quantity"])
        eq(f"Line[{i}].UnitPrice", dec(gl.UnitPrice), wl["UnitPrice"])
        eq(f"Line[{i}].Discount", dec(gl.Discount), wl.get("Discount"))
    eq("Shipping.Method", got.Shipping.Method, want["Shipping"]["Method"])
    eq("Shipping.Price", dec(got.Shipping.Price), want["Shipping"]["Price"])
    eq("RequestedDeliveryDate", str(got.RequestedDeliveryDate), str(want["RequestedDeliveryDate"]))
    eq("Notes", got.Notes, want["Notes"])


def run(args):
    print(f"zeep {zeep.__version__}, WSDL {args.wsdl}")
    shop = bearer_client(args.wsdl, args.key)
    wsse = wsse_client(args.wsdl, args.client_id, args.key)
    ext = args.external_id or "ZEEP-" + uuid.uuid4().hex[:12].upper()
    want = order_data(ext, datetime.date.fromisoformat(args.delivery_date))

    acc = shop.service.SubmitOrder(Order=want)
    if not acc.OrderId.startswith("ord_"):
        raise Mismatch(f"OrderId {acc.OrderId!r} does not start with ord_")
    eq("SubmitOrder.ExternalId", acc.ExternalId, ext)
    eq("SubmitOrder.Status", acc.Status, "accepted")
    eq("SubmitOrder.Replayed", bool(acc.Replayed), False)
    if acc.OrderId not in acc.Tracking.Url or acc.Tracking.Token not in acc.Tracking.Url:
        raise Mismatch(f"tracking URL {acc.Tracking.Url!r} lacks the order id or token")
    print(f"ok: SubmitOrder -> {acc.OrderId}")

    again = shop.service.SubmitOrder(Order=want)
    eq("replay OrderId", again.OrderId, acc.OrderId)
    eq("replay Replayed", again.Replayed, True)
    eq("replay token", again.Tracking.Token, acc.Tracking.Token)
    print("ok: SubmitOrder again -> same order, Replayed")

    for sel in ({"OrderId": acc.OrderId}, {"ExternalId": ext}):
        got = wsse.service.GetOrder(**sel)
        eq("GetOrder.OrderId", got.OrderId, acc.OrderId)
        eq("GetOrder.ExternalId", got.ExternalId, ext)
        if not got.Status:
            raise Mismatch("GetOrder.Status is empty")
        if got.CreatedAt is None:
            raise Mismatch("GetOrder.CreatedAt is missing")
        check_order(got.Order, want)
        eq("GetOrder.Tracking.Url", got.Tracking.Url, acc.Tracking.Url)
        print(f"ok: GetOrder {sel} (UsernameToken) -> status {got.Status}, every field as submitted")

    st = shop.service.GetOrderStatus(OrderId=acc.OrderId)
    eq("GetOrderStatus.OrderId", st.OrderId, acc.OrderId)
    if st.Status not in ("accepted", "erp_received", "rejected", "failed", "confirmed", "backordered",
                         "allocated", "picked", "shipped", "delivered", "cancelled"):
        raise Mismatch(f"GetOrderStatus.Status {st.Status!r} is not a documented status")
    eq("GetOrderStatus.Tracking.Url", st.Tracking.Url, acc.Tracking.Url)
    print(f"ok: GetOrderStatus -> {st.Status}")

    changed = order_data(ext, want["RequestedDeliveryDate"])
    changed["Line"][0]["UnitPrice"] = D("18.99")
    expect_fault("same ExternalId, other content", lambda: shop.service.SubmitOrder(Order=changed),
                 "idempotency_mismatch")

    bad = order_data("ZEEP-BAD-" + uuid.uuid4().hex[:8].upper(), want["RequestedDeliveryDate"])
    bad["Customer"]["Email"] = "not-an-email"
    bad["Line"][1]["UnitPrice"] = D("0.12345")
    problems = expect_fault("invalid order", lambda: shop.service.SubmitOrder(Order=bad), "invalid")
    fields = {f for f, _ in problems}
    for f in ("Order/Customer/Email", "Order/Line[2]/UnitPrice"):
        if f not in fields:
            raise Mismatch(f"invalid order: no problem for {f}; got {problems}")

    wrong = bearer_client(args.wsdl, "not-the-key")
    expect_fault("wrong API key", lambda: wrong.service.GetOrderStatus(OrderId=acc.OrderId), "unauthorized")
    expect_fault("unknown order", lambda: shop.service.GetOrderStatus(OrderId="ord_0000000000000000000000NONE"),
                 "not_found")
    print("all checks passed")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("wsdl", help="URL of the live WSDL, e.g. http://127.0.0.1:8080/soap/orders?wsdl")
    p.add_argument("--key", default="demo-shop-key", help="the shop's API key")
    p.add_argument("--client-id", default="demo-shop", help="the shop's client id (UsernameToken user)")
    p.add_argument("--delivery-date", default=(datetime.date.today() + datetime.timedelta(days=7)).isoformat(),
                   help="requested delivery date YYYY-MM-DD (not in the past)")
    p.add_argument("--external-id", default="", help="the order's ExternalId (default: random)")
    args = p.parse_args()
    try:
        run(args)
    except Mismatch as e:
        print(f"MISMATCH: {e}", file=sys.stderr)
        return 1
    except Exception:  # anything else is a failure of the client or the service
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

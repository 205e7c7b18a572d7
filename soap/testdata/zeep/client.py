"""Drives a server built on erpgate/soap with zeep, a SOAP toolkit nobody here wrote.

Usage: client.py WSDL URL. For the SOAP 1.1 and the SOAP 1.2 port of
test.wsdl it calls GetOrder with a WS-Security UsernameToken, then provokes a
fault, and prints one line per result for soap/interop_test.go to check.
"""
import sys

import zeep
from zeep.wsse.username import UsernameToken

wsdl, url = sys.argv[1], sys.argv[2]
for port in ("P11", "P12"):
    client = zeep.Client(wsdl, wsse=UsernameToken("shop-1", "p&ss"))
    svc = client.bind("S", port)
    svc._binding_options["address"] = url
    print(port, "response", svc.GetOrder(OrderId="ord_1"))
    try:
        svc.GetOrder(OrderId="missing")
        print(port, "fault none")
    except zeep.exceptions.Fault as f:
        texts = [e.text for e in f.detail.iter() if e.text] if f.detail is not None else []
        print(port, "fault", f.code, "|", f.message, "|", " ".join(texts))

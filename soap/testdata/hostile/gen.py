#!/usr/bin/env python3
"""Regenerates the generated members of the hostile corpus (run from this directory).

The small hand-written files are committed as they are; this script writes the
big ones (gzipped, so the repository stays small) and the binary ones.
cases.json says what answer each file must get.
"""
import gzip

NS11 = "http://schemas.xmlsoap.org/soap/envelope/"
OP_OPEN = '<t:GetOrder xmlns:t="urn:erpgate:test">'
OP = OP_OPEN + "<t:OrderId>ord_1</t:OrderId></t:GetOrder>"


def env(body, ns=NS11, decl=True):
    s = '<?xml version="1.0" encoding="UTF-8"?>\n' if decl else ""
    return s + f'<soap:Envelope xmlns:soap="{ns}"><soap:Body>{body}</soap:Body></soap:Envelope>'


def gz(name, text):
    with gzip.GzipFile(name, "wb", mtime=0) as f:
        f.write(text.encode())


deep = 100000
gz("deep-nesting-100k.xml.gz", env(OP_OPEN + "<a>" * deep + "</a>" * deep + "</t:GetOrder>"))
gz("huge-attribute.xml.gz", env('<t:GetOrder xmlns:t="urn:erpgate:test" x="' + "A" * (200 * 1024) + '"/>'))
gz("many-attributes-10k.xml.gz", env('<t:GetOrder xmlns:t="urn:erpgate:test" ' + " ".join(f'a{i}="1"' for i in range(10000)) + "/>"))
gz("huge-text.xml.gz", env(OP_OPEN + "<t:OrderId>" + "B" * (100 * 1024) + "</t:OrderId></t:GetOrder>"))
gz("huge-name.xml.gz", env(OP_OPEN + "<" + "n" * (100 * 1024) + "/></t:GetOrder>"))
gz("many-elements-30k.xml.gz", env(OP_OPEN + "<e/>" * 30000 + "</t:GetOrder>"))
gz("ten-mb.xml.gz", env(OP_OPEN + ("<t:Note>" + "x" * 1000 + "</t:Note>") * 10500 + "</t:GetOrder>"))

with open("encoding-iso-8859-1.xml", "wb") as f:
    f.write(('<?xml version="1.0" encoding="ISO-8859-1"?>\n'
             + env(OP_OPEN + "<t:OrderId>caf\xe9</t:OrderId></t:GetOrder>", decl=False)).encode("latin-1"))
with open("encoding-utf16le-bom.xml", "wb") as f:
    f.write(b"\xff\xfe" + ('<?xml version="1.0" encoding="UTF-16"?>\n' + env(OP, decl=False)).encode("utf-16-le"))
with open("encoding-utf16be-nobom.xml", "wb") as f:
    f.write(('<?xml version="1.0" encoding="UTF-16"?>\n' + env(OP, decl=False)).encode("utf-16-be"))
with open("invalid-utf8.xml", "wb") as f:
    f.write(env(OP_OPEN + "<t:OrderId>XX</t:OrderId></t:GetOrder>").encode().replace(b"XX", b"\xff\xfe\xc0"))
with open("non-xml-junk.bin", "wb") as f:
    f.write(bytes((i * 7919 + 13) % 256 for i in range(4096)))

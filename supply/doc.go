// Package supply is the supplier side of the supply chain: the purchase order
// the ERP issues to a supplier and the documents the supplier sends back —
// acknowledgement, shipping notice (ASN), stock advice, invoice — plus the
// goods receipt the ERP records when a shipment arrives.
//
// The shapes follow the documents suppliers already exchange (X12 850 purchase
// order, 855 acknowledgement, 856 ship notice, 846 inventory advice, 810
// invoice; the cXML and UBL equivalents) without their envelope and segment
// baggage. Their JSON form is the canonical record: what the store keeps and
// what the REST API shows; the SOAP SupplierService and the ERP v2 adapter
// translate to and from it.
//
// # Checks and error codes
//
// Every document has Validate, which checks the document on its own and
// reports every problem at once with field paths ("lines[2].quantity",
// "packages[0].contents[1].line_number", "ship_to.country"), in the same
// style and with the same codes as order.Validate:
//
//   - erpgate.Invalid (400): malformed — a missing or too long field, a bad
//     identifier, date, code or number.
//   - erpgate.Unprocessable (422): well-formed, but fields contradict each
//     other — an expected delivery before the ship date, invoice amounts that
//     do not add up. With problems of both kinds the code is Invalid.
//
// The business checks against a purchase order are the Apply methods of
// PurchaseOrder (ApplyAck, ApplyShipment, ApplyReceipt, ApplyInvoice, Cancel,
// Close). They are pure: each returns a new PurchaseOrder and never changes
// the receiver, so on error nothing has changed. They return, in this order:
//
//   - the document's own Validate error (Invalid or Unprocessable);
//   - erpgate.NotFound when the document belongs to another supplier — the
//     same answer as for a purchase order that does not exist, so a supplier
//     cannot learn about other suppliers' orders even if a caller forgot to
//     check ownership;
//   - erpgate.Conflict (409) when the operation is illegal in the order's
//     current status (shipping against an order nobody acknowledged,
//     anything on a cancelled order) or the document was applied before
//     (same document id): the request itself may be fine, the state is not;
//   - erpgate.Unprocessable (422) listing every business-rule problem: a line
//     the order does not have, acknowledged quantity above ordered, shipped
//     above acknowledged-and-not-yet-shipped, received or invoiced above
//     shipped (per shipment), a price or currency that differs from the
//     order, dates before the order was issued or in the future.
//
// # Status
//
// A purchase order's status names the first stage it is still waiting for,
// derived from its line quantities (ordered ≥ confirmed ≥ shipped ≥ received,
// invoiced ≤ shipped) — it is never set by hand, except the two terminal
// ones:
//
//	issued ─▶ partially_acknowledged ─▶ acknowledged ─▶ partially_shipped ─▶ shipped
//	   │                 │                                                     │
//	   │                 └─▶ rejected (every line rejected)                    ▼
//	   │                             partially_received ◀──────────────────────┘
//	   │                                      │
//	   │                                      ▼
//	   │          received ─▶ partially_invoiced ─▶ invoiced
//	   │
//	   └─▶ cancelled (by the buyer, before anything shipped)
//	any non-terminal status ─▶ closed (by the buyer: short-close, or done)
//
// Which operation each status allows is in the table of Status.Allows.
//
// The package uses the standard library, erpgate and order only: no I/O.
package supply

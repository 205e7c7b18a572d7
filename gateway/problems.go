package gateway

// Problem type pages: every problem+json answer's "type" is
// <public URL>/problems/<code>, and the gateway serves that page, which
// says what the error means and what to do. problemTypes has one entry per
// code of statusOf (TestProblemTypePages holds them together).

import (
	"bytes"
	"html/template"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"erpgate"
)

// problemType explains one error code.
type problemType struct {
	Code    string
	Title   string
	Meaning string // what happened
	Action  string // what the caller should do
	Retry   string // whether retrying the same request can help
}

// problemTypes lists every code in the order of the code table.
var problemTypes = []problemType{
	{erpgate.Invalid, "The request is malformed",
		"The body is not valid JSON, has an unknown field or a value of the wrong type, misses a required field, or a query parameter or header (such as Idempotency-Key) is malformed. The errors member lists each field (for example lines[0].unit_price) with what is wrong.",
		"Fix the fields named in errors and send the request again. Amounts are decimal strings such as \"19.99\", never JSON numbers; dates are YYYY-MM-DD.",
		"Not as it is: the same request fails the same way."},
	{erpgate.Unprocessable, "The request breaks a business rule",
		"The request is well-formed but cannot be carried out: for example an order whose totals do not add up, a delivery date in the past, a supplier document that contradicts the purchase order, or a release plan that contradicts itself. The errors member names the fields.",
		"Correct the content as errors says. For supplier documents, read the purchase order again (GET /v1/supplier/purchase-orders/{number}) to see its current state.",
		"Not as it is."},
	{erpgate.IdempotencyMismatch, "The same key was used for a different request",
		"An Idempotency-Key (or an order's external_id, or a supplier document's id) was first used with another body. The gateway keeps the first request and refuses to treat the second as a retry of it.",
		"If you meant a new order or document, give it a new key or id. If you meant a retry, send exactly the body of the first attempt: it is answered with the first answer and Idempotent-Replayed: true.",
		"Not with this key and this body."},
	{erpgate.Conflict, "The state changed under you",
		"Another request got there first: the same Idempotency-Key is still being processed, the release plan's revision is no longer the expected_revision you sent, or an id you chose is taken.",
		"For an order, retry after a moment with the same Idempotency-Key and body: you get the first request's answer. For the release plan, read it again (GET /admin/release), apply your change to the new revision and send it.",
		"Yes, after re-reading the current state."},
	{erpgate.ApprovalRequired, "The change needs recorded approvals",
		"The release plan change widens the rollout (stage 1 to stage 2, more pilot customers, a larger percentage, everyone) or lowers the acceptance gates, and the plan's acceptance gates ask for approvals of the current revision that are not recorded yet. The errors member names each missing approval (approvals.stage2, approvals.roles.<role>).",
		"Have the approvers record their approvals of the current revision (POST /admin/release/approvals or `gateway release approve`), then send the change again. GET /admin/release/approvals lists what is still missing.",
		"Yes, once the approvals are recorded."},
	{erpgate.ManifestRequired, "The version to go live has no stored manifest",
		"The plan's acceptance gates require a signed release manifest for every version that goes live, and the library of releases holds none for this version.",
		"Publish the version's signed manifest (PUT /admin/release/manifests or `gateway release publish`), then promote again.",
		"Yes, once the manifest is published."},
	{erpgate.NotFound, "No such resource",
		"There is no such route, or no such order, purchase order, document or subscription, or it is not yours: another shop's order or another supplier's document is answered exactly like one that does not exist.",
		"Check the id and the credentials you send (a tracking token belongs to one order; a shop key sees that shop's orders only).",
		"No."},
	{erpgate.Unauthorized, "Missing or invalid credentials",
		"The request carries no credentials, an unknown API key, or, for suppliers, a signature that does not verify: wrong secret, a timestamp more than 5 minutes off, or a signature already used. The detail says which.",
		"Send Authorization: Bearer <api key>. Suppliers may instead (or also) sign the request: X-Erpgate-Key-Id, X-Erpgate-Timestamp and X-Erpgate-Signature (see /docs/api). Sign every retry anew with a fresh timestamp.",
		"Only with corrected credentials."},
	{erpgate.Forbidden, "These credentials may not call this API",
		"The key is valid but belongs to another kind of client: a shop key on the admin or supplier API, a supplier key on the shop API.",
		"Use the key issued for this API (shop, supplier or admin).",
		"Only with other credentials."},
	{erpgate.TooLarge, "The request is too large",
		"The body is larger than 1 MiB, or a list in it has more entries than allowed (order lines, document lines, items).",
		"Split the request, or send fewer entries.",
		"Not as it is."},
	{erpgate.UnsupportedMedia, "Unsupported content type",
		"The body was sent with a Content-Type other than JSON.",
		"Send the body with Content-Type: application/json.",
		"Only with the right Content-Type."},
	{erpgate.RateLimited, "Too many requests",
		"The caller sent more requests than its rate limit allows.",
		"Wait the number of seconds in the Retry-After header, then retry (with the same Idempotency-Key for orders).",
		"Yes, after Retry-After seconds."},
	{erpgate.Timeout, "The request did not arrive in time",
		"The request's header or body did not arrive within the read timeout (header 10 s, body 30 s): a slow or stalled connection.",
		"Send the request again on a new connection, with the same Idempotency-Key for orders.",
		"Yes."},
	{erpgate.Overloaded, "The instance is shedding load",
		"This gateway instance is at one of its admission limits (requests in flight, body memory, connections) and refused the request early instead of letting every caller's latency grow. Nothing was done.",
		"Wait the number of seconds in the Retry-After header and retry, with the same Idempotency-Key for orders. Operators: see docs/hardening.md.",
		"Yes, after Retry-After seconds."},
	{erpgate.OutcomeUnknown, "The outcome is unknown",
		"Redis failed after the order had been sent to it: the order may or may not be stored. The gateway cannot tell which.",
		"Retry with the same Idempotency-Key (or the same external_id) and the same body: if the order was stored you get its answer (202, Idempotent-Replayed), otherwise it is accepted now. Never send it as a new order.",
		"Yes, with the same key and body: that is safe."},
	{erpgate.Unavailable, "A dependency is unavailable",
		"The gateway could not reach Redis, or the ERP could not be asked and there is no stored copy to answer from. Nothing was stored: a 202 is only ever given after the order is durable.",
		"Retry later with backoff, with the same Idempotency-Key (orders) or document id (supplier documents), so that the retry can never create a duplicate. Operators: see the runbooks in docs/.",
		"Yes, later."},
	{erpgate.Internal, "Internal error",
		"Something failed that should not have: a bug or an unexpected state. The gateway logged it with the request id.",
		"Retry with the same Idempotency-Key; if it persists, contact the operators and quote the request_id of the answer.",
		"Perhaps; with the same Idempotency-Key it is safe."},
}

// problemTypeOf returns the page of code.
func problemTypeOf(code string) (problemType, bool) {
	i := slices.IndexFunc(problemTypes, func(p problemType) bool { return p.Code == code })
	if i < 0 {
		return problemType{}, false
	}
	return problemTypes[i], true
}

var problemPages = template.Must(template.New("").Parse(`{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.}} — erpgate</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}code{background:#f2f2f2;padding:0 .25em;border-radius:3px}dt{font-weight:600;margin-top:1em}table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left}</style>
</head><body><main>{{end}}
{{define "one"}}{{template "head" .P.Title}}
<p><a href="{{.Base}}/problems">Problem types</a> · <a href="{{.Base}}/docs/api">API reference</a></p>
<h1>{{.P.Title}}</h1>
<p>Code <code>{{.P.Code}}</code>, HTTP status {{.Status}}.</p>
<dl><dt>What happened</dt><dd>{{.P.Meaning}}</dd>
<dt>What to do</dt><dd>{{.P.Action}}</dd>
<dt>Does retrying help?</dt><dd>{{.P.Retry}}</dd></dl>
<p>Every error answer is <code>application/problem+json</code> (RFC 9457) with <code>type</code> (this page), <code>title</code>, <code>status</code>, <code>detail</code>, <code>code</code>, <code>request_id</code> and, for field problems, <code>errors</code>.</p>
</main></body></html>
{{end}}
{{define "index"}}{{template "head" "Problem types"}}
<p><a href="{{.Base}}/docs/api">API reference</a></p>
<h1>Problem types</h1>
<p>The <code>code</code> of an error answer, the HTTP status it comes with, and what it means.</p>
<table><tr><th>code</th><th>status</th><th>meaning</th></tr>
{{range .Rows}}<tr><td><a href="{{$.Base}}/problems/{{.P.Code}}"><code>{{.P.Code}}</code></a></td><td>{{.Status}}</td><td>{{.P.Title}}</td></tr>
{{end}}</table>
</main></body></html>
{{end}}`))

type problemRow struct {
	P      problemType
	Status int
}

func (s *Server) handleProblemTypes() echo.HandlerFunc {
	return func(c echo.Context) error {
		rows := make([]problemRow, len(problemTypes))
		for i, p := range problemTypes {
			rows[i] = problemRow{P: p, Status: statusOf[p.Code]}
		}
		var b bytes.Buffer
		if err := problemPages.ExecuteTemplate(&b, "index", map[string]any{"Base": s.publicURL, "Rows": rows}); err != nil {
			return err
		}
		return c.HTMLBlob(http.StatusOK, b.Bytes())
	}
}

func (s *Server) handleProblemType() echo.HandlerFunc {
	return func(c echo.Context) error {
		p, ok := problemTypeOf(c.Param("code"))
		if !ok {
			return erpgate.Errorf(erpgate.NotFound, "no such problem type")
		}
		var b bytes.Buffer
		if err := problemPages.ExecuteTemplate(&b, "one", map[string]any{"Base": s.publicURL, "P": p, "Status": statusOf[p.Code]}); err != nil {
			return err
		}
		return c.HTMLBlob(http.StatusOK, b.Bytes())
	}
}

package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"erpgate/gateway"
	"erpgate/gateway/openapitest"
	"erpgate/manifest"
	"erpgate/tracking"
)

// contractEnv is the complete demo system (embedded Redis and ERP
// simulator, every route) served through the OpenAPI checker.
type contractEnv struct {
	url     string
	sim     string
	srv     *gateway.Server
	checker *openapitest.Checker
	redis   *miniredis.Miniredis
}

func newContractEnv(t *testing.T) *contractEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	opt, err := parseFlags([]string{"gateway", "--erpsim-listen", "127.0.0.1:0", "--metrics-token", contractMetricsToken},
		func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := newLogAddrs()
	log := slog.New(slog.NewJSONHandler(logs, nil))
	// The demo's embedded Redis, held here so that the test can take it
	// away (503s).
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mr.Close)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	// Two more clients whose rate limit (one request, then one an hour) is
	// spent at once: their requests are the 429s.
	slow := &gateway.RateLimit{PerSecond: 1.0 / 3600, Burst: 1}
	keys, err := gateway.NewKeyring(append(gateway.DemoClients(),
		gateway.Client{ID: "limited-shop", Kind: gateway.KindShop, KeySHA256: gateway.HashKey(limitedShopKey), RateLimit: slow},
		gateway.Client{ID: "limited-supplier", Kind: gateway.KindSupplier, SupplierID: "SUP-1", KeySHA256: gateway.HashKey(limitedSupplierKey), RateLimit: slow}))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	publicURL := "http://" + ln.Addr().String()
	// A subscription from the config file (static), so that deleting one is
	// refused; its receiver does not exist.
	static := []tracking.Subscription{{ID: "from-config", ShopID: "demo-shop", URL: "http://127.0.0.1:9/hook",
		Secret: "config-secret-0123456789", Static: true}}
	sys, err := assemble(ctx, opt, log, prometheus.NewRegistry(), rdb, keys, static, publicURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.close)
	checker, err := openapitest.New()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(checker.Handler(sys.handler))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	gw, ok := sys.handler.(*gateway.Server)
	if !ok {
		t.Fatalf("handler is %T, want *gateway.Server", sys.handler)
	}
	e := &contractEnv{url: srv.URL, sim: logs.wait(t, "EMBEDDED ERP SIMULATOR"), srv: gw, checker: checker, redis: mr}
	waitReady(t, e.url)
	return e
}

// Credentials of the contract system beyond the demo's.
const (
	contractMetricsToken = "contract-metrics-token"
	limitedShopKey       = "contract-limited-shop-key"
	limitedSupplierKey   = "contract-limited-supplier-key"
)

// noContentType as req.ctype sends the body without a Content-Type.
const noContentType = "-"

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// req describes one request of the scenario.
type req struct {
	method, path, key, body string
	ctype                   string // default application/json when there is a body; noContentType: none
	hdr                     map[string]string
	invalid                 bool // sent against the description on purpose
	want                    int
}

func (e *contractEnv) do(t *testing.T, r req) answer {
	t.Helper()
	var rd io.Reader
	if r.body != "" {
		rd = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, e.url+r.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if r.body != "" && r.ctype != noContentType {
		ct := r.ctype
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	if r.key != "" {
		hr.Header.Set("Authorization", "Bearer "+r.key)
	}
	for k, v := range r.hdr {
		hr.Header.Set(k, v)
	}
	if r.invalid {
		openapitest.ExpectInvalid(hr)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	json.Unmarshal(b, &a.body)
	if r.want != 0 && a.status != r.want {
		t.Errorf("%s %s = %d, want %d: %s", r.method, r.path, a.status, r.want, clipText(a.raw))
	}
	return a
}

// refused checks the two refusals of an authenticated operation: no
// credentials (401; the description rejects the request too) and the key
// of a client of the wrong kind (403).
func (e *contractEnv) refused(t *testing.T, method, path, wrongKey, body string) {
	t.Helper()
	e.do(t, req{method: method, path: path, body: body, want: http.StatusUnauthorized, invalid: true})
	e.do(t, req{method: method, path: path, key: wrongKey, body: body, want: http.StatusForbidden})
}

// bodyRefused checks the refusals every operation with a JSON body shares:
// another media type (415), a body over the limit (413), no credentials
// (401) and a client of the wrong kind (403).
func (e *contractEnv) bodyRefused(t *testing.T, method, path, key, wrongKey, body string) {
	t.Helper()
	e.do(t, req{method: method, path: path, key: key, body: body, ctype: "text/plain", want: http.StatusUnsupportedMediaType, invalid: true})
	e.do(t, req{method: method, path: path, key: key, body: hugeBody, want: http.StatusRequestEntityTooLarge, invalid: true})
	e.refused(t, method, path, wrongKey, body)
}

// adminRead checks an admin read: 200 for ok, 400 for a bad parameter
// (bad), 401 and 403 (a shop's key) for plain.
func (e *contractEnv) adminRead(t *testing.T, ok, bad, plain string) {
	t.Helper()
	e.do(t, req{method: "GET", path: ok, key: "demo-admin-token", want: http.StatusOK})
	e.do(t, req{method: "GET", path: bad, key: "demo-admin-token", want: http.StatusBadRequest, invalid: true})
	e.refused(t, "GET", plain, "demo-shop-key", "")
}

// hugeBody is just over the body limit.
var hugeBody = `{"notes":"` + strings.Repeat("x", gateway.MaxBodyBytes) + `"}`

func clipText(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

// TestContractRoutes: every route the complete gateway registers is in the
// OpenAPI description (or excluded with a reason in openapitest.Excluded),
// and every described operation is registered.
func TestContractRoutes(t *testing.T) {
	e := newContractEnv(t)
	for _, bad := range openapitest.CheckRoutes(e.checker.Doc(), e.srv.Routes()) {
		t.Error(bad)
	}
}

// notExercised are the described statuses the traffic test does not
// produce, each with the reason; everything else the description lists must
// occur, validated, in TestContractTraffic.
var notExercised = map[string]string{
	"POST /v1/orders 409":                                             "the same Idempotency-Key in flight twice at once (gateway tests cover it)",
	"POST /admin/release/backout 409":                                 "two plan changes at the same instant",
	"POST /v1/supplier/purchase-orders/{number}/acknowledgements 409": "the same document id in flight twice at once",
	"POST /v1/supplier/purchase-orders/{number}/shipping-notices 409": "the same document id in flight twice at once",
	"POST /v1/supplier/purchase-orders/{number}/invoices 409":         "the same document id in flight twice at once",
	"POST /v1/supplier/stock-advices 409":                             "the same document id in flight twice at once",
	"GET /v1/notices 503":                                             "only before the instance's first read of the notices; then the last copy is served while Redis is down",
	"GET /admin/notices 503":                                          "as GET /v1/notices",
	"GET /admin/cmdb 503":                                             "a failing source (Redis, the ERP) is named in the snapshot's errors; the snapshot itself cannot fail in the demo",
	"PUT /admin/notices/{id} 422":                                     "needs 200 notices stored at once (notice.MaxNotices; store tests cover it)",
	"PUT /admin/faq/{id} 422":                                         "needs the store's maximum of FAQ entries (store tests cover it)",
	"GET /admin/outbox/dead-letters/{id} 200":                         "needs a message the ERP gave up on after --erp-max-deliveries (10) deliveries; gateway/admin_outbox_test.go covers it",
	"POST /admin/outbox/dead-letters/{id}/replay 200":                 "needs an outbox dead letter (as above)",
	"DELETE /admin/outbox/dead-letters/{id} 200":                      "needs an outbox dead letter (as above)",
	"GET /admin/webhooks/dead-letters/{id} 200":                       "needs a webhook event given up on after 12 attempts with backoff (minutes); tracking tests cover it",
	"POST /admin/webhooks/dead-letters/{id}/replay 200":               "needs a webhook dead letter (as above)",
	"POST /admin/webhooks/dead-letters/{id}/replay 409":               "needs a webhook dead letter of a deleted subscription",
	"DELETE /admin/webhooks/dead-letters/{id} 200":                    "needs a webhook dead letter (as above)",
}

func allowedUncovered(k string) bool { return notExercised[k] != "" }

// TestContractTraffic drives every operation of the description through the
// complete demo system — successes and the main refusals — and validates
// every request and answer against the description (openapitest.Checker):
// an undocumented route, status, header value or field fails.
func TestContractTraffic(t *testing.T) {
	e := newContractEnv(t)
	putJSON(t, e.sim+"/sim/lifecycle", `{"step":"100ms","auto_restock":"0s"}`)
	const shop, admin, sup1, sup2 = "demo-shop-key", "demo-admin-token", "demo-supplier-key-1", "demo-supplier-key-2"
	huge := hugeBody

	// Operations.
	for _, r := range []req{
		{method: "GET", path: "/healthz", want: 200},
		{method: "GET", path: "/readyz", want: 200},
		{method: "GET", path: "/metrics", key: contractMetricsToken, want: 200},
		{method: "GET", path: "/metrics", key: "not-the-token", want: 401},
		{method: "GET", path: "/openapi.json", want: 200},
		{method: "GET", path: "/docs/api", want: 200},
		{method: "GET", path: "/problems", want: 200},
		{method: "GET", path: "/problems/idempotency_mismatch", want: 200},
		{method: "GET", path: "/problems/no_such_code", want: 404, invalid: true},
	} {
		e.do(t, r)
	}

	// A subscriber that checks every delivery against the description's
	// webhook and its signature.
	hooks := &hookReceiver{checker: e.checker, secret: "whsec_contract_0123456789abcdef"}
	receiver := httptest.NewServer(hooks)
	t.Cleanup(receiver.Close)
	e.do(t, req{method: "POST", path: "/admin/webhooks", key: admin, want: 201,
		body: fmt.Sprintf(`{"id":"contract-receiver","shop_id":"demo-shop","url":%q,"secret":%q}`, receiver.URL, hooks.secret)})

	// Orders. The first is the description's own example (it must work
	// against the demo); the second waits for stock, so a purchase order
	// goes to SUP-2.
	example := exampleBody(t, e.checker, "/v1/orders", "post")
	stand := `{"external_id":"WEB-C-2","customer":{"id":"C-9","name":"Ada Lovelace","email":"ada@example.com"},"shipping_address":{"name":"Ada Lovelace","line1":"12 St James Sq","city":"London","postal_code":"SW1Y 4JH","country":"GB"},"currency":"EUR","lines":[{"sku":"SKU-1011","quantity":1,"unit_price":"349.00"}],"shipping":{"method":"standard","price":"4.95"}}`
	acc := e.do(t, req{method: "POST", path: "/v1/orders", key: shop, body: example, hdr: map[string]string{"Idempotency-Key": "contract-1"}, want: 202})
	id, _ := acc.body["id"].(string)
	token, _ := acc.body["tracking"].(map[string]any)["token"].(string)
	if acc.header.Get("Location") != "/v1/orders/"+id {
		t.Errorf("Location = %q", acc.header.Get("Location"))
	}
	if r := e.do(t, req{method: "POST", path: "/v1/orders", key: shop, body: example, hdr: map[string]string{"Idempotency-Key": "contract-1"}, want: 202}); r.header.Get("Idempotent-Replayed") != "true" || r.body["id"] != id {
		t.Errorf("replay: %v %v, want the same order with Idempotent-Replayed", r.header, r.body)
	}
	e.do(t, req{method: "POST", path: "/v1/orders", key: shop, body: stand, hdr: map[string]string{"Idempotency-Key": "contract-1"}, want: 422})
	e.do(t, req{method: "POST", path: "/v1/orders", key: shop, body: strings.Replace(stand, `"unit_price":"349.00"`, `"unit_price":"349.00","discount":"999.00"`, 1), want: 422})
	e.do(t, req{method: "POST", path: "/v1/orders", key: shop, body: `{"external_id":"X","customer":{"name":"A"}}`, want: 400, invalid: true})
	e.refused(t, "POST", "/v1/orders", sup1, stand)
	e.do(t, req{method: "POST", path: "/v1/orders", key: shop, body: stand, ctype: "text/plain", want: 415, invalid: true})
	e.do(t, req{method: "POST", path: "/v1/orders", key: shop, body: stand, ctype: noContentType, want: 415, invalid: true})
	e.do(t, req{method: "POST", path: "/v1/orders", key: shop, body: huge, want: 413, invalid: true})
	acc2 := e.do(t, req{method: "POST", path: "/v1/orders", key: shop, body: stand, want: 202})
	id2, _ := acc2.body["id"].(string)

	e.do(t, req{method: "GET", path: "/v1/orders?external_id=WEB-1001", key: shop, want: 200})
	e.do(t, req{method: "GET", path: "/v1/orders?external_id=NOPE", key: shop, want: 404})
	e.do(t, req{method: "GET", path: "/v1/orders", key: shop, want: 400, invalid: true})
	e.refused(t, "GET", "/v1/orders?external_id=WEB-1001", admin, "")
	e.do(t, req{method: "GET", path: "/v1/orders/" + id, key: shop, want: 200})
	e.do(t, req{method: "GET", path: "/v1/orders/ord_NOPE", key: shop, want: 404})
	e.refused(t, "GET", "/v1/orders/"+id, sup2, "")

	// Tracking, and its live stream.
	e.do(t, req{method: "GET", path: "/v1/tracking/" + id + "?token=" + token, want: 200})
	e.do(t, req{method: "GET", path: "/v1/tracking/" + id, key: shop, want: 200})
	e.do(t, req{method: "GET", path: "/v1/tracking/" + id + "?token=wrong", want: 404})
	e.do(t, req{method: "GET", path: "/v1/tracking/" + id + "/events?token=wrong", want: 404})
	// The timeline moves while the ERPs answer: a 200 to the conditional
	// request is right when the order changed in between, so ask again
	// until the same ETag comes back 304 (or give up after a few rounds).
	for round := 0; ; round++ {
		a := e.do(t, req{method: "GET", path: "/v1/tracking/" + id + "?token=" + token, want: 200})
		tag := a.header.Get("ETag")
		if tag == "" {
			t.Error("tracking answer without ETag")
			break
		}
		cond := req{method: "GET", path: "/v1/tracking/" + id + "?token=" + token, hdr: map[string]string{"If-None-Match": tag}}
		if round == 9 {
			cond.want = 304
		}
		if b := e.do(t, cond); b.status == 304 || round == 9 {
			break
		} else if b.status != 200 || b.header.Get("ETag") == tag {
			t.Fatalf("conditional tracking GET = %d with ETag %q (sent %q), want 304, or 200 with a new ETag", b.status, b.header.Get("ETag"), tag)
		}
	}
	e.stream(t, "/v1/tracking/"+id+"/events?token="+token)

	// Catalog.
	e.do(t, req{method: "GET", path: "/v1/catalog/items?limit=5", key: shop, want: 200})
	e.do(t, req{method: "GET", path: "/v1/catalog/items?limit=x", key: shop, want: 400, invalid: true})
	e.refused(t, "GET", "/v1/catalog/items", sup1, "")
	e.do(t, req{method: "GET", path: "/v1/catalog/items/SKU-1011", key: shop, want: 200})
	e.do(t, req{method: "GET", path: "/v1/catalog/items/SKU-NOPE", key: shop, want: 404})
	e.refused(t, "GET", "/v1/catalog/items/SKU-1011", sup1, "")

	// Suppliers: the stand mixer's purchase order reaches SUP-2.
	po := e.waitPO(t, sup2, id2, acc2.body["tracking"].(map[string]any)["token"].(string))
	number, _ := po["number"].(string)
	e.do(t, req{method: "GET", path: "/v1/supplier/purchase-orders?status=issued&limit=5", key: sup2, want: 200})
	e.do(t, req{method: "GET", path: "/v1/supplier/purchase-orders?limit=0", key: sup2, want: 400, invalid: true})
	e.refused(t, "GET", "/v1/supplier/purchase-orders", shop, "")
	e.do(t, req{method: "GET", path: "/v1/supplier/purchase-orders/" + number, key: sup2, want: 200})
	e.do(t, req{method: "GET", path: "/v1/supplier/purchase-orders/" + number, key: sup1, want: 404})
	e.refused(t, "GET", "/v1/supplier/purchase-orders/"+number, shop, "")
	// The same with an HMAC signature instead of the key.
	p := "/v1/supplier/purchase-orders/" + number
	ts := time.Now().Unix()
	e.do(t, req{method: "GET", path: p, want: 200, hdr: map[string]string{
		gateway.HeaderKeyID: "demo-supplier-2", gateway.HeaderTimestamp: strconv.FormatInt(ts, 10),
		gateway.HeaderSignature: gateway.SignSupplierRequest("demo-supplier-secret-2", ts, "GET", p, nil)}})
	e.do(t, req{method: "GET", path: p, want: 401, hdr: map[string]string{
		gateway.HeaderKeyID: "demo-supplier-2", gateway.HeaderTimestamp: strconv.FormatInt(ts, 10),
		gateway.HeaderSignature: "v1=00"}})

	today := time.Now().UTC().Format(time.DateOnly)
	lines := po["lines"].([]any)
	line := lines[0].(map[string]any)
	qty := int64(line["quantity"].(float64))
	ack := fmt.Sprintf(`{"id":"ACK-C1","date":%q,"lines":[{"line_number":1,"status":"accepted","promised_date":%q}]}`, today, today)
	e.do(t, req{method: "POST", path: p + "/acknowledgements", key: sup2, body: ack, want: 202})
	if r := e.do(t, req{method: "POST", path: p + "/acknowledgements", key: sup2, body: ack, want: 202}); r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("acknowledgement replay: Idempotent-Replayed = %q", r.header.Get("Idempotent-Replayed"))
	}
	e.do(t, req{method: "POST", path: p + "/acknowledgements", key: sup2, body: strings.Replace(ack, `"accepted","promised_date"`, `"rejected","reason"`, 1), want: 422})
	e.do(t, req{method: "POST", path: p + "/acknowledgements", key: sup2, body: `{"id":"ACK-C2","bogus":1}`, want: 400, invalid: true})
	e.do(t, req{method: "POST", path: p + "/acknowledgements", key: sup1, body: strings.Replace(ack, "ACK-C1", "ACK-C3", 1), want: 404})
	e.refused(t, "POST", p+"/acknowledgements", shop, ack)
	e.do(t, req{method: "POST", path: p + "/acknowledgements", key: sup2, body: ack, ctype: "text/plain", want: 415, invalid: true})
	asn := fmt.Sprintf(`{"id":"ASN-C1","ship_date":%q,"expected_delivery":%q,"carrier":"DHL","tracking_number":"00340434161234567890","lines":[{"line_number":1,"quantity":%d}]}`, today, today, qty)
	e.do(t, req{method: "POST", path: p + "/shipping-notices", key: sup2, body: asn, want: 202})
	price := line["unit_price"].(string)
	amount := mulDecimal(t, price, qty)
	inv := fmt.Sprintf(`{"id":"INV-C1","shipment_id":"ASN-C1","date":%q,"currency":%q,"lines":[{"line_number":1,"quantity":%d,"unit_price":%q,"amount":%q}],"subtotal":%q,"tax":"0.00","total":%q}`,
		today, po["currency"], qty, price, amount, amount, amount)
	e.do(t, req{method: "POST", path: p + "/invoices", key: sup2, body: inv, want: 202})
	asOf := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	stock := fmt.Sprintf(`{"id":"STK-C1","as_of":%q,"items":[{"sku":%q,"available":40,"unit":"EA","lead_time_days":5}]}`, asOf, line["sku"])
	e.do(t, req{method: "POST", path: "/v1/supplier/stock-advices", key: sup2, body: stock, want: 202})
	e.do(t, req{method: "POST", path: "/v1/supplier/stock-advices", key: sup2, body: strings.Replace(strings.Replace(stock, "STK-C1", "STK-C2", 1), asOf, "2020-01-01T00:00:00Z", 1), want: 422})
	e.do(t, req{method: "POST", path: "/v1/supplier/stock-advices", key: sup2, body: `{"id":1}`, want: 400, invalid: true})
	// The refusals every document shares, and a changed document under a
	// known id.
	for _, d := range []struct{ path, body, changed string }{
		{p + "/acknowledgements", ack, ""},
		{p + "/shipping-notices", asn, strings.Replace(asn, "DHL", "UPS", 1)},
		{p + "/invoices", inv, strings.Replace(inv, `"tax":"0.00"`, `"tax":"0.00","notes":"changed"`, 1)},
		{"/v1/supplier/stock-advices", stock, strings.Replace(stock, `"available":40`, `"available":41`, 1)},
	} {
		e.refused(t, "POST", d.path, shop, d.body)
		e.do(t, req{method: "POST", path: d.path, key: sup2, body: `{"id":"X-1","bogus":1}`, want: 400, invalid: true})
		e.do(t, req{method: "POST", path: d.path, key: sup2, body: d.body, ctype: "text/plain", want: 415, invalid: true})
		e.do(t, req{method: "POST", path: d.path, key: sup2, body: huge, want: 413, invalid: true})
		if d.changed != "" {
			e.do(t, req{method: "POST", path: d.path, key: sup2, body: d.changed, want: 422})
		}
		if strings.HasPrefix(d.path, p) {
			e.do(t, req{method: "POST", path: d.path, key: sup1, body: d.body, want: 404})
		}
	}
	for kind, docID := range map[string]string{"acknowledgements": "ACK-C1", "shipping-notices": "ASN-C1", "invoices": "INV-C1", "stock-advices": "STK-C1"} {
		base := "/v1/supplier/" + kind
		e.do(t, req{method: "GET", path: base + "?limit=10", key: sup2, want: 200})
		e.do(t, req{method: "GET", path: base + "?offset=-1", key: sup2, want: 400, invalid: true})
		e.refused(t, "GET", base, shop, "")
		e.do(t, req{method: "GET", path: base + "/" + docID, key: sup2, want: 200})
		e.do(t, req{method: "GET", path: base + "/" + docID, key: sup1, want: 404})
		e.refused(t, "GET", base+"/"+docID, shop, "")
	}

	// The release plan.
	plan := e.do(t, req{method: "GET", path: "/admin/release", key: admin, want: 200})
	e.refused(t, "GET", "/admin/release", shop, "")
	put := exampleBody(t, e.checker, "/admin/release", "put")
	e.do(t, req{method: "PUT", path: "/admin/release", key: admin, body: put, hdr: map[string]string{"Erpgate-Actor": "jane"}, want: 200})
	rev := fmt.Sprint(plan.body["revision"])
	e.do(t, req{method: "PUT", path: "/admin/release", key: admin, body: strings.Replace(put, `{`, `{"expected_revision":`+rev+`,`, 1), want: 409})
	e.do(t, req{method: "PUT", path: "/admin/release", key: admin, body: `{"stage":2,"reason":"x"}`, want: 400, invalid: true})
	e.do(t, req{method: "PUT", path: "/admin/release", key: admin, body: strings.Replace(put, `"v2":"active"`, `"v2":"paused"`, 1), want: 422})
	e.do(t, req{method: "PUT", path: "/admin/release", key: admin, body: put, ctype: "text/plain", want: 415, invalid: true})
	e.refused(t, "PUT", "/admin/release", shop, put)
	e.do(t, req{method: "PUT", path: "/admin/release", key: admin, body: huge, want: 413, invalid: true})
	e.do(t, req{method: "POST", path: "/admin/release/backout", key: admin, body: `{"reason":"contract test"}`, want: 200})
	e.do(t, req{method: "POST", path: "/admin/release/backout", key: admin, body: `{"skip_delivered_by_v1":true}`, want: 400})
	e.do(t, req{method: "POST", path: "/admin/release/backout", key: admin, body: `{}`, ctype: "text/plain", want: 415, invalid: true})
	e.refused(t, "POST", "/admin/release/backout", shop, "")
	e.do(t, req{method: "POST", path: "/admin/release/promote", key: admin, body: `{"reason":"contract test","skip_delivered_by_v1":true}`, want: 200})
	e.do(t, req{method: "POST", path: "/admin/release/promote", key: admin, body: `{"reason":1}`, want: 400, invalid: true})
	e.do(t, req{method: "POST", path: "/admin/release/promote", key: admin, body: `{}`, ctype: "text/plain", want: 415, invalid: true})
	e.refused(t, "POST", "/admin/release/promote", shop, "")
	e.do(t, req{method: "GET", path: "/admin/release/history?limit=5", key: admin, want: 200})
	e.do(t, req{method: "GET", path: "/admin/release/history?limit=0", key: admin, want: 400, invalid: true})
	e.refused(t, "GET", "/admin/release/history", shop, "")
	e.do(t, req{method: "GET", path: "/admin/release/shadow", key: admin, want: 200})
	e.do(t, req{method: "GET", path: "/admin/release/shadow?limit=1000", key: admin, want: 400, invalid: true})
	e.refused(t, "GET", "/admin/release/shadow", shop, "")

	// Webhooks.
	sub := exampleBody(t, e.checker, "/admin/webhooks", "post")
	created := e.do(t, req{method: "POST", path: "/admin/webhooks", key: admin, body: strings.Replace(sub, `{`, `{"id":"contract-hook",`, 1), want: 201})
	if created.header.Get("Location") != "/admin/webhooks/contract-hook" || created.body["secret"] == nil {
		t.Errorf("subscribe: Location %q, body %v; want the subscription's URL and its secret", created.header.Get("Location"), created.body)
	}
	e.do(t, req{method: "POST", path: "/admin/webhooks", key: admin, body: strings.Replace(sub, `{`, `{"id":"contract-hook",`, 1), want: 409})
	e.do(t, req{method: "POST", path: "/admin/webhooks", key: admin, body: `{"shop_id":"demo-shop","url":"ftp://x"}`, want: 400})
	e.do(t, req{method: "POST", path: "/admin/webhooks", key: admin, body: `{"url":1}`, want: 400, invalid: true})
	e.do(t, req{method: "POST", path: "/admin/webhooks", key: admin, body: sub, ctype: "text/plain", want: 415, invalid: true})
	e.do(t, req{method: "POST", path: "/admin/webhooks", key: admin, body: huge, want: 413, invalid: true})
	e.refused(t, "POST", "/admin/webhooks", shop, sub)
	e.do(t, req{method: "GET", path: "/admin/webhooks", key: admin, want: 200})
	e.refused(t, "GET", "/admin/webhooks", shop, "")
	e.do(t, req{method: "GET", path: "/admin/webhooks/dead-letters?limit=10", key: admin, want: 200})
	e.do(t, req{method: "GET", path: "/admin/webhooks/dead-letters?limit=0", key: admin, want: 400, invalid: true})
	e.refused(t, "GET", "/admin/webhooks/dead-letters", shop, "")
	e.do(t, req{method: "DELETE", path: "/admin/webhooks/contract-hook", key: admin, want: 204})
	e.do(t, req{method: "DELETE", path: "/admin/webhooks/contract-hook", key: admin, want: 404})
	e.do(t, req{method: "DELETE", path: "/admin/webhooks/from-config", key: admin, want: 403})
	e.refused(t, "DELETE", "/admin/webhooks/x", shop, "")

	// Release management: the acceptance gates, approvals and the library
	// of releases (the description's manifest example is stored and goes
	// live).
	e.do(t, req{method: "POST", path: "/admin/release/backout", key: admin, body: `{"reason":"before the gates"}`, want: 200})
	gated := `{"stage":2,"targets":{"v1":"active","v2":"paused"},"authoritative":"v1","cohorts":[],"shadow":true,` +
		`"auto_backout":{"enabled":false,"window":100,"min_sample":20,"failure_ratio":0.5,"mismatches":5},` +
		`"acceptance":{"stage2":1,"widening":1,"roles":["business"],"require_manifest":true},"reason":"gate the rollout"}`
	gplan := e.do(t, req{method: "PUT", path: "/admin/release", key: admin, body: gated, want: 200})
	if a := e.do(t, req{method: "GET", path: "/admin/release/approvals", key: admin, want: 200}); a.body["current"] != true || len(a.body["promote_missing"].([]any)) == 0 {
		t.Errorf("approvals of the gated plan: %s, want current with what a promotion lacks", clipText(a.raw))
	}
	e.do(t, req{method: "GET", path: "/admin/release/approvals?revision=x", key: admin, want: 400, invalid: true})
	e.refused(t, "GET", "/admin/release/approvals", shop, "")
	if a := e.do(t, req{method: "POST", path: "/admin/release/promote", key: admin, body: `{"reason":"too early"}`, want: 409}); a.body["code"] != "approval_required" {
		t.Errorf("promote without approvals: %s, want approval_required", clipText(a.raw))
	}
	approve := exampleBody(t, e.checker, "/admin/release/approvals", "post")
	e.do(t, req{method: "POST", path: "/admin/release/approvals", key: admin, body: approve, hdr: map[string]string{"Erpgate-Actor": "jane"}, want: 201})
	e.do(t, req{method: "POST", path: "/admin/release/approvals", key: admin, body: `{"role":"business","comment":"stale","revision":` + fmt.Sprint(gplan.body["revision"].(float64)-1) + `}`, want: 409})
	e.do(t, req{method: "POST", path: "/admin/release/approvals", key: admin, body: approve, hdr: map[string]string{"Erpgate-Actor": "jane"}, want: 409}) // once per approver
	e.do(t, req{method: "POST", path: "/admin/release/approvals", key: admin, body: `{"role":"Business!"}`, want: 400, invalid: true})
	e.bodyRefused(t, "POST", "/admin/release/approvals", admin, shop, approve)
	if a := e.do(t, req{method: "POST", path: "/admin/release/promote", key: admin, body: `{"version":"9.9.9"}`, want: 409}); a.body["code"] != "manifest_required" {
		t.Errorf("promote to a version without a manifest: %s, want manifest_required", clipText(a.raw))
	}
	man := exampleBody(t, e.checker, "/admin/release/manifests", "put")
	e.do(t, req{method: "PUT", path: "/admin/release/manifests", key: admin, body: man, want: 201})
	e.do(t, req{method: "PUT", path: "/admin/release/manifests", key: admin, body: man, want: 200})
	e.do(t, req{method: "PUT", path: "/admin/release/manifests", key: admin, body: resignedManifest(t, man), want: 409})
	e.do(t, req{method: "PUT", path: "/admin/release/manifests", key: admin, body: strings.Replace(man, `"go1.24.4"`, `"go1.99.0"`, 1), want: 422})
	e.do(t, req{method: "PUT", path: "/admin/release/manifests", key: admin, body: `{"schema":1}`, want: 400, invalid: true})
	e.bodyRefused(t, "PUT", "/admin/release/manifests", admin, shop, man)
	e.do(t, req{method: "POST", path: "/admin/release/promote", key: admin, body: `{"reason":"accepted","version":"1.4.0"}`, want: 200})
	if a := e.do(t, req{method: "GET", path: "/admin/release/manifests", key: admin, want: 200}); a.body["live"] != "1.4.0" {
		t.Errorf("library after the promotion: %s, want 1.4.0 live", clipText(a.raw))
	}
	e.refused(t, "GET", "/admin/release/manifests", shop, "")
	e.do(t, req{method: "GET", path: "/admin/release/manifests/1.4.0", key: admin, want: 200})
	e.do(t, req{method: "GET", path: "/admin/release/manifests/0.0.1", key: admin, want: 404})
	e.do(t, req{method: "GET", path: "/admin/release/manifests/bad~version", key: admin, want: 400})
	e.refused(t, "GET", "/admin/release/manifests/1.4.0", shop, "")
	e.do(t, req{method: "GET", path: "/admin/release/history?limit=3", key: admin, want: 200}) // with the approvals relied on

	// The CMDB export.
	e.do(t, req{method: "GET", path: "/admin/cmdb", key: admin, want: 200})
	e.do(t, req{method: "GET", path: "/admin/cmdb?format=servicenow&source=contract", key: admin, want: 200})
	e.do(t, req{method: "GET", path: "/admin/cmdb?source=contract", key: admin, want: 400})
	e.do(t, req{method: "GET", path: "/admin/cmdb?format=xml", key: admin, want: 400, invalid: true})
	e.refused(t, "GET", "/admin/cmdb", shop, "")

	// Maintenance notices. The example's window is moved to next week (a
	// window that has ended cannot be stored).
	week := time.Now().UTC().Add(7 * 24 * time.Hour).Truncate(time.Hour)
	note := exampleBody(t, e.checker, "/admin/notices/{id}", "put")
	note = strings.Replace(strings.Replace(note, "2027-01-09T22:00:00Z", week.Format(time.RFC3339), 1),
		"2027-01-10T02:00:00Z", week.Add(4*time.Hour).Format(time.RFC3339), 1)
	e.do(t, req{method: "PUT", path: "/admin/notices/erp-upgrade", key: admin, body: note, want: 201})
	e.do(t, req{method: "PUT", path: "/admin/notices/erp-upgrade", key: admin, body: note, hdr: map[string]string{"Erpgate-Actor": "jane"}, want: 200})
	e.do(t, req{method: "PUT", path: "/admin/notices/bad.id", key: admin, body: note, want: 400})
	e.do(t, req{method: "PUT", path: "/admin/notices/erp-upgrade", key: admin, body: strings.Replace(note, `"intake_paused":false`, `"intake_paused":"no"`, 1), want: 400, invalid: true})
	e.do(t, req{method: "PUT", path: "/admin/notices/erp-upgrade", key: admin, body: strings.Replace(note, `{`, `{"id":"another",`, 1), want: 400})
	e.bodyRefused(t, "PUT", "/admin/notices/erp-upgrade", admin, shop, note)
	e.do(t, req{method: "GET", path: "/admin/notices", key: admin, want: 200})
	e.refused(t, "GET", "/admin/notices", shop, "")
	e.do(t, req{method: "GET", path: "/v1/notices?audience=shops&lang=de", want: 200})
	e.do(t, req{method: "GET", path: "/v1/notices?lang=deu", want: 400, invalid: true})
	// A window in force now that pauses intake: orders are refused with
	// Retry-After, and every answer names the notice.
	now := time.Now().UTC()
	pause := fmt.Sprintf(`{"start":%q,"end":%q,"messages":{"en":"Intake paused for the ERP upgrade.","de":"Bestellannahme wegen ERP-Update pausiert."},"audiences":["shops"],"intake_paused":true}`,
		now.Add(-time.Minute).Format(time.RFC3339), now.Add(10*time.Minute).Format(time.RFC3339))
	e.do(t, req{method: "PUT", path: "/admin/notices/intake-pause", key: admin, body: pause, want: 201})
	for i := 0; ; i++ {
		a := e.do(t, req{method: "POST", path: "/v1/orders", key: shop, body: strings.Replace(stand, "WEB-C-2", "WEB-C-P", 1)})
		if a.status == http.StatusServiceUnavailable {
			if a.header.Get("Retry-After") == "" || a.header.Get(gateway.HeaderNotice) != "intake-pause" {
				t.Errorf("intake paused: Retry-After %q, %s %q", a.header.Get("Retry-After"), gateway.HeaderNotice, a.header.Get(gateway.HeaderNotice))
			}
			break
		}
		if i == 50 {
			t.Fatalf("intake not paused within 5s: %d %s", a.status, clipText(a.raw))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if a := e.do(t, req{method: "GET", path: "/v1/notices", want: 200}); a.header.Get(gateway.HeaderNotice) != "intake-pause" {
		t.Errorf("GET /v1/notices during the window: %s %q", gateway.HeaderNotice, a.header.Get(gateway.HeaderNotice))
	}
	e.do(t, req{method: "DELETE", path: "/admin/notices/intake-pause", key: admin, want: 204})
	e.do(t, req{method: "DELETE", path: "/admin/notices/intake-pause", key: admin, want: 404})
	e.do(t, req{method: "DELETE", path: "/admin/notices/bad.id", key: admin, want: 400})
	e.refused(t, "DELETE", "/admin/notices/erp-upgrade", shop, "")

	// Pilot feedback: the shop's, the customer's (JSON and the tracking
	// page's form, answered in HTML), the rate limit per order, the admin's
	// lists.
	fb := exampleBody(t, e.checker, "/v1/feedback", "post")
	e.do(t, req{method: "POST", path: "/v1/feedback", key: shop, body: fb, want: 201})
	e.do(t, req{method: "POST", path: "/v1/feedback", key: shop, body: `{"order_id":"ord_NOPE","topic":"api","message":"about nothing"}`, want: 404})
	e.do(t, req{method: "POST", path: "/v1/feedback", key: shop, body: `{"order_id":"ord_X","external_id":"WEB-1001","topic":"api","message":"both"}`, want: 400})
	e.do(t, req{method: "POST", path: "/v1/feedback", key: shop, body: `{"topic":1}`, want: 400, invalid: true})
	e.bodyRefused(t, "POST", "/v1/feedback", shop, sup1, fb)
	token2 := acc2.body["tracking"].(map[string]any)["token"].(string)
	cfb := "/v1/tracking/" + id2 + "/feedback"
	form := "application/x-www-form-urlencoded"
	cjson := fmt.Sprintf(`{"token":%q,"topic":"tracking-page","message":"Show the carrier earlier, please."}`, token2)
	e.do(t, req{method: "POST", path: cfb, body: cjson, want: 201})
	e.do(t, req{method: "POST", path: cfb + "?token=" + token2, body: "topic=delivery-date&message=When+does+it+come%3F&lang=de", ctype: form, want: 200})
	e.do(t, req{method: "POST", path: cfb, body: "token=wrong&topic=api&message=hello", ctype: form, want: 404})
	e.do(t, req{method: "POST", path: cfb, body: strings.Replace(cjson, token2, "wrong", 1), want: 404})
	e.do(t, req{method: "POST", path: cfb, body: "token=" + token2 + "&bogus=1", ctype: form, want: 400, invalid: true})
	e.do(t, req{method: "POST", path: cfb, body: `{"topic":1}`, want: 400, invalid: true})
	e.do(t, req{method: "POST", path: cfb, body: "token=" + token2 + "&topic=api&message=" + strings.Repeat("x", 40<<10), ctype: form, want: 413})
	e.do(t, req{method: "POST", path: cfb, body: cjson, ctype: "text/plain", want: 415, invalid: true})
	for i := 0; ; i++ { // at most 5 an hour per order
		if a := e.do(t, req{method: "POST", path: cfb, body: cjson}); a.status == http.StatusTooManyRequests {
			if a.header.Get("Retry-After") == "" {
				t.Error("feedback 429 without Retry-After")
			}
			break
		} else if i == 10 {
			t.Fatalf("no 429 after %d customer feedback messages: %d", i, a.status)
		}
	}
	e.do(t, req{method: "POST", path: cfb, body: "token=" + token2 + "&topic=api&message=once+more", ctype: form, want: 429})
	e.do(t, req{method: "POST", path: "/v1/feedback", key: shop, body: fmt.Sprintf(`{"order_id":%q,"topic":"api","message":"over the limit"}`, id2), want: 429})
	e.adminRead(t, "/admin/feedback?limit=10&topic=api", "/admin/feedback?limit=0", "/admin/feedback")
	e.adminRead(t, "/admin/feedback/topics?revision=1", "/admin/feedback/topics?revision=x", "/admin/feedback/topics")

	// The FAQ.
	faq := exampleBody(t, e.checker, "/admin/faq/{id}", "put")
	e.do(t, req{method: "PUT", path: "/admin/faq/when-is-my-delivery", key: admin, body: faq, want: 201})
	e.do(t, req{method: "PUT", path: "/admin/faq/when-is-my-delivery", key: admin, body: faq, want: 200})
	e.do(t, req{method: "PUT", path: "/admin/faq/Bad_ID", key: admin, body: faq, want: 400})
	e.do(t, req{method: "PUT", path: "/admin/faq/when-is-my-delivery", key: admin, body: `{"topic":"api"}`, want: 400, invalid: true})
	e.bodyRefused(t, "PUT", "/admin/faq/when-is-my-delivery", admin, shop, faq)
	e.do(t, req{method: "GET", path: "/admin/faq", key: admin, want: 200})
	e.refused(t, "GET", "/admin/faq", shop, "")
	e.do(t, req{method: "DELETE", path: "/admin/faq/when-is-my-delivery", key: admin, want: 204})
	e.do(t, req{method: "DELETE", path: "/admin/faq/when-is-my-delivery", key: admin, want: 404})
	e.do(t, req{method: "DELETE", path: "/admin/faq/Bad_ID", key: admin, want: 400})
	e.refused(t, "DELETE", "/admin/faq/x", shop, "")

	// The outbox and the dead letters of the outbox and of webhooks (the
	// demo gives up on nothing in this test: see notExercised).
	e.do(t, req{method: "GET", path: "/admin/outbox", key: admin, want: 200})
	e.refused(t, "GET", "/admin/outbox", shop, "")
	for _, base := range []string{"/admin/outbox/dead-letters", "/admin/webhooks/dead-letters"} {
		if base == "/admin/outbox/dead-letters" {
			e.adminRead(t, base+"?limit=10", base+"?limit=0", base)
		}
		e.adminRead(t, base+"/actions?limit=10", base+"/actions?limit=0", base+"/actions")
		e.do(t, req{method: "GET", path: base + "/1-0", key: admin, want: 404})
		e.refused(t, "GET", base+"/1-0", shop, "")
		e.do(t, req{method: "POST", path: base + "/1-0/replay", key: admin, body: `{"reason":"contract test"}`, want: 404})
		e.do(t, req{method: "POST", path: base + "/1-0/replay", key: admin, body: `{"reason":1}`, want: 400, invalid: true})
		e.do(t, req{method: "POST", path: base + "/1-0/replay", key: admin, body: `{}`, ctype: "text/plain", want: 415, invalid: true})
		e.do(t, req{method: "POST", path: base + "/1-0/replay", key: admin, body: huge, want: 413, invalid: true})
		e.refused(t, "POST", base+"/1-0/replay", shop, "")
		e.do(t, req{method: "DELETE", path: base + "/1-0?reason=contract+test", key: admin, want: 404})
		e.do(t, req{method: "DELETE", path: base + "/1-0?reason=" + strings.Repeat("x", 501), key: admin, want: 400, invalid: true})
		e.refused(t, "DELETE", base+"/1-0", shop, "")
	}

	hooks.wait(t, "notice:erp-upgrade", 2)  // notice.scheduled, notice.updated
	hooks.wait(t, "notice:intake-pause", 2) // notice.scheduled, notice.cancelled

	// Rate limits: the limited clients spend their one request, then every
	// limited operation answers 429 with Retry-After and RateLimit-*.
	e.do(t, req{method: "GET", path: "/v1/orders/ord_NOPE", key: limitedShopKey, want: 404})
	e.do(t, req{method: "GET", path: "/v1/supplier/purchase-orders/PO-NOPE", key: limitedSupplierKey})
	for _, r := range []req{
		{method: "POST", path: "/v1/orders", key: limitedShopKey, body: strings.Replace(stand, "WEB-C-2", "WEB-C-L", 1)},
		{method: "GET", path: "/v1/orders?external_id=WEB-1001", key: limitedShopKey},
		{method: "GET", path: "/v1/orders/" + id, key: limitedShopKey},
		{method: "POST", path: "/v1/feedback", key: limitedShopKey, body: fb},
		{method: "GET", path: "/v1/supplier/purchase-orders", key: limitedSupplierKey},
		{method: "GET", path: "/v1/supplier/purchase-orders/PO-NOPE", key: limitedSupplierKey},
		{method: "POST", path: "/v1/supplier/purchase-orders/PO-NOPE/acknowledgements", key: limitedSupplierKey, body: ack},
		{method: "POST", path: "/v1/supplier/purchase-orders/PO-NOPE/shipping-notices", key: limitedSupplierKey, body: asn},
		{method: "POST", path: "/v1/supplier/purchase-orders/PO-NOPE/invoices", key: limitedSupplierKey, body: inv},
		{method: "POST", path: "/v1/supplier/stock-advices", key: limitedSupplierKey, body: stock},
		{method: "GET", path: "/v1/supplier/stock-advices", key: limitedSupplierKey},
		{method: "GET", path: "/v1/supplier/stock-advices/STK-C1", key: limitedSupplierKey},
		{method: "GET", path: "/v1/supplier/acknowledgements", key: limitedSupplierKey},
		{method: "GET", path: "/v1/supplier/acknowledgements/ACK-C1", key: limitedSupplierKey},
		{method: "GET", path: "/v1/supplier/shipping-notices", key: limitedSupplierKey},
		{method: "GET", path: "/v1/supplier/shipping-notices/ASN-C1", key: limitedSupplierKey},
		{method: "GET", path: "/v1/supplier/invoices", key: limitedSupplierKey},
		{method: "GET", path: "/v1/supplier/invoices/INV-C1", key: limitedSupplierKey},
	} {
		r.want = http.StatusTooManyRequests
		if a := e.do(t, r); a.header.Get("Retry-After") == "" || a.header.Get("RateLimit-Remaining") != "0" {
			t.Errorf("%s %s: 429 with Retry-After %q, RateLimit-Remaining %q", r.method, r.path, a.header.Get("Retry-After"), a.header.Get("RateLimit-Remaining"))
		}
	}

	// ERP v2 down: what must ask it and has no copy answers 503 with
	// Retry-After (the description requires the header).
	putJSON(t, e.sim+"/sim/faults?version=v2", `{"down":true}`)
	for _, r := range []req{
		{method: "GET", path: "/v1/catalog/items?offset=3&limit=7", key: shop, want: 503},
		{method: "GET", path: "/v1/catalog/items/SKU-1003", key: shop, want: 503},
		{method: "GET", path: "/v1/supplier/purchase-orders?offset=3&limit=7", key: sup1, want: 503},
		{method: "GET", path: "/v1/supplier/purchase-orders/PO-999999", key: sup1, want: 503},
	} {
		if a := e.do(t, r); a.header.Get("Retry-After") == "" {
			t.Errorf("%s %s: %d without Retry-After", r.method, r.path, a.status)
		}
	}
	putJSON(t, e.sim+"/sim/faults?version=v2", `{"down":false}`)

	// The stand mixer's order after all that: still a valid answer.
	e.do(t, req{method: "GET", path: "/v1/orders/" + id2, key: shop, want: 200})

	// Redis gone: every operation that needs it answers 503 with
	// Retry-After, and the gateway is not ready.
	e.redis.Close()
	for _, r := range []req{
		{method: "GET", path: "/readyz"},
		{method: "POST", path: "/v1/orders", key: shop, body: strings.Replace(stand, "WEB-C-2", "WEB-C-3", 1)},
		{method: "GET", path: "/v1/orders?external_id=WEB-1001", key: shop},
		{method: "GET", path: "/v1/orders/ord_GONE", key: shop},
		{method: "GET", path: "/v1/tracking/ord_GONE", key: shop},
		{method: "GET", path: "/v1/tracking/ord_GONE/events", key: shop},
		{method: "POST", path: p + "/acknowledgements", key: sup2, body: strings.Replace(ack, "ACK-C1", "ACK-C4", 1)},
		{method: "POST", path: p + "/shipping-notices", key: sup2, body: strings.Replace(asn, "ASN-C1", "ASN-C4", 1)},
		{method: "POST", path: p + "/invoices", key: sup2, body: strings.Replace(inv, "INV-C1", "INV-C4", 1)},
		{method: "POST", path: "/v1/supplier/stock-advices", key: sup2, body: strings.Replace(stock, "STK-C1", "STK-C4", 1)},
		{method: "GET", path: "/v1/supplier/acknowledgements", key: sup2},
		{method: "GET", path: "/v1/supplier/acknowledgements/ACK-C1", key: sup2},
		{method: "GET", path: "/v1/supplier/shipping-notices", key: sup2},
		{method: "GET", path: "/v1/supplier/shipping-notices/ASN-C1", key: sup2},
		{method: "GET", path: "/v1/supplier/invoices", key: sup2},
		{method: "GET", path: "/v1/supplier/invoices/INV-C1", key: sup2},
		{method: "GET", path: "/v1/supplier/stock-advices", key: sup2},
		{method: "GET", path: "/v1/supplier/stock-advices/STK-C1", key: sup2},
		{method: "GET", path: "/admin/release", key: admin},
		{method: "PUT", path: "/admin/release", key: admin, body: put},
		{method: "POST", path: "/admin/release/backout", key: admin},
		{method: "POST", path: "/admin/release/promote", key: admin},
		{method: "GET", path: "/admin/release/history", key: admin},
		{method: "GET", path: "/admin/release/shadow", key: admin},
		{method: "GET", path: "/admin/webhooks", key: admin},
		{method: "POST", path: "/admin/webhooks", key: admin, body: sub},
		{method: "GET", path: "/admin/webhooks/dead-letters", key: admin},
		{method: "DELETE", path: "/admin/webhooks/contract-receiver", key: admin},
		{method: "GET", path: "/admin/release/approvals", key: admin},
		{method: "POST", path: "/admin/release/approvals", key: admin, body: approve},
		{method: "GET", path: "/admin/release/manifests", key: admin},
		{method: "PUT", path: "/admin/release/manifests", key: admin, body: man},
		{method: "GET", path: "/admin/release/manifests/1.4.0", key: admin},
		{method: "PUT", path: "/admin/notices/erp-upgrade", key: admin, body: note},
		{method: "DELETE", path: "/admin/notices/erp-upgrade", key: admin},
		{method: "POST", path: "/v1/feedback", key: shop, body: fb},
		{method: "POST", path: cfb, body: cjson},
		{method: "GET", path: "/admin/feedback", key: admin},
		{method: "GET", path: "/admin/feedback/topics", key: admin},
		{method: "GET", path: "/admin/faq", key: admin},
		{method: "PUT", path: "/admin/faq/when-is-my-delivery", key: admin, body: faq},
		{method: "DELETE", path: "/admin/faq/when-is-my-delivery", key: admin},
		{method: "GET", path: "/admin/outbox", key: admin},
		{method: "GET", path: "/admin/outbox/dead-letters", key: admin},
		{method: "GET", path: "/admin/outbox/dead-letters/actions", key: admin},
		{method: "GET", path: "/admin/outbox/dead-letters/1-0-0", key: admin},
		{method: "POST", path: "/admin/outbox/dead-letters/1-0-0/replay", key: admin},
		{method: "DELETE", path: "/admin/outbox/dead-letters/1-0-0", key: admin},
		{method: "GET", path: "/admin/webhooks/dead-letters/actions", key: admin},
		{method: "GET", path: "/admin/webhooks/dead-letters/1-0", key: admin},
		{method: "POST", path: "/admin/webhooks/dead-letters/1-0/replay", key: admin},
		{method: "DELETE", path: "/admin/webhooks/dead-letters/1-0", key: admin},
	} {
		r.want = http.StatusServiceUnavailable
		if a := e.do(t, r); a.status == http.StatusServiceUnavailable && r.path != "/readyz" && a.header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", r.method, r.path)
		}
	}

	e.do(t, req{method: "POST", path: cfb, body: "token=" + token2 + "&topic=api&message=down", ctype: form, want: 503})
	e.do(t, req{method: "GET", path: "/admin/cmdb", key: admin, want: 200}) // Redis down is named in errors, not a 503

	hooks.wait(t, id, 2) // accepted, erp_received at least

	for _, f := range e.checker.Failures() {
		t.Error(f)
	}
	for k := range notExercised {
		f := strings.Fields(k)
		if st, _ := strconv.Atoi(f[2]); e.checker.Covered(f[0], f[1], st) {
			t.Errorf("%s is in notExercised but the test produces it: drop it from the list", k)
		}
	}
	for _, k := range e.checker.Uncovered() {
		if !allowedUncovered(k) {
			t.Errorf("%s: the description lists it, no request produced it (exercise it, or say why not in notExercised)", k)
		}
	}
}

// hookReceiver is a webhook subscriber that validates what it receives.
type hookReceiver struct {
	checker *openapitest.Checker
	secret  string
	mu      sync.Mutex
	byOrder map[string]int
	bad     []string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var ev struct {
		OrderID  string `json:"order_id"`
		NoticeID string `json:"notice_id"`
		Type     string `json:"type"`
	}
	json.Unmarshal(body, &ev)
	h.mu.Lock()
	defer h.mu.Unlock()
	kind := "orderEvent"
	if strings.HasPrefix(ev.Type, "notice.") {
		kind = "noticeEvent"
	}
	if err := h.checker.CheckWebhook(kind, r, body); err != nil {
		h.bad = append(h.bad, fmt.Sprintf("delivery %s: %v", r.Header.Get("Webhook-Id"), err))
	}
	if err := tracking.VerifySignature(h.secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
		h.bad = append(h.bad, fmt.Sprintf("delivery %s: %v", r.Header.Get("Webhook-Id"), err))
	}
	if h.byOrder == nil {
		h.byOrder = map[string]int{}
	}
	if ev.NoticeID != "" {
		ev.OrderID = "notice:" + ev.NoticeID // a notice event has no order
	}
	h.byOrder[ev.OrderID]++
	w.WriteHeader(http.StatusNoContent)
}

// wait waits for at least n deliveries for the order and reports every
// delivery that did not match the description.
func (h *hookReceiver) wait(t *testing.T, orderID string, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		h.mu.Lock()
		got, bad := h.byOrder[orderID], slices.Clone(h.bad)
		h.mu.Unlock()
		if got >= n || time.Now().After(deadline) {
			if got < n {
				t.Errorf("webhook: %d deliveries for %s within 30s, want at least %d", got, orderID, n)
			}
			for _, b := range bad {
				t.Error(b)
			}
			return
		}
	}
}

// stream reads the first event of a live stream, then hangs up, and waits
// until the checker has validated the answer.
func (e *contractEnv) stream(t *testing.T, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hr, _ := http.NewRequestWithContext(ctx, "GET", e.url+path, nil)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Errorf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	buf := make([]byte, 256)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Errorf("stream: %v", err)
	}
	cancel()
	resp.Body.Close()
	for deadline := time.Now().Add(20 * time.Second); !e.checker.Covered("GET", "/v1/tracking/{id}/events", 200); {
		if time.Now().After(deadline) {
			t.Fatal("the stream's answer was not validated within 20s of hanging up")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitPO waits until the order is backordered (the simulated ERP then
// issues a purchase order), then for the first purchase order of the
// supplier with key. Each look asks for another page size: a list read is
// cached for 30 s, and an empty one must not hide the new order.
func (e *contractEnv) waitPO(t *testing.T, key, orderID, token string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for ; ; time.Sleep(50 * time.Millisecond) {
		a := e.do(t, req{method: "GET", path: "/v1/tracking/" + orderID + "?token=" + token, want: 200})
		if strings.Contains(a.raw, `"type":"`+tracking.TypeBackorder+`"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not backordered within 60s: %s", orderID, a.raw)
		}
	}
	for limit := 100; ; limit-- {
		a := e.do(t, req{method: "GET", path: "/v1/supplier/purchase-orders?limit=" + strconv.Itoa(limit), key: key, want: 200})
		if pos, _ := a.body["purchase_orders"].([]any); len(pos) > 0 {
			return pos[0].(map[string]any)
		}
		if limit == 1 || time.Now().After(deadline) {
			t.Fatalf("no purchase order for the supplier: %s", a.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exampleBody returns the JSON of the first example of an operation's
// request body in the description: the tests send it, so the examples work.
func exampleBody(t *testing.T, c *openapitest.Checker, path, method string) string {
	t.Helper()
	op := c.Doc().Paths.Value(path).GetOperation(strings.ToUpper(method))
	mt := op.RequestBody.Value.Content.Get("application/json")
	var v any
	switch {
	case mt.Example != nil:
		v = mt.Example
	case len(mt.Examples) > 0:
		for _, ex := range mt.Examples {
			v = ex.Value.Value
		}
	default:
		t.Fatalf("%s %s has no request example", method, path)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// resignedManifest returns the manifest JSON m with another commit, signed
// by a new key: another manifest under the same version.
func resignedManifest(t *testing.T, m string) string {
	t.Helper()
	mf, err := manifest.Parse([]byte(m))
	if err != nil {
		t.Fatal(err)
	}
	mf.Commit = "0000000000000000000000000000000000000000"
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := mf.Sign(priv); err != nil {
		t.Fatal(err)
	}
	b, err := mf.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mulDecimal returns price × qty with price's decimals ("12.50" × 3 = "37.50").
func mulDecimal(t *testing.T, price string, qty int64) string {
	t.Helper()
	whole, frac, _ := strings.Cut(price, ".")
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		t.Fatalf("price %q: %v", price, err)
	}
	s := strconv.FormatInt(n*qty, 10)
	if len(frac) == 0 {
		return s
	}
	for len(s) <= len(frac) {
		s = "0" + s
	}
	return s[:len(s)-len(frac)] + "." + s[len(s)-len(frac):]
}

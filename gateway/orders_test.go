package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate/internal/redistest"
	"erpgate/store"
)

// restNow is the fixed clock of the REST tests.
var restNow = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type restEnv struct {
	srv *httptest.Server
	rdb redis.UniversalClient
}

// newRESTEnv serves the gateway over the real store: the real test Redis in
// CI (ERPGATE_REDIS_ADDR), miniredis otherwise.
func newRESTEnv(t *testing.T) *restEnv {
	t.Helper()
	var rdb redis.UniversalClient
	if os.Getenv("ERPGATE_REDIS_ADDR") != "" || os.Getenv("ERPGATE_REDIS_REQUIRED") == "1" {
		rdb = redistest.Universal(t)
	} else {
		rdb, _ = redistest.Mini(t)
	}
	st := store.New(rdb, store.Options{Now: func() time.Time { return restNow }, Partitions: 1})
	if err := st.Init(context.Background()); err != nil {
		t.Fatalf("store init: %v", err)
	}
	keys, err := NewKeyring(append(DemoClients(), Client{ID: "shop-2", Kind: KindShop, KeySHA256: HashKey("shop-2-key")}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{PublicURL: "https://gw.example", Store: st, Keyring: keys, Now: func() time.Time { return restNow }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &restEnv{srv: srv, rdb: rdb}
}

const validOrderJSON = `{"external_id":"WEB-1",
 "customer":{"id":"C-1","name":"Zoë Müller","email":"zoe@example.com","phone":"+49 30 123456"},
 "shipping_address":{"name":"Zoë Müller","line1":"Hauptstraße 1","line2":"2. OG","city":"Berlin","postal_code":"10115","region":"BE","country":"DE"},
 "billing_address":{"name":"Firma GmbH","line1":"Allee 5","city":"Hamburg","postal_code":"20095","country":"DE"},
 "currency":"EUR",
 "lines":[{"sku":"SKU-1001","description":"Kettle","quantity":2,"unit_price":"19.99","discount":"1.00"}],
 "shipping":{"method":"standard","price":"4.95"},
 "requested_delivery_date":"2026-03-20",
 "notes":"ring twice"}`

type restResp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *restEnv) do(t *testing.T, method, path, key, contentType, body string, hdr ...string) restResp {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := restResp{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	json.Unmarshal(raw, &r.body)
	return r
}

func (e *restEnv) postOrder(t *testing.T, key, body string, hdr ...string) restResp {
	return e.do(t, http.MethodPost, "/v1/orders", key, "application/json", body, hdr...)
}

// keyCount is how many keys the store holds besides the outbox machinery the
// store creates at Init.
func (e *restEnv) orderKeys(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{"ord:*", "idem:*", "trk:*"} {
		keys := redistest.Keys(t, e.rdb, pattern)
		out = append(out, keys...)
	}
	n, err := e.rdb.XLen(context.Background(), "outbox:{p0.0}").Result()
	if err != nil && err != redis.Nil {
		t.Fatal(err)
	}
	for i := int64(0); i < n; i++ {
		out = append(out, "outbox-entry")
	}
	return out
}

func TestCreateOrderAcceptsAndReadsBack(t *testing.T) {
	e := newRESTEnv(t)
	r := e.postOrder(t, "demo-shop-key", validOrderJSON)
	if r.status != http.StatusAccepted {
		t.Fatalf("POST: got %d %s, want 202", r.status, r.raw)
	}
	id, _ := r.body["id"].(string)
	if !strings.HasPrefix(id, "ord_") || len(id) != 30 {
		t.Errorf("id: got %q, want ord_ + 26 chars", id)
	}
	if got := r.header.Get("Location"); got != "/v1/orders/"+id {
		t.Errorf("Location: got %q", got)
	}
	tr, _ := r.body["tracking"].(map[string]any)
	token, _ := tr["token"].(string)
	if want := "https://gw.example/track/" + id + "?token=" + token; tr["url"] != want || len(token) < 20 {
		t.Errorf("tracking: got %v, want url %s", tr, want)
	}
	if r.body["status"] != "accepted" || r.body["external_id"] != "WEB-1" {
		t.Errorf("body: got %v", r.body)
	}

	g := e.do(t, http.MethodGet, "/v1/orders/"+id, "demo-shop-key", "", "")
	if g.status != http.StatusOK {
		t.Fatalf("GET: got %d %s", g.status, g.raw)
	}
	o := g.body["order"].(map[string]any)
	lines := o["lines"].([]any)
	l0 := lines[0].(map[string]any)
	if o["notes"] != "ring twice" || l0["discount"] != "1.00" || l0["unit_price"] != "19.99" ||
		o["requested_delivery_date"] != "2026-03-20" || o["shop_id"] != "demo-shop" {
		t.Errorf("GET order: fields lost: %v", o)
	}
	if g.body["status"] != "accepted" {
		t.Errorf("status: got %v, want accepted", g.body["status"])
	}

	byExt := e.do(t, http.MethodGet, "/v1/orders?external_id=WEB-1", "demo-shop-key", "", "")
	if byExt.status != http.StatusOK || byExt.body["id"] != id {
		t.Errorf("GET ?external_id: got %d %v, want id %s", byExt.status, byExt.body["id"], id)
	}
	// Another shop sees nothing: 404 both ways, never 403.
	if r := e.do(t, http.MethodGet, "/v1/orders/"+id, "shop-2-key", "", ""); r.status != http.StatusNotFound {
		t.Errorf("other shop GET by id: got %d, want 404", r.status)
	}
	if r := e.do(t, http.MethodGet, "/v1/orders?external_id=WEB-1", "shop-2-key", "", ""); r.status != http.StatusNotFound {
		t.Errorf("other shop GET by external id: got %d, want 404", r.status)
	}
}

func TestCreateOrderIdempotency(t *testing.T) {
	e := newRESTEnv(t)
	first := e.postOrder(t, "demo-shop-key", validOrderJSON, "Idempotency-Key", "k-1")
	if first.status != http.StatusAccepted {
		t.Fatalf("first: %d %s", first.status, first.raw)
	}
	// Same body (formatted differently) → the identical 202.
	reformatted := strings.ReplaceAll(validOrderJSON, `"19.99"`, `"19.990"`)
	again := e.postOrder(t, "demo-shop-key", reformatted, "Idempotency-Key", "k-1")
	if again.status != http.StatusAccepted || again.raw != first.raw {
		t.Errorf("replay: got %d %s, want identical 202 %s", again.status, again.raw, first.raw)
	}
	if again.header.Get("Idempotent-Replayed") != "true" {
		t.Error("replay: Idempotent-Replayed header missing")
	}
	// Same natural key without the header → same order.
	if r := e.postOrder(t, "demo-shop-key", validOrderJSON); r.body["id"] != first.body["id"] {
		t.Errorf("replay by external id: got %v, want %v", r.body["id"], first.body["id"])
	}
	// Same external id, different content → 422, nothing new.
	changed := strings.Replace(validOrderJSON, `"quantity":2`, `"quantity":3`, 1)
	if r := e.postOrder(t, "demo-shop-key", changed); r.status != http.StatusUnprocessableEntity || r.body["code"] != "idempotency_mismatch" {
		t.Errorf("mismatch by external id: got %d %s", r.status, r.raw)
	}
	// Same Idempotency-Key, other external id → 422.
	other := strings.Replace(validOrderJSON, `"WEB-1"`, `"WEB-2"`, 1)
	if r := e.postOrder(t, "demo-shop-key", other, "Idempotency-Key", "k-1"); r.status != http.StatusUnprocessableEntity {
		t.Errorf("mismatch by key: got %d %s", r.status, r.raw)
	}
	// The same external id from another shop is another order.
	if r := e.postOrder(t, "shop-2-key", validOrderJSON); r.status != http.StatusAccepted || r.body["id"] == first.body["id"] {
		t.Errorf("other shop, same external id: got %d %v", r.status, r.body["id"])
	}
	if n, _ := e.rdb.XLen(context.Background(), "outbox:{p0.0}").Result(); n != 2 {
		t.Errorf("outbox entries: got %d, want 2 (one per order)", n)
	}
}

func TestCreateOrderConcurrentRepeatsMakeOneOrder(t *testing.T) {
	e := newRESTEnv(t)
	const n = 30
	ids := make([]string, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.postOrder(t, "demo-shop-key", validOrderJSON)
			codes[i] = r.status
			ids[i], _ = r.body["id"].(string)
		}()
	}
	wg.Wait()
	for i := range n {
		if codes[i] != http.StatusAccepted || ids[i] != ids[0] {
			t.Fatalf("request %d: got %d id %q, want 202 id %q", i, codes[i], ids[i], ids[0])
		}
	}
	if n, _ := e.rdb.XLen(context.Background(), "outbox:{p0.0}").Result(); n != 1 {
		t.Errorf("outbox entries: got %d, want 1", n)
	}
}

// TestCreateOrderRejectsInvalidInput: each kind of bad input gets a precise
// error, and none of them stores anything.
func TestCreateOrderRejectsInvalidInput(t *testing.T) {
	e := newRESTEnv(t)
	set := func(old, new string) string {
		if !strings.Contains(validOrderJSON, old) {
			t.Fatalf("test bug: %q not in the valid order", old)
		}
		return strings.Replace(validOrderJSON, old, new, 1)
	}
	cases := []struct {
		name, body, contentType string
		status                  int
		code, field             string
	}{
		{"empty body", "", "application/json", 400, "invalid", ""},
		{"not json", "hello", "application/json", 400, "invalid", ""},
		{"truncated", validOrderJSON[:100], "application/json", 400, "invalid", ""},
		{"array", "[]", "application/json", 400, "invalid", "(body)"},
		{"two objects", validOrderJSON + "{}", "application/json", 400, "invalid", ""},
		{"unknown field", set(`"notes":`, `"colour":"red","notes":`), "application/json", 400, "invalid", "colour"},
		{"gateway-assigned id sent", set(`"notes":`, `"id":"ord_x","notes":`), "application/json", 400, "invalid", "id"},
		{"xml content type", validOrderJSON, "application/xml", 415, "unsupported_media", ""},
		{"number as money", set(`"19.99"`, `19.99`), "application/json", 400, "invalid", "lines[0].unit_price"},
		{"five decimals", set(`"19.99"`, `"19.99001"`), "application/json", 400, "invalid", "lines[0].unit_price"},
		{"missing unit price", set(`"unit_price":"19.99",`, ``), "application/json", 400, "invalid", "lines[0].unit_price"},
		{"missing shipping price", set(`,"price":"4.95"`, ``), "application/json", 400, "invalid", "shipping.price"},
		{"quantity as string", set(`"quantity":2`, `"quantity":"2"`), "application/json", 400, "invalid", "lines.quantity"},
		{"missing external id", set(`"external_id":"WEB-1"`, `"external_id":""`), "application/json", 400, "invalid", "external_id"},
		{"bad email", set(`zoe@example.com`, `zoe-at-example`), "application/json", 400, "invalid", "customer.email"},
		{"bad country", set(`"country":"DE"`, `"country":"XX"`), "application/json", 400, "invalid", "shipping_address.country"},
		{"bad currency", set(`"currency":"EUR"`, `"currency":"EURO"`), "application/json", 400, "invalid", "currency"},
		{"no lines", set(`"lines":[{"sku":"SKU-1001","description":"Kettle","quantity":2,"unit_price":"19.99","discount":"1.00"}]`, `"lines":[]`), "application/json", 400, "invalid", "lines"},
		{"zero quantity", set(`"quantity":2`, `"quantity":0`), "application/json", 400, "invalid", "lines[0].quantity"},
		{"negative price", set(`"19.99"`, `"-19.99"`), "application/json", 400, "invalid", "lines[0].unit_price"},
		{"bad sku", set(`"SKU-1001"`, `"SKU 1001"`), "application/json", 400, "invalid", "lines[0].sku"},
		{"discount above line", set(`"discount":"1.00"`, `"discount":"100.00"`), "application/json", 422, "unprocessable", "lines[0].discount"},
		{"bad date", set(`"2026-03-20"`, `"2026-02-30"`), "application/json", 400, "invalid", "requested_delivery_date"},
		{"past date", set(`"2026-03-20"`, `"2026-02-01"`), "application/json", 422, "unprocessable", "requested_delivery_date"},
		{"missing city", set(`"city":"Berlin"`, `"city":""`), "application/json", 400, "invalid", "shipping_address.city"},
		{"missing shipping method", set(`"method":"standard"`, `"method":""`), "application/json", 400, "invalid", "shipping.method"},
		{"control char in name", set(`"name":"Zoë Müller","email"`, `"name":"Zo\u0007e","email"`), "application/json", 400, "invalid", "customer.name"},
		{"huge notes", set(`"ring twice"`, `"`+strings.Repeat("x", 5000)+`"`), "application/json", 400, "invalid", "notes"},
		{"too large", `{"notes":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, "application/json", 413, "too_large", ""},
		{"yen with cents", set(`"currency":"EUR"`, `"currency":"JPY"`), "application/json", 422, "unprocessable", "shipping.price"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, http.MethodPost, "/v1/orders", "demo-shop-key", tc.contentType, tc.body)
			if r.status != tc.status || r.body["code"] != tc.code {
				t.Fatalf("got %d %v, want %d %s; body %s", r.status, r.body["code"], tc.status, tc.code, r.raw)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type: got %q, want application/problem+json", ct)
			}
			if tc.field != "" && !problemHasField(r.body, tc.field) {
				t.Errorf("problems: want field %q in %s", tc.field, r.raw)
			}
			if r.body["detail"] == "" || r.body["type"] == "" {
				t.Errorf("problem without detail/type: %s", r.raw)
			}
		})
	}
	if keys := e.orderKeys(t); len(keys) != 0 {
		t.Errorf("invalid orders stored something: %v", keys)
	}
}

func problemHasField(body map[string]any, field string) bool {
	errs, _ := body["errors"].([]any)
	for _, p := range errs {
		if m, ok := p.(map[string]any); ok && m["field"] == field {
			return true
		}
	}
	return false
}

func TestAuthentication(t *testing.T) {
	e := newRESTEnv(t)
	cases := []struct {
		name, key string
		status    int
	}{
		{"no key", "", 401},
		{"wrong key", "nope", 401},
		{"supplier key on shop API", "demo-supplier-key-1", 403},
		{"admin token on shop API", "demo-admin-token", 403},
	}
	for _, tc := range cases {
		r := e.postOrder(t, tc.key, validOrderJSON)
		if r.status != tc.status {
			t.Errorf("%s: got %d, want %d", tc.name, r.status, tc.status)
		}
		if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
		}
	}
	if keys := e.orderKeys(t); len(keys) != 0 {
		t.Errorf("refused requests stored something: %v", keys)
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	e := newRESTEnv(t)
	if r := e.do(t, http.MethodGet, "/v1/nothing", "demo-shop-key", "", ""); r.status != 404 || r.body["code"] != "not_found" {
		t.Errorf("unknown route: got %d %s", r.status, r.raw)
	}
	if r := e.do(t, http.MethodDelete, "/v1/orders", "demo-shop-key", "", ""); r.status != 405 {
		t.Errorf("wrong method: got %d %s", r.status, r.raw)
	}
	if r := e.do(t, http.MethodGet, "/v1/orders", "demo-shop-key", "", ""); r.status != 400 || !problemHasField(r.body, "external_id") {
		t.Errorf("missing external_id query: got %d %s", r.status, r.raw)
	}
}

func TestRequestIDEchoed(t *testing.T) {
	e := newRESTEnv(t)
	r := e.do(t, http.MethodGet, "/healthz", "", "", "", "X-Request-Id", "abc-123")
	if got := r.header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("X-Request-Id: got %q, want abc-123", got)
	}
	r = e.do(t, http.MethodGet, "/healthz", "", "", "", "X-Request-Id", "bad id\twith junk")
	if got := r.header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " \t") {
		t.Errorf("X-Request-Id for junk input: got %q, want a fresh one", got)
	}
}

func ExampleHashKey() {
	fmt.Println(HashKey("demo-shop-key")[:16])
	// Output: f5d072715bf98654
}

// Package loadtesttest provides fakes of what the load tool talks to — a
// gateway that accepts orders and an ERP simulator with the inspection API —
// so that the generator, the verification and cmd/loadtest can be tested
// without the real services. The fakes can plant the failures verification
// must catch: a lost order, an order created twice, an order created but
// never acknowledged.
package loadtesttest

import (
	"crypto/sha256"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"erpgate/loadtest"
)

// ERP is a fake ERP simulator holding orders per version. It serves
// GET /sim/orders (optionally ?version=, and ?after= with the cursor header
// loadtest.OrdersCursorHeader) like erpsim does.
type ERP struct {
	// NoCursor makes it an older simulator: no cursor header, after= ignored.
	NoCursor bool

	mu     sync.Mutex
	orders []loadtest.SimOrder
	index  map[string]int // version + "/" + ref → position in orders
	seq    int
	reads  int // elements served
}

// NewERP returns an empty fake ERP.
func NewERP() *ERP { return &ERP{index: map[string]int{}} }

// Create is a create request from the gateway: like ERP v2 it treats a
// repeat with the same reference as the same order (create_calls grows).
func (e *ERP) Create(version, ref string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if i, ok := e.index[version+"/"+ref]; ok {
		e.orders[i].CreateCalls++
		return
	}
	e.seq++
	e.index[version+"/"+ref] = len(e.orders)
	e.orders = append(e.orders, loadtest.SimOrder{Version: version, ExternalRef: ref, ERPOrderNumber: fmt.Sprintf("SO-%06d", e.seq), CreateCalls: 1})
}

// CreateTwice stores ref as two separate orders: the failure an ERP without
// deduplication shows when a create is redelivered.
func (e *ERP) CreateTwice(version, ref string) {
	e.Create(version, ref)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	e.orders = append(e.orders, loadtest.SimOrder{Version: version, ExternalRef: ref, ERPOrderNumber: fmt.Sprintf("SO-%06d", e.seq), CreateCalls: 1})
}

// Len returns the number of orders held.
func (e *ERP) Len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.orders)
}

// Reset forgets every order, as DELETE /sim/orders does.
func (e *ERP) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.orders, e.index = nil, map[string]int{}
}

// Reads returns how many order elements GET /sim/orders has served.
func (e *ERP) Reads() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reads
}

// ServeHTTP serves GET /sim/orders.
func (e *ERP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/sim/orders" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	ver := q.Get("version")
	after := 0
	if a := q.Get("after"); a != "" && !e.NoCursor {
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 || ver == "" {
			http.Error(w, "bad after", http.StatusBadRequest)
			return
		}
		after = n
	}
	e.mu.Lock()
	out := make([]loadtest.SimOrder, 0, len(e.orders))
	pos := 0 // position in the version's creation order
	for _, o := range e.orders {
		if ver == "" || o.Version == ver {
			if pos >= after {
				out = append(out, o)
			}
			pos++
		}
	}
	e.reads += len(out)
	e.mu.Unlock()
	if ver != "" && !e.NoCursor {
		w.Header().Set(loadtest.OrdersCursorHeader, strconv.Itoa(pos))
		if after > pos {
			http.Error(w, "orders were reset", http.StatusConflict)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// Gateway is a fake erpgate gateway: POST /v1/orders (with idempotency by
// Idempotency-Key or external_id), POST /soap/orders, GET /v1/orders/{id},
// GET /v1/tracking/{id}, GET /track/{id}, GET /v1/supplier/purchase-orders
// and GET /healthz.
// An accepted order is delivered to ERP at once, in every version of
// Versions, before the answer — unless a planted failure says otherwise.
type Gateway struct {
	ERP      *ERP
	Versions []string // default ["v2"]
	ShopKey  string   // default the demo key
	// SupplierKey is the accepted supplier key (default the demo key).
	SupplierKey string

	// Delay is added to every request; with Serial, requests are served one
	// at a time, so the fake has a hard capacity of 1/Delay per second.
	Delay  time.Duration
	Serial bool

	// Planted failures, by the order's sequence number (1 = first accepted).
	Lose   func(n int) bool // accepted, answered 202, never delivered (the gateway says it was)
	Forget func(n int) bool // accepted, answered 202, then gone: never delivered, GET answers 404
	// Queue holds an accepted order back (pending, as behind a backlog)
	// until DeliverQueued.
	Queue        func(n int) bool
	DeliverTwice func(n int) bool // delivered as two ERP orders
	// StoreAndFail stores and delivers the order but answers 500, as a
	// gateway that crashed after its durable step would.
	StoreAndFail func(n int) bool

	serial sync.Mutex
	mu     sync.Mutex
	seq    int
	byKey  map[string]accepted
	byID   map[string]accepted
	hits   map[string]int
}

type accepted struct {
	id, externalID, token string
	fingerprint           [32]byte
	queued, forgotten     bool
}

var (
	soapExternalID = regexp.MustCompile(`<(?:\w+:)?ExternalId>([^<]*)</`)
	trackingPath   = regexp.MustCompile(`^/v1/tracking/([^/]+)$`)
	pagePath       = regexp.MustCompile(`^/track/([^/]+)$`)
	orderPath      = regexp.MustCompile(`^/v1/orders/([^/]+)$`)
)

// Hits returns how many requests each route received ("POST /v1/orders", …).
func (g *Gateway) Hits() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := make(map[string]int, len(g.hits))
	for k, v := range g.hits {
		m[k] = v
	}
	return m
}

// ServeHTTP implements the fake API.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.Serial {
		g.serial.Lock()
		defer g.serial.Unlock()
	}
	if g.Delay > 0 {
		time.Sleep(g.Delay)
	}
	route := r.Method + " " + r.URL.Path
	switch {
	case trackingPath.MatchString(r.URL.Path):
		route = r.Method + " /v1/tracking/{id}"
	case pagePath.MatchString(r.URL.Path):
		route = r.Method + " /track/{id}"
	case orderPath.MatchString(r.URL.Path):
		route = r.Method + " /v1/orders/{id}"
	}
	g.mu.Lock()
	if g.hits == nil {
		g.hits = map[string]int{}
		g.byKey = map[string]accepted{}
		g.byID = map[string]accepted{}
	}
	g.hits[route]++
	g.mu.Unlock()

	shopKey, supplierKey := g.ShopKey, g.SupplierKey
	if shopKey == "" {
		shopKey = loadtest.DefaultShopKey
	}
	if supplierKey == "" {
		supplierKey = loadtest.DefaultSupplierKey
	}
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch route {
	case "GET /healthz":
		io.WriteString(w, "ok\n")
	case "POST /v1/orders":
		if auth != shopKey {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var o struct {
			ExternalID string `json:"external_id"`
		}
		if json.Unmarshal(body, &o) != nil || o.ExternalID == "" {
			http.Error(w, "invalid", http.StatusBadRequest)
			return
		}
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			key = "ext:" + o.ExternalID
		}
		a, status := g.accept(key, o.ExternalID, sha256.Sum256(body))
		if status != http.StatusAccepted {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"id":%q,"external_id":%q,"status":"accepted","tracking":{"url":"/track/%s?token=%s","token":%q}}`, a.id, a.externalID, a.id, a.token, a.token)
	case "POST /soap/orders":
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		m := soapExternalID.FindSubmatch(body)
		if m == nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/xml") {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>bad</faultstring></soap:Fault></soap:Body></soap:Envelope>`)
			return
		}
		var ext string
		_ = xml.Unmarshal([]byte("<x>"+string(m[1])+"</x>"), &ext)
		a, status := g.accept("soapext:"+ext, ext, sha256.Sum256(body))
		if status != http.StatusAccepted {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		fmt.Fprintf(w, `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><o:SubmitOrderResponse xmlns:o="urn:erpgate:orders:v1"><o:OrderId>%s</o:OrderId><o:Status>accepted</o:Status></o:SubmitOrderResponse></soap:Body></soap:Envelope>`, a.id)
	case "GET /v1/tracking/{id}":
		id := trackingPath.FindStringSubmatch(r.URL.Path)[1]
		g.mu.Lock()
		a, ok := g.byID[id]
		g.mu.Unlock()
		if !ok || r.URL.Query().Get("token") != a.token {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"id":%q,"events":[{"type":"accepted"}]}`, id)
	case "GET /track/{id}":
		id := pagePath.FindStringSubmatch(r.URL.Path)[1]
		g.mu.Lock()
		a, ok := g.byID[id]
		g.mu.Unlock()
		if !ok || r.URL.Query().Get("token") != a.token {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>%s</title>", id)
	case "GET /v1/orders/{id}":
		id := orderPath.FindStringSubmatch(r.URL.Path)[1]
		g.mu.Lock()
		a, ok := g.byID[id]
		g.mu.Unlock()
		if auth != shopKey || !ok || a.forgotten {
			http.NotFound(w, r)
			return
		}
		state := "created"
		if a.queued {
			state = "pending"
		}
		// The fake's gateway delivers to both targets as far as it knows
		// (a version left out of Versions loses its orders silently).
		results := map[string]map[string]string{}
		for _, v := range []string{"v1", "v2"} {
			results[v] = map[string]string{"state": state}
		}
		erp, _ := json.Marshal(results)
		fmt.Fprintf(w, `{"id":%q,"external_id":%q,"status":"accepted","erp":%s}`, a.id, a.externalID, erp)
	case "GET /v1/supplier/purchase-orders":
		if auth != supplierKey {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `[]`)
	default:
		http.NotFound(w, r)
	}
}

func (g *Gateway) versions() []string {
	if len(g.Versions) == 0 {
		return []string{"v2"}
	}
	return g.Versions
}

// DeliverQueued delivers the orders Queue held back, as a drained backlog.
func (g *Gateway) DeliverQueued() {
	g.mu.Lock()
	var ids []string
	for id, a := range g.byID {
		if a.queued {
			a.queued = false
			g.byID[id] = a
			ids = append(ids, id)
		}
	}
	g.mu.Unlock()
	slices.Sort(ids)
	for _, id := range ids {
		for _, v := range g.versions() {
			g.ERP.Create(v, id)
		}
	}
}

// accept applies idempotency and delivers a new order.
func (g *Gateway) accept(key, externalID string, fp [32]byte) (accepted, int) {
	g.mu.Lock()
	if a, ok := g.byKey[key]; ok {
		g.mu.Unlock()
		if a.fingerprint != fp {
			return accepted{}, http.StatusUnprocessableEntity
		}
		return a, http.StatusAccepted
	}
	g.seq++
	n := g.seq
	a := accepted{id: fmt.Sprintf("ord_%08d", n), externalID: externalID, token: fmt.Sprintf("tok%d", n), fingerprint: fp}
	g.byKey[key] = a
	g.byID[a.id] = a
	g.mu.Unlock()

	versions := g.versions()
	a.queued = g.Queue != nil && g.Queue(n)
	a.forgotten = g.Forget != nil && g.Forget(n)
	g.mu.Lock()
	g.byID[a.id] = a
	g.mu.Unlock()
	if g.ERP != nil && !(g.Lose != nil && g.Lose(n)) && !a.queued && !a.forgotten {
		for _, v := range versions {
			if g.DeliverTwice != nil && g.DeliverTwice(n) {
				g.ERP.CreateTwice(v, a.id)
			} else {
				g.ERP.Create(v, a.id)
			}
		}
	}
	if g.StoreAndFail != nil && g.StoreAndFail(n) {
		return accepted{}, http.StatusInternalServerError
	}
	return a, http.StatusAccepted
}

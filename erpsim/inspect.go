package erpsim

import (
	"net/http"
	"strconv"
	"time"

	"erpgate/order"
)

// OrderInfo is one order a simulated ERP holds, as GET /sim/orders lists it.
// version, external_ref, erp_order_number and create_calls are the stable
// core that loss and duplicate checks rely on.
type OrderInfo struct {
	Version        string `json:"version"`
	ExternalRef    string `json:"external_ref"`
	ERPOrderNumber string `json:"erp_order_number"`
	// CreateCalls counts the create requests this order received: more than
	// one means the sender repeated a create (harmless on an idempotent
	// interface, and never a second order there).
	CreateCalls      int           `json:"create_calls"`
	Status           string        `json:"status"`
	Total            order.Decimal `json:"total"`
	Currency         string        `json:"currency"`
	LineCount        int           `json:"line_count"`
	CreatedAt        time.Time     `json:"created_at"`
	Carrier          string        `json:"carrier,omitempty"`
	TrackingNumber   string        `json:"tracking_number,omitempty"`
	ExpectedDelivery string        `json:"expected_delivery,omitempty"`
}

// Filter selects orders; empty fields match everything.
type Filter struct {
	Version     string // "v1", "v2"
	ExternalRef string
}

// Orders returns the orders the simulated ERPs hold that match f, by
// version and then in creation order. An unknown version matches nothing.
func (s *Sim) Orders(f Filter) []OrderInfo {
	out := []OrderInfo{}
	for _, name := range s.names {
		if f.Version != "" && f.Version != name {
			continue
		}
		out = append(out, s.versions[name].store.infos(f.ExternalRef)...)
	}
	return out
}

// OrderCount returns how many orders a version holds (all versions if
// version is empty).
func (s *Sim) OrderCount(version string) int {
	n := 0
	for _, name := range s.names {
		if version == "" || version == name {
			n += s.versions[name].store.len()
		}
	}
	return n
}

// Reset forgets the orders of one version, or of all if version is empty.
// Order numbers are not reused.
func (s *Sim) Reset(version string) error {
	if version != "" && s.versions[version] == nil {
		return ErrUnknownVersion
	}
	for _, name := range s.names {
		if version == "" || version == name {
			s.versions[name].store.reset()
		}
	}
	return nil
}

// OrdersCursorHeader is the response header of GET /sim/orders?version=v:
// the position in v's creation order just past the last order listed. A
// reader that passes it back as ?after= gets only the orders created since
// (see handleListOrders); the load tool's verifier polls that way, so a
// check of 100,000 orders reads each once instead of once per poll.
const OrdersCursorHeader = "X-Sim-Orders-Next"

// CoreOrderInfo is an element of GET /sim/orders?fields=core: the stable
// core of OrderInfo that loss and duplicate checks need.
type CoreOrderInfo struct {
	Version        string `json:"version"`
	ExternalRef    string `json:"external_ref"`
	ERPOrderNumber string `json:"erp_order_number"`
	CreateCalls    int    `json:"create_calls"`
}

// OrdersAfter returns the orders version holds from position after (0-based)
// of its creation order on, and the position past the last one. ok is false
// for an unknown version or when after lies beyond the orders held (they
// were reset since the cursor was taken).
func (s *Sim) OrdersAfter(version string, after int) (out []OrderInfo, next int, ok bool) {
	v := s.versions[version]
	if v == nil {
		return nil, 0, false
	}
	st := v.store
	st.mu.Lock()
	defer st.mu.Unlock()
	if after < 0 || after > len(st.list) {
		return nil, len(st.list), false
	}
	recs := st.list[after:]
	out = make([]OrderInfo, len(recs))
	for i, r := range recs {
		out[i] = r.info(st.version)
	}
	return out, len(st.list), true
}

// handleListOrders serves GET /sim/orders[?version=v][&external_ref=r]
// [&after=n][&fields=core].
//
// With version (and no external_ref) the answer carries OrdersCursorHeader,
// taken atomically with the list. after=n (version required) lists only the
// orders from position n of the version's creation order on — those created
// since the answer whose header said n; a cursor beyond the orders held
// (they were reset) is 409 Conflict. Orders are only appended, so each is
// read once; a later create call on an order already read (create_calls
// growing) shows only in a read that starts before it. fields=core leaves
// out everything but version, external_ref, erp_order_number and
// create_calls (CoreOrderInfo).
func (s *Sim) handleListOrders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := Filter{Version: q.Get("version"), ExternalRef: q.Get("external_ref")}
	if f.Version != "" && s.versions[f.Version] == nil {
		writeJSONError(w, http.StatusBadRequest, "unknown version "+f.Version)
		return
	}
	core := false
	switch fields := q.Get("fields"); fields {
	case "":
	case "core":
		core = true
	default:
		writeJSONError(w, http.StatusBadRequest, "fields="+fields+": want core or nothing")
		return
	}
	var orders []OrderInfo
	switch a := q.Get("after"); {
	case a != "" && (f.Version == "" || f.ExternalRef != ""):
		writeJSONError(w, http.StatusBadRequest, "after needs version and no external_ref")
		return
	case f.Version != "" && f.ExternalRef == "":
		after := 0
		if a != "" {
			n, err := strconv.Atoi(a)
			if err != nil || n < 0 {
				writeJSONError(w, http.StatusBadRequest, "after="+a+": want a position ≥ 0")
				return
			}
			after = n
		}
		list, next, ok := s.OrdersAfter(f.Version, after)
		w.Header().Set(OrdersCursorHeader, strconv.Itoa(next))
		if !ok {
			writeJSONError(w, http.StatusConflict, "after="+a+" lies beyond the "+strconv.Itoa(next)+" orders held: they were reset")
			return
		}
		orders = list
	default:
		orders = s.Orders(f)
	}
	if !core {
		writeJSON(w, http.StatusOK, orders)
		return
	}
	out := make([]CoreOrderInfo, len(orders))
	for i, o := range orders {
		out[i] = CoreOrderInfo{Version: o.Version, ExternalRef: o.ExternalRef, ERPOrderNumber: o.ERPOrderNumber, CreateCalls: o.CreateCalls}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleResetOrders serves DELETE /sim/orders[?version=v].
func (s *Sim) handleResetOrders(w http.ResponseWriter, r *http.Request) {
	if err := s.Reset(r.URL.Query().Get("version")); err != nil {
		writeJSONError(w, http.StatusBadRequest, "unknown version "+r.URL.Query().Get("version"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

package erpsim

import (
	"net/http"
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

// handleListOrders serves GET /sim/orders[?version=v][&external_ref=r].
func (s *Sim) handleListOrders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := Filter{Version: q.Get("version"), ExternalRef: q.Get("external_ref")}
	if f.Version != "" && s.versions[f.Version] == nil {
		writeJSONError(w, http.StatusBadRequest, "unknown version "+f.Version)
		return
	}
	writeJSON(w, http.StatusOK, s.Orders(f))
}

// handleResetOrders serves DELETE /sim/orders[?version=v].
func (s *Sim) handleResetOrders(w http.ResponseWriter, r *http.Request) {
	if err := s.Reset(r.URL.Query().Get("version")); err != nil {
		writeJSONError(w, http.StatusBadRequest, "unknown version "+r.URL.Query().Get("version"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

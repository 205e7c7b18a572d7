package erpsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxLatencyMS bounds injected latency (two minutes): enough to outlast any
// sane client timeout, small enough that a typo cannot park requests for hours.
const MaxLatencyMS = 120_000

// Faults is the fault injection applied to SOAP calls. The zero value
// injects nothing. Its JSON form is the body of GET and PUT /sim/faults.
type Faults struct {
	// LatencyMS delays every call by this many milliseconds before the ERP
	// looks at it (0..MaxLatencyMS).
	LatencyMS int `json:"latency_ms"`
	// ErrorRate is the share of calls (0..1) refused with a transient SOAP
	// Server fault SERVICE_BUSY before anything is done.
	ErrorRate float64 `json:"error_rate"`
	// LostReplyRate is the share of calls (0..1) that the ERP carries out
	// but whose reply is lost: the connection is cut instead of answered
	// (http.ErrAbortHandler, so it needs a plain net/http server, not a
	// recovering middleware). This is what exactly-once delivery must survive.
	LostReplyRate float64 `json:"lost_reply_rate"`
	// Down makes the ERP unreachable: every SOAP and WSDL request gets
	// 503 Service Unavailable, as from a load balancer with no backend.
	Down bool `json:"down"`
	// FaultCode answers every call with a SOAP fault whose typed ErpFault
	// detail carries this error code (e.g. "INVALID_ORDER", or one no
	// version knows) and FaultMessage, before anything is done: what an
	// adapter's fault classification is tested with. "" injects none.
	FaultCode    string `json:"fault_code,omitempty"`
	FaultMessage string `json:"fault_message,omitempty"`
}

// MaxFaultMessage bounds Faults.FaultMessage (1 MiB): room to test how a
// client copes with an ERP that answers a long text, no more.
const MaxFaultMessage = 1 << 20

func (f Faults) validate() error {
	if f.LatencyMS < 0 || f.LatencyMS > MaxLatencyMS {
		return fmt.Errorf("latency_ms must be between 0 and %d", MaxLatencyMS)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"error_rate", f.ErrorRate}, {"lost_reply_rate", f.LostReplyRate}} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			return fmt.Errorf("%s must be between 0 and 1", r.name)
		}
	}
	if len(f.FaultCode) > 64 || strings.TrimLeft(f.FaultCode, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != "" {
		return errors.New("fault_code must be up to 64 capital letters and underscores")
	}
	if len(f.FaultMessage) > MaxFaultMessage || !utf8.ValidString(f.FaultMessage) {
		return fmt.Errorf("fault_message must be valid UTF-8 of at most %d bytes", MaxFaultMessage)
	}
	return nil
}

// faultState holds the fault injection for all versions and the
// per-version overrides.
type faultState struct {
	mu       sync.Mutex
	all      Faults
	override map[string]Faults // version → faults replacing all
	known    map[string]bool
}

func (fs *faultState) init(f Faults, versions []string) {
	fs.all = f
	fs.override = make(map[string]Faults)
	fs.known = make(map[string]bool, len(versions))
	for _, v := range versions {
		fs.known[v] = true
	}
}

// get returns the faults in force for version v.
func (fs *faultState) get(v string) Faults {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.override[v]; ok {
		return f
	}
	return fs.all
}

// ErrUnknownVersion is returned for a version name the simulator does not have.
var ErrUnknownVersion = errors.New("erpsim: unknown version")

// Faults returns the fault injection set for all versions.
func (s *Sim) Faults() Faults {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.all
}

// SetFaults sets the fault injection of every version, replacing any
// per-version setting.
func (s *Sim) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("erpsim: %w", err)
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.all = f
	clear(s.faults.override)
	return nil
}

// VersionFaults returns the fault injection in force for one version.
func (s *Sim) VersionFaults(version string) (Faults, error) {
	if !s.faults.known[version] {
		return Faults{}, fmt.Errorf("%w %q", ErrUnknownVersion, version)
	}
	return s.faults.get(version), nil
}

// SetVersionFaults sets the fault injection of one version only, e.g. to
// take v2 down while v1 keeps working.
func (s *Sim) SetVersionFaults(version string, f Faults) error {
	if !s.faults.known[version] {
		return fmt.Errorf("%w %q", ErrUnknownVersion, version)
	}
	if err := f.validate(); err != nil {
		return fmt.Errorf("erpsim: %w", err)
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.override[version] = f
	return nil
}

// handleGetFaults serves GET /sim/faults[?version=v].
func (s *Sim) handleGetFaults(w http.ResponseWriter, r *http.Request) {
	f := s.Faults()
	if v := r.URL.Query().Get("version"); v != "" {
		var err error
		if f, err = s.VersionFaults(v); err != nil {
			writeJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, f)
}

// handlePutFaults serves PUT /sim/faults[?version=v]. The body is a Faults
// object; fields left out keep their current value, so {"down":true} only
// takes the ERP down. Without ?version the result applies to every version.
func (s *Sim) handlePutFaults(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query().Get("version")
	cur := s.Faults()
	if v != "" {
		var err error
		if cur, err = s.VersionFaults(v); err != nil {
			writeJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cur); err != nil {
		writeJSONError(w, http.StatusBadRequest, "body must be a JSON object with latency_ms, error_rate, lost_reply_rate, down, fault_code, fault_message: "+err.Error())
		return
	}
	var err error
	if v != "" {
		err = s.SetVersionFaults(v, cur)
	} else {
		err = s.SetFaults(cur)
	}
	if err != nil {
		writeJSONError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, cur)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

package soap

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostileCase is one entry of testdata/hostile/cases.json. The manifest is
// plain JSON so that other packages (the SOAP endpoints of the gateway) can
// replay the same corpus against their handlers and check nothing is stored.
type hostileCase struct {
	Name        string `json:"name"`
	File        string `json:"file"`                   // in testdata/hostile; ".gz" files are gunzipped first
	Method      string `json:"method,omitempty"`       // default POST
	ContentType string `json:"content_type,omitempty"` // default text/xml; charset=utf-8; "-" for none
	SOAPAction  string `json:"soap_action,omitempty"`  // sent as is when non-empty
	Chunked     bool   `json:"chunked,omitempty"`      // no Content-Length
	Status      int    `json:"status"`                 // HTTP status of the answer
	Fault       string `json:"fault,omitempty"`        // fault code, "" for an accepted request
	Detail      string `json:"detail,omitempty"`       // erpgate code in the fault detail
	Reason      string `json:"reason,omitempty"`       // a piece of the faultstring
}

func loadHostile(t testing.TB) []hostileCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "hostile", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []hostileCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatalf("cases.json: %v", err)
	}
	return cases
}

func readCorpusFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "hostile", name))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(name, ".gz") {
		return b
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	b, err = io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (c hostileCase) request(body []byte) *http.Request {
	method := c.Method
	if method == "" {
		method = http.MethodPost
	}
	r := httptest.NewRequest(method, "/soap", bytes.NewReader(body))
	switch c.ContentType {
	case "":
		r.Header.Set("Content-Type", ct11)
	case "-":
	default:
		r.Header.Set("Content-Type", c.ContentType)
	}
	if c.SOAPAction != "" {
		r.Header.Set("SOAPAction", c.SOAPAction)
	}
	if c.Chunked {
		r.ContentLength = -1
		r.Body = io.NopCloser(bytes.NewReader(body)) // hide the length
	}
	return r
}

type testGetOrderResponse struct {
	XMLName xml.Name `xml:"urn:erpgate:test GetOrderResponse"`
	OrderID string   `xml:"OrderId"`
}

// serviceHandler is what an inbound service does with the stack; stored
// reports whether a request got past every check to the "service".
func serviceHandler(stored *bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := ReadRequest(r, DefaultLimits())
		if err != nil {
			WriteFault(w, VersionOf(r), FaultFromError(err))
			return
		}
		var in testGetOrder
		if err := req.Decode(&in); err != nil {
			WriteFault(w, req.Version, FaultFromError(err))
			return
		}
		*stored = true
		_ = WriteResponse(w, req.Version, &testGetOrderResponse{OrderID: in.OrderID})
	})
}

func TestHostileCorpus(t *testing.T) {
	cases := loadHostile(t)
	if len(cases) < 40 {
		t.Fatalf("%d cases in cases.json, want the full corpus (40+)", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			body := readCorpusFile(t, c.File)
			stored := false
			rec := httptest.NewRecorder()
			serviceHandler(&stored).ServeHTTP(rec, c.request(body))

			if rec.Code != c.Status {
				t.Fatalf("status = %d, want %d; body %.300s", rec.Code, c.Status, rec.Body.Bytes())
			}
			wantCT := ct11
			if strings.HasPrefix(c.ContentType, "application/soap+xml") {
				wantCT = ct12
			}
			if got := rec.Header().Get("Content-Type"); got != wantCT {
				t.Errorf("Content-Type = %q, want %q", got, wantCT)
			}
			if c.Fault == "" {
				if !stored {
					t.Error("request was not accepted, want it to reach the service")
				}
				return
			}
			if stored {
				t.Error("hostile request reached the service")
			}
			f, err := ParseFault(rec.Body.Bytes())
			if err != nil {
				t.Fatalf("ParseFault: %v; body %.300s", err, rec.Body.Bytes())
			}
			if f.Code != c.Fault || f.Detail.Code != c.Detail || !strings.Contains(f.String, c.Reason) {
				t.Errorf("fault = %s/%s %q, want %s/%s containing %q", f.Code, f.Detail.Code, f.String, c.Fault, c.Detail, c.Reason)
			}
		})
	}
}

// TestHostileCorpusFilesAreUsed keeps the corpus honest: every file in
// testdata/hostile is exercised by cases.json.
func TestHostileCorpusFilesAreUsed(t *testing.T) {
	used := map[string]bool{"cases.json": true, "README.md": true, "gen.py": true}
	for _, c := range loadHostile(t) {
		used[c.File] = true
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "hostile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !used[e.Name()] {
			t.Errorf("testdata/hostile/%s is in no case of cases.json", e.Name())
		}
	}
}

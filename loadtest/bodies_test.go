package loadtest_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strconv"
	"strings"
	"testing"
	"time"

	"erpgate/loadtest"
	"erpgate/order"
)

// The pre-rendered bodies the runner sends decode as canonical orders with
// no unknown field, pass the gateway's validation, and carry each request's
// own external id (in external_id, and in the notes), so that every order
// of a run is unique; the SOAP envelopes are well-formed and carry the same
// external id and idempotency key. Awkward characters in the run id are
// escaped for each format (such a run id is no valid external id for the
// gateway, so only the escaping is checked there).
func TestRenderedBodiesAreValidUniqueOrders(t *testing.T) {
	today := time.Now()
	indexes := []int{-3, -1}
	for i := range 400 {
		indexes = append(indexes, i)
	}
	for _, runID := range []string{"lt20260101T120000-a1b2", `lt"<&>'ü`} {
		rest, soap, spliced := loadtest.RenderedBodies(t, loadtest.DefaultSOAPTemplate(), 7, runID, 6, today, indexes)
		if !spliced {
			t.Errorf("run id %q: the default SOAP template was not spliced (it would be rendered per request)", runID)
		}
		seen := map[string]bool{}
		bodies := map[string]bool{}
		for k, i := range indexes {
			want := runID + "-" + suffix(i)
			dec := json.NewDecoder(bytes.NewReader(rest[k]))
			dec.DisallowUnknownFields()
			var o order.Order
			if err := dec.Decode(&o); err != nil {
				t.Fatalf("index %d: body does not decode as an order: %v\n%s", i, err, rest[k])
			}
			if err := o.ValidateAt(today); err != nil && !strings.ContainsAny(runID, `"<`) {
				t.Fatalf("index %d: invalid order: %v\n%s", i, err, rest[k])
			}
			if o.ExternalID != want || o.Notes != "load test "+want {
				t.Fatalf("index %d: external_id %q notes %q, want %q in both", i, o.ExternalID, o.Notes, want)
			}
			if seen[o.ExternalID] || bodies[string(rest[k])] {
				t.Fatalf("index %d: external id or body repeated", i)
			}
			seen[o.ExternalID], bodies[string(rest[k])] = true, true

			var env struct {
				Order struct {
					ExternalID string   `xml:"ExternalId"`
					Lines      []string `xml:"Line>Sku"`
					Notes      string   `xml:"Notes"`
				} `xml:"Body>SubmitOrder>Order"`
				Key string `xml:"Body>SubmitOrder>IdempotencyKey"`
			}
			if err := xml.Unmarshal(soap[k], &env); err != nil {
				t.Fatalf("index %d: SOAP body is not well-formed: %v\n%s", i, err, soap[k])
			}
			if env.Order.ExternalID != want || env.Key != "idem-"+want || env.Order.Notes != "load test "+want || len(env.Order.Lines) == 0 {
				t.Fatalf("index %d: SOAP external id %q key %q notes %q lines %d, want %q", i, env.Order.ExternalID, env.Key, env.Order.Notes, len(env.Order.Lines), want)
			}
		}
	}
	// Deterministic: a repeat renders the very same bytes.
	a, _, _ := loadtest.RenderedBodies(t, loadtest.DefaultSOAPTemplate(), 7, "lt-x", 6, today, []int{42})
	b, _, _ := loadtest.RenderedBodies(t, loadtest.DefaultSOAPTemplate(), 7, "lt-x", 6, today, []int{42})
	if !bytes.Equal(a[0], b[0]) {
		t.Error("rendering request 42 twice gave different bodies: a repeat would not be idempotent")
	}
}

// A template that does something else with the external id than print it
// cannot be spliced; it is then rendered per request, still correctly.
func TestRenderedBodiesUnsplicableTemplate(t *testing.T) {
	tpl, err := loadtest.ParseSOAPEnvelope(`<E><Id>{{x .ExternalID}}</Id><Len>{{len .ExternalID}}</Len><N>{{.Customer.Name}}</N></E>`)
	if err != nil {
		t.Fatal(err)
	}
	st := loadtest.DefaultSOAPTemplate()
	st.Envelope = tpl
	_, soap, spliced := loadtest.RenderedBodies(t, st, 1, "lt-y", 3, time.Now(), []int{5, 12345})
	if spliced {
		t.Error("a template printing the id's length was spliced")
	}
	for k, want := range []string{"<Id>lt-y-5</Id><Len>6</Len>", "<Id>lt-y-12345</Id><Len>10</Len>"} {
		if !strings.Contains(string(soap[k]), want) {
			t.Errorf("body %q, want it to contain %q", soap[k], want)
		}
	}
}

func suffix(i int) string {
	if i < 0 {
		return "w" + itoa(-1-i)
	}
	return itoa(i)
}

func itoa(i int) string { return strconv.Itoa(i) }

// The acknowledgement scanner agrees with encoding/json: what it accepts in
// place, encoding/json decodes to the same fields; what it cannot take goes
// to encoding/json, whose verdict stands.
func TestParseRESTAck(t *testing.T) {
	tests := []struct {
		body           string
		fast           bool // taken by the in-place scanner
		ok             bool
		id, ext, token string
	}{
		{`{"id":"ord_1","external_id":"lt-1","status":"accepted","tracking":{"url":"/track/ord_1?token=t","token":"tk"}}`, true, true, "ord_1", "lt-1", "tk"},
		{" {\n\"tracking\" : {\"token\":\"a\", \"x\":[1,-2.5e3,true,null,{\"y\":[]}]} , \"id\":\"i\",\"external_id\":\"e\",\"n\":0}\n", true, true, "i", "e", "a"},
		{`{"id":"a","id":"b","external_id":"e"}`, true, true, "b", "e", ""},
		{`{"id":"ord\u005f1","external_id":"lt-1"}`, false, true, "ord_1", "lt-1", ""},
		{`{"id":"ö","external_id":"lt-1"}`, false, true, "ö", "lt-1", ""},
		{`{"id":"a","external_id":"lt-1"`, false, false, "", "", ""},
		{`{"id":"a","external_id":"lt-1"} x`, false, false, "", "", ""},
		{`{"id":"a",}`, false, false, "", "", ""},
		{`{"id":01}`, false, false, "", "", ""},
		{`{"id":1}`, true, false, "", "", ""},
		{`{"tracking":"no"}`, false, false, "", "", ""},
		{`[]`, false, false, "", "", ""},
		{``, false, false, "", "", ""},
		{`{"x":tru}`, false, false, "", "", ""},
	}
	for _, tt := range tests {
		if got := loadtest.ScanRESTAck([]byte(tt.body)); got != tt.fast && tt.ok {
			t.Errorf("%q: in-place scan %v, want %v", tt.body, got, tt.fast)
		}
		id, ext, token, ok := loadtest.ParseRESTAck([]byte(tt.body))
		if ok != tt.ok || id != tt.id || ext != tt.ext || token != tt.token {
			t.Errorf("%q: got %q %q %q %v, want %q %q %q %v", tt.body, id, ext, token, ok, tt.id, tt.ext, tt.token, tt.ok)
		}
	}
}

// FuzzParseRESTAck: whatever the body, the scanner never disagrees with
// encoding/json on the fields it returns.
func FuzzParseRESTAck(f *testing.F) {
	f.Add([]byte(`{"id":"ord_1","external_id":"lt-1","tracking":{"token":"tk"}}`))
	f.Add([]byte(`{"id":"a","x":[1,{"y":null}],"external_id":"b"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		id, ext, token, ok := loadtest.ParseRESTAck(body)
		var v struct {
			ID         string `json:"id"`
			ExternalID string `json:"external_id"`
			Tracking   struct {
				Token string `json:"token"`
			} `json:"tracking"`
		}
		err := json.Unmarshal(body, &v)
		if ok != (err == nil) {
			t.Fatalf("%q: ok %v, encoding/json error %v", body, ok, err)
		}
		if ok && (id != v.ID || ext != v.ExternalID || token != v.Tracking.Token) {
			t.Fatalf("%q: got %q %q %q, encoding/json %q %q %q", body, id, ext, token, v.ID, v.ExternalID, v.Tracking.Token)
		}
	})
}

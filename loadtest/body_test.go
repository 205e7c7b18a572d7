package loadtest_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"erpgate/loadtest"
	"erpgate/order"
)

// The generated REST bodies must be orders the gateway accepts: they decode
// into the canonical order with no unknown field and pass its validation.
func TestGeneratedOrdersAreValid(t *testing.T) {
	today := time.Now()
	seenLines := map[int]bool{}
	for seed := uint64(1); seed <= 300; seed++ {
		body, data := loadtest.GenOrderJSON(seed, "lt-test-"+string(rune('a'+seed%26)), 7, today)
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		var o order.Order
		if err := dec.Decode(&o); err != nil {
			t.Fatalf("seed %d: body does not decode as an order: %v\n%s", seed, err, body)
		}
		if err := o.ValidateAt(today); err != nil {
			t.Fatalf("seed %d: generated order is invalid: %v\n%s", seed, err, body)
		}
		if got, want := len(o.Lines), len(data.Lines); got != want {
			t.Fatalf("seed %d: %d lines in JSON, want %d", seed, got, want)
		}
		if n := len(o.Lines); n < 1 || n > 7 {
			t.Fatalf("seed %d: %d lines, want 1..7", seed, n)
		}
		seenLines[len(o.Lines)] = true
		for i, l := range o.Lines {
			if !strings.HasPrefix(l.SKU, "SKU-10") || l.SKU < "SKU-1001" || l.SKU > "SKU-1020" {
				t.Errorf("seed %d line %d: sku %q is not in the simulator's catalogue", seed, i, l.SKU)
			}
			if got, want := l.UnitPrice.String(), data.Lines[i].UnitPrice; got != want {
				t.Errorf("seed %d line %d: unit price %s, want %s (money must survive exactly)", seed, i, got, want)
			}
		}
	}
	if len(seenLines) < 5 {
		t.Errorf("order sizes seen %v: want varied sizes", seenLines)
	}
}

func TestJSONStringEscaping(t *testing.T) {
	// The hand-written encoder must agree with encoding/json on awkward text.
	body, _ := loadtest.GenOrderJSON(1, "quote\" back\\slash \x01 tab\t ünï \xff", 1, time.Now())
	var v struct {
		ExternalID string `json:"external_id"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	if got, want := v.ExternalID, "quote\" back\\slash \x01 tab\t ünï \uFFFD"; got != want {
		t.Errorf("external_id = %q, want %q", got, want)
	}
}

func TestDefaultSOAPEnvelopeIsWellFormed(t *testing.T) {
	st := loadtest.DefaultSOAPTemplate()
	_, data := loadtest.GenOrderJSON(9, "lt-x-1 <&>", 4, time.Now())
	var buf bytes.Buffer
	if err := st.Envelope.Execute(&buf, &data); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&buf)
	var skus int
	var ext string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("envelope is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "Sku":
				skus++
			case "ExternalId":
				if err := dec.DecodeElement(&ext, &se); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if got, want := skus, len(data.Lines); got != want {
		t.Errorf("%d Sku elements, want %d", got, want)
	}
	if got, want := ext, "lt-x-1 <&>"; got != want {
		t.Errorf("ExternalId = %q, want %q (escaping)", got, want)
	}
}

func TestParseSOAPEnvelopeRejectsBadTemplates(t *testing.T) {
	for _, text := range []string{"{{.NoSuchField}}", "{{if}}", "{{x .Customer.Nope}}"} {
		if _, err := loadtest.ParseSOAPEnvelope(text); err == nil {
			t.Errorf("ParseSOAPEnvelope(%q): want an error at start-up", text)
		}
	}
}

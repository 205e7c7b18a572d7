package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestStrictJSONRefusals: the four lenient readings encoding/json would
// give are refused with a specific problem, and nothing is stored.
func TestStrictJSONRefusals(t *testing.T) {
	e := newRESTEnv(t)
	set := func(old, new string) string {
		if !strings.Contains(validOrderJSON, old) {
			t.Fatalf("test bug: %q not in the valid order", old)
		}
		return strings.Replace(validOrderJSON, old, new, 1)
	}
	tests := []struct {
		name, contentType, body string
		status                  int
		code, field, message    string
	}{
		{"invalid UTF-8", "application/json", set(`"ring twice"`, "\"ring \xff twice\""), 400, "invalid", "notes", "UTF-8"},
		{"lone surrogate escape", "application/json", set(`"ring twice"`, `"ring \ud800 twice"`), 400, "invalid", "notes", "UTF-8"},
		{"invalid UTF-8 in a key", "application/json", set(`"notes"`, "\"not\xffes\""), 400, "invalid", "", "UTF-8"},
		{"duplicate key", "application/json", set(`"notes":"ring twice"`, `"notes":"a","notes":"b"`), 400, "invalid", "notes", "twice"},
		{"duplicate nested key", "application/json", set(`"city":"Berlin"`, `"city":"Berlin","city":"Bonn"`), 400, "invalid", "shipping_address.city", "twice"},
		{"duplicate key in a line", "application/json", set(`"quantity":2`, `"quantity":2,"quantity":3`), 400, "invalid", "lines[0].quantity", "twice"},
		{"case-folded key", "application/json", set(`"external_id"`, `"EXTERNAL_ID"`), 400, "invalid", "EXTERNAL_ID", `spelled \"external_id\"`},
		{"case-folded nested key", "application/json", set(`"unit_price"`, `"Unit_Price"`), 400, "invalid", "lines[0].Unit_Price", `spelled \"unit_price\"`},
		{"no Content-Type", "", validOrderJSON, 415, "unsupported_media", "", "Content-Type"},
		{"not UTF-8 charset", "application/json; charset=iso-8859-1", validOrderJSON, 415, "unsupported_media", "", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, http.MethodPost, "/v1/orders", "demo-shop-key", tt.contentType, tt.body)
			if r.status != tt.status || r.body["code"] != tt.code {
				t.Fatalf("got %d %v, want %d %s: %s", r.status, r.body["code"], tt.status, tt.code, r.raw)
			}
			if !strings.Contains(r.raw, tt.message) {
				t.Errorf("answer %s does not mention %q", r.raw, tt.message)
			}
			if tt.field != "" && !strings.Contains(r.raw, `"field":"`+tt.field+`"`) {
				t.Errorf("answer %s does not name the field %q", r.raw, tt.field)
			}
		})
	}
	if keys := e.orderKeys(t); len(keys) != 0 {
		t.Errorf("refused bodies stored %v", keys)
	}
	// The plain order still goes through.
	if r := e.postOrder(t, "demo-shop-key", validOrderJSON); r.status != http.StatusAccepted {
		t.Fatalf("valid order: %d %s", r.status, r.raw)
	}
}

// decodeOrderBody is what POST /v1/orders does with a body: the fast
// decoder, and the strict encoding/json path for what it does not take.
func decodeOrderBody(body []byte) (orderRequest, error) {
	var r orderRequest
	if decodeOrderFast(body, &r) {
		return r, nil
	}
	r = orderRequest{}
	err := unmarshalStrict(body, &r)
	return r, err
}

// referenceDecode is the strict reference: encoding/json's tokenizer walks
// the body to find invalid UTF-8, duplicate keys and keys matching a field
// only without case, then encoding/json decodes as the gateway always did.
// It shares no code with checkStrictJSON or decodeOrderFast.
func referenceDecode(body []byte, v any) error {
	if err := referenceStrict(body, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

func referenceStrict(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	prev := int64(0)
	next := func() (json.Token, error) {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		end := dec.InputOffset()
		raw := body[prev:end]
		prev = end
		if s, ok := tok.(string); ok {
			// encoding/json replaced whatever was not UTF-8 with U+FFFD:
			// the decoded string has more of them than the raw token spells.
			raw = raw[bytes.IndexByte(raw, '"'):]
			if strings.Count(s, "\uFFFD") != spelledFFFD(raw) {
				return nil, errors.New("invalid UTF-8")
			}
		}
		return tok, nil
	}
	var walk func(tok json.Token, t reflect.Type) error
	walk = func(tok json.Token, t reflect.Type) error {
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t != nil {
			if pt := reflect.PointerTo(t); t.Kind() == reflect.Interface || pt.Implements(reflect.TypeFor[json.Unmarshaler]()) {
				t = nil
			}
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for {
				k, err := next()
				if err != nil {
					return err
				}
				if k == json.Delim('}') {
					return nil
				}
				key := k.(string)
				if seen[key] {
					return errors.New("duplicate key " + key)
				}
				seen[key] = true
				var vt reflect.Type
				if t != nil && t.Kind() == reflect.Map {
					vt = t.Elem()
				}
				if t != nil && t.Kind() == reflect.Struct {
					for i := range t.NumField() {
						name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
						if name == key {
							vt = t.Field(i).Type
						} else if strings.EqualFold(name, key) {
							return errors.New("case-folded key " + key)
						}
					}
				}
				v, err := next()
				if err != nil {
					return err
				}
				if err := walk(v, vt); err != nil {
					return err
				}
			}
		case json.Delim('['):
			var et reflect.Type
			if t != nil && t.Kind() == reflect.Slice {
				et = t.Elem()
			}
			for {
				v, err := next()
				if err != nil {
					return err
				}
				if v == json.Delim(']') {
					return nil
				}
				if err := walk(v, et); err != nil {
					return err
				}
			}
		}
		return nil
	}
	tok, err := next()
	if err != nil {
		return nil // syntax: encoding/json says so
	}
	if err := walk(tok, t); err != nil && !isSyntax(err) {
		return err
	}
	return nil
}

func isSyntax(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// spelledFFFD counts the U+FFFD a raw JSON string token spells: literally
// or as \ufffd.
func spelledFFFD(raw []byte) int {
	n := 0
	for i := 0; i < len(raw); {
		switch {
		case raw[i] == '\\' && i+1 < len(raw) && raw[i+1] == 'u' && i+6 <= len(raw):
			if strings.EqualFold(string(raw[i+2:i+6]), "fffd") {
				n++
			}
			i += 6
		case raw[i] == '\\':
			i += 2
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == '\uFFFD' && size == 3 {
				n++
			}
			i += size
		}
	}
	return n
}

// checkStrictAgainstReference: the gateway's decoding of an order body and
// the reference accept and refuse the same bodies, and decode the accepted
// ones alike.
func checkStrictAgainstReference(t *testing.T, body []byte) {
	t.Helper()
	got, gotErr := decodeOrderBody(body)
	var want orderRequest
	wantErr := referenceDecode(body, &want)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("gateway error %v, reference error %v\nbody %q", gotErr, wantErr, body)
	}
	if gotErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded differently:\n got %#v\nwant %#v\nbody %q", got, want, body)
	}
}

func TestStrictDecodeMatchesReference(t *testing.T) {
	for _, body := range strictSeeds() {
		checkStrictAgainstReference(t, body)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		checkStrictAgainstReference(t, genOrderJSON(rng))
	}
}

func strictSeeds() [][]byte {
	return [][]byte{
		[]byte(validOrderJSON),
		[]byte(`{"notes":"a","notes":"b"}`),
		[]byte(`{"NOTES":"a"}`),
		[]byte(`{"notes":"\ud800"}`),
		[]byte(`{"notes":"\ud83d\ude00 \ufffd ` + "\uFFFD" + `"}`),
		[]byte(`{"notes":"\udc00\ud800"}`),
		[]byte("{\"notes\":\"\xed\xa0\x80\"}"),
		[]byte(`{"lines":[{"sku":"a","sku":"b"}]}`),
		[]byte(`{"lines":[{"SKU":"a"}]}`),
		[]byte(`{"shipping":{"price":"1","PRICE":"2"}}`),
		[]byte(`{"billing_address":null,"billing_address":null}`),
		[]byte(`{"n\u006ftes":"x"}`),
		[]byte(`{"notes":"x","n\u006ftes":"y"}`),
		[]byte(`{"colour":1,"colour":2}`),
		[]byte(`{"\u017fhipping":{}}`),
	}
}

// FuzzStrictDecode compares the gateway's order decoding (fast decoder,
// strict check, encoding/json) with the reference on any input.
func FuzzStrictDecode(f *testing.F) {
	for _, b := range strictSeeds() {
		f.Add(b)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 20 {
		f.Add(genOrderJSON(rng))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkStrictAgainstReference(t, body)
	})
}

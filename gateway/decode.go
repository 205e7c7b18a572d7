package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"erpgate"
	"erpgate/order"
)

// MaxBodyBytes is the largest request body any JSON endpoint reads.
const MaxBodyBytes = 1 << 20

// decodeJSON reads one JSON object from the request into v: content type
// application/json, at most MaxBodyBytes (413 beyond), unknown fields and
// trailing data rejected, syntax and type errors reported with their place.
func decodeJSON(c echo.Context, v any) error {
	return decodeJSONWith(c, v, nil)
}

// decodeJSONWith is decodeJSON with a fast path for a hot endpoint: fast, if
// not nil, decodes the body into v when it can and reports whether it did.
// It must give exactly what encoding/json gives for every body it takes; for
// any other body (errors included) encoding/json decides, so the answers
// never differ.
func decodeJSONWith(c echo.Context, v any, fast func(body []byte) bool) error {
	req := c.Request()
	// "application/json" is what nearly every client sends; only other
	// values need the (allocating) media type parser. A body without a
	// Content-Type is refused like any other: it may be anything.
	if ct := req.Header.Get(echo.HeaderContentType); ct != echo.MIMEApplicationJSON {
		if ct == "" {
			return erpgate.Errorf(erpgate.UnsupportedMedia, "the request has no Content-Type: send the body as application/json")
		}
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return erpgate.Errorf(erpgate.UnsupportedMedia, "send the body as application/json")
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return erpgate.Errorf(erpgate.UnsupportedMedia, "send the body as application/json in UTF-8 (charset=utf-8)")
		}
	}
	if req.ContentLength > MaxBodyBytes {
		return erpgate.Errorf(erpgate.TooLarge, "request body is larger than %d bytes", MaxBodyBytes)
	}
	buf := getBodyBuffer(req.ContentLength)
	defer putBodyBuffer(buf)
	if _, err := buf.ReadFrom(http.MaxBytesReader(c.Response(), req.Body, MaxBodyBytes)); err != nil {
		return bodyReadError(err, MaxBodyBytes)
	}
	// Neither path keeps a reference to the buffer: both copy what they keep.
	if fast != nil && fast(buf.Bytes()) {
		return nil
	}
	return unmarshalStrict(buf.Bytes(), v)
}

// Request bodies are read into pooled buffers: a new buffer per request (and
// its growth while reading) was the largest allocation of order intake.
// Buffers that grew beyond maxPooledBody are left to the GC, so one huge
// order does not pin a megabyte per P.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBody = 64 << 10

// getBodyBuffer returns an empty pooled buffer with room for a body of
// contentLength bytes, but never more than initialBodyBuffer: the length
// is only announced, so the buffer grows with the bytes that arrive.
func getBodyBuffer(contentLength int64) *bytes.Buffer {
	buf := bodyBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	if contentLength > 0 {
		// ReadFrom wants MinRead bytes of room even after the last byte,
		// before it sees EOF.
		buf.Grow(int(min(contentLength, initialBodyBuffer)) + bytes.MinRead)
	}
	return buf
}

// initialBodyBuffer bounds the room reserved for a body before its bytes
// arrive (see getBodyBuffer).
const initialBodyBuffer = 16 << 10

// bodyReadError is the error of a failed body read: TooLarge beyond limit,
// Timeout when the server's read deadline passed (408), the reader's own
// *erpgate.Error (the instance's body budget: Overloaded), else Invalid.
func bodyReadError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	var ne net.Error
	var e *erpgate.Error
	switch {
	case errors.As(err, &mbe):
		return erpgate.Errorf(erpgate.TooLarge, "request body is larger than %d bytes", limit)
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
		return erpgate.Wrap(erpgate.Timeout, err, "the request body did not arrive in time")
	case errors.As(err, &e):
		return e
	}
	return erpgate.Wrap(erpgate.Invalid, err, "could not read the request body")
}

func putBodyBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBody {
		bodyBuffers.Put(buf)
	}
}

// unmarshalStrict decodes body into v with encoding/json after the strict
// rules of checkStrictJSON (UTF-8, no duplicate keys, exact key case).
func unmarshalStrict(body []byte, v any) error {
	if err := checkStrictJSON(body, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(body, err)
	}
	if dec.More() {
		return erpgate.Errorf(erpgate.Invalid, "the body must hold exactly one JSON object")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return erpgate.Errorf(erpgate.Invalid, "the body must hold exactly one JSON object")
	}
	return nil
}

func jsonError(body []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return erpgate.Errorf(erpgate.Invalid, "the request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return erpgate.Errorf(erpgate.Invalid, "the JSON body is truncated")
	case errors.As(err, &syn):
		return erpgate.Errorf(erpgate.Invalid, "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return &erpgate.Error{Code: erpgate.Invalid, Message: "a field has the wrong JSON type", Err: err,
			Problems: []erpgate.Problem{{Field: field, Message: fmt.Sprintf("must be a JSON %s", jsonKind(typ.Type.Kind().String()))}}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &erpgate.Error{Code: erpgate.Invalid, Message: "the body has a field this API does not know", Err: err,
			Problems: []erpgate.Problem{{Field: name, Message: "unknown field"}}}
	default:
		// Errors from UnmarshalJSON methods (e.g. a decimal sent as a number).
		return &erpgate.Error{Code: erpgate.Invalid, Message: "invalid JSON value: " + strings.TrimPrefix(err.Error(), "json: "), Err: err}
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "float32", "float64":
		return "number"
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	case "bool":
		return "boolean"
	}
	return goKind
}

// The fast path of POST /v1/orders.
//
// encoding/json decodes by reflection and copies the body into its own
// buffer; for order intake that was the largest CPU cost of the gateway's
// own code. decodeOrderFast reads the plain form shops actually send —
// keys in their exact spelling, each once; strings without escapes, in
// valid UTF-8; amounts as strings; quantities as integers; no nulls —
// straight into an orderRequest, with all its strings sharing one copy of
// the body. Anything else (a case-folded key, an escape, a null, a syntax
// or type error, an unknown field) makes it give up, and the strict path
// (checkStrictJSON, then encoding/json) decodes the body: with the same
// result for the forms both accept (FuzzDecodeOrderFast) and refusing
// duplicate keys, keys in the wrong case and invalid UTF-8 as the fast
// decoder does (FuzzStrictDecode holds both to a tokenizer reference).
//
// It pays: BenchmarkDecodeOrder (validOrderJSON; -benchtime=2000x -count 5,
// median, 2 shared cores, 2026-12-07) fast 1.8 µs, 3 allocs; the strict
// path 18.6 µs, 86 allocs — ten times the time.
func decodeOrderFast(body []byte, r *orderRequest) bool {
	d := fastJSON{s: string(body)}
	d.space()
	var seen uint16
	ok := d.object(func(key string) bool {
		switch key {
		case "external_id":
			return once(&seen, 1<<0) && d.str(&r.ExternalID)
		case "customer":
			return once(&seen, 1<<1) && d.customer(&r.Customer)
		case "shipping_address":
			return once(&seen, 1<<2) && d.address(&r.ShippingAddress)
		case "billing_address":
			r.BillingAddress = new(order.Address)
			return once(&seen, 1<<3) && d.address(r.BillingAddress)
		case "currency":
			return once(&seen, 1<<4) && d.str(&r.Currency)
		case "lines":
			return once(&seen, 1<<5) && d.lines(&r.Lines)
		case "shipping":
			var s uint16
			return once(&seen, 1<<6) && d.object(func(key string) bool {
				switch key {
				case "method":
					return once(&s, 1<<0) && d.str(&r.Shipping.Method)
				case "price":
					return once(&s, 1<<1) && d.amount(&r.Shipping.Price)
				}
				return false
			})
		case "requested_delivery_date":
			return once(&seen, 1<<7) && d.str(&r.RequestedDeliveryDate)
		case "notes":
			return once(&seen, 1<<8) && d.str(&r.Notes)
		}
		return false
	})
	if !ok {
		return false
	}
	d.space()
	return d.i == len(d.s)
}

// once marks bit in seen and reports whether it was clear: a key given
// twice is left to the strict path, which refuses it.
func once(seen *uint16, bit uint16) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

// fastJSON reads the plain JSON subset described above from s.
type fastJSON struct {
	s string
	i int
}

func (d *fastJSON) space() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// consume skips c (and the whitespace after it) or reports false.
func (d *fastJSON) consume(c byte) bool {
	if d.i >= len(d.s) || d.s[d.i] != c {
		return false
	}
	d.i++
	d.space()
	return true
}

// object reads an object, calling field with d at each key's value.
func (d *fastJSON) object(field func(key string) bool) bool {
	if !d.consume('{') {
		return false
	}
	if d.consume('}') {
		return true
	}
	for {
		var key string
		if !d.str(&key) || !d.consume(':') || !field(key) {
			return false
		}
		d.space()
		if d.consume('}') {
			return true
		}
		if !d.consume(',') {
			return false
		}
	}
}

// str reads a string without escapes in valid UTF-8 into *v.
func (d *fastJSON) str(v *string) bool {
	s, ok := d.rawString()
	if ok {
		*v = s
	}
	return ok
}

// rawString reads a string token without escapes or control characters,
// in valid UTF-8, and returns its content.
func (d *fastJSON) rawString() (string, bool) {
	if d.i >= len(d.s) || d.s[d.i] != '"' {
		return "", false
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.s); j++ {
		switch c := d.s[j]; {
		case c == '"':
			s := d.s[start:j]
			if !ascii && !utf8.ValidString(s) {
				return "", false // encoding/json would replace the bad bytes
			}
			d.i = j + 1
			d.space()
			return s, true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// amount reads a string amount exactly as amountJSON.UnmarshalJSON would.
func (d *fastJSON) amount(a *amountJSON) bool {
	s, ok := d.rawString()
	if ok {
		a.setString(s)
	}
	return ok
}

// int64 reads an integer in JSON's form ("-"? ("0" | [1-9][0-9]*)) that
// fits an int64; fractions, exponents and overflow are left to
// encoding/json.
func (d *fastJSON) int64(v *int64) bool {
	start := d.i
	if d.i < len(d.s) && d.s[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
		d.i++
	}
	switch {
	case d.i == digits, d.s[digits] == '0' && d.i > digits+1:
		return false
	case d.i < len(d.s) && (d.s[d.i] == '.' || d.s[d.i] == 'e' || d.s[d.i] == 'E'):
		return false
	}
	n, err := strconv.ParseInt(d.s[start:d.i], 10, 64)
	if err != nil {
		return false
	}
	*v = n
	d.space()
	return true
}

func (d *fastJSON) customer(c *order.Customer) bool {
	var seen uint16
	return d.object(func(key string) bool {
		switch key {
		case "id":
			return once(&seen, 1<<0) && d.str(&c.ID)
		case "name":
			return once(&seen, 1<<1) && d.str(&c.Name)
		case "email":
			return once(&seen, 1<<2) && d.str(&c.Email)
		case "phone":
			return once(&seen, 1<<3) && d.str(&c.Phone)
		}
		return false
	})
}

func (d *fastJSON) address(a *order.Address) bool {
	var seen uint16
	return d.object(func(key string) bool {
		switch key {
		case "name":
			return once(&seen, 1<<0) && d.str(&a.Name)
		case "line1":
			return once(&seen, 1<<1) && d.str(&a.Line1)
		case "line2":
			return once(&seen, 1<<2) && d.str(&a.Line2)
		case "city":
			return once(&seen, 1<<3) && d.str(&a.City)
		case "postal_code":
			return once(&seen, 1<<4) && d.str(&a.PostalCode)
		case "region":
			return once(&seen, 1<<5) && d.str(&a.Region)
		case "country":
			return once(&seen, 1<<6) && d.str(&a.Country)
		}
		return false
	})
}

// lines reads the array of lines; an empty array is an empty, non-nil
// slice, as from encoding/json.
func (d *fastJSON) lines(ls *[]lineRequest) bool {
	if !d.consume('[') {
		return false
	}
	*ls = make([]lineRequest, 0, 4)
	if d.consume(']') {
		return true
	}
	for {
		*ls = append(*ls, lineRequest{})
		l := &(*ls)[len(*ls)-1]
		var seen uint16
		ok := d.object(func(key string) bool {
			switch key {
			case "sku":
				return once(&seen, 1<<0) && d.str(&l.SKU)
			case "description":
				return once(&seen, 1<<1) && d.str(&l.Description)
			case "quantity":
				return once(&seen, 1<<2) && d.int64(&l.Quantity)
			case "unit_price":
				return once(&seen, 1<<3) && d.amount(&l.UnitPrice)
			case "discount":
				return once(&seen, 1<<4) && d.amount(&l.Discount)
			}
			return false
		})
		if !ok {
			return false
		}
		if d.consume(']') {
			return true
		}
		if !d.consume(',') {
			return false
		}
	}
}

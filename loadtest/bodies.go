package loadtest

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"
	"unicode/utf8"
)

// Request bodies are pre-rendered. At start the runner generates a few
// dozen orders (genOrder: the same distribution of sizes, customers and
// amounts as before) with a placeholder for the external id and renders each
// once, as JSON and through the SOAP template; a request then copies one of
// them with its own external id spliced in. That keeps every order unique
// (the external id, and the notes and idempotency key that repeat it) and
// valid, at the cost of a memory copy instead of generating and encoding an
// order on the machine being measured.
//
// A SOAP template that does not simply repeat the external id (say, it
// transforms it) cannot be spliced; newBodySet notices by rendering each
// order a second time with a real id and comparing, and such a template is
// executed per request as before.

// numBodyTemplates is how many distinct orders are pre-rendered per kind:
// enough for varied sizes, customers and amounts, few enough that all of
// them (about 64 KiB of JSON, 200 KiB of SOAP) stay in the CPU cache.
const numBodyTemplates = 64

// extPlaceholder stands for the external id in a pre-rendered body. It needs
// no escaping in JSON or XML, so it appears in the rendered text verbatim.
const extPlaceholder = "@@erpgate-loadtest-external-id@@"

// bodyTemplate is one pre-rendered order body.
type bodyTemplate struct {
	// parts are the rendered body split at the placeholder: the external id
	// goes between consecutive parts. nil when the body cannot be spliced.
	parts [][]byte
	// data is the order, for the slow path (parts == nil).
	data OrderData
}

// bodySet renders the bodies of one kind (REST JSON or a SOAP envelope) for
// external ids of the form prefix + suffix.
type bodySet struct {
	tpls []bodyTemplate
	// escPrefix is the external id prefix escaped for the body's format.
	escPrefix []byte
	prefix    string
	// slow renders an order the slow way (genOrder's data → bytes).
	slow func(dst []byte, o *OrderData) ([]byte, error)
}

// newBodySet pre-renders n orders. esc escapes text for the body's format;
// slow renders an order completely.
func newBodySet(n int, seed uint64, prefix string, maxLines int, today time.Time,
	esc func(dst []byte, s string) []byte, slow func(dst []byte, o *OrderData) ([]byte, error)) (*bodySet, error) {
	bs := &bodySet{tpls: make([]bodyTemplate, n), prefix: prefix, escPrefix: esc(nil, prefix), slow: slow}
	rng := rand.New(rand.NewPCG(seed, 0x626f6479))
	probe := prefix + "1234567"
	for i := range bs.tpls {
		o := genOrder(rng, extPlaceholder, maxLines, today)
		t := &bs.tpls[i]
		t.data = o
		rendered, err := slow(nil, &o)
		if err != nil {
			return nil, err
		}
		t.parts = bytes.Split(rendered, []byte(extPlaceholder))
		// Splicing must give exactly what rendering with a real id gives.
		want, err := slow(nil, withExternalID(o, probe))
		if err != nil {
			return nil, err
		}
		if len(t.parts) < 2 || !bytes.Equal(bs.splice(nil, t, "1234567"), want) {
			t.parts = nil
		}
	}
	return bs, nil
}

// withExternalID returns o with the fields genOrder derives from the
// external id set for ext.
func withExternalID(o OrderData, ext string) *OrderData {
	o.ExternalID = ext
	o.Notes = "load test " + ext
	return &o
}

func (bs *bodySet) splice(dst []byte, t *bodyTemplate, suffix string) []byte {
	dst = append(dst, t.parts[0]...)
	for _, p := range t.parts[1:] {
		dst = append(dst, bs.escPrefix...)
		dst = append(dst, suffix...)
		dst = append(dst, p...)
	}
	return dst
}

// pick returns the template of request index i: a fixed, well-mixed choice,
// so that a request's body depends only on the seed and its index.
func (bs *bodySet) pick(i int) *bodyTemplate {
	h := uint64(int64(i)) * 0x9e3779b97f4a7c15
	return &bs.tpls[(h>>32)%uint64(len(bs.tpls))]
}

// render appends the body of request index i with external id
// bs.prefix + suffix.
func (bs *bodySet) render(dst []byte, i int, suffix string) ([]byte, error) {
	t := bs.pick(i)
	if t.parts != nil {
		return bs.splice(dst, t, suffix), nil
	}
	return bs.slow(dst, withExternalID(t.data, bs.prefix+suffix))
}

// extSuffix returns the part of request index i's external id after the
// run's prefix: the index, or "w" and the number of a warm-up order.
func extSuffix(dst []byte, i int) []byte {
	if i < 0 {
		return strconv.AppendInt(append(dst, 'w'), int64(-1-i), 10)
	}
	return strconv.AppendInt(dst, int64(i), 10)
}

// appendJSONText appends s JSON-escaped, without the quotes.
func appendJSONText(dst []byte, s string) []byte {
	b := appendJSONString(dst, s)
	// appendJSONString wrote '"' + text + '"': drop both quotes.
	copy(b[len(dst):], b[len(dst)+1:len(b)-1])
	return b[:len(b)-2]
}

// appendXMLText appends s escaped as xml.EscapeText does.
func appendXMLText(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			dst = append(dst, "&#34;"...)
		case r == '\'':
			dst = append(dst, "&#39;"...)
		case r == '&':
			dst = append(dst, "&amp;"...)
		case r == '<':
			dst = append(dst, "&lt;"...)
		case r == '>':
			dst = append(dst, "&gt;"...)
		case r == '\t':
			dst = append(dst, "&#x9;"...)
		case r == '\n':
			dst = append(dst, "&#xA;"...)
		case r == '\r':
			dst = append(dst, "&#xD;"...)
		case !xmlChar(r) || (r == utf8.RuneError && size == 1):
			dst = append(dst, "\uFFFD"...)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// xmlChar reports whether r is in XML's Char production.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// restBodies pre-renders the REST order bodies of a run.
func restBodies(seed uint64, prefix string, maxLines int, today time.Time) *bodySet {
	bs, err := newBodySet(numBodyTemplates, seed, prefix, maxLines, today, appendJSONText,
		func(dst []byte, o *OrderData) ([]byte, error) { return o.appendJSON(dst), nil })
	if err != nil {
		panic(err) // appendJSON cannot fail
	}
	return bs
}

// soapBodies pre-renders the SOAP order envelopes of a run.
func soapBodies(st *SOAPTemplate, seed uint64, prefix string, maxLines int, today time.Time) (*bodySet, error) {
	if st == nil || st.Envelope == nil {
		return nil, errors.New("no SOAP template")
	}
	return newBodySet(numBodyTemplates, seed^0x736f6170, prefix, maxLines, today, appendXMLText,
		func(dst []byte, o *OrderData) ([]byte, error) { return renderTemplate(st, dst, o) })
}

// renderTemplate appends o rendered through st's envelope.
func renderTemplate(st *SOAPTemplate, dst []byte, o *OrderData) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	err := st.Envelope.Execute(buf, o)
	return buf.Bytes(), err
}

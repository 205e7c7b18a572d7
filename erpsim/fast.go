package erpsim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"erpgate/soap"
)

// The fast path of the delivery requests.
//
// soap.ReadRequest checks an envelope with encoding/xml and Decode reads
// its body element again with encoding/xml's reflection; in the delivery
// benchmark the two were most of the simulator's CPU. The requests of
// every delivery are read here instead, with soap.Scanner into the same
// generated types. CPU per call through the whole handler, fast vs strict
// (median of 5, `go test -run x -bench 'CreateV|FindV1' -benchtime=2000x
// -count 5 ./erpsim`, cpu-ns/op):
//
//	v2 CreateSalesOrder      29 µs vs 149 µs  (BenchmarkCreateV2, 5.1×)
//	v1 CreateOrder           23 µs vs  95 µs  (BenchmarkCreateV1, 4.1×)
//	v1 FindOrderByReference  9.7 µs vs 24 µs  (BenchmarkFindV1, 2.5×)
//
// The status and read-back requests (v1 GetOrderStatus, v2
// GetSalesOrderStatus and GetSalesOrder) had fast readers too; they were
// dropped: 16 vs 29 µs (1.8×), 10 vs 30 µs and 24 vs 47 µs, the v2 ones
// off every hot path (v2 pushes status; only the breaker's probe and
// tests ask).
//
// The fast path reads only the one form gowsdl's client and the gateway's
// adapters write, recognised exactly:
//
//   - Content-Type text/xml with charset utf-8 (or none), at most one
//     SOAPAction, empty or "<namespace>/<operation>", quoted or not;
//   - a body of known length: an optional `<?xml version="1.0"?>` or
//     xml.Header declaration, then literally
//     `<soap:Envelope xmlns:soap="…/soap/envelope/"><soap:Body><Op xmlns="ns">`
//     … `</Op></soap:Body></soap:Envelope>`, trailing white space allowed;
//   - inside the operation element only the elements of the generated
//     type, unprefixed, each value element at most once (lists repeat),
//     text only in value elements (white space between elements is
//     skipped as encoding/xml skips it), no attribute (no quote character
//     at all: both writers escape quotes in text), no comment, CDATA or
//     processing instruction, no carriage return, characters XML allows
//     as UTF-8, the five predefined entities and short character
//     references, values encoding/xml would parse;
//   - within the limits of requestLimits (elements, text node size).
//
// Anything else — another operation or form, a header, a prefix, an
// unknown element, a value that does not parse — goes to ReadRequest and
// Decode exactly as before, with the bytes already read put back in front
// of the body, so answers and faults never depend on which path read a
// request. TestFastReadsAsStrict and FuzzFastPath hold the two readings
// equal; TestFastAnswersAsStrict compares whole answers.

const (
	fastEnvelopeStart = `<soap:Envelope xmlns:soap="` + soap.NS11 + `"><soap:Body>`
	fastEnvelopeEnd   = `</soap:Body></soap:Envelope>`
)

// fastOp is one operation the fast path reads.
type fastOp struct {
	// read reads the content of the operation element (the scanner stands
	// after its start tag) through its end tag into a new request value,
	// as Decode fills it. f.bad set means the form is not the plain one.
	read func(f *fields) any
	// serve answers the request read.
	serve func(in any) (any, error)
}

// fastOpOf builds a fastOp for request type T from a reader that returns
// the value read (XMLName set, as Decode sets it) and the handler.
func fastOpOf[T any](read func(f *fields) *T, serve func(in *T) (any, error)) fastOp {
	return fastOp{
		read:  func(f *fields) any { return read(f) },
		serve: func(in any) (any, error) { return serve(in.(*T)) },
	}
}

// fastCall is a request the fast path read, ready to be answered.
type fastCall struct {
	op    string
	in    any
	serve func(in any) (any, error)
}

// fastContentTypes are the Content-Type values the fast path takes; for
// each, ReadRequest reads SOAP 1.1 in UTF-8.
var fastContentTypes = map[string]bool{
	`text/xml; charset="utf-8"`: true, // gowsdl and the adapters
	`text/xml; charset=utf-8`:   true, // soap.V11.ContentType()
	`text/xml`:                  true,
}

// readFast reads r when it is in the plain form of one of v's fast
// operations. Otherwise ok is false and r.Body yields exactly the bytes
// (and the read error) it would have yielded had readFast not run.
func (v *version) readFast(r *http.Request, lim soap.Limits) (c fastCall, ok bool) {
	if len(v.fast) == 0 || !fastContentTypes[r.Header.Get("Content-Type")] {
		return fastCall{}, false
	}
	actions := r.Header.Values("SOAPAction")
	if len(actions) > 1 || r.ContentLength <= 0 || r.ContentLength > lim.MaxBytes || r.Body == nil || r.Body == http.NoBody {
		return fastCall{}, false
	}
	data, err := readExactly(r.Body, r.ContentLength)
	if err != nil {
		r.Body = replay(data, r.Body, err)
		return fastCall{}, false
	}
	c, ok = v.readEnvelope(data, lim)
	if ok && len(actions) == 1 {
		switch actions[0] {
		case "", `""`, v.ns + "/" + c.op, `"` + v.ns + "/" + c.op + `"`:
		default:
			ok = false // ReadRequest judges any other SOAPAction
		}
	}
	if !ok {
		r.Body = replay(data, nil, nil)
	}
	return c, ok
}

// errLonger is readExactly's error for a body longer than announced.
var errLonger = errors.New("erpsim: body longer than its Content-Length")

// readExactly reads body to its end, expecting n bytes. It returns what
// it read and the read error, or errLonger after n+1 bytes.
func readExactly(body io.Reader, n int64) ([]byte, error) {
	buf := make([]byte, 0, n+1)
	for len(buf) < cap(buf) {
		k, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, errLonger
}

// replay returns a body that yields read, then the rest of body (after
// errLonger), or err (any other error), or io.EOF.
func replay(read []byte, body io.ReadCloser, err error) io.ReadCloser {
	rest := []io.Reader{bytes.NewReader(read)}
	switch {
	case err == errLonger:
		rest = append(rest, body)
	case err != nil:
		rest = append(rest, errorReader{err})
	}
	return io.NopCloser(io.MultiReader(rest...))
}

type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) { return 0, e.err }

// readEnvelope reads env, the whole body, in the plain form.
func (v *version) readEnvelope(env []byte, lim soap.Limits) (fastCall, bool) {
	for _, decl := range [...]string{`<?xml version="1.0" encoding="UTF-8"?>`, `<?xml version="1.0"?>`} {
		if rest, ok := bytes.CutPrefix(env, []byte(decl)); ok {
			env = bytes.TrimLeft(rest, " \t\n")
			break
		}
	}
	env = bytes.TrimRight(env, " \t\n\r")
	inner, ok := bytes.CutPrefix(env, []byte(fastEnvelopeStart))
	if !ok {
		return fastCall{}, false
	}
	if inner, ok = bytes.CutSuffix(inner, []byte(fastEnvelopeEnd)); !ok {
		return fastCall{}, false
	}
	// The operation's start tag, literally <Op xmlns="ns">.
	sp := bytes.IndexByte(inner, ' ')
	if len(inner) < 2 || inner[0] != '<' || sp < 0 {
		return fastCall{}, false
	}
	opName := string(inner[1:sp])
	op, known := v.fast[opName]
	if !known {
		return fastCall{}, false
	}
	content, ok := bytes.CutPrefix(inner[sp:], []byte(` xmlns="`+v.ns+`">`))
	if !ok || !plainContent(content) {
		return fastCall{}, false
	}
	f := &fields{sc: (&soap.Request{Body: inner}).Scanner(), ns: v.ns, elems: 2, lim: lim}
	if k := f.next(); k != soap.ScanStart || f.sc.Name() != (xml.Name{Space: v.ns, Local: opName}) {
		return fastCall{}, false
	}
	in := op.read(f)
	if f.bad || f.next() != soap.ScanEOF {
		return fastCall{}, false
	}
	return fastCall{op: opName, in: in, serve: op.serve}, true
}

// plainContent reports whether s, the operation element after its start
// tag, holds only characters the fast path reads as encoding/xml does:
// UTF-8 of characters XML allows; no quote, hence no attribute; no "]]>",
// which encoding/xml refuses in text; and character references of at
// most 7 digits, as any valid one is (the Scanner's arithmetic would wrap
// on longer ones).
func plainContent(s []byte) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, w := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && w == 1 || !soap.IsXMLChar(r) {
				return false
			}
			i += w
			continue
		}
		switch {
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r', c == '"', c == '\'':
			return false
		case c == '&' && i+1 < len(s) && s[i+1] == '#':
			if bytes.IndexByte(s[i:min(len(s), i+10)], ';') < 0 {
				return false
			}
		case c == ']' && bytes.HasPrefix(s[i:], []byte("]]>")):
			return false
		}
		i++
	}
	return true
}

// fields reads the content of an operation element with a soap.Scanner,
// the way encoding/xml fills a generated type, within the limits
// ReadRequest enforces. Any form it does not read sets bad.
type fields struct {
	sc    *soap.Scanner
	ns    string
	elems int // start tags so far, Envelope and Body included
	lim   soap.Limits
	local string // the local name of the child child() stopped at
	bad   bool
}

// next is the Scanner's next event within the limits; 0 when bad.
func (f *fields) next() soap.ScanKind {
	if f.bad {
		return 0
	}
	k, ok := f.sc.Next()
	switch {
	case !ok:
		f.bad = true
		return 0
	case k == soap.ScanStart:
		if f.elems++; f.elems > f.lim.MaxElements {
			f.bad = true
			return 0
		}
	case k == soap.ScanText:
		if len(f.sc.Text()) > f.lim.MaxTokenBytes {
			f.bad = true
			return 0
		}
	}
	return k
}

// child moves to the next child element of the current struct element
// and reports whether there is one; its local name is then in f.local. It
// reports false at the struct's end tag, and when bad. Text between
// children is skipped, as encoding/xml skips it for a struct without a
// chardata field; a child in another namespace is left to Decode.
func (f *fields) child() bool {
	for {
		switch f.next() {
		case soap.ScanText:
		case soap.ScanStart:
			n := f.sc.Name()
			if n.Space != f.ns {
				f.bad = true
				return false
			}
			f.local = n.Local
			return true
		case soap.ScanEnd:
			return false
		default:
			f.bad = true
			return false
		}
	}
}

// skip marks the current child as one the fast path does not read.
func (f *fields) skip() { f.bad = true }

// once marks bit in seen and reports whether it was clear: a value given
// twice is left to Decode.
func (f *fields) once(seen *uint32, bit uint32) bool {
	if *seen&bit != 0 {
		f.bad = true
		return false
	}
	*seen |= bit
	return true
}

// text reads the text of a value element through its end tag.
func (f *fields) text() string {
	var s string
	for texts := 0; ; texts++ {
		switch f.next() {
		case soap.ScanText:
			if texts > 0 {
				f.bad = true // cannot happen: text runs to the next tag
				return ""
			}
			// A copy: the simulator keeps the orders it reads, and the
			// Scanner's text is a substring of the whole envelope, which it
			// would keep alive (some 1.4 KB per order and version, 28 MB
			// for 10,000 orders in the embedded simulator).
			s = strings.Clone(f.sc.Text())
		case soap.ScanEnd:
			return s
		default:
			f.bad = true // an element inside a value
			return ""
		}
	}
}

// str reads a string element once into *dst.
func (f *fields) str(dst *string, seen *uint32, bit uint32) {
	if f.once(seen, bit) {
		*dst = f.text()
	}
}

// integer reads an integer element as encoding/xml does: empty is 0,
// otherwise the text without surrounding space must parse in bits.
func (f *fields) integer(seen *uint32, bit uint32, bits int) int64 {
	if !f.once(seen, bit) {
		return 0
	}
	s := f.text()
	if len(s) == 0 {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, bits)
	if err != nil {
		f.bad = true
	}
	return n
}

// boolean reads a boolean element as encoding/xml does (strconv's words).
func (f *fields) boolean(seen *uint32, bit uint32) bool {
	if !f.once(seen, bit) {
		return false
	}
	s := f.text()
	if len(s) == 0 {
		return false
	}
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		f.bad = true
	}
	return b
}

// textPtr reads a value element into a new *T (a string type): present
// but empty is a pointer to "", as encoding/xml makes it.
func textPtr[T ~string](f *fields) *T {
	v := T(f.text())
	return &v
}

// textPtrOnce is textPtr for a field that may appear once.
func textPtrOnce[T ~string](f *fields, seen *uint32, bit uint32) *T {
	if !f.once(seen, bit) {
		return nil
	}
	return textPtr[T](f)
}

package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"erpgate"
)

// readRequest does the transport checks (method, content type, size) and
// hands the bytes to parseEnvelope.
func readRequest(r *http.Request, lim Limits) (*Request, error) {
	lim = lim.withDefaults()
	if r.Method != http.MethodPost {
		return nil, refusal(http.StatusMethodNotAllowed, erpgate.Invalid, "SOAP requests must use POST")
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mt = ""
	}
	var v Version
	var action string
	switch mt {
	case "text/xml":
		v = V11
		vals := r.Header.Values("SOAPAction")
		if len(vals) > 1 {
			return nil, clientFault(erpgate.Invalid, "more than one SOAPAction header")
		}
		if len(vals) == 1 {
			action = unquote(vals[0])
		}
	case "application/soap+xml":
		v = V12
		action = unquote(params["action"])
	default:
		return nil, refusal(http.StatusUnsupportedMediaType, erpgate.UnsupportedMedia,
			"content type must be text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, refusal(http.StatusUnsupportedMediaType, erpgate.UnsupportedMedia,
			"charset must be utf-8")
	}
	if r.ContentLength > lim.MaxBytes {
		return nil, tooLarge(lim.MaxBytes)
	}
	data, f := readBody(r.Body, r.ContentLength, lim.MaxBytes)
	if f != nil {
		return nil, f
	}
	req, err := parseEnvelope(data, v, lim)
	if err != nil {
		return nil, err
	}
	req.Action = action
	if action != "" && actionOperation(action) != req.Operation.Local {
		return nil, clientFault(erpgate.Invalid,
			fmt.Sprintf("SOAPAction %q does not match the body element %s", truncate(action, 200), req.Operation.Local))
	}
	return req, nil
}

// initialBodyBuffer bounds the first buffer readBody allocates: the
// announced Content-Length is only a claim (a client may announce a
// megabyte and send a byte a minute), so memory grows with the bytes that
// arrive, never with the claim. Orders are a few KiB; larger bodies double
// their buffer a few times.
const initialBodyBuffer = 16 << 10

// readBody reads at most max bytes of body; one byte more is a 413. A
// body up to initialBodyBuffer with a known length is read with one
// allocation.
func readBody(body io.Reader, length, max int64) ([]byte, *Fault) {
	if body == nil || body == http.NoBody {
		return nil, nil
	}
	size := int64(4 << 10)
	if length >= 0 {
		size = min(length+1, initialBodyBuffer) // room for the EOF probe
	}
	if size > max+1 {
		size = max + 1
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > max {
				return nil, tooLarge(max)
			}
			nb := make([]byte, len(buf), min(int64(cap(buf))*2, max+1))
			copy(nb, buf)
			buf = nb
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return nil, tooLarge(max)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return nil, tooLarge(max)
			}
			return nil, readFailure(err)
		}
	}
}

// mediaType returns the lower-case media type of a Content-Type value, or
// "" when it does not parse.
func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return mt
}

// unquote removes the double quotes around a SOAPAction value ("" means
// "no intent given", as does an absent header).
func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return s
}

// actionOperation returns the operation an action names: the part after the
// last '#', '/' or ':' ("urn:x#Op", "http://x/svc/Op", "urn:x:Op" and "Op"
// all name Op).
func actionOperation(a string) string {
	return a[strings.LastIndexAny(a, "#/:")+1:]
}

// Stages of the envelope walk.
const (
	inProlog   = iota // before the root element
	inEnvelope        // children of Envelope: Header, then Body
	inHeader          // below Header
	inBody            // below Body
	afterBody         // Body closed, Envelope still open
	inEpilog          // after the root element
)

// xmlNS is the namespace bound to the prefix "xml" by definition.
const xmlNS = "http://www.w3.org/XML/1998/namespace"

// binding is one namespace declaration, in scope below the element (at
// depth) that made it.
type binding struct {
	prefix, uri string
	depth       int
}

// parser walks the raw token stream of one envelope once, counting as it
// goes. It uses RawToken, not Token, and keeps its own element and
// namespace stacks: Token re-boxes every element after translating it,
// which would double the allocations of the hot path.
type parser struct {
	dec   *xml.Decoder
	lim   Limits
	want  Version // 0: either version
	elems int

	open  []xml.Name // raw (prefix, local) names of the open elements
	ns    []binding  // namespace declarations in scope
	attrs []xml.Name // resolved attribute names of the current element (reused)

	stage      int
	headerSeen bool
	headerOff  int64
	bodyOff    int64 // where the body child starts
	req        *Request

	// WS-Security state: which wsse element (at what depth) we are in.
	secDepth   int     // depth of the current wsse:Security block, 0 when outside
	tokDepth   int     // depth of the current UsernameToken, 0 when outside
	capture    *string // Username or Password text being collected
	captureLvl int
}

// depth is the number of open elements.
func (p *parser) depth() int { return len(p.open) }

// charsetError is returned by the decoder's CharsetReader, which runs when
// the XML declaration names an encoding other than UTF-8.
type charsetError struct{ label string }

func (e *charsetError) Error() string { return "unsupported encoding " + e.label }

func refuseCharset(label string, _ io.Reader) (io.Reader, error) {
	return nil, &charsetError{label: label}
}

// parseEnvelope checks data as a SOAP envelope of version want (either when
// zero) under lim and returns it as a Request. It never builds a tree: one
// pass over the tokens, with counters, recording the byte offsets of Header
// and of the Body child.
func parseEnvelope(data []byte, want Version, lim Limits) (*Request, error) {
	if f := checkEncodingBytes(data); f != nil {
		return nil, f
	}
	if bytes.HasPrefix(data, utf8BOM) {
		data = data[len(utf8BOM):]
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, clientFault(erpgate.Invalid, "the request body is empty")
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.AutoClose = nil
	dec.Entity = nil
	dec.CharsetReader = refuseCharset
	p := &parser{dec: dec, lim: lim, want: want, req: &Request{Version: want}}
	p.open = make([]xml.Name, 0, 16)
	for {
		off := dec.InputOffset()
		tok, err := dec.RawToken()
		if err == io.EOF {
			if p.stage != inEpilog {
				return nil, clientFault(erpgate.Invalid, "truncated XML document: no complete SOAP Envelope")
			}
			break
		}
		if err != nil {
			return nil, decodeFault(err)
		}
		if f := p.token(tok, off, data); f != nil {
			return nil, f
		}
	}
	return p.req, nil
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// checkEncodingBytes refuses UTF-16 and UTF-32 before the decoder sees them
// (it would report a confusing syntax error): a byte-order mark or NUL
// bytes among the first ones.
func checkEncodingBytes(data []byte) *Fault {
	head := data[:min(len(data), 4)]
	if bytes.HasPrefix(head, []byte{0xFE, 0xFF}) || bytes.HasPrefix(head, []byte{0xFF, 0xFE}) ||
		bytes.IndexByte(head, 0) >= 0 {
		return encodingFault("UTF-16/UTF-32")
	}
	return nil
}

// decodeFault turns a decoder error into a Client fault that says what was
// wrong without echoing much of the input.
func decodeFault(err error) *Fault {
	if ce, ok := errors.AsType[*charsetError](err); ok {
		return encodingFault(ce.label)
	}
	if se, ok := errors.AsType[*xml.SyntaxError](err); ok {
		if se.Msg == "unexpected EOF" {
			return clientFault(erpgate.Invalid, fmt.Sprintf("truncated XML document (line %d)", se.Line))
		}
		return clientFault(erpgate.Invalid, fmt.Sprintf("malformed XML on line %d: %s", se.Line, truncate(se.Msg, 120)))
	}
	return clientFault(erpgate.Invalid, "malformed XML: "+truncate(err.Error(), 120))
}

// token checks one token in the context of the walk. off is the input offset
// before the token.
func (p *parser) token(tok xml.Token, off int64, data []byte) *Fault {
	switch t := tok.(type) {
	case xml.StartElement:
		return p.start(t, off)
	case xml.EndElement:
		return p.end(t, data)
	case xml.CharData:
		if len(t) > p.lim.MaxTokenBytes {
			return limitFault("a text node is longer than %d bytes", p.lim.MaxTokenBytes)
		}
		if p.capture != nil && p.depth() == p.captureLvl {
			*p.capture += string(t)
		}
		inBlock := (p.stage == inHeader || p.stage == inBody) && p.depth() >= 3
		if !inBlock && !isSpace(t) {
			return clientFault(erpgate.Invalid, "text is not allowed "+p.where())
		}
	case xml.Comment:
		if len(t) > p.lim.MaxTokenBytes {
			return limitFault("a comment is longer than %d bytes", p.lim.MaxTokenBytes)
		}
	case xml.ProcInst:
		if len(t.Inst)+len(t.Target) > p.lim.MaxTokenBytes {
			return limitFault("a processing instruction is longer than %d bytes", p.lim.MaxTokenBytes)
		}
	case xml.Directive:
		return clientFault(erpgate.Invalid, "DOCTYPE and ENTITY declarations are not allowed")
	}
	return nil
}

func (p *parser) where() string {
	switch p.stage {
	case inProlog:
		return "before the Envelope"
	case inEpilog:
		return "after the Envelope"
	case inBody:
		return "directly in Body"
	case inHeader:
		return "directly in Header"
	}
	return "directly in Envelope"
}

func isSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

func (p *parser) start(t xml.StartElement, off int64) *Fault {
	raw := t.Name
	p.open = append(p.open, raw)
	p.elems++
	depth := p.depth()
	if depth > p.lim.MaxDepth {
		return limitFault("elements are nested deeper than %d", p.lim.MaxDepth)
	}
	if p.elems > p.lim.MaxElements {
		return limitFault("more than %d elements", p.lim.MaxElements)
	}
	if f := p.checkSizes(t); f != nil {
		return f
	}
	if p.stage == inEpilog {
		return clientFault(erpgate.Invalid, "content after the SOAP Envelope")
	}
	// The scope the body element sees is what is declared around it, not on it.
	var scope []binding
	if p.stage == inBody && depth == 3 {
		scope = p.ns
	}
	nsBefore := len(p.ns)
	if f := p.declare(t.Attr, depth); f != nil {
		return f
	}
	if scope != nil {
		scope = scope[:nsBefore]
	}
	name, f := p.resolve(raw, true)
	if f != nil {
		return f
	}
	if f := p.resolveAttrs(t.Attr); f != nil {
		return f
	}
	switch p.stage {
	case inProlog:
		return p.root(name)
	case inEnvelope:
		switch {
		case name.Space == p.envNS() && name.Local == "Header" && !p.headerSeen:
			p.headerSeen = true
			p.headerOff = off
			p.stage = inHeader
		case name.Space == p.envNS() && name.Local == "Body":
			p.stage = inBody
		default:
			return clientFault(erpgate.Invalid, fmt.Sprintf("unexpected element %s in Envelope: expected one optional Header, then Body", truncate(name.Local, 64)))
		}
	case inHeader:
		if depth == 3 {
			p.headerBlock(name, t.Attr)
		}
		p.wsseStart(name, t.Attr, depth)
	case inBody:
		if depth == 3 {
			if p.req.Operation.Local != "" {
				return clientFault(erpgate.Invalid, "the SOAP Body must contain exactly one element, found a second: "+truncate(name.Local, 64))
			}
			p.req.Operation = name
			p.bodyOff = off
			p.req.scope = scopeAttrs(scope)
		}
	case afterBody:
		return clientFault(erpgate.Invalid, "no element may follow the SOAP Body: found "+truncate(name.Local, 64))
	}
	return nil
}

// envNS is the envelope namespace being read.
func (p *parser) envNS() string { return p.req.Version.Namespace() }

func (p *parser) root(name xml.Name) *Fault {
	var v Version
	switch {
	case name.Local != "Envelope":
		return &Fault{Code: FaultVersionMismatch, String: "the root element must be a SOAP Envelope, found " + truncate(name.Local, 64),
			HTTPStatus: http.StatusInternalServerError, Detail: FaultDetail{Code: erpgate.Invalid, Message: "not a SOAP envelope"}}
	case name.Space == NS11:
		v = V11
	case name.Space == NS12:
		v = V12
	}
	if v == 0 || p.want != 0 && v != p.want {
		want := p.want.Namespace()
		if p.want == 0 {
			want = NS11 + " or " + NS12
		}
		return &Fault{Code: FaultVersionMismatch, String: "the Envelope must be in namespace " + want + " for this content type",
			HTTPStatus: http.StatusInternalServerError, Detail: FaultDetail{Code: erpgate.Invalid, Message: "SOAP version mismatch"}}
	}
	p.req.Version = v
	p.stage = inEnvelope
	return nil
}

// checkSizes enforces the attribute count and the name and value sizes.
func (p *parser) checkSizes(t xml.StartElement) *Fault {
	if len(t.Name.Local)+len(t.Name.Space) > p.lim.MaxTokenBytes {
		return limitFault("an element name is longer than %d bytes", p.lim.MaxTokenBytes)
	}
	if len(t.Attr) > p.lim.MaxAttributes {
		return limitFault("an element has more than %d attributes", p.lim.MaxAttributes)
	}
	for _, a := range t.Attr {
		if len(a.Name.Local)+len(a.Name.Space) > p.lim.MaxTokenBytes || len(a.Value) > p.lim.MaxTokenBytes {
			return limitFault("an attribute is longer than %d bytes", p.lim.MaxTokenBytes)
		}
	}
	return nil
}

// declare pushes the namespace declarations among attrs.
func (p *parser) declare(attrs []xml.Attr, depth int) *Fault {
	for _, a := range attrs {
		var prefix string
		switch {
		case a.Name.Space == "xmlns":
			prefix = a.Name.Local
			if prefix == "xmlns" || prefix == "xml" && a.Value != xmlNS || prefix != "xml" && a.Value == xmlNS || a.Value == "" {
				return clientFault(erpgate.Invalid, "invalid namespace declaration xmlns:"+truncate(prefix, 64))
			}
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			if a.Value == xmlNS {
				return clientFault(erpgate.Invalid, "invalid default namespace declaration")
			}
		default:
			continue
		}
		p.ns = append(p.ns, binding{prefix: prefix, uri: a.Value, depth: depth})
	}
	return nil
}

// lookup returns the namespace bound to prefix ("" for the default one).
func (p *parser) lookup(prefix string) (string, bool) {
	for i := len(p.ns) - 1; i >= 0; i-- {
		if p.ns[i].prefix == prefix {
			return p.ns[i].uri, true
		}
	}
	switch prefix {
	case "":
		return "", true
	case "xml":
		return xmlNS, true
	}
	return "", false
}

// resolve turns a raw (prefix, local) name into (namespace, local). An
// unprefixed attribute is in no namespace; an undeclared prefix is an error
// (the decoder would silently keep the prefix as the namespace).
func (p *parser) resolve(raw xml.Name, element bool) (xml.Name, *Fault) {
	if raw.Space == "" && !element {
		return raw, nil
	}
	if raw.Space == "xmlns" {
		if element {
			return raw, clientFault(erpgate.Invalid, "the prefix xmlns is reserved")
		}
		return raw, nil
	}
	uri, ok := p.lookup(raw.Space)
	if !ok {
		return raw, clientFault(erpgate.Invalid, "undeclared namespace prefix "+truncate(raw.Space, 64))
	}
	return xml.Name{Space: uri, Local: raw.Local}, nil
}

// resolveAttrs resolves the attribute names into p.attrs and refuses
// duplicates (which the decoder lets through, and which parsers resolve
// differently: a classic smuggling trick), also those spelt with two
// prefixes for one namespace.
func (p *parser) resolveAttrs(attrs []xml.Attr) *Fault {
	p.attrs = p.attrs[:0]
	for _, a := range attrs {
		n, f := p.resolve(a.Name, false)
		if f != nil {
			return f
		}
		if slices.Contains(p.attrs, n) {
			return clientFault(erpgate.Invalid, "duplicate attribute "+truncate(a.Name.Local, 64))
		}
		p.attrs = append(p.attrs, n)
	}
	return nil
}

// scopeAttrs turns bindings into the xmlns attributes Decode re-declares.
func scopeAttrs(bs []binding) []xml.Attr {
	if len(bs) == 0 {
		return nil
	}
	attrs := make([]xml.Attr, len(bs))
	for i, b := range bs {
		if b.prefix == "" {
			attrs[i] = xml.Attr{Name: xml.Name{Local: "xmlns"}, Value: b.uri}
		} else {
			attrs[i] = xml.Attr{Name: xml.Name{Space: "xmlns", Local: b.prefix}, Value: b.uri}
		}
	}
	return attrs
}

// Actor/role values that address the ultimate receiver, which we are.
var forUs = map[string]bool{
	"": true,
	"http://schemas.xmlsoap.org/soap/actor/next":                    true,
	"http://www.w3.org/2003/05/soap-envelope/role/next":             true,
	"http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver": true,
}

// headerBlock records a header block that is addressed to us and marked
// mustUnderstand. p.attrs holds the resolved names of attrs.
func (p *parser) headerBlock(name xml.Name, attrs []xml.Attr) {
	ns := p.envNS()
	role, must := "", false
	for i, a := range attrs {
		if p.attrs[i].Space != ns {
			continue
		}
		switch p.attrs[i].Local {
		case "mustUnderstand":
			v := strings.TrimSpace(a.Value)
			must = v != "0" && v != "false"
		case "actor", "role":
			role = strings.TrimSpace(a.Value)
		}
	}
	if must && forUs[role] {
		p.req.MustUnderstand = append(p.req.MustUnderstand, name)
	}
}

func (p *parser) end(t xml.EndElement, data []byte) *Fault {
	depth := p.depth()
	if depth == 0 {
		return clientFault(erpgate.Invalid, "malformed XML: unexpected end element "+truncate(t.Name.Local, 64))
	}
	if top := p.open[depth-1]; top != t.Name {
		return clientFault(erpgate.Invalid, "malformed XML: element <"+truncate(qname(top), 64)+"> closed by </"+truncate(qname(t.Name), 64)+">")
	}
	p.open = p.open[:depth-1]
	for len(p.ns) > 0 && p.ns[len(p.ns)-1].depth >= depth {
		p.ns = p.ns[:len(p.ns)-1]
	}
	depth-- // now the parent's depth
	switch p.stage {
	case inEnvelope:
		// </Envelope> without a Body.
		return clientFault(erpgate.Invalid, "the SOAP Envelope has no Body")
	case inHeader:
		if depth == 1 {
			p.req.Header = data[p.headerOff:p.dec.InputOffset()]
			p.stage = inEnvelope
			return nil
		}
		p.wsseEnd(depth)
	case inBody:
		switch depth {
		case 2:
			p.req.Body = data[p.bodyOff:p.dec.InputOffset()]
		case 1:
			if p.req.Operation.Local == "" {
				return clientFault(erpgate.Invalid, "the SOAP Body is empty: it must contain exactly one element")
			}
			p.stage = afterBody
		}
	case afterBody:
		p.stage = inEpilog
	}
	return nil
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// wsseStart follows wsse:Security/wsse:UsernameToken/{Username,Password}
// inside a header block.
func (p *parser) wsseStart(name xml.Name, attrs []xml.Attr, depth int) {
	switch {
	case depth == 3 && name == WSSESecurity:
		p.secDepth = 3
	case p.secDepth != 0 && depth == p.secDepth+1 && name.Space == NSWSSE && name.Local == "UsernameToken":
		p.tokDepth = depth
		p.req.wsse.count++
	case p.tokDepth != 0 && depth == p.tokDepth+1 && name.Space == NSWSSE:
		switch name.Local {
		case "Username":
			p.capture, p.captureLvl = &p.req.wsse.user, depth
		case "Password":
			p.capture, p.captureLvl = &p.req.wsse.pass, depth
			for i, a := range attrs {
				if p.attrs[i] == (xml.Name{Local: "Type"}) {
					p.req.wsse.passType = a.Value
					if strings.HasSuffix(strings.TrimSpace(a.Value), passwordDigestSuffix) {
						p.req.wsse.digest = true
					}
				}
			}
		}
	}
}

// wsseEnd leaves the wsse element that just closed; depth is its parent's.
func (p *parser) wsseEnd(depth int) {
	switch {
	case p.capture != nil && depth == p.captureLvl-1:
		p.capture = nil
	case p.tokDepth != 0 && depth == p.tokDepth-1:
		p.tokDepth = 0
	case p.secDepth != 0 && depth == p.secDepth-1:
		p.secDepth = 0
	}
}

// clientFault is a Client fault (HTTP 500, as WS-I BP wants) with our code.
func clientFault(code, msg string) *Fault {
	return &Fault{Code: FaultClient, String: msg, HTTPStatus: http.StatusInternalServerError,
		Detail: FaultDetail{Code: code, Message: msg}}
}

// refusal is a transport-level refusal (405, 413, 415, 400): still written
// as a Client fault, but with a 4xx status.
func refusal(status int, code, msg string) *Fault {
	f := clientFault(code, msg)
	f.HTTPStatus = status
	return f
}

// readFailure is the fault of a body that could not be read: 408 when the
// server's read deadline passed, the error's own code when the reader
// refused for a reason of the service (an instance out of body memory:
// a Server fault, 503), else 400.
func readFailure(err error) *Fault {
	if ne, ok := errors.AsType[net.Error](err); (ok && ne.Timeout()) || errors.Is(err, os.ErrDeadlineExceeded) {
		return refusal(http.StatusRequestTimeout, erpgate.Timeout, "the request body did not arrive in time")
	}
	if e, ok := errors.AsType[*erpgate.Error](err); ok && (e.Code == erpgate.Overloaded || e.Code == erpgate.Unavailable) {
		f := FaultFromError(e)
		f.HTTPStatus = http.StatusServiceUnavailable
		return f
	}
	return refusal(http.StatusBadRequest, erpgate.Invalid, "could not read the request body")
}

func tooLarge(max int64) *Fault {
	return refusal(http.StatusRequestEntityTooLarge, erpgate.TooLarge,
		fmt.Sprintf("the request body is larger than %d bytes", max))
}

func limitFault(format string, n int) *Fault {
	return clientFault(erpgate.TooLarge, "the request exceeds a limit: "+fmt.Sprintf(format, n))
}

func encodingFault(label string) *Fault {
	return clientFault(erpgate.UnsupportedMedia,
		"the request must be encoded in UTF-8, not "+truncate(label, 40))
}

// truncate shortens s to at most n bytes without splitting a rune.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

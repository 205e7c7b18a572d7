package soap

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
	"sync"

	"erpgate"
)

// Every envelope we write has the same stable layout (golden files in
// testdata/golden pin it): an XML declaration, a newline, then
//
//	<soap:Envelope xmlns:soap="…"><soap:Body>…</soap:Body></soap:Envelope>
//
// with the prefix "soap" for both versions and no whitespace between tags.

// encBuf is a buffer with an xml.Encoder bound to it. Pooling the pair
// saves the encoder's 4 KiB bufio.Writer and the buffer on every response.
type encBuf struct {
	buf bytes.Buffer
	enc *xml.Encoder
}

var encPool = sync.Pool{New: func() any {
	e := &encBuf{}
	e.enc = xml.NewEncoder(&e.buf)
	return e
}}

// maxPooled keeps one huge response from pinning its buffer forever.
const maxPooled = 256 << 10

func getEncBuf() *encBuf {
	e := encPool.Get().(*encBuf)
	e.buf.Reset()
	return e
}

func putEncBuf(e *encBuf) {
	if e.buf.Cap() <= maxPooled {
		encPool.Put(e)
	}
}

func envelopeStart(b *bytes.Buffer, v Version) {
	b.WriteString(xml.Header)
	b.WriteString(`<soap:Envelope xmlns:soap="`)
	b.WriteString(v.Namespace())
	b.WriteString(`"><soap:Body>`)
}

const envelopeEnd = `</soap:Body></soap:Envelope>`

func writeResponse(w http.ResponseWriter, v Version, body any) error {
	e := getEncBuf()
	envelopeStart(&e.buf, v)
	if body != nil {
		if err := e.enc.Encode(body); err != nil {
			// The encoder may hold half an element: drop the pair.
			writeFault(w, v, &Fault{Code: FaultServer, String: "internal error", HTTPStatus: http.StatusInternalServerError,
				Detail: FaultDetail{Code: erpgate.Internal, Message: "internal error"}})
			return err
		}
	}
	e.buf.WriteString(envelopeEnd)
	err := send(w, v, http.StatusOK, e.buf.Bytes())
	putEncBuf(e)
	return err
}

func send(w http.ResponseWriter, v Version, status int, b []byte) error {
	h := w.Header()
	h.Set("Content-Type", v.ContentType())
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, err := w.Write(b)
	return err
}

// wireCode is the fault code as the version spells it.
func wireCode(code string, v Version) string {
	switch code {
	case FaultClient, "Sender":
		if v == V12 {
			return "Sender"
		}
		return FaultClient
	case FaultVersionMismatch, FaultMustUnderstand:
		return code
	}
	if v == V12 {
		return "Receiver"
	}
	return FaultServer
}

func writeFault(w http.ResponseWriter, v Version, f *Fault) {
	if f == nil {
		f = FaultFromError(nil)
	}
	status := f.HTTPStatus
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	e := getEncBuf()
	b := &e.buf
	envelopeStart(b, v)
	text := f.String
	if text == "" {
		text = f.Detail.Message
	}
	if text == "" {
		text = http.StatusText(status)
	}
	ok := true
	if v == V12 {
		b.WriteString(`<soap:Fault><soap:Code><soap:Value>soap:`)
		b.WriteString(wireCode(f.Code, v))
		b.WriteString(`</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang="en">`)
		escape(b, text)
		b.WriteString(`</soap:Text></soap:Reason>`)
		if hasDetail(f) {
			b.WriteString(`<soap:Detail>`)
			ok = writeDetail(e, f)
			b.WriteString(`</soap:Detail>`)
		}
	} else {
		b.WriteString(`<soap:Fault><faultcode>soap:`)
		b.WriteString(wireCode(f.Code, v))
		b.WriteString(`</faultcode><faultstring>`)
		escape(b, text)
		b.WriteString(`</faultstring>`)
		if hasDetail(f) {
			b.WriteString(`<detail>`)
			ok = writeDetail(e, f)
			b.WriteString(`</detail>`)
		}
	}
	b.WriteString(`</soap:Fault>`)
	b.WriteString(envelopeEnd)
	_ = send(w, v, status, b.Bytes())
	if ok {
		putEncBuf(e)
	}
}

func hasDetail(f *Fault) bool {
	d := f.Detail
	return f.DetailElement != nil || d.Code != "" || d.Message != "" || len(d.Problems) > 0
}

// writeDetail writes the content of the detail element. It reports whether
// the encoder is still fit for reuse.
func writeDetail(e *encBuf, f *Fault) bool {
	if f.DetailElement != nil {
		mark := e.buf.Len()
		if err := e.enc.Encode(f.DetailElement); err == nil {
			return true
		}
		e.buf.Truncate(mark) // fall back to our own detail
		writeErrorDetail(&e.buf, f.Detail)
		return false
	}
	writeErrorDetail(&e.buf, f.Detail)
	return true
}

func writeErrorDetail(b *bytes.Buffer, d FaultDetail) {
	b.WriteString(`<e:error xmlns:e="` + NSFault + `"><e:code>`)
	escape(b, d.Code)
	b.WriteString(`</e:code><e:message>`)
	escape(b, d.Message)
	b.WriteString(`</e:message>`)
	for _, p := range d.Problems {
		b.WriteString(`<e:problem><e:field>`)
		escape(b, p.Field)
		b.WriteString(`</e:field><e:message>`)
		escape(b, p.Message)
		b.WriteString(`</e:message></e:problem>`)
	}
	b.WriteString(`</e:error>`)
}

// escape writes s as XML text. Invalid UTF-8 and characters XML cannot hold
// become U+FFFD, so a fault never turns into malformed XML.
func escape(b *bytes.Buffer, s string) {
	_ = xml.EscapeText(b, []byte(s))
}

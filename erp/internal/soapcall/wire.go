package soapcall

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"strconv"
	"unicode/utf8"

	gowsdl "github.com/hooklift/gowsdl/soap"

	"erpgate/soap"
)

// The delivery path's own SOAP call.
//
// gowsdl's client marshals the request envelope with encoding/xml and
// unmarshals the answer with it; on a delivery that reflection was close to
// half of the gateway's CPU. For the calls of every delivery (v2's create,
// v1's lookup and create) the adapters write the request with an Envelope
// instead — by hand, from the same generated request type, byte for byte
// what encoding/xml writes for it (the adapters' property tests hold them
// to that) — and send it with Client.Post, which behaves as gowsdl's call
// does: the same headers, an HTTP status ≥ 400 as a *gowsdl.HTTPError with
// the body, and Decode reads the answer exactly as gowsdl does, faults in a
// 200 answer included. The generated types stay the contract.

// Envelope appends a SOAP 1.1 request envelope as encoding/xml marshals
// gowsdl's soap.SOAPEnvelope around a generated request type: no header,
// the operation element in its namespace, child elements in field order.
// The methods mirror the generated types' `xml:",omitempty"` fields.
type Envelope struct {
	b []byte
}

const (
	envelopeStart = `<soap:Envelope xmlns:soap="` + gowsdl.XmlNsSoapEnv + `"><soap:Body>`
	envelopeEnd   = `</soap:Body></soap:Envelope>`
)

// NewEnvelope starts an envelope whose body holds the operation element op
// in namespace ns; size is a guess of the final length.
func NewEnvelope(op, ns string, size int) *Envelope {
	e := &Envelope{b: make([]byte, 0, size)}
	e.b = append(e.b, envelopeStart...)
	e.b = append(e.b, '<')
	e.b = append(e.b, op...)
	e.b = append(e.b, ` xmlns="`...)
	e.b = appendEscaped(e.b, ns)
	e.b = append(e.b, `">`...)
	return e
}

// Finish closes the operation element op and the envelope and returns the
// bytes.
func (e *Envelope) Finish(op string) []byte {
	e.Close(op)
	e.b = append(e.b, envelopeEnd...)
	return e.b
}

// Open writes the start tag of a struct element (a non-nil pointer field:
// written even when all its fields are empty).
func (e *Envelope) Open(name string) {
	e.b = append(e.b, '<')
	e.b = append(e.b, name...)
	e.b = append(e.b, '>')
}

// Close writes the end tag of name.
func (e *Envelope) Close(name string) {
	e.b = append(e.b, "</"...)
	e.b = append(e.b, name...)
	e.b = append(e.b, '>')
}

// String writes an omitempty string field: nothing when v is empty.
func (e *Envelope) String(name, v string) {
	if v != "" {
		e.Text(name, v)
	}
}

// Text writes the element name with text v even when v is empty (the
// value of a non-nil pointer field).
func (e *Envelope) Text(name, v string) {
	e.Open(name)
	e.b = appendEscaped(e.b, v)
	e.Close(name)
}

// Int writes an omitempty integer field: nothing when v is 0.
func (e *Envelope) Int(name string, v int64) {
	if v != 0 {
		e.Open(name)
		e.b = strconv.AppendInt(e.b, v, 10)
		e.Close(name)
	}
}

// Bool writes an omitempty bool field: nothing when v is false.
func (e *Envelope) Bool(name string, v bool) {
	if v {
		e.Open(name)
		e.b = append(e.b, "true"...)
		e.Close(name)
	}
}

// appendEscaped escapes s as encoding/xml escapes character data and
// attribute values (printer.EscapeString): the five specials as &amp;,
// &lt;, &gt;, &#34;, &#39;, tab and line ends as character references, and
// bytes that are not UTF-8 or characters XML does not allow as U+FFFD.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plainASCII[c] {
			i++
			continue
		}
		r, width := rune(c), 1
		if c >= utf8.RuneSelf {
			r, width = utf8.DecodeRuneInString(s[i:])
		}
		i += width
		var esc string
		switch r {
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			if !soap.IsXMLChar(r) || (r == utf8.RuneError && width == 1) {
				esc = "\uFFFD"
				break
			}
			continue
		}
		b = append(b, s[last:i-width]...)
		b = append(b, esc...)
		last = i
	}
	return append(b, s[last:]...)
}

// plainASCII marks the bytes appendEscaped copies as they are.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\'' && c != '&' && c != '<' && c != '>'
	}
	return t
}()

// Client posts prepared envelopes to one endpoint the way gowsdl's client
// does.
type Client struct {
	url     string
	hc      *http.Client
	headers map[string]string
}

// NewClient returns a Client for url that sends with hc (a client made by
// NewHTTPClient) and sets headers on every request after gowsdl's own, as
// gowsdl.WithHTTPHeaders does.
func NewClient(url string, hc *http.Client, headers map[string]string) *Client {
	return &Client{url: url, hc: hc, headers: headers}
}

// Post sends envelope with SOAPAction action and returns the body of the
// answer. An HTTP status ≥ 400 is a *gowsdl.HTTPError holding the body (as
// much of it as could be read), as gowsdl returns it.
func (c *Client) Post(ctx context.Context, action string, envelope []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(envelope))
	if err != nil {
		return nil, err
	}
	req.Header.Add("Content-Type", `text/xml; charset="utf-8"`)
	req.Header.Add("SOAPAction", action)
	req.Header.Set("User-Agent", "gowsdl/0.1")
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode >= 400 {
		body, _ := io.ReadAll(res.Body)
		return nil, &gowsdl.HTTPError{StatusCode: res.StatusCode, ResponseBody: body}
	}
	return io.ReadAll(res.Body)
}

// Decode reads the answer body into response (a pointer to the generated
// response type) exactly as gowsdl's client does: a fault in the body is
// returned as a *gowsdl.SOAPFault.
func Decode(body []byte, response any) error {
	env := &gowsdl.SOAPEnvelopeResponse{Body: gowsdl.SOAPBodyResponse{
		Content: response,
		Fault:   &gowsdl.SOAPFault{},
	}}
	if err := xml.NewDecoder(bytes.NewReader(body)).Decode(env); err != nil {
		return err
	}
	return env.Body.ErrorFromFault()
}

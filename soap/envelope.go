package soap

import (
	"bytes"
	"encoding/xml"
	"io"
	"mime"
	"net/http"
	"strings"

	"erpgate"
)

// readRequest is a first, simple implementation; the hardened streaming
// checks live in reader.go.
func readRequest(r *http.Request, lim Limits) (*Request, error) {
	def := DefaultLimits()
	if lim.MaxBytes == 0 {
		lim.MaxBytes = def.MaxBytes
	}
	if r.Method != http.MethodPost {
		return nil, &Fault{Code: "Client", String: "SOAP requests must be POSTed", HTTPStatus: http.StatusMethodNotAllowed, Detail: FaultDetail{Code: erpgate.Invalid}}
	}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	req := &Request{}
	switch mt {
	case "text/xml":
		req.Version = V11
		req.Action = strings.Trim(r.Header.Get("SOAPAction"), `"`)
	case "application/soap+xml":
		req.Version = V12
		req.Action = strings.Trim(params["action"], `"`)
	default:
		return nil, &Fault{Code: "Client", String: "content type must be text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)", HTTPStatus: http.StatusUnsupportedMediaType, Detail: FaultDetail{Code: erpgate.UnsupportedMedia}}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, lim.MaxBytes+1))
	if err != nil {
		return nil, &Fault{Code: "Client", String: "could not read the request body", HTTPStatus: http.StatusBadRequest, Detail: FaultDetail{Code: erpgate.Invalid}}
	}
	if int64(len(body)) > lim.MaxBytes {
		return nil, &Fault{Code: "Client", String: "request body too large", HTTPStatus: http.StatusRequestEntityTooLarge, Detail: FaultDetail{Code: erpgate.TooLarge}}
	}
	var env struct {
		XMLName xml.Name
		Body    struct {
			Inner []byte `xml:",innerxml"`
		} `xml:"Body"`
	}
	if err := xml.Unmarshal(body, &env); err != nil {
		return nil, clientFault("malformed XML envelope")
	}
	dec := xml.NewDecoder(bytes.NewReader(env.Body.Inner))
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, clientFault("the SOAP Body must contain exactly one element")
		}
		if se, ok := tok.(xml.StartElement); ok {
			req.Operation = se.Name
			start := dec.InputOffset()
			_ = start
			break
		}
	}
	req.Body = bytes.TrimSpace(env.Body.Inner)
	return req, nil
}

func clientFault(msg string) *Fault {
	return &Fault{Code: "Client", String: msg, HTTPStatus: http.StatusInternalServerError, Detail: FaultDetail{Code: erpgate.Invalid, Message: msg}}
}

func envNS(v Version) string {
	if v == V12 {
		return NS12
	}
	return NS11
}

func contentType(v Version) string {
	if v == V12 {
		return "application/soap+xml; charset=utf-8"
	}
	return "text/xml; charset=utf-8"
}

func writeEnvelope(w http.ResponseWriter, v Version, status int, body any) error {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	buf.WriteString(`<soap:Envelope xmlns:soap="` + envNS(v) + `"><soap:Body>`)
	if err := xml.NewEncoder(&buf).Encode(body); err != nil {
		return err
	}
	buf.WriteString(`</soap:Body></soap:Envelope>`)
	w.Header().Set("Content-Type", contentType(v))
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

func writeFault(w http.ResponseWriter, v Version, f *Fault) {
	status := f.HTTPStatus
	if status == 0 {
		status = http.StatusInternalServerError
	}
	type detail struct {
		XMLName xml.Name `xml:"urn:erpgate:fault error"`
		FaultDetail
	}
	type fault11 struct {
		XMLName xml.Name `xml:"soap:Fault"`
		Code    string   `xml:"faultcode"`
		String  string   `xml:"faultstring"`
		Detail  detail   `xml:"detail>error"`
	}
	_ = writeEnvelope(w, v, status, fault11{Code: "soap:" + f.Code, String: f.String, Detail: detail{FaultDetail: f.Detail}})
}

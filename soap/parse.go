package soap

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	"erpgate"
)

// The client side: reading envelopes a SOAP server answered with. Tests of
// the inbound services use it to assert fault codes, and the ERP adapters
// use it on the body of the *soap.HTTPError that gowsdl's runtime returns
// for a 500.

// ClientLimits bound ParseFault and ParseResponse: the answers of our own
// services and of the ERP, which are larger than requests (a full order
// with 500 lines) but still bounded.
func ClientLimits() Limits {
	return Limits{MaxBytes: 16 << 20, MaxDepth: 64, MaxElements: 200000, MaxAttributes: 64, MaxTokenBytes: 1 << 20}
}

// ErrNotFault is returned by ParseFault for a well-formed envelope whose
// body is not a Fault.
var ErrNotFault = errors.New("soap: the envelope holds no fault")

// parseClient checks body as an envelope of either version.
func parseClient(body []byte) (*Request, error) {
	lim := ClientLimits()
	if int64(len(body)) > lim.MaxBytes {
		return nil, fmt.Errorf("soap: envelope larger than %d bytes", lim.MaxBytes)
	}
	req, err := parseEnvelope(body, 0, lim)
	if err != nil {
		var f *Fault
		if errors.As(err, &f) {
			return nil, fmt.Errorf("soap: not a valid envelope: %s", f.String)
		}
		return nil, err
	}
	return req, nil
}

func (req *Request) isFault() bool {
	return req.Operation == xml.Name{Space: req.Version.Namespace(), Local: "Fault"}
}

// ParseFault reads a SOAP 1.1 or 1.2 fault envelope. Code is normalised to
// the Fault* constants (Sender → Client, Receiver → Server); Detail is
// filled from an {urn:erpgate:fault}error detail element (problem children
// spelt field/message or Field/Message). HTTPStatus stays 0: the body does
// not say.
func ParseFault(body []byte) (*Fault, error) {
	req, err := parseClient(body)
	if err != nil {
		return nil, err
	}
	if !req.isFault() {
		return nil, ErrNotFault
	}
	return req.fault()
}

// ParseResponse reads a response envelope of either version into v (a
// generated response type). A fault envelope is returned as a *Fault error;
// a malformed envelope or a body that does not fit v as another error.
func ParseResponse(body []byte, v any) error {
	req, err := parseClient(body)
	if err != nil {
		return err
	}
	if req.isFault() {
		f, err := req.fault()
		if err != nil {
			return err
		}
		return f
	}
	if err := req.Decode(v); err != nil {
		var f *Fault
		if errors.As(err, &f) {
			return fmt.Errorf("soap: response does not fit %T: %s", v, f.String)
		}
		return err
	}
	return nil
}

type wireProblem struct {
	Field    string `xml:"field"`
	FieldUC  string `xml:"Field"`
	Message  string `xml:"message"`
	MessageU string `xml:"Message"`
}

type wireError struct {
	Code     string        `xml:"code"`
	Message  string        `xml:"message"`
	Problems []wireProblem `xml:"problem"`
}

type wireDetail struct {
	Error *wireError `xml:"urn:erpgate:fault error"`
}

type wireFault11 struct {
	Code   string     `xml:"faultcode"`
	String string     `xml:"faultstring"`
	Detail wireDetail `xml:"detail"`
}

type wireFault12 struct {
	Code struct {
		Value string `xml:"Value"`
	} `xml:"Code"`
	Reason struct {
		Text []string `xml:"Text"`
	} `xml:"Reason"`
	Detail wireDetail `xml:"Detail"`
}

func (req *Request) fault() (*Fault, error) {
	var code, text string
	var d wireDetail
	if req.Version == V12 {
		var w wireFault12
		if err := req.Decode(&w); err != nil {
			return nil, fmt.Errorf("soap: malformed fault: %w", err)
		}
		code, d = w.Code.Value, w.Detail
		if len(w.Reason.Text) > 0 {
			text = w.Reason.Text[0]
		}
	} else {
		var w wireFault11
		if err := req.Decode(&w); err != nil {
			return nil, fmt.Errorf("soap: malformed fault: %w", err)
		}
		code, text, d = w.Code, w.String, w.Detail
	}
	code = strings.TrimSpace(code)
	code = code[strings.LastIndexByte(code, ':')+1:] // a QName: drop the prefix
	switch code {
	case "Sender":
		code = FaultClient
	case "Receiver":
		code = FaultServer
	}
	f := &Fault{Code: code, String: text}
	if e := d.Error; e != nil {
		f.Detail = FaultDetail{Code: e.Code, Message: e.Message}
		for _, p := range e.Problems {
			f.Detail.Problems = append(f.Detail.Problems, erpgate.Problem{
				Field:   p.Field + p.FieldUC,
				Message: p.Message + p.MessageU,
			})
		}
	}
	return f, nil
}

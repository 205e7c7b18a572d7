package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzLimits are small so the fuzzer reaches every limit quickly.
var fuzzLimits = Limits{MaxBytes: 64 << 10, MaxDepth: 12, MaxElements: 200, MaxAttributes: 6, MaxTokenBytes: 512}

// anyElement decodes any element: the invariant checks use it.
type anyElement struct {
	XMLName xml.Name
	Inner   []byte `xml:",innerxml"`
}

// addCorpusSeeds adds every small file of the hostile corpus.
func addCorpusSeeds(f *testing.F, add func(b []byte)) {
	entries, err := os.ReadDir(filepath.Join("testdata", "hostile"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".gz") || name == "cases.json" || name == "README.md" || name == "gen.py" {
			continue
		}
		b, err := os.ReadFile(filepath.Join("testdata", "hostile", name))
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}

var faultCodes = map[string]bool{FaultClient: true, FaultServer: true, FaultVersionMismatch: true, FaultMustUnderstand: true}

func checkRefusal(t *testing.T, err error) {
	t.Helper()
	var flt *Fault
	if !errors.As(err, &flt) {
		t.Fatalf("error %v (%T) is not a *Fault", err, err)
	}
	if !faultCodes[flt.Code] || flt.String == "" || flt.Detail.Code == "" {
		t.Fatalf("fault %+v: want a known code, a text and a detail code", flt)
	}
	switch flt.HTTPStatus {
	case 400, 405, 413, 415, 500:
	default:
		t.Fatalf("fault HTTP status %d", flt.HTTPStatus)
	}
	// Whatever we refuse, we can answer with a fault our own client reads.
	rec := httptest.NewRecorder()
	WriteFault(rec, V11, flt)
	back, perr := ParseFault(rec.Body.Bytes())
	if perr != nil || back.Code != flt.Code || back.Detail.Code != flt.Detail.Code {
		t.Fatalf("fault %+v written as %s reads back as %+v, %v", flt, rec.Body.Bytes(), back, perr)
	}
}

func FuzzReadRequest(f *testing.F) {
	f.Add([]byte(env11(getOrder)), false, "")
	f.Add([]byte(env11(getOrder)), false, `"urn:erpgate:test#GetOrder"`)
	f.Add([]byte(env12(getOrder)), true, "urn:erpgate:test/GetOrder")
	f.Add([]byte(withHeader(wsseHeader, getOrder)), false, "GetOrder")
	f.Add([]byte(`<a:Envelope xmlns:a="`+NS11+`" xmlns:t="urn:erpgate:test"><a:Body xmlns="urn:d"><t:GetOrder><x/></t:GetOrder></a:Body></a:Envelope>`), false, "")
	addCorpusSeeds(f, func(b []byte) { f.Add(b, false, ""); f.Add(b, true, "") })

	f.Fuzz(func(t *testing.T, body []byte, v12 bool, action string) {
		r := httptest.NewRequest(http.MethodPost, "/soap", bytes.NewReader(body))
		if v12 {
			ct := mime.FormatMediaType("application/soap+xml", map[string]string{"action": action})
			if ct == "" {
				ct = ct12
			}
			r.Header.Set("Content-Type", ct)
		} else {
			r.Header.Set("Content-Type", ct11)
			r.Header.Set("SOAPAction", action)
		}
		req, err := ReadRequest(r, fuzzLimits)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		// Accepted: the invariants Decode and the services rely on.
		if req.Operation.Local == "" {
			t.Fatal("accepted a request without an operation")
		}
		if req.Action != "" && actionOperation(req.Action) != req.Operation.Local {
			t.Fatalf("accepted action %q for operation %q", req.Action, req.Operation.Local)
		}
		if !bytes.Contains(body, req.Body) || req.Body[0] != '<' || req.Body[len(req.Body)-1] != '>' {
			t.Fatalf("Body %q is not an element taken from the input", req.Body)
		}
		var el anyElement
		if err := req.Decode(&el); err != nil {
			t.Fatalf("Decode of an accepted body: %v", err)
		}
		if el.XMLName != req.Operation {
			t.Fatalf("Decode saw %v, ReadRequest %v", el.XMLName, req.Operation)
		}
		_, _, _ = req.UsernameToken()
		if err := req.CheckMustUnderstand(); err != nil && len(req.MustUnderstand) == 0 {
			t.Fatalf("MustUnderstand fault without blocks: %v", err)
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`<SubmitOrder xmlns="urn:erpgate:test"><Order><ExternalId>A-1</ExternalId><Line><Sku>S</Sku><Quantity>2</Quantity></Line></Order></SubmitOrder>`))
	f.Add([]byte(`<t:SubmitOrder><t:Order><t:Line><t:Quantity>-0x1</t:Quantity></t:Line></t:Order></t:SubmitOrder>`))
	f.Add([]byte(`<t:SubmitOrder><t:Order><t:Line><t:Quantity>99999999999</t:Quantity></t:Line></t:Order></t:SubmitOrder>`))
	f.Add([]byte(`<SubmitOrder xmlns="urn:other"/>`))
	f.Add([]byte(`<t:SubmitOrder><t:Order><t:Notes><![CDATA[x]]>&amp;&#x10FFFF;</t:Notes></t:Order></t:SubmitOrder>`))
	f.Fuzz(func(t *testing.T, element []byte) {
		// Through the reader, with the prefix declared on Envelope.
		doc := `<s:Envelope xmlns:s="` + NS11 + `" xmlns:t="urn:erpgate:test"><s:Body>` + string(element) + `</s:Body></s:Envelope>`
		r := httptest.NewRequest(http.MethodPost, "/soap", strings.NewReader(doc))
		r.Header.Set("Content-Type", ct11)
		if req, err := ReadRequest(r, fuzzLimits); err == nil {
			var v testSubmitOrder
			if err := req.Decode(&v); err != nil {
				checkRefusal(t, err)
			}
		}
		// And raw, as a hand-built Request: Decode alone must not panic either.
		var v testSubmitOrder
		if err := (&Request{Body: element, Operation: xml.Name{Local: "SubmitOrder"}}).Decode(&v); err != nil {
			checkRefusal(t, err)
		}
	})
}

func FuzzParseFault(f *testing.F) {
	for _, name := range []string{"fault-client-1.1.xml", "fault-client-1.2.xml", "fault-must-understand-1.2.xml", "response-1.1.xml"} {
		b, err := os.ReadFile(filepath.Join("testdata", "golden", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		flt, err := ParseFault(body)
		var v testSubmitOrderResponse
		_ = ParseResponse(body, &v)
		if err != nil {
			return
		}
		// A fault we could read, we can write again and read back.
		rec := httptest.NewRecorder()
		WriteFault(rec, V12, flt)
		if _, err := ParseFault(rec.Body.Bytes()); err != nil {
			t.Fatalf("rewritten fault %s does not parse: %v", rec.Body.Bytes(), err)
		}
	})
}

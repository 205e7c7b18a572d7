package soapcall_test

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	gowsdl "github.com/hooklift/gowsdl/soap"

	"erpgate/erp/internal/soapcall"
)

// TestClientPostsAsGowsdl checks the request Post sends (method, headers
// as gowsdl sets them, the envelope as given) and that an error status is
// a *gowsdl.HTTPError with the body, as Classify expects.
func TestClientPostsAsGowsdl(t *testing.T) {
	var got *http.Request
	var gotBody []byte
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
		w.WriteHeader(status)
		io.WriteString(w, "answer")
	}))
	defer srv.Close()
	c := soapcall.NewClient(srv.URL+"/erp", soapcall.NewHTTPClient(nil, soapcall.Limit{MaxBytes: 1 << 20, Err: errors.New("too large")}),
		map[string]string{"User-Agent": "erpgate-test"})
	env := soapcall.NewEnvelope("Op", "urn:x", 0)
	env.String("A", "1")
	req := env.Finish("Op")
	body, err := c.Post(t.Context(), "urn:x/Op", req)
	if err != nil || string(body) != "answer" {
		t.Fatalf("Post = %q, %v; want the answer", body, err)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/erp" || string(gotBody) != string(req) ||
		got.Header.Get("Content-Type") != `text/xml; charset="utf-8"` || got.Header.Get("SOAPAction") != "urn:x/Op" ||
		got.Header.Get("User-Agent") != "erpgate-test" {
		t.Errorf("request %s %s %v body %q", got.Method, got.URL, got.Header, gotBody)
	}
	status = http.StatusInternalServerError
	_, err = c.Post(t.Context(), "urn:x/Op", req)
	var he *gowsdl.HTTPError
	if !errors.As(err, &he) || he.StatusCode != 500 || string(he.ResponseBody) != "answer" {
		t.Errorf("error status: err = %v, want a *gowsdl.HTTPError 500 with the body", err)
	}
}

// TestDecodeFault checks that a fault in a 200 answer is a
// *gowsdl.SOAPFault, as gowsdl's client returns it.
func TestDecodeFault(t *testing.T) {
	body := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>busy</faultstring></soap:Fault></soap:Body></soap:Envelope>`
	var res struct{}
	err := soapcall.Decode([]byte(body), &res)
	var sf *gowsdl.SOAPFault
	if !errors.As(err, &sf) || sf.String != "busy" {
		t.Errorf("Decode = %v, want the fault", err)
	}
}

// TestScanResponseReadsAsEncodingXML: answers the fast reader must not
// take because encoding/xml would refuse them (so the gowsdl fallback
// answers, as it always did): a character reference beyond Unicode that
// would wrap to "A" in 32 bits, and a blank (not empty) number or boolean.
func TestScanResponseReadsAsEncodingXML(t *testing.T) {
	const ns = "urn:erpgate:test"
	answer := func(inner string) []byte {
		return []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><R xmlns="` + ns + `">` +
			inner + `</R></soap:Body></soap:Envelope>`)
	}
	read := func(inner string) (string, int32, bool, bool) {
		var s string
		var n int32
		var b bool
		ok := soapcall.ScanResponse(answer(inner), xml.Name{Space: ns, Local: "R"}, func(f *soapcall.Fields, local string) bool {
			var ok bool
			switch local {
			case "S":
				s, ok = f.String()
			case "N":
				n, ok = f.Int32()
			case "B":
				b, ok = f.Bool()
			}
			return ok
		})
		return s, n, b, ok
	}
	if s, n, b, ok := read(`<S>O&#39;Brien</S><N> 42 </N><B>true</B>`); !ok || s != "O'Brien" || n != 42 || !b {
		t.Fatalf("plain answer = %q %d %v %v; want O'Brien 42 true", s, n, b, ok)
	}
	if _, n, b, ok := read(`<N></N><B/>`); !ok || n != 0 || b {
		t.Errorf("empty number and boolean = %d %v %v; want 0 false (as encoding/xml)", n, b, ok)
	}
	for _, inner := range []string{`<S>&#x100000041;</S>`, `<S>&#4294967361;</S>`, `<S>&#x110000;</S>`, `<N> </N>`, `<B>` + "\t" + `</B>`} {
		var v struct {
			S string `xml:"S"`
			N int32  `xml:"N"`
			B bool   `xml:"B"`
		}
		if xml.Unmarshal([]byte(`<R>`+inner+`</R>`), &v) == nil {
			t.Fatalf("encoding/xml takes %s; the case proves nothing", inner)
		}
		if s, n, b, ok := read(inner); ok {
			t.Errorf("fast reader took %s as %q %d %v; encoding/xml refuses it", inner, s, n, b)
		}
	}
}

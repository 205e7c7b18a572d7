package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"erpgate"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// customDetail stands for a fault type a WSDL declares (e.g. erpv2ws.Error).
type customDetail struct {
	XMLName xml.Name `xml:"urn:erpgate:erp:v2 ErpFault"`
	Code    string   `xml:"Code"`
	Reason  string   `xml:"Reason"`
}

func TestGolden(t *testing.T) {
	invalid := FaultFromError(&erpgate.Error{Code: erpgate.Invalid, Message: "the order is invalid", Problems: []erpgate.Problem{
		{Field: "lines[0].sku", Message: "required"},
		{Field: "customer.email", Message: `"a<b>&c" is not an e-mail address`},
	}})
	server := FaultFromError(errors.New("redis: connection refused to 10.0.0.7"))
	mismatch := func() *Fault {
		_, err := ReadRequest(post(ct11, env12(getOrder)), DefaultLimits())
		return FaultFromError(err)
	}()
	tooLarge := func() *Fault {
		_, err := ReadRequest(post(ct11, env11(getOrder)), Limits{MaxBytes: 10})
		return FaultFromError(err)
	}()
	notAllowed := func() *Fault {
		r := httptest.NewRequest(http.MethodGet, "/soap", nil)
		_, err := ReadRequest(r, DefaultLimits())
		return FaultFromError(err)
	}()
	mustUnderstand := (&Request{MustUnderstand: []xml.Name{{Space: "urn:x", Local: "Trace"}}}).CheckMustUnderstand()
	resp := &testSubmitOrderResponse{OrderID: "ord_01JD5Q7K3M9V2X4N6P8R0T2W4Y", Status: "accepted & <queued>", Replay: true}

	tests := []struct {
		file   string
		status int
		ct     string
		write  func(w http.ResponseWriter)
	}{
		{"response-1.1.xml", 200, ct11, func(w http.ResponseWriter) { _ = WriteResponse(w, V11, resp) }},
		{"response-1.2.xml", 200, ct12, func(w http.ResponseWriter) { _ = WriteResponse(w, V12, resp) }},
		{"response-empty-1.1.xml", 200, ct11, func(w http.ResponseWriter) { _ = WriteResponse(w, V11, nil) }},
		{"fault-client-1.1.xml", 500, ct11, func(w http.ResponseWriter) { WriteFault(w, V11, invalid) }},
		{"fault-client-1.2.xml", 500, ct12, func(w http.ResponseWriter) { WriteFault(w, V12, invalid) }},
		{"fault-server-1.1.xml", 500, ct11, func(w http.ResponseWriter) { WriteFault(w, V11, server) }},
		{"fault-server-1.2.xml", 500, ct12, func(w http.ResponseWriter) { WriteFault(w, V12, server) }},
		{"fault-version-mismatch-1.1.xml", 500, ct11, func(w http.ResponseWriter) { WriteFault(w, V11, mismatch) }},
		{"fault-must-understand-1.2.xml", 500, ct12, func(w http.ResponseWriter) { WriteFault(w, V12, FaultFromError(mustUnderstand)) }},
		{"fault-too-large-1.1.xml", 413, ct11, func(w http.ResponseWriter) { WriteFault(w, V11, tooLarge) }},
		{"fault-method-not-allowed-1.2.xml", 405, ct12, func(w http.ResponseWriter) { WriteFault(w, V12, notAllowed) }},
		{"fault-detail-element-1.1.xml", 500, ct11, func(w http.ResponseWriter) {
			WriteFault(w, V11, &Fault{Code: FaultClient, String: "unknown sku", DetailElement: &customDetail{Code: "UNKNOWN_SKU", Reason: "SKU-9"}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.write(rec)
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.ct {
				t.Errorf("Content-Type = %q, want %q", got, tt.ct)
			}
			if got, want := rec.Header().Get("Content-Length"), len(rec.Body.Bytes()); got != strconv.Itoa(want) {
				t.Errorf("Content-Length = %s, want %d", got, want)
			}
			if tt.status == 405 && rec.Header().Get("Allow") != http.MethodPost {
				t.Errorf("Allow = %q, want POST", rec.Header().Get("Allow"))
			}
			path := filepath.Join("testdata", "golden", tt.file)
			if *update {
				if err := os.WriteFile(path, rec.Body.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./soap -run TestGolden -update)", err)
			}
			if !bytes.Equal(rec.Body.Bytes(), want) {
				t.Errorf("envelope differs from %s\ngot:\n%s\nwant:\n%s", path, rec.Body.Bytes(), want)
			}
		})
	}
}

// TestWrittenEnvelopesReadBack checks that what we write is what we read:
// every golden envelope is a valid envelope for our own reader, and faults
// and responses come back with the values that went in.
func TestWrittenEnvelopesReadBack(t *testing.T) {
	problems := []erpgate.Problem{{Field: "lines[0].sku", Message: "required"}, {Field: "x", Message: "bad\x00 \xff"}}
	for _, v := range []Version{V11, V12} {
		for _, in := range []*Fault{
			FaultFromError(&erpgate.Error{Code: erpgate.Invalid, Message: "the order is invalid", Problems: problems}),
			FaultFromError(errors.New("boom")),
			{Code: FaultVersionMismatch, String: "wrong envelope", Detail: FaultDetail{Code: erpgate.Invalid}},
			{Code: FaultMustUnderstand, String: "not understood"},
			{Code: "Sender", String: "a 1.2 name"},
			{Code: "", String: ""},
		} {
			rec := httptest.NewRecorder()
			WriteFault(rec, v, in)
			got, err := ParseFault(rec.Body.Bytes())
			if err != nil {
				t.Fatalf("v%d: ParseFault(%s): %v", v, rec.Body.Bytes(), err)
			}
			wantCode := in.Code
			switch wantCode {
			case "Sender":
				wantCode = FaultClient
			case "":
				wantCode = FaultServer
			}
			if got.Code != wantCode {
				t.Errorf("v%d: code = %q, want %q", v, got.Code, wantCode)
			}
			wantText := in.String
			if wantText == "" {
				wantText = "Internal Server Error"
			}
			if got.String != wantText || got.Detail.Code != in.Detail.Code || got.Detail.Message != in.Detail.Message ||
				len(got.Detail.Problems) != len(in.Detail.Problems) {
				t.Errorf("v%d: parsed %+v, want %+v", v, got, in)
			}
			if len(in.Detail.Problems) == 2 && (got.Detail.Problems[0] != problems[0] || got.Detail.Problems[1].Message != "bad\uFFFD \uFFFD") {
				t.Errorf("v%d: problems = %q, want %q with invalid characters replaced", v, got.Detail.Problems, problems)
			}
		}

		rec := httptest.NewRecorder()
		want := testSubmitOrderResponse{OrderID: "ord_1", Status: "a & b", Replay: true}
		if err := WriteResponse(rec, v, &want); err != nil {
			t.Fatal(err)
		}
		var got testSubmitOrderResponse
		if err := ParseResponse(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("v%d: ParseResponse: %v", v, err)
		}
		if got.OrderID != want.OrderID || got.Status != want.Status || !got.Replay {
			t.Errorf("v%d: response = %+v, want %+v", v, got, want)
		}
	}
}

func TestParseResponse(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteFault(rec, V11, FaultFromError(erpgate.Errorf(erpgate.NotFound, "no such order")))
	var resp testSubmitOrderResponse
	err := ParseResponse(rec.Body.Bytes(), &resp)
	var f *Fault
	if !errors.As(err, &f) || f.Code != FaultClient || f.Detail.Code != erpgate.NotFound {
		t.Errorf("ParseResponse(fault) = %v, want a Client fault with code not_found", err)
	}

	rec = httptest.NewRecorder()
	_ = WriteResponse(rec, V11, &testGetOrder{OrderID: "x"})
	err = ParseResponse(rec.Body.Bytes(), &resp)
	if err == nil || errors.As(err, &f) {
		t.Errorf("ParseResponse(wrong element) = %v, want a non-fault error", err)
	}
	if err := ParseResponse([]byte("<html/>"), &resp); err == nil || errors.As(err, &f) {
		t.Errorf("ParseResponse(html) = %v, want a non-fault error", err)
	}
	if _, err := ParseFault([]byte(env11(getOrder))); !errors.Is(err, ErrNotFault) {
		t.Errorf("ParseFault(response) = %v, want ErrNotFault", err)
	}
}

func TestParseFaultForeignShapes(t *testing.T) {
	// Faults as other toolkits and the ERP v2 WSDL (Field/Message) spell them.
	tests := []struct {
		name, doc           string
		code, text, errCode string
		field               string
	}{
		{"1.1 other prefix, PascalCase problem", `<S:Envelope xmlns:S="` + NS11 + `"><S:Body><S:Fault><faultcode>S:Server</faultcode><faultstring>busy</faultstring>` +
			`<detail><f:error xmlns:f="urn:erpgate:fault"><f:code>SERVICE_BUSY</f:code><f:problem><f:Field>Line[1].Sku</f:Field><f:Message>x</f:Message></f:problem></f:error></detail></S:Fault></S:Body></S:Envelope>`,
			FaultServer, "busy", "SERVICE_BUSY", "Line[1].Sku"},
		{"1.2 Receiver with subcode and two texts", `<e:Envelope xmlns:e="` + NS12 + `"><e:Body><e:Fault><e:Code><e:Value>e:Receiver</e:Value><e:Subcode><e:Value>x:y</e:Value></e:Subcode></e:Code>` +
			`<e:Reason><e:Text xml:lang="en">down</e:Text><e:Text xml:lang="de">weg</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>`,
			FaultServer, "down", "", ""},
		{"1.1 no detail", env11(`<soap:Fault><faultcode>soap:Client.Auth</faultcode><faultstring>no</faultstring></soap:Fault>`),
			"Client.Auth", "no", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFault([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if f.Code != tt.code || f.String != tt.text || f.Detail.Code != tt.errCode {
				t.Errorf("fault = %+v, want code %q text %q detail %q", f, tt.code, tt.text, tt.errCode)
			}
			if tt.field != "" && (len(f.Detail.Problems) != 1 || f.Detail.Problems[0].Field != tt.field) {
				t.Errorf("problems = %+v, want field %q", f.Detail.Problems, tt.field)
			}
		})
	}
}

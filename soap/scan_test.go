package soap

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// scanEvents returns the Scanner's events as text, or ok false when it
// declined the body.
func scanEvents(req *Request) (events []string, ok bool) {
	sc := req.Scanner()
	for {
		k, ok := sc.Next()
		if !ok {
			return events, false
		}
		switch k {
		case ScanStart:
			events = append(events, "<{"+sc.Name().Space+"}"+sc.Name().Local)
		case ScanEnd:
			events = append(events, ">{"+sc.Name().Space+"}"+sc.Name().Local)
		case ScanText:
			events = appendText(events, sc.Text())
		case ScanEOF:
			return events, true
		}
	}
}

// appendText merges adjacent text, as encoding/xml may split it differently.
func appendText(events []string, s string) []string {
	if n := len(events); n > 0 && strings.HasPrefix(events[n-1], "#") {
		events[n-1] += s
		return events
	}
	return append(events, "#"+s)
}

// xmlEvents is the same event list from encoding/xml (Decode's reader).
func xmlEvents(t *testing.T, req *Request) []string {
	t.Helper()
	r := &twoPart{b: req.Body}
	if len(req.scope) > 0 {
		r.a = scopeTag(req.scope)
	}
	dec := xml.NewDecoder(r)
	dec.Strict = true
	if len(req.scope) > 0 {
		if _, err := dec.Token(); err != nil {
			t.Fatalf("scope tag: %v", err)
		}
	}
	var events []string
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("encoding/xml refused a body the Scanner read: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			depth++
			events = append(events, "<{"+tk.Name.Space+"}"+tk.Name.Local)
		case xml.EndElement:
			depth--
			events = append(events, ">{"+tk.Name.Space+"}"+tk.Name.Local)
			if depth == 0 {
				return events
			}
		case xml.CharData:
			if depth > 0 {
				events = appendText(events, string(tk))
			}
		case xml.Comment, xml.ProcInst, xml.Directive:
			t.Fatalf("the Scanner read past a %T", tok)
		}
	}
}

// checkScanner holds the Scanner to encoding/xml on one envelope: when it
// reads the body to the end, its events are encoding/xml's.
func checkScanner(t *testing.T, envelope []byte) (read bool) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/soap", bytes.NewReader(envelope))
	r.Header.Set("Content-Type", ct11)
	req, err := ReadRequest(r, DefaultLimits())
	if err != nil {
		return false
	}
	got, ok := scanEvents(req)
	if !ok {
		return false
	}
	want := xmlEvents(t, req)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Scanner events differ from encoding/xml's for %q:\ngot  %q\nwant %q", envelope, got, want)
	}
	return true
}

func scanEnv(body string) string {
	return `<s:Envelope xmlns:s="` + NS11 + `" xmlns:t="urn:erpgate:test"><s:Body>` + body + `</s:Body></s:Envelope>`
}

func TestScannerReadsPlainBodies(t *testing.T) {
	for _, body := range []string{
		`<t:SubmitOrder><t:Order><t:ExternalId>A-1</t:ExternalId><t:Notes>a &lt;b&gt; &amp; &quot;c&apos;</t:Notes></t:Order></t:SubmitOrder>`,
		`<SubmitOrder xmlns="urn:erpgate:test"><Order><Line><Quantity> 2 </Quantity><Discount/></Line></Order></SubmitOrder>`,
		`<ns0:SubmitOrder xmlns:ns0="urn:erpgate:test" ><ns0:Order
			><ns0:Notes>x</ns0:Notes ></ns0:Order></ns0:SubmitOrder>`,
		`<t:SubmitOrder><u:Order xmlns:u='urn:other'><u:X xmlns:u="urn:inner"/><u:Y/></u:Order></t:SubmitOrder>`,
		`<t:SubmitOrder xmlns=""><Order>Grüße, 日本</Order></t:SubmitOrder>`,
		`<t:Op/>`,
		`<t:Op>O&#39;Brien &#34;x&#34; &#xA;&#x1F600;&#xd;</t:Op>`,
	} {
		if !checkScanner(t, []byte(scanEnv(body))) {
			t.Errorf("Scanner declined %s", body)
		}
	}
}

func TestScannerDeclinesOtherForms(t *testing.T) {
	for _, body := range []string{
		`<t:Op><!-- c --></t:Op>`,
		`<t:Op><![CDATA[x]]></t:Op>`,
		`<t:Op><?pi x?></t:Op>`,
		`<t:Op>a` + "\r\n" + `b</t:Op>`,
		`<t:Op xmlns:x="urn:x" x:a="1"/>`,
		`<t:Op xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>`,
		`<t:Op id="1"/>`,
		`<t:Op xmlns:u="a&amp;b"/>`,
		`<t:Op xml:lang="en"/>`,
		`<t:Op><t:Ä/></t:Op>`,
	} {
		r := httptest.NewRequest(http.MethodPost, "/soap", strings.NewReader(scanEnv(body)))
		r.Header.Set("Content-Type", ct11)
		req, err := ReadRequest(r, DefaultLimits())
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if events, ok := scanEvents(req); ok {
			t.Errorf("Scanner read %s as %q; want it declined", body, events)
		}
	}
}

// FuzzScanner: whatever the Scanner reads, it reads as encoding/xml does.
func FuzzScanner(f *testing.F) {
	f.Add([]byte(scanEnv(`<t:SubmitOrder><t:Order><t:Notes>a &amp; b</t:Notes><t:Line/></t:Order></t:SubmitOrder>`)))
	f.Add([]byte(scanEnv(`<SubmitOrder xmlns="urn:erpgate:test"><Order xmlns:p="urn:p"><p:X>1</p:X></Order></SubmitOrder>`)))
	f.Add([]byte(`<a:Envelope xmlns:a="` + NS11 + `"><a:Body xmlns="urn:d"><Op><x/></Op></a:Body></a:Envelope>`))
	addCorpusSeeds(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, envelope []byte) {
		checkScanner(t, envelope)
	})
}

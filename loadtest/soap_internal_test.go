package loadtest

import "testing"

func TestParseSOAPResponse(t *testing.T) {
	ids := []string{"OrderId", "Id"}
	tests := []struct {
		name, body string
		id, fault  string
		wantErr    bool
	}{
		{name: "id", body: `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><r:SubmitOrderResponse xmlns:r="urn:x"><r:OrderId> ord_1 </r:OrderId></r:SubmitOrderResponse></s:Body></s:Envelope>`, id: "ord_1"},
		{name: "second name", body: `<E><B><R><Id>ord_2</Id></R></B></E>`, id: "ord_2"},
		{name: "fault 1.1", body: `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>no</faultstring><detail><Id>x</Id></detail></s:Fault></s:Body></s:Envelope>`, fault: "s:Client"},
		{name: "fault 1.2", body: `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault><e:Code><e:Value>e:Sender</e:Value></e:Code></e:Fault></e:Body></e:Envelope>`, fault: "e:Sender"},
		{name: "no id", body: `<E><B><R><Status>ok</Status></R></B></E>`, wantErr: true},
		{name: "not xml", body: `{"id":"x"}`, wantErr: true},
		{name: "entity is not expanded", body: `<!DOCTYPE x [<!ENTITY e "ord_evil">]><E><OrderId>&e;</OrderId></E>`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseSOAPResponse([]byte(tt.body), ids)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if got.id != tt.id || got.fault != tt.fault {
			t.Errorf("%s: got id %q fault %q, want id %q fault %q", tt.name, got.id, got.fault, tt.id, tt.fault)
		}
	}
}

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
		// Shapes the in-place scan must leave to the decoder.
		{name: "attributes", body: `<E><OrderId a="1">ord_3</OrderId></E>`, id: "ord_3"},
		{name: "character reference", body: `<E><OrderId>ord&#95;4</OrderId></E>`, id: "ord_4"},
		{name: "nested markup", body: `<E><OrderId><b>x</b></OrderId><Id>ord_5</Id></E>`, id: "ord_5"},
		{name: "earlier second name wins", body: `<E><Id>ord_6</Id><OrderId>ord_7</OrderId></E>`, id: "ord_6"},
		{name: "unprefixed with namespace attribute", body: `<E><OrderId xmlns:q="urn:q">ord_8</OrderId><Id>other</Id></E>`, id: "ord_8"},
		{name: "similar name", body: `<E><OrderIdX>no</OrderIdX><OrderId>ord_9</OrderId></E>`, id: "ord_9"},
	}
	for _, tt := range tests {
		if tt.wantErr || tt.fault != "" {
			if id, ok := scanSOAPID([]byte(tt.body), ids); ok {
				t.Errorf("%s: in-place scan took it (id %q)", tt.name, id)
			}
		}
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

package gateway

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"erpgate/order"
	"erpgate/order/ordertest"
	"erpgate/soap/orderws"
)

// TestOrderFieldsCannotDrift: the canonical order's fields are written out
// by hand in the REST request type and its fast decoder (orders.go,
// decode.go), in the SOAP translation and its fast decoder (soap_orders.go,
// soap_decode.go) and in the SOAP problem paths (soapFieldNames); intake's
// encoder is held to order.Order by intake's TestEncodersMatchShapes. An
// order with every field set must come back whole through each door, so a
// field added to order.Order and forgotten in one of these places fails
// here (and a field the generator does not fill fails first).
func TestOrderFieldsCannotDrift(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for i := range 20 {
		o := ordertest.Random(rng, ordertest.Options{Now: soapNow, Max: i%2 == 0, Posted: true, Lines: 2, ASCII: true})
		plain(reflect.ValueOf(o).Elem())
		if path := fill(reflect.ValueOf(o).Elem(), "order"); path != "" {
			t.Fatalf("cannot fill %s: teach this test the field's kind", path)
		}

		// REST: the fast decoder must take the plain body, and both
		// decoders must give the order back.
		body, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		var fast, strict orderRequest
		if !decodeOrderFast(body, &fast) {
			t.Fatalf("decodeOrderFast did not take %s", body)
		}
		if err := unmarshalStrict(body, &strict); err != nil {
			t.Fatal(err)
		}
		for name, req := range map[string]*orderRequest{"fast": &fast, "strict": &strict} {
			got, probs := req.toOrder()
			if len(probs) > 0 || !reflect.DeepEqual(got, o) {
				t.Fatalf("REST %s: %s differs (%v)", name, firstDiff(reflect.ValueOf(got), reflect.ValueOf(o), "order"), probs)
			}
		}

		// SOAP: the same through the wire types, fast and strict.
		w, err := xml.Marshal(orderws.SubmitOrder{Order: wireOrder(o)})
		if err != nil {
			t.Fatal(err)
		}
		req := readSOAP(t, []byte(soapEnvelope("", string(w))))
		if req == nil {
			t.Fatalf("envelope refused: %s", w)
		}
		var fin, sin orderws.SubmitOrder
		if !decodeSubmitOrderFast(req, &fin) {
			t.Fatalf("decodeSubmitOrderFast did not take %s", w)
		}
		if err := req.DecodeStrict(&sin); err != nil {
			t.Fatal(err)
		}
		for name, in := range map[string]*orderws.SubmitOrder{"fast": &fin, "strict": &sin} {
			got, err := orderFromWire(in.Order, soapNow)
			if err != nil || !reflect.DeepEqual(got, o) {
				t.Fatalf("SOAP %s: %s differs (%v)", name, firstDiff(reflect.ValueOf(got), reflect.ValueOf(o), "order"), err)
			}
		}
	}

	// Every JSON name of the order has its WSDL element for problem paths.
	for _, name := range jsonNames(reflect.TypeFor[order.Order]()) {
		if _, ok := soapFieldNames[name]; !ok && name != "id" && name != "shop_id" && name != "created_at" {
			t.Errorf("soapFieldNames has no WSDL name for %q", name)
		}
	}
}

// plain rewrites the strings of v so that they need no escaping in JSON or
// XML: the form the fast decoders take.
func plain(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(strings.Map(func(r rune) rune {
			if r < 0x20 || strings.ContainsRune(`"\<>&`, r) {
				return 'x'
			}
			return r
		}, v.String()))
	case reflect.Pointer:
		if !v.IsNil() {
			plain(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			plain(v.Index(i))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				plain(v.Field(i))
			}
		}
	}
}

// fill sets every field of v left at its zero value (but the ones the
// gateway assigns: id, shop, creation time), so that a field added to the
// order is carried by the test without changing it. It returns the path of
// a field of a kind it cannot fill.
func fill(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.String:
		if v.String() == "" {
			v.SetString("x1")
		}
	case reflect.Int64:
		if v.Int() == 0 {
			v.SetInt(1)
		}
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return fill(v.Elem(), path)
	case reflect.Slice:
		for i := range v.Len() {
			if p := fill(v.Index(i), path+"[i]"); p != "" {
				return p
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			switch v.Type().Field(i).Name {
			case "ID":
				if v.Type() == reflect.TypeFor[order.Order]() {
					continue
				}
			case "ShopID", "CreatedAt":
				continue
			}
			if p := fill(v.Field(i), path+"."+v.Type().Field(i).Name); p != "" {
				return p
			}
		}
	default:
		return path
	}
	return ""
}

// firstDiff returns the path of the first field where got and want differ.
func firstDiff(got, want reflect.Value, path string) string {
	switch {
	case got.Kind() == reflect.Pointer && !got.IsNil() && !want.IsNil():
		return firstDiff(got.Elem(), want.Elem(), path)
	case got.Kind() == reflect.Struct:
		for i := range got.NumField() {
			if !reflect.DeepEqual(got.Field(i).Interface(), want.Field(i).Interface()) {
				return firstDiff(got.Field(i), want.Field(i), path+"."+got.Type().Field(i).Name)
			}
		}
	case got.Kind() == reflect.Slice && got.Len() == want.Len():
		for i := range got.Len() {
			if !reflect.DeepEqual(got.Index(i).Interface(), want.Index(i).Interface()) {
				return firstDiff(got.Index(i), want.Index(i), path+"["+strconv.Itoa(i)+"]")
			}
		}
	}
	return fmt.Sprintf("%s (got %v, want %v)", path, got, want)
}

// jsonNames returns the JSON names of t's fields and of its nested
// structs' fields.
func jsonNames(t reflect.Type) []string {
	var out []string
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.PkgPath() != "erpgate/order" {
		return nil
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out = append(out, name)
		out = append(out, jsonNames(f.Type)...)
	}
	return out
}

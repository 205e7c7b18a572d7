package loadtest

import (
	"math/rand/v2"
	"time"
)

// GenOrderJSON exposes the REST body generator to the external tests, which
// check it against the canonical order package (the package itself must not
// import it: it depends on the standard library only).
func GenOrderJSON(seed uint64, externalID string, maxLines int, today time.Time) ([]byte, OrderData) {
	o := genOrder(rand.New(rand.NewPCG(seed, seed)), externalID, maxLines, today)
	return o.appendJSON(nil), o
}

// RenderedBodies returns the REST JSON and SOAP bodies the runner sends for
// request indexes 0…n-1 (negative: warm-up orders) of a run with runID,
// and whether every SOAP template could be spliced.
func RenderedBodies(t interface{ Fatal(...any) }, st *SOAPTemplate, seed uint64, runID string, maxLines int, today time.Time, indexes []int) (rest, soap [][]byte, spliced bool) {
	prefix := runID + "-"
	rb := restBodies(seed, prefix, maxLines, today)
	sb, err := soapBodies(st, seed, prefix, maxLines, today)
	if err != nil {
		t.Fatal(err)
	}
	spliced = true
	for _, tp := range sb.tpls {
		spliced = spliced && tp.parts != nil
	}
	for _, i := range indexes {
		suffix := string(extSuffix(nil, i))
		b, err := rb.render(nil, i, suffix)
		if err != nil {
			t.Fatal(err)
		}
		rest = append(rest, b)
		if b, err = sb.render(nil, i, suffix); err != nil {
			t.Fatal(err)
		}
		soap = append(soap, b)
	}
	return rest, soap, spliced
}

// ParseRESTAck exposes the acknowledgement scanner.
func ParseRESTAck(data []byte) (id, externalID, token string, ok bool) {
	a, ok := parseRESTAck(data)
	return string(a.id), string(a.externalID), string(a.token), ok
}

// ScanRESTAck is the scanner's fast path alone.
func ScanRESTAck(data []byte) bool {
	_, ok := scanRESTAck(data)
	return ok
}

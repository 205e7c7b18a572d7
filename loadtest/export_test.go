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

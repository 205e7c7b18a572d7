package loadtest

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// Op is one kind of request the generator sends.
type Op int

// The operations of the mix.
const (
	OpREST     Op = iota // POST /v1/orders, a new order
	OpSOAP               // POST /soap/orders, a new order
	OpRepeat             // POST /v1/orders again with an earlier order's key and body
	OpTrack              // GET /v1/tracking/{id}?token=… of an earlier order
	OpSupplier           // GET /v1/supplier/purchase-orders
	OpHealth             // GET /healthz: the cheap route that measures the ceiling
	OpPage               // GET /track/{id}?token=… of an earlier order: the customer's HTML page
	numOps
)

var opNames = [numOps]string{"rest", "soap", "repeat", "track", "supplier", "health", "page"}

// String returns the name used in --mix and in reports.
func (o Op) String() string {
	if o < 0 || o >= numOps {
		return "op(" + strconv.Itoa(int(o)) + ")"
	}
	return opNames[o]
}

// ParseOp returns the Op named s.
func ParseOp(s string) (Op, error) {
	for i, n := range opNames {
		if n == s {
			return Op(i), nil
		}
	}
	return 0, fmt.Errorf("unknown operation %q (want one of %s)", s, strings.Join(opNames[:], ", "))
}

// isOrder reports whether o creates (or replays) an order.
func (o Op) isOrder() bool { return o == OpREST || o == OpSOAP || o == OpRepeat }

// Mix is the relative weight of each operation. Weights need not sum to 100.
type Mix [numOps]int

// DefaultMix is a shop-like day: mostly new orders, some SOAP, some retries,
// customers checking their tracking page, suppliers polling.
var DefaultMix = Mix{OpREST: 70, OpSOAP: 10, OpRepeat: 5, OpTrack: 10, OpSupplier: 5}

// ParseMix parses "rest=70,soap=10,repeat=5,track=10,supplier=5"; operations
// not named get weight 0.
func ParseMix(s string) (Mix, error) {
	var m Mix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		if !ok {
			return Mix{}, fmt.Errorf("mix %q: want NAME=WEIGHT", part)
		}
		op, err := ParseOp(strings.TrimSpace(name))
		if err != nil {
			return Mix{}, fmt.Errorf("mix: %w", err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 0 || n > 1_000_000 {
			return Mix{}, fmt.Errorf("mix %q: weight must be an integer in [0, 1000000]", part)
		}
		m[op] = n
	}
	return m, m.Validate()
}

// Validate checks that some operation has a positive weight.
func (m Mix) Validate() error {
	for _, w := range m {
		if w < 0 {
			return fmt.Errorf("mix: negative weight")
		}
	}
	if m.total() == 0 {
		return fmt.Errorf("mix: all weights are zero")
	}
	return nil
}

func (m Mix) total() int {
	t := 0
	for _, w := range m {
		t += w
	}
	return t
}

// String renders the non-zero weights in ParseMix form.
func (m Mix) String() string {
	var parts []string
	for i, w := range m {
		if w > 0 {
			parts = append(parts, opNames[i]+"="+strconv.Itoa(w))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// pick draws an operation with probability proportional to its weight.
func (m Mix) pick(r *rand.Rand) Op {
	n := r.IntN(m.total())
	for i, w := range m {
		if n < w {
			return Op(i)
		}
		n -= w
	}
	return OpREST // unreachable for a valid mix
}

//go:build race

package erpv1

// raceEnabled is true under -race, where the property tests run fewer
// cases: the race detector makes each one many times slower, and the
// non-race run already covers thousands.
const raceEnabled = true

//go:build race

package erpv2

// raceEnabled makes the property tests draw fewer orders under the race
// detector, which slows the largest ones down tenfold.
const raceEnabled = true

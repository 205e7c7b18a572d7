//go:build !race

package erpv1

// raceEnabled: see race_test.go.
const raceEnabled = false

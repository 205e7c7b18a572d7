//go:build !race

package erpv2

const raceEnabled = false

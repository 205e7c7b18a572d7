package erpv1

// RaceEnabled lets the external tests scale down under -race too.
const RaceEnabled = raceEnabled

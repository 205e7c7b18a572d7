package erpsim

// StrictOnly turns the fast path (fast.go) off, so benchmarks can compare.
func StrictOnly(s *Sim) { s.strictOnly = true }

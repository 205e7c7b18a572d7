package store

// QueuedAccepts returns how many accepts wait for a pipeline (batch.go), so
// tests can line calls up in a known order without sleeping.
func QueuedAccepts(s *Store) int {
	n := 0
	for _, q := range s.accepts.parts {
		q.mu.Lock()
		n += len(q.queue)
		q.mu.Unlock()
	}
	return n
}

// IdleFlushers returns how many flush loops wait for work.
func IdleFlushers(s *Store) int {
	n := 0
	for _, q := range s.accepts.parts {
		q.mu.Lock()
		n += q.idle
		q.mu.Unlock()
	}
	return n
}

// QueuedCommands returns how many commands wait for a pipeline of a.
func QueuedCommands(a *AutoPipeline) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.queue)
}

// Pipelined reports whether AutoPipeline batches cmd.
func Pipelined(cmd interface {
	Name() string
	Args() []any
}) bool {
	return pipelinedName(cmd.Name(), cmd.Args())
}

// SetAfterClaim sets the hook that runs between the Idempotency-Key claim
// and the accept (claim.go); nil removes it.
func SetAfterClaim(f func()) { afterClaim = f }

// SetMigrateFault makes MigrateLayout ask f before every rename and copied
// dead letter (with its kind) and stop with f's error, until reset.
func SetMigrateFault(f func(kind string) error) (reset func()) {
	migrateFault = f
	return func() { migrateFault = nil }
}

package store

// QueuedAccepts returns how many accepts wait for a pipeline (batch.go), so
// tests can line calls up in a known order without sleeping.
func QueuedAccepts(s *Store) int {
	s.accepts.mu.Lock()
	defer s.accepts.mu.Unlock()
	return len(s.accepts.queue)
}

// IdleFlushers returns how many flush loops wait for work.
func IdleFlushers(s *Store) int {
	s.accepts.mu.Lock()
	defer s.accepts.mu.Unlock()
	return s.accepts.idle
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

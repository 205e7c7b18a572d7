package tracking

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// register registers c on reg and returns it; if an identical collector is
// already registered (two Hubs or Stores on one registry, as in tests or when
// a process runs several of them) it returns that one, so both share the
// series. A nil reg registers nothing.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

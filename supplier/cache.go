package supplier

// The read-through cache of ERP reads: one generation per scope, so a
// write invalidates at once; the last copy answers while the ERP is away.

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"erpgate"
	"erpgate/erp"
)

// Cache scopes: one per supplier (its purchase orders and lists) and the
// catalog.
func supplierScope(supplier string) string { return "supplier|" + supplier }

const catalogScope = "catalog"

// cached is the envelope of a cache entry: the generation of its scope and
// the time it was read from the ERP.
type cached[T any] struct {
	Gen  int64     `json:"gen"`
	At   time.Time `json:"at"`
	Data T         `json:"data"`
}

// readThrough returns the value cached under key when it is fresh (same
// generation of scope, younger than the TTL); else it asks fetch and caches
// the answer. When the ERP cannot be asked (paused, or a transient failure)
// the last copy is returned with stale set. A permanent ERP error (not
// found) is returned as is.
func readThrough[T any](ctx context.Context, s *Service, scope, key string, fetch func(context.Context) (T, error)) (v T, stale bool, err error) {
	st := s.cfg.Store
	var entry cached[T]
	have := false
	if b, ok, err := st.CacheGet(ctx, key); err != nil {
		return v, false, err
	} else if ok && json.Unmarshal(b, &entry) == nil {
		have = true
	}
	gens, err := st.CacheGenerations(ctx, scope)
	if err != nil {
		return v, false, err
	}
	now := s.now()
	if have && entry.Gen == gens[0] && now.Sub(entry.At) < s.cfg.CacheTTL && !entry.At.After(now) {
		return entry.Data, false, nil
	}
	if !s.cfg.Active() {
		if have {
			return entry.Data, true, nil
		}
		return v, false, erpgate.Errorf(erpgate.Unavailable, "the ERP is being updated; try again later")
	}
	fctx, cancel := context.WithTimeout(ctx, erpReadTimeout)
	fresh, ferr := fetch(fctx)
	cancel()
	if ferr != nil {
		if erp.IsPermanent(ferr) {
			return v, false, ferr
		}
		if have {
			s.log.WarnContext(ctx, "ERP read failed; answering from the last copy", "key", key, "err", ferr)
			return entry.Data, true, nil
		}
		return v, false, ferr
	}
	b, err := json.Marshal(cached[T]{Gen: gens[0], At: now, Data: fresh})
	if err == nil {
		if err := st.CacheSet(ctx, key, b, lastKnownTTL); err != nil {
			s.log.WarnContext(ctx, "caching an ERP read failed", "key", key, "err", err)
		}
	}
	return fresh, false, nil
}

// erpError turns an ERP read error into the API's: not found stays not
// found (with our own message), anything else transient is Unavailable.
func erpError(err error, what string) error {
	var e *erp.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e) && e.Kind == erp.KindPermanent && e.Code == erp.CodeNotFound:
		return &erpgate.Error{Code: erpgate.NotFound, Message: "no such " + what, Err: err}
	case errors.As(err, &e) && e.Kind == erp.KindPermanent:
		return erpgate.Wrap(erpgate.Internal, err, "internal error")
	case errors.As(err, &e):
		return erpgate.Wrap(erpgate.Unavailable, err, "the ERP is not reachable right now; try again later")
	}
	return err // already ours (store)
}

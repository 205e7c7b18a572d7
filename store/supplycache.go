package store

// A small read cache for what the gateway reads from the ERP on behalf of
// suppliers and shops (purchase orders, the catalog), with explicit
// invalidation by generation counters.
//
//	cache:<key>   string: the cached bytes, with a Redis TTL
//	cachegen:<scope>  string: a counter; bumping it makes every entry
//	              cached under an older value of it stale
//	sig:<key>     string "1" with a TTL: a request signature seen (replay
//	              protection of HMAC-signed supplier requests)

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// CacheGet returns the bytes cached under key and whether there were any.
// Errors: Unavailable.
func (s *Store) CacheGet(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := s.rdb.Get(ctx, "cache:"+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, unavailable(err)
	}
	return b, true, nil
}

// CacheSet caches val under key for ttl (> 0). Errors: Unavailable.
func (s *Store) CacheSet(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if err := s.rdb.Set(ctx, "cache:"+key, val, max(ttl, time.Millisecond)).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// CacheGenerations returns the current generation of each scope (0 for one
// never bumped), in one round trip (one per node of a cluster: a pipeline
// of GETs rather than an MGET, whose keys would have to share a slot).
// Errors: Unavailable.
func (s *Store) CacheGenerations(ctx context.Context, scopes ...string) ([]int64, error) {
	if len(scopes) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.StringCmd, len(scopes))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, sc := range scopes {
			cmds[i] = p.Get(ctx, "cachegen:"+sc)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	out := make([]int64, len(cmds))
	for i, c := range cmds {
		if str, err := c.Result(); err == nil {
			out[i], _ = strconv.ParseInt(str, 10, 64)
		}
	}
	return out, nil
}

// BumpCacheGenerations makes every entry cached under the scopes' current
// generations stale. Errors: Unavailable.
func (s *Store) BumpCacheGenerations(ctx context.Context, scopes ...string) error {
	if len(scopes) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, sc := range scopes {
			p.Incr(ctx, "cachegen:"+sc)
		}
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// FirstUse records key for ttl and reports whether it was not recorded
// already (SET NX EX): the replay protection of signed requests. Errors:
// Unavailable.
func (s *Store) FirstUse(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, "sig:"+key, "1", max(ttl, time.Second)).Result()
	if err != nil {
		return false, unavailable(err)
	}
	return ok, nil
}

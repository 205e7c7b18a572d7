package store

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"erpgate"
)

// The key layout before partitions (releases up to dbac711) named the
// same data without hash tags: ord:<id>, idem:ext:<shop>:<ext>, trk:<id>,
// one outbox and one trk:feed stream, release:plan, notices, fb:log, ….
// A gateway of this release on such a Redis would not see the old orders
// (tracking links 404, a retry by external id stored twice), so Init
// refuses it (CheckLayout) until `gateway migrate-layout` (migrate.go) has
// renamed the keys.

// UpgradeHint is what an operator reads when Redis holds the old layout.
const UpgradeHint = "run `gateway migrate-layout --redis-url URL --dry-run`, then without --dry-run " +
	"(docs/operators.md, \"Upgrading from a release before partitions\")"

// migratingKey is set while MigrateLayout runs and until it has finished:
// a half-migrated Redis (a run that stopped) is refused like an old one.
const migratingKey = "erpgate:migrating"

// oldLayoutMarkers are keys only the old layout has (the new one names them
// with a tag): the outbox, dead-letter and feed streams, the release plan,
// notices; and the mark of a migration under way.
var oldLayoutMarkers = []string{migratingKey, "outbox", "outbox:dead", "trk:feed", "release:plan", "release:rev", "notices", "fb:log"}

// ErrOldLayout is the cause of CheckLayout's refusal.
var ErrOldLayout = errors.New("this Redis holds data of the key layout before partitions")

// CheckLayout returns an Invalid error wrapping ErrOldLayout when Redis
// holds data of the layout before partitions and no partition count has
// been recorded (a migrated or new-layout Redis has one): a fresh Redis and
// a new-layout Redis pass.
func CheckLayout(ctx context.Context, rdb redis.UniversalClient) error {
	n, err := rdb.Exists(ctx, PartitionsKey).Result()
	if err != nil {
		return unavailable(err)
	}
	if n > 0 {
		return nil
	}
	found, err := oldLayoutKey(ctx, rdb)
	if err != nil {
		return unavailable(err)
	}
	if found != "" {
		return erpgate.Wrap(erpgate.Invalid, ErrOldLayout,
			"store: this Redis holds data of a release before partitions (key "+found+"); "+
				"this release would not see it. Upgrade: "+UpgradeHint)
	}
	return nil
}

// oldLayoutKey returns one key of the old layout, or "" when there is none.
func oldLayoutKey(ctx context.Context, rdb redis.UniversalClient) (string, error) {
	for _, k := range oldLayoutMarkers {
		n, err := rdb.Exists(ctx, k).Result()
		if err != nil {
			return "", err
		}
		if n > 0 {
			return k, nil
		}
	}
	// An order record without a tag: ord:<id> (new: ord:{pP.K}:<id>).
	return scanOldOrders(ctx, rdb)
}

// scanOldOrders SCANs every primary for an order key without a hash tag.
func scanOldOrders(ctx context.Context, rdb redis.UniversalClient) (string, error) {
	scan := func(ctx context.Context, c redis.Cmdable) (string, error) {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, "ord:*", 1000).Result()
			if err != nil {
				return "", err
			}
			for _, k := range keys {
				if !strings.Contains(k, "{") {
					return k, nil
				}
			}
			if cursor = next; cursor == 0 {
				return "", nil
			}
		}
	}
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return scan(ctx, rdb)
	}
	var mu sync.Mutex
	var found string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		k, err := scan(ctx, node)
		mu.Lock()
		if k != "" {
			found = k
		}
		mu.Unlock()
		return err
	})
	return found, err
}

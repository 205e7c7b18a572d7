package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/internal/redistest"
	"erpgate/store"
)

// TestInitRefusesOldLayout: a Redis with any key only the layout before
// partitions has is refused with the upgrade command; a fresh Redis and a
// Redis that holds the new layout start.
func TestInitRefusesOldLayout(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		old  func(rdb redis.Cmdable)
	}{
		{"outbox stream", func(rdb redis.Cmdable) {
			rdb.XAdd(ctx, &redis.XAddArgs{Stream: "outbox", Values: []string{"type", "order.create", "id", "o1"}})
		}},
		{"release plan", func(rdb redis.Cmdable) { rdb.Set(ctx, "release:plan", `{"revision":3}`, 0) }},
		{"order record", func(rdb redis.Cmdable) { rdb.HSet(ctx, "ord:ab12", "shop", "s1") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, mode := range []string{"miniredis", "real"} {
				var rdb redis.UniversalClient
				if mode == "miniredis" {
					rdb, _ = redistest.Mini(t)
				} else {
					rdb = redistest.Universal(t)
				}
				tc.old(rdb)
				err := store.New(rdb, store.Options{}).Init(ctx)
				if !errors.Is(err, store.ErrOldLayout) || erpgate.ErrorCode(err) != erpgate.Invalid {
					t.Fatalf("%s: Init on old layout: got %v, want Invalid wrapping ErrOldLayout", mode, err)
				}
				if msg := erpgate.ErrorMessage(err); !strings.Contains(msg, "migrate-layout") || !strings.Contains(msg, "docs/operators.md") {
					t.Errorf("%s: message %q names neither the command nor the docs", mode, msg)
				}
				if n := rdb.Exists(ctx, store.PartitionsKey).Val(); n != 0 {
					t.Errorf("%s: refused Init recorded the partitions", mode)
				}
			}
		})
	}
	t.Run("fresh and new layout", func(t *testing.T) {
		rdb := redistest.Universal(t)
		if err := store.New(rdb, store.Options{}).Init(ctx); err != nil {
			t.Fatalf("fresh Redis: %v", err)
		}
		// A new-layout Redis has tagged orders and the tagged streams.
		rdb.HSet(ctx, "ord:{p0.3}:ab12", "shop", "s1")
		if err := store.New(rdb, store.Options{}).Init(ctx); err != nil {
			t.Fatalf("new-layout Redis: %v", err)
		}
	})
}

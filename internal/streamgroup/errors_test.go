package streamgroup_test

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"erpgate/internal/redistest"
	"erpgate/internal/streamgroup"
)

// TestErrorHelpers: on the embedded and a real Redis, a missing stream or
// group reads as Missing (also from inside a script), an existing group as
// Exists, and Ensure is idempotent.
func TestErrorHelpers(t *testing.T) {
	for _, b := range []struct {
		name string
		new  func(t *testing.T) redis.UniversalClient
	}{
		{"mini", func(t *testing.T) redis.UniversalClient { c, _ := redistest.Mini(t); return c }},
		{"real", func(t *testing.T) redis.UniversalClient { return redistest.Universal(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			rdb := b.new(t)
			ctx := context.Background()
			g := streamgroup.New(rdb, streamgroup.Config{Name: "g", Streams: []string{"s:0", "s:1"}})
			_, err := g.Read(ctx, 0, "c", 1, 0)
			if !streamgroup.Missing(err) {
				t.Errorf("read of a missing stream: %v, want Missing", err)
			}
			if _, err := g.Holders(ctx, 1); err != nil {
				t.Errorf("holders of a missing stream: %v, want none and no error", err)
			}
			if n, err := g.Prune(ctx, 1, 0); err != nil || n != 0 {
				t.Errorf("prune (a script) of a missing stream: %d, %v; want 0, nil", n, err)
			}
			if err := g.Ensure(ctx, "0"); err != nil {
				t.Fatal(err)
			}
			err = rdb.XGroupCreate(ctx, "s:0", "g", "0").Err()
			if !streamgroup.Exists(err) || streamgroup.Missing(err) {
				t.Errorf("creating the group again: %v, want Exists", err)
			}
			if err := g.Ensure(ctx, "0"); err != nil {
				t.Errorf("Ensure again: %v", err)
			}
			if streamgroup.Missing(nil) || streamgroup.Exists(nil) || streamgroup.Missing(errors.New("other")) {
				t.Error("nil or another error classified as Missing or Exists")
			}
		})
	}
}

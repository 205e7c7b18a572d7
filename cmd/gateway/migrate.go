package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"erpgate/internal/partition"
	"erpgate/store"
)

const migrateUsage = `usage: gateway migrate-layout --redis-url URL [--partitions N] [--dry-run]

Renames the Redis keys of a release before partitions (keys without hash
tags: ord:<id>, outbox, trk:feed, release:plan, …) into this release's
layout, then records the partition count so that the gateway starts.
Single node or Sentinel only. The old outbox and tracking feed must be
drained first: run the old release until /admin/outbox shows nothing
undelivered, then stop it. Running it again after a crash finishes the job.
See docs/operators.md, "Upgrading from a release before partitions".

`

// runMigrateLayout is `gateway migrate-layout`: store.MigrateLayout on the
// Redis of --redis-url.
func runMigrateLayout(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate-layout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, migrateUsage)
		fs.PrintDefaults()
	}
	url := fs.String("redis-url", getenv("REDIS_URL"), "Redis URL of the old release (redis://…, redis+sentinel://…) [REDIS_URL]")
	parts := fs.Int("partitions", partitionsDefault(getenv), "partitions the gateway will run with [ERPGATE_PARTITIONS]")
	dry := fs.Bool("dry-run", false, "count what would move, write nothing")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *url == "" {
		fs.Usage()
		return errors.New("migrate-layout: --redis-url is required (the embedded Redis holds no old data)")
	}
	space, err := partition.New(*parts)
	if err != nil {
		return fmt.Errorf("migrate-layout: --%w", err)
	}
	rdb, err := newRedisClient(*url, 0)
	if err != nil {
		return err
	}
	defer rdb.Close()
	rep, err := store.MigrateLayout(ctx, rdb, space, *dry)
	if err != nil {
		return fmt.Errorf("migrate-layout: %w", err)
	}
	if rep.Done {
		fmt.Fprintf(stdout, "nothing to migrate: this Redis is in the layout of %d partitions already\n", space.N())
		return nil
	}
	verb := "moved"
	if *dry {
		verb = "would move (dry run, nothing written)"
	}
	fmt.Fprintf(stdout, "%s, into %d partitions:\n", verb, space.N())
	for _, k := range rep.Kinds() {
		fmt.Fprintf(stdout, "  %-26s %d\n", k, rep.Counts[k])
	}
	if !*dry {
		fmt.Fprintln(stdout, "done: start the new release with --partitions", space.N())
	}
	return nil
}

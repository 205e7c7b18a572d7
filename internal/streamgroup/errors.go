package streamgroup

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Redis answers a missing stream or group, and an existing group, with
// errors that only their text tells apart. These helpers are the one place
// that reads that text.

// Missing reports whether err says that the stream or its consumer group
// does not exist (NOGROUP, "no such key", or the nil reply of a read on a
// missing key).
func Missing(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, redis.Nil) {
		return true
	}
	// Contains, not a prefix: from a script the text comes wrapped.
	s := err.Error()
	return strings.Contains(s, "NOGROUP") || strings.Contains(s, "no such key")
}

// Exists reports whether err says that the consumer group exists already
// (BUSYGROUP).
func Exists(err error) bool { return err != nil && redis.HasErrorPrefix(err, "BUSYGROUP") }

// Ensure creates group on stream (and the stream, if missing) starting at
// start ("0": the whole stream; "$": from its end). An existing group is
// left as it is.
func Ensure(ctx context.Context, rdb redis.UniversalClient, stream, group, start string) error {
	if err := rdb.XGroupCreateMkStream(ctx, stream, group, start).Err(); err != nil && !Exists(err) {
		return err
	}
	return nil
}

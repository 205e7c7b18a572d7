// Package instance names the consumers of erpgate's stream consumer groups
// after the gateway instance that runs them, so that a restarted instance
// recognises its own pending entries and other instances can tell whose
// entries a dead instance left behind (docs/recovery.md).
//
// A consumer name is "<instance id>:<part>"; an instance id never contains
// ':'. Names of any other form (the "<hostname>-<pid>" names of older
// releases, the parking consumer "_backoff") belong to no instance: their
// entries move only by idle time.
package instance

import (
	"context"
	"errors"
	"os"
	"strings"
)

// Consumer returns the consumer name of part (e.g. "v1:0") of instance id.
func Consumer(id, part string) string { return id + ":" + part }

// Of returns the instance id of a consumer name made by Consumer, or "" for
// a name of another form.
func Of(consumer string) string {
	id, _, ok := strings.Cut(consumer, ":")
	if !ok || Validate(id) != nil {
		return ""
	}
	return id
}

// Validate reports whether id can name an instance: 1 to 100 characters,
// letters, digits, '.', '_' and '-', not starting with '_' (reserved).
func Validate(id string) error {
	if id == "" || len(id) > 100 || id[0] == '_' {
		return errors.New("instance id must be 1 to 100 characters and must not start with '_' (reserved)")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '.' && c != '_' && c != '-' {
			return errors.New("instance id may contain only letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}

// Default returns the default instance id: the host name, made valid
// ("erpgate" when there is none). It is stable across restarts of a
// process on one host (or in one container with a fixed hostname), which is
// what lets a restart take over its own entries at once.
func Default() string {
	host, _ := os.Hostname()
	var b strings.Builder
	for i := 0; i < len(host) && b.Len() < 100; i++ {
		c := host[i]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || (c == '_' && b.Len() > 0) {
			b.WriteByte(c)
		} else if b.Len() > 0 {
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "erpgate"
	}
	return b.String()
}

// Orphans returns the holders whose entries nobody will finish: consumers of
// a dead instance (alive answers false), and consumers of instance self that
// are not among own (this process's consumers: the others are left over
// from an earlier run of this instance, e.g. one with more consumers).
// Holders named otherwise (older releases, the parking consumer) are never
// orphans here; their entries move by idle time. alive is asked once per
// instance; an error ends the check with it.
func Orphans(ctx context.Context, holders []string, self string, own func(string) bool, alive func(context.Context, string) (bool, error)) ([]string, error) {
	var out []string
	known := map[string]bool{}
	for _, h := range holders {
		id := Of(h)
		switch {
		case id == "":
			continue
		case id == self:
			if !own(h) {
				out = append(out, h)
			}
			continue
		case alive == nil:
			continue
		}
		live, ok := known[id]
		if !ok {
			var err error
			if live, err = alive(ctx, id); err != nil {
				return out, err
			}
			known[id] = live
		}
		if !live {
			out = append(out, h)
		}
	}
	return out, nil
}

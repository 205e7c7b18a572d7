package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/internal/instance"
)

// The instance registry: which gateway instances exist and which are alive.
//
//	instances              hash   instance id → Instance JSON (the last heartbeat's record)
//	instance:alive:<id>    string the instance's incarnation (its start, unix ns),
//	                       expiring ttl after the last heartbeat
//
// Liveness is the expiry of a key, so it runs on Redis's clock: instances on
// hosts whose clocks disagree still agree on who is alive. The consumers of
// the stream consumer groups are named after their instance
// (internal/instance), so when an instance stops heartbeating, the others
// take over its pending entries within seconds (docs/recovery.md).

const instancesKey = "instances"

func instanceAliveKey(id string) string { return "instance:alive:" + id }

// Instance is one gateway instance as the registry knows it.
type Instance struct {
	ID             string    `json:"id"`
	Version        string    `json:"version,omitempty"`
	Commit         string    `json:"commit,omitempty"`
	ManifestDigest string    `json:"manifest_digest,omitempty"`
	Address        string    `json:"address,omitempty"`
	Started        time.Time `json:"started"`
	LastSeen       time.Time `json:"last_seen"`
}

// Instances is the instance registry. It is safe for concurrent use.
type Instances struct {
	rdb redis.UniversalClient
	ttl time.Duration
	now func() time.Time
	log *slog.Logger
}

// DefaultInstanceTTL is how long an instance counts as alive after its last
// heartbeat unless configured otherwise.
const DefaultInstanceTTL = 5 * time.Second

// forgetAfter is how long a record of an instance that stopped heartbeating
// stays listed.
const forgetAfter = 7 * 24 * time.Hour

// NewInstances returns the registry on rdb; an instance is alive for ttl
// after its last heartbeat (DefaultInstanceTTL when ttl ≤ 0).
func NewInstances(rdb redis.UniversalClient, ttl time.Duration) *Instances {
	if ttl <= 0 {
		ttl = DefaultInstanceTTL
	}
	return &Instances{rdb: rdb, ttl: ttl, now: time.Now, log: slog.New(slog.DiscardHandler)}
}

// TTL returns how long an instance is alive after a heartbeat.
func (r *Instances) TTL() time.Duration { return r.ttl }

// Heartbeat records in with LastSeen set to now and keeps in.ID alive for
// the registry's ttl. Errors: Invalid (a bad id), Unavailable.
func (r *Instances) Heartbeat(ctx context.Context, in Instance) error {
	_, err := r.beat(ctx, in)
	return err
}

// beat is Heartbeat that also returns the incarnation the alive key held
// before ("" when the id was not alive).
func (r *Instances) beat(ctx context.Context, in Instance) (string, error) {
	if err := instance.Validate(in.ID); err != nil {
		return "", erpgate.Errorf(erpgate.Invalid, "%v", err)
	}
	in.LastSeen = r.now().UTC()
	in.Started = in.Started.UTC()
	b, err := json.Marshal(in)
	if err != nil {
		return "", erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	var prev *redis.StatusCmd
	_, err = r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, instancesKey, in.ID, b)
		prev = p.SetArgs(ctx, instanceAliveKey(in.ID), incarnation(in), redis.SetArgs{TTL: r.ttl, Get: true})
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", unavailable(err)
	}
	old, _ := prev.Result()
	return old, nil
}

func incarnation(in Instance) string { return strconv.FormatInt(in.Started.UnixNano(), 10) }

// List returns every known instance, alive or not, newest heartbeat first.
// Records that no heartbeat renewed for a week are left out (Run deletes
// them). Errors: Unavailable.
func (r *Instances) List(ctx context.Context) ([]Instance, error) {
	raw, err := r.rdb.HGetAll(ctx, instancesKey).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]Instance, 0, len(raw))
	for id, b := range raw {
		var in Instance
		if err := json.Unmarshal([]byte(b), &in); err != nil {
			r.log.Warn("instance registry: undecodable record ignored", "id", id, "err", err)
			continue
		}
		if r.now().Sub(in.LastSeen) > forgetAfter {
			continue
		}
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b Instance) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return b.Started.Compare(a.Started)
	})
	return out, nil
}

// Alive reports whether instance id heartbeated within the ttl. Errors:
// Unavailable.
func (r *Instances) Alive(ctx context.Context, id string) (bool, error) {
	n, err := r.rdb.Exists(ctx, instanceAliveKey(id)).Result()
	if err != nil {
		return false, unavailable(err)
	}
	return n == 1, nil
}

// Run heartbeats in every ttl/5 until ctx is done (then it returns nil),
// so that one or two lost heartbeats do not make a live instance look dead.
// It logs when it finds the id alive under another incarnation: at the
// first heartbeat that is this instance's previous run (a restart, whose
// entries its consumers take over at once); later it means a second live
// process uses the same id, which must not be (docs/recovery.md). Failed
// heartbeats are logged and retried. It also forgets records of instances
// silent for a week.
func (r *Instances) Run(ctx context.Context, in Instance, log *slog.Logger) error {
	if err := instance.Validate(in.ID); err != nil {
		return erpgate.Errorf(erpgate.Invalid, "%v", err)
	}
	if log == nil {
		log = r.log
	}
	t := time.NewTicker(max(r.ttl/5, 10*time.Millisecond))
	defer t.Stop()
	mine := incarnation(in)
	first, failures := true, 0
	lastForget := time.Time{}
	for {
		prev, err := r.beat(ctx, in)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			failures++
			if failures == 1 || failures%50 == 0 {
				log.Error("instance heartbeat failed; other instances may take over this one's entries", "instance", in.ID, "err", err, "failures", failures)
			}
		case prev != "" && prev != mine && first:
			log.Info("instance restarted: taking over the previous run's pending entries", "instance", in.ID)
		case prev != "" && prev != mine:
			log.Error("another live process heartbeats as this instance: two live instances must not share an id (--instance-id)", "instance", in.ID)
		}
		if err == nil {
			first, failures = false, 0
		}
		if time.Since(lastForget) > time.Hour {
			lastForget = time.Now()
			if err := r.forget(ctx); err != nil && ctx.Err() == nil {
				log.Warn("instance registry: forgetting old records failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// forget deletes the records of instances silent for forgetAfter.
func (r *Instances) forget(ctx context.Context) error {
	raw, err := r.rdb.HGetAll(ctx, instancesKey).Result()
	if err != nil {
		return unavailable(err)
	}
	var old []string
	for id, b := range raw {
		var in Instance
		if json.Unmarshal([]byte(b), &in) == nil && r.now().Sub(in.LastSeen) > forgetAfter {
			old = append(old, id)
		}
	}
	if len(old) == 0 {
		return nil
	}
	if err := r.rdb.HDel(ctx, instancesKey, old...).Err(); err != nil {
		return unavailable(fmt.Errorf("instance registry: %w", err))
	}
	return nil
}

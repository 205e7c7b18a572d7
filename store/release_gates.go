package store

// Acceptance gates, approvals and the library of releases (issue 15).
//
// # Key layout
//
//	release:approvals:<rev>   hash: actor → JSON erp.Approval of plan revision <rev>; one
//	                          approval per approver and revision; kept (a few bytes each)
//	release:manifests         hash: version → JSON StoredManifest, the library of releases;
//	                          a version's manifest is never replaced by a different one
//
// An approval is one Lua step that checks the plan is still at the revision
// approved, refuses a second approval of the same approver, and appends an
// "approve" entry to release:history, so approvals appear in the plan
// history in order with the changes. A plan change that passes a gate
// (erp.Gates) is checked against the approvals of the revision it was built
// on before its compare-and-set: approvals are only ever added, and the
// compare-and-set proves that revision is still current, so a change never
// slips through on approvals of a revision that is no longer in force.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
	"erpgate/manifest"
)

const releaseManifestsKey = "{release}:manifests"

func approvalsKey(rev int64) string { return "{release}:approvals:" + strconv.FormatInt(rev, 10) }

// approveScript: KEYS rev, approvals, history, plan; ARGV rev, actor, approval json,
// comment, atms, maxlen, default plan json.
// Returns {"ok", rev}, {"conflict", currentrev} or {"duplicate", rev}.
var approveScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1]) or '0'
if cur ~= ARGV[1] then return {'conflict', cur} end
if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3]) == 0 then return {'duplicate', cur} end
local plan = redis.call('GET', KEYS[4]) or ARGV[7]
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'rev', cur, 'action', 'approve',
  'actor', ARGV[2], 'reason', ARGV[4], 'at', ARGV[5], 'plan', plan, 'approval', ARGV[3])
return {'ok', cur}
`)

// Approve records a's approval of the current plan revision (of
// *expected, when given: the revision the approver tested). Actor, Role and
// Comment come from a; Revision and At are set here. Errors: Invalid (the
// approval's fields), Conflict (the plan is at another revision than
// expected, or this actor already approved it), Unavailable.
func (r *Releases) Approve(ctx context.Context, a erp.Approval, expected *int64) (erp.Approval, error) {
	a.At = r.s.now().UTC().Truncate(time.Millisecond)
	a.Revision = 0
	if expected != nil {
		a.Revision = *expected
	}
	if err := a.Validate(); err != nil {
		return a, err
	}
	if expected == nil {
		cur, err := r.Current(ctx)
		if err != nil {
			return a, err
		}
		a.Revision = cur.Revision
	}
	doc, err := json.Marshal(a)
	if err != nil {
		return a, erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	def, err := json.Marshal(erp.DefaultReleasePlan())
	if err != nil {
		return a, erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	res, err := approveScript.Run(ctx, r.s.rdb,
		[]string{releaseRevKey, approvalsKey(a.Revision), releaseHistoryKey, releasePlanKey},
		a.Revision, a.Actor, doc, a.Comment, a.At.UnixMilli(), releaseHistoryMax, def).StringSlice()
	if err != nil {
		return a, unavailable(err)
	}
	if len(res) != 2 {
		return a, erpgate.Wrap(erpgate.Internal, fmt.Errorf("approve script returned %v", res), "internal error")
	}
	switch res[0] {
	case "conflict":
		n, _ := strconv.ParseInt(res[1], 10, 64)
		return a, &erpgate.Error{Code: erpgate.Conflict,
			Message:  fmt.Sprintf("the release plan is at revision %d, not %d: approve what is in force (read it again)", n, a.Revision),
			Problems: []erpgate.Problem{{Field: "revision", Message: fmt.Sprintf("stale: the current revision is %d", n)}}}
	case "duplicate":
		return a, &erpgate.Error{Code: erpgate.Conflict,
			Message:  fmt.Sprintf("%s already approved revision %d; an approver counts once per revision", a.Actor, a.Revision),
			Problems: []erpgate.Problem{{Field: "actor", Message: "already approved this revision"}}}
	}
	r.opt.Metrics.Approved()
	r.log.Info("release plan approved", "revision", a.Revision, "actor", a.Actor, "role", a.Role)
	return a, nil
}

// Approvals returns the approvals of plan revision rev, oldest first.
// Errors: Unavailable; Internal for one that does not decode.
func (r *Releases) Approvals(ctx context.Context, rev int64) ([]erp.Approval, error) {
	docs, err := r.s.rdb.HVals(ctx, approvalsKey(rev)).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]erp.Approval, 0, len(docs))
	for _, d := range docs {
		var a erp.Approval
		if err := json.Unmarshal([]byte(d), &a); err != nil {
			return nil, erpgate.Wrap(erpgate.Internal, fmt.Errorf("stored approval of revision %d: %w", rev, err), "internal error")
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b erp.Approval) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.Actor, b.Actor)
	})
	return out, nil
}

// checkGates refuses a change from cur to next that lacks the approvals or
// the manifest its gates need (erpgate.ApprovalRequired,
// erpgate.ManifestRequired). It returns the approvals the change relies on,
// for the history.
func (r *Releases) checkGates(ctx context.Context, cur, next erp.ReleasePlan) ([]erp.Approval, error) {
	var used []erp.Approval
	if gates := erp.Gates(cur, next); len(gates) > 0 {
		as, err := r.Approvals(ctx, cur.Revision)
		if err != nil {
			return nil, err
		}
		if err := erp.CheckApprovals(cur, next, as); err != nil {
			for _, g := range gates {
				r.opt.Metrics.GateRefused(g)
			}
			return nil, err
		}
		used = as
	}
	if next.Live != "" && next.Live != cur.Live && (cur.Acceptance.RequireManifest || next.Acceptance.RequireManifest) {
		ok, err := r.s.rdb.HExists(ctx, releaseManifestsKey, next.Live).Result()
		if err != nil {
			return nil, unavailable(err)
		}
		if !ok {
			r.opt.Metrics.GateRefused(erp.GateManifest)
			return nil, &erpgate.Error{Code: erpgate.ManifestRequired,
				Message:  fmt.Sprintf("version %s has no stored manifest; store its signed manifest first (PUT /admin/release/manifests)", next.Live),
				Problems: []erpgate.Problem{{Field: "live", Message: "no signed manifest of " + next.Live + " in the release library"}}}
		}
	}
	return used, nil
}

// StoredManifest is a manifest in the library of releases.
type StoredManifest struct {
	Manifest manifest.Manifest `json:"manifest"`
	Digest   string            `json:"digest"`
	StoredAt time.Time         `json:"stored_at"`
	StoredBy string            `json:"stored_by"`
}

// putManifestScript: KEYS manifests; ARGV version, digest, json.
// Returns {"new"}, {"same"} or {"other", stored json}.
var putManifestScript = redis.NewScript(`
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return {'new'}
end
if cjson.decode(old)['digest'] == ARGV[2] then return {'same'} end
return {'other'}
`)

// PutManifest stores m (already verified by the caller) in the library
// under its version. Storing the same manifest again changes nothing and
// reports false; a different manifest for a stored version is a Conflict:
// a version names one build for ever. Errors: Conflict, Unavailable.
func (r *Releases) PutManifest(ctx context.Context, m manifest.Manifest, actor string) (StoredManifest, bool, error) {
	sm := StoredManifest{Manifest: m, Digest: m.Digest(), StoredAt: r.s.now().UTC().Truncate(time.Millisecond), StoredBy: actor}
	doc, err := json.Marshal(sm)
	if err != nil {
		return sm, false, erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	res, err := putManifestScript.Run(ctx, r.s.rdb, []string{releaseManifestsKey}, m.Version, sm.Digest, doc).StringSlice()
	if err != nil {
		return sm, false, unavailable(err)
	}
	switch res[0] {
	case "new":
		r.log.Info("release manifest stored", "version", m.Version, "commit", m.Commit, "digest", sm.Digest, "actor", actor)
		return sm, true, nil
	case "same":
		old, err := r.Manifest(ctx, m.Version)
		return old, false, err
	}
	return sm, false, &erpgate.Error{Code: erpgate.Conflict,
		Message:  fmt.Sprintf("the library holds another manifest for version %s; a version names one build, give this one a new version", m.Version),
		Problems: []erpgate.Problem{{Field: "version", Message: "already stored with a different digest"}}}
}

// Manifest returns the stored manifest of version. Errors: NotFound,
// Unavailable, Internal.
func (r *Releases) Manifest(ctx context.Context, version string) (StoredManifest, error) {
	var sm StoredManifest
	doc, err := r.s.rdb.HGet(ctx, releaseManifestsKey, version).Result()
	if errors.Is(err, redis.Nil) {
		return sm, erpgate.Errorf(erpgate.NotFound, "no manifest of version %q in the release library", version)
	}
	if err != nil {
		return sm, unavailable(err)
	}
	if err := json.Unmarshal([]byte(doc), &sm); err != nil {
		return sm, erpgate.Wrap(erpgate.Internal, fmt.Errorf("stored manifest %s: %w", version, err), "internal error")
	}
	return sm, nil
}

// Manifests returns every stored manifest, oldest stored first. Errors:
// Unavailable, Internal.
func (r *Releases) Manifests(ctx context.Context) ([]StoredManifest, error) {
	docs, err := r.s.rdb.HVals(ctx, releaseManifestsKey).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]StoredManifest, 0, len(docs))
	for _, d := range docs {
		var sm StoredManifest
		if err := json.Unmarshal([]byte(d), &sm); err != nil {
			return nil, erpgate.Wrap(erpgate.Internal, fmt.Errorf("stored manifest: %w", err), "internal error")
		}
		out = append(out, sm)
	}
	slices.SortFunc(out, func(a, b StoredManifest) int {
		if c := a.StoredAt.Compare(b.StoredAt); c != 0 {
			return c
		}
		return strings.Compare(a.Manifest.Version, b.Manifest.Version)
	})
	return out, nil
}

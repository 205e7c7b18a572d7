package store_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
	"erpgate/manifest"
	"erpgate/store"
)

// stage1Gated is a stage-1 plan (v1 authoritative, v2 paused) whose widening
// to stage 2 needs two approvals, one of them by role business.
func stage1Gated() erp.ReleasePlan {
	p := erp.DefaultReleasePlan()
	p.Stage = erp.Stage1
	p.Targets[erp.V2] = erp.TargetPaused
	p.Authoritative = erp.V1
	p.Acceptance = erp.Acceptance{Stage2: 2, Widening: 1, Roles: []string{"business"}}
	return p
}

func problemFields(err error) []string {
	var fs []string
	for _, p := range erpgate.ErrorProblems(err) {
		fs = append(fs, p.Field)
	}
	slices.Sort(fs)
	return fs
}

// TestReleaseGatesRefuseUntilApproved: a promotion from stage 1 without the
// approvals its gates need is refused with approval_required naming each
// missing approval, writes nothing, and passes once they are recorded; the
// approvals and the change that relied on them are in the history.
func TestReleaseGatesRefuseUntilApproved(t *testing.T) {
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		reg := prometheus.NewRegistry()
		m := erp.NewReleaseMetrics()
		if err := m.Register(reg); err != nil {
			t.Fatal(err)
		}
		_, r := relReleases(t, rdb, store.ReleaseOptions{Metrics: m})
		if _, err := r.Set(ctx, stage1Gated(), nil, relChange("stage 1 with gates")); err != nil {
			t.Fatal(err)
		}

		before := releaseKeys(t, rdb)
		_, err := r.Promote(ctx, relChange("go"), store.PromoteOptions{})
		if code(err) != erpgate.ApprovalRequired {
			t.Fatalf("ungated promote: got %v, want approval_required", err)
		}
		want := []string{"approvals.roles.business", "approvals.stage2", "approvals.widening"}
		if got := problemFields(err); !slices.Equal(got, want) {
			t.Errorf("missing: got %v, want %v", got, want)
		}
		if after := releaseKeys(t, rdb); after != before {
			t.Errorf("a refused promotion wrote:\n%s\nwas\n%s", after, before)
		}

		if _, err := r.Approve(ctx, erp.Approval{Actor: "ops/bob", Role: "ops", Comment: "pilot ran clean for a week"}, nil); err != nil {
			t.Fatal(err)
		}
		_, err = r.Promote(ctx, relChange("go"), store.PromoteOptions{})
		if got := problemFields(err); !slices.Equal(got, []string{"approvals.roles.business", "approvals.stage2"}) {
			t.Errorf("one approval: missing %v (%v), want the business role and stage2's second", got, err)
		}
		// The same approver again does not count twice.
		if _, err := r.Approve(ctx, erp.Approval{Actor: "ops/bob", Role: "business", Comment: "again"}, nil); code(err) != erpgate.Conflict {
			t.Errorf("second approval by the same actor: got %v, want conflict", err)
		}
		// An approval of a stale revision is refused.
		if _, err := r.Approve(ctx, erp.Approval{Actor: "shop/carol", Role: "business", Comment: "tested"}, rev(0)); code(err) != erpgate.Conflict {
			t.Errorf("approval of revision 0 at 1: got %v, want conflict", err)
		}
		a, err := r.Approve(ctx, erp.Approval{Actor: "shop/carol", Role: "business", Comment: "pilot shops happy"}, rev(1))
		if err != nil || a.Revision != 1 || !a.At.Equal(relT0) {
			t.Fatalf("approve: got %+v %v", a, err)
		}
		res, err := r.Promote(ctx, relChange("go"), store.PromoteOptions{})
		if err != nil || !res.Changed || res.Plan.Revision != 2 || res.Plan.Stage != erp.Stage2 {
			t.Fatalf("approved promote: got %+v %v", res, err)
		}

		h, err := r.History(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, c := range h {
			actions = append(actions, c.Action)
		}
		if !slices.Equal(actions, []string{"promote", "approve", "approve", "set"}) {
			t.Fatalf("history actions: got %v", actions)
		}
		if len(h[0].Approvals) != 2 || h[0].Approvals[0].Actor != "ops/bob" || h[0].Approvals[1].Role != "business" {
			t.Errorf("promote entry approvals: got %+v", h[0].Approvals)
		}
		if h[1].Approval == nil || h[1].Approval.Actor != "shop/carol" || h[1].Revision != 1 || h[1].Reason != "pilot shops happy" {
			t.Errorf("approve entry: got %+v", h[1])
		}
		if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP erpgate_release_approvals_total Approvals of release plan revisions recorded through this instance.
# TYPE erpgate_release_approvals_total counter
erpgate_release_approvals_total 2
`), "erpgate_release_approvals_total"); err != nil {
			t.Error(err)
		}
		if got, err := testutil.GatherAndCount(reg, "erpgate_release_gate_refusals_total"); err != nil || got != 3 {
			t.Errorf("refusal series: got %d %v", got, err)
		}
	})
}

// TestReleaseChangeVoidsApprovals: approvals approve a revision; any change
// (here a narrowing, which itself needs none) leaves the next widening
// without approvals. A back-out is never gated.
func TestReleaseChangeVoidsApprovals(t *testing.T) {
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		_, r := relReleases(t, rdb, store.ReleaseOptions{})
		p := erp.DefaultReleasePlan()
		p.Authoritative = erp.V1
		p.Acceptance = erp.Acceptance{Widening: 1}
		p.Cohorts = []erp.Cohort{{Name: "pilot", Customers: []string{"C-1"}, Authoritative: erp.V2}}
		if _, err := r.Set(ctx, p, nil, relChange("pilot")); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Approve(ctx, erp.Approval{Actor: "ops/bob", Role: "ops", Comment: "ok"}, nil); err != nil {
			t.Fatal(err)
		}
		shadowOff := p.Clone()
		shadowOff.Shadow = false
		if _, err := r.Set(ctx, shadowOff, nil, relChange("shadow off")); err != nil {
			t.Fatalf("a change that widens nothing needs no approval: %v", err)
		}
		wider := shadowOff.Clone()
		pct := 10
		wider.Cohorts = append(wider.Cohorts, erp.Cohort{Name: "ten", Percent: &pct, Authoritative: erp.V2})
		if _, err := r.Set(ctx, wider, nil, relChange("10%")); code(err) != erpgate.ApprovalRequired {
			t.Errorf("widening after the approved revision changed: got %v, want approval_required", err)
		}
		lowered := shadowOff.Clone()
		lowered.Acceptance.Widening = 0
		if _, err := r.Set(ctx, lowered, nil, relChange("drop the gate")); code(err) != erpgate.ApprovalRequired {
			t.Errorf("lowering the gate: got %v, want approval_required", err)
		}
		if _, changed, err := r.Backout(ctx, relChange("trouble")); err != nil || !changed {
			t.Errorf("back-out: got %v %v, want done without approvals", changed, err)
		}
	})
}

func signedManifest(t *testing.T, version, binSum string) manifest.Manifest {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m := manifest.Manifest{Schema: manifest.Schema, Version: version, Commit: "abc123", GoVersion: "go1.26", CreatedAt: relT0,
		Artifacts: []manifest.Artifact{{Kind: manifest.KindBinary, Name: "gateway", SHA256: binSum}}}
	if err := m.Sign(priv); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestReleaseManifestLibrary: a version's manifest is stored once; the same
// again changes nothing, another one is a conflict; a promotion to a version
// under require_manifest needs it, and records live and back-out target.
func TestReleaseManifestLibrary(t *testing.T) {
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		_, r := relReleases(t, rdb, store.ReleaseOptions{})
		p := erp.DefaultReleasePlan().BackedOut()
		p.Live = "1.3.0"
		p.Acceptance.RequireManifest = true
		if _, err := r.Set(ctx, p, nil, relChange("1.3.0 live")); code(err) != erpgate.ManifestRequired {
			t.Fatalf("naming a live version without manifest under the gate: got %v, want manifest_required", err)
		}
		p.Acceptance.RequireManifest = false
		if _, err := r.Set(ctx, p, nil, relChange("1.3.0 live, backed out")); err != nil {
			t.Fatal(err)
		}
		p.Acceptance.RequireManifest = true
		if _, err := r.Set(ctx, p, nil, relChange("manifests required from now on")); err != nil {
			t.Fatalf("raising the gate: %v", err)
		}
		if _, err := r.Promote(ctx, relChange("1.4.0"), store.PromoteOptions{Version: "1.4.0"}); code(err) != erpgate.ManifestRequired {
			t.Fatalf("promote to a version without manifest: got %v, want manifest_required", err)
		}
		m := signedManifest(t, "1.4.0", manifest.Sum([]byte("binary")))
		sm, created, err := r.PutManifest(ctx, m, "ops/alice")
		if err != nil || !created || sm.Digest != m.Digest() {
			t.Fatalf("put: got %+v %v %v", sm, created, err)
		}
		if _, created, err := r.PutManifest(ctx, m, "ops/bob"); err != nil || created {
			t.Errorf("same manifest again: got created %v %v, want unchanged", created, err)
		}
		other := signedManifest(t, "1.4.0", manifest.Sum([]byte("another binary")))
		if _, _, err := r.PutManifest(ctx, other, "ops/alice"); code(err) != erpgate.Conflict {
			t.Errorf("another manifest for 1.4.0: got %v, want conflict", err)
		}
		res, err := r.Promote(ctx, relChange("1.4.0"), store.PromoteOptions{Version: "1.4.0"})
		if err != nil || res.Plan.Live != "1.4.0" || res.Plan.BackoutTarget != "1.3.0" {
			t.Fatalf("promote with manifest: got %+v %v", res.Plan, err)
		}
		got, err := r.Manifest(ctx, "1.4.0")
		if err != nil || got.StoredBy != "ops/alice" || got.Manifest.VerifySignature(nil) != nil {
			t.Errorf("stored manifest: got %+v %v", got, err)
		}
		if _, err := r.Manifest(ctx, "9.9.9"); code(err) != erpgate.NotFound {
			t.Errorf("unknown version: got %v, want not_found", err)
		}
		all, err := r.Manifests(ctx)
		if err != nil || len(all) != 1 {
			t.Errorf("library: got %d %v, want 1", len(all), err)
		}
		if _, err := r.Promote(ctx, relChange("x"), store.PromoteOptions{Version: "bad version!"}); code(err) != erpgate.Invalid {
			t.Errorf("bad version: got %v, want invalid", err)
		}
	})
}

package erp

import (
	"slices"
	"testing"
	"time"

	"erpgate"
)

func pct(n int) *int { return &n }

func TestGates(t *testing.T) {
	stage1 := DefaultReleasePlan()
	stage1.Stage, stage1.Authoritative = Stage1, V1
	stage1.Targets[V2] = TargetPaused
	pilot := stage1.Clone()
	pilot.Stage = Stage2
	pilot.Targets[V2] = TargetActive
	pilot.Cohorts = []Cohort{{Name: "pilot", Customers: []string{"C-1"}, Authoritative: V2}}
	morePilots := pilot.Clone()
	morePilots.Cohorts[0].Customers = []string{"C-1", "C-2"}
	ten := pilot.Clone()
	ten.Cohorts = append(ten.Cohorts, Cohort{Name: "ten", Percent: pct(10), Authoritative: V2})
	twenty := ten.Clone()
	*twenty.Cohorts[1].Percent = 20
	everyone := twenty.Promoted()
	v1Cohort := pilot.Clone()
	v1Cohort.Cohorts = append(v1Cohort.Cohorts, Cohort{Name: "old", Percent: pct(50), Authoritative: V1})
	gated := pilot.Clone()
	gated.Acceptance = Acceptance{Widening: 2, Roles: []string{"business"}}
	lessRoles := gated.Clone()
	lessRoles.Acceptance.Roles = nil

	for _, c := range []struct {
		name      string
		cur, next ReleasePlan
		want      []string
	}{
		{"stage 1 → pilot in stage 2", stage1, pilot, []string{GateStage2, GateWidening}},
		{"more pilot customers", pilot, morePilots, []string{GateWidening}},
		{"pilot → percentage", pilot, ten, []string{GateWidening}},
		{"raise the percentage", ten, twenty, []string{GateWidening}},
		{"→ everyone", twenty, everyone, []string{GateWidening}},
		{"lower the percentage", twenty, ten, nil},
		{"back-out", everyone, everyone.BackedOut(), nil},
		{"a v1 cohort widens nothing", pilot, v1Cohort, nil},
		{"everyone stays everyone", everyone, everyone.Clone(), nil},
		{"dropping a role lowers the gate", gated, lessRoles, []string{GateWidening}},
		{"raising the gate", pilot, gated, nil},
	} {
		if got := Gates(c.cur, c.next); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCheckApprovals(t *testing.T) {
	cur := DefaultReleasePlan()
	cur.Revision, cur.Authoritative = 7, V1
	cur.Acceptance = Acceptance{Widening: 2, Roles: []string{"business", "ops"}}
	next := cur.Promoted()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ap := func(rev int64, actor, role string) Approval {
		return Approval{Revision: rev, Actor: actor, Role: role, Comment: "ok", At: at}
	}
	for _, c := range []struct {
		name string
		as   []Approval
		want []string // missing problem fields
	}{
		{"none", nil, []string{"approvals.widening", "approvals.roles.business", "approvals.roles.ops"}},
		{"both roles", []Approval{ap(7, "a", "business"), ap(7, "b", "ops")}, nil},
		{"old revision does not count", []Approval{ap(6, "a", "business"), ap(7, "b", "ops")}, []string{"approvals.widening", "approvals.roles.business"}},
		{"one approver counts once", []Approval{ap(7, "a", "business"), ap(7, "a", "ops")}, []string{"approvals.widening", "approvals.roles.ops"}},
	} {
		err := CheckApprovals(cur, next, c.as)
		var got []string
		for _, p := range erpgate.ErrorProblems(err) {
			got = append(got, p.Field)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: missing %v, want %v", c.name, got, c.want)
		}
		if c.want != nil && erpgate.ErrorCode(err) != erpgate.ApprovalRequired {
			t.Errorf("%s: code %q, want approval_required", c.name, erpgate.ErrorCode(err))
		}
	}
	if err := CheckApprovals(cur, cur.BackedOut(), nil); err != nil {
		t.Errorf("back-out needs no approval: %v", err)
	}
}

func TestAcceptanceAndApprovalValidate(t *testing.T) {
	p := DefaultReleasePlan()
	p.Acceptance = Acceptance{Stage2: -1, Widening: 21, Roles: []string{"ops", "Ops!", "ops"}}
	p.Live = "1.0 beta"
	var got []string
	for _, pr := range erpgate.ErrorProblems(p.Validate()) {
		got = append(got, pr.Field)
	}
	want := []string{"acceptance.stage2", "acceptance.widening", "acceptance.roles[1]", "acceptance.roles[2]", "live"}
	if !slices.Equal(got, want) {
		t.Errorf("plan problems: got %v, want %v", got, want)
	}
	got = nil
	for _, pr := range erpgate.ErrorProblems(Approval{Role: "", Comment: " ", Actor: ""}.Validate()) {
		got = append(got, pr.Field)
	}
	if !slices.Equal(got, []string{"role", "comment", "actor"}) {
		t.Errorf("approval problems: got %v", got)
	}
	if err := (Approval{Role: "business", Comment: "tested the pilot", Actor: "ops"}).Validate(); err != nil {
		t.Errorf("good approval: %v", err)
	}
}

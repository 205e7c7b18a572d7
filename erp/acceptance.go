package erp

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"erpgate"
)

// User acceptance and sign-off.
//
// A release plan's Acceptance names the gates a change must pass: a change
// to stage 2 needs Acceptance.Stage2 approvals, a change that widens the
// audience of v2 (pilot → percentage → everyone, or more pilot customers, or
// a larger percentage) needs Acceptance.Widening approvals, and every gated
// change needs at least one approval of each role in Acceptance.Roles. A
// change that lowers the gates themselves is a widening too (otherwise one
// PUT could drop the gate and widen at once).
//
// An approval approves a revision: "we tested the release as the plan at
// revision R has it, and agree to go further". Only approvals of the current
// revision count, from distinct approvers, so ANY change of the plan — a
// back-out, a narrowing, an edit of the auto back-out rule — voids the
// approvals given for the revision before it. That is deliberate: what the
// users tested is no longer what runs. The gates that apply are those of the
// current plan (and the stricter of current and next), never only those of
// the plan being written.

// Limits of approvals.
const (
	MaxApprovalsRequired = 20  // per gate
	MaxRoles             = 10  // in Acceptance.Roles
	MaxRoleLen           = 40  // [a-z0-9_-]
	MaxCommentLen        = 500 // bytes of UTF-8
)

// Gates (the gate label of erpgate_release_approvals_total and the
// "gates" of a refusal).
const (
	GateStage2   = "stage2"   // stage 1 → stage 2
	GateWidening = "widening" // v2 authoritative for more customers
)

// Acceptance are the approval gates of a release plan. Its zero value gates
// nothing.
type Acceptance struct {
	// Stage2 approvals a change from stage 1 to stage 2 needs.
	Stage2 int `json:"stage2"`
	// Widening approvals a change that makes v2 authoritative for more
	// customers needs.
	Widening int `json:"widening"`
	// Roles of which a gated change needs at least one approval each
	// (e.g. "business", "ops").
	Roles []string `json:"roles,omitempty"`
	// RequireManifest: a change of the live version (ReleasePlan.Live)
	// needs a stored, signed manifest of that version.
	RequireManifest bool `json:"require_manifest,omitempty"`
}

// validate adds the problems of a to v.
func (a Acceptance) validate(v *planProblems) {
	if a.Stage2 < 0 || a.Stage2 > MaxApprovalsRequired {
		v.invalid("acceptance.stage2", fmt.Sprintf("must be between 0 (no gate) and %d approvals", MaxApprovalsRequired))
	}
	if a.Widening < 0 || a.Widening > MaxApprovalsRequired {
		v.invalid("acceptance.widening", fmt.Sprintf("must be between 0 (no gate) and %d approvals", MaxApprovalsRequired))
	}
	if len(a.Roles) > MaxRoles {
		v.invalid("acceptance.roles", fmt.Sprintf("at most %d roles", MaxRoles))
	}
	for i, r := range a.Roles {
		at := fmt.Sprintf("acceptance.roles[%d]", i)
		if !ValidRole(r) {
			v.invalid(at, fmt.Sprintf("1–%d of a-z, 0-9, _ and -", MaxRoleLen))
		} else if slices.Index(a.Roles, r) < i {
			v.invalid(at, "listed twice")
		}
	}
}

// ValidRole reports whether r is a well-formed role name.
func ValidRole(r string) bool {
	return r != "" && len(r) <= MaxRoleLen && strings.Trim(r, cohortNameAlphabet) == ""
}

// lowerThan reports whether a gates less than b does: fewer approvals at
// some gate, a role b requires that a does not, or no manifest where b
// requires one.
func (a Acceptance) lowerThan(b Acceptance) bool {
	if a.Stage2 < b.Stage2 || a.Widening < b.Widening || (b.RequireManifest && !a.RequireManifest) {
		return true
	}
	for _, r := range b.Roles {
		if !slices.Contains(a.Roles, r) {
			return true
		}
	}
	return false
}

// Approval is one recorded sign-off: who approved which plan revision, in
// which role, when and why.
type Approval struct {
	// Revision is the plan revision approved.
	Revision int64 `json:"revision"`
	// Actor is the authenticated admin client id (plus the person, if
	// given: "<client>/<person>").
	Actor   string    `json:"actor"`
	Role    string    `json:"role"`
	Comment string    `json:"comment"`
	At      time.Time `json:"at"`
}

// Validate reports the problems of a's caller-given fields (erpgate.Invalid,
// fields "role", "comment", "actor").
func (a Approval) Validate() error {
	var v planProblems
	if !ValidRole(a.Role) {
		v.invalid("role", fmt.Sprintf("required: 1–%d of a-z, 0-9, _ and - (e.g. business, ops, pilot-user)", MaxRoleLen))
	}
	v.text("comment", a.Comment, MaxCommentLen, "required: say what was tested and why you approve")
	v.actor(a.Actor)
	if a.Revision < 0 {
		v.invalid("revision", "must not be negative")
	}
	if len(v.problems) == 0 {
		return nil
	}
	return &erpgate.Error{Code: erpgate.Invalid, Message: "the approval is invalid", Problems: v.problems}
}

// audience is who v2 is authoritative for under a plan.
type audience struct {
	everyone bool
	percent  int             // the largest percentage cohort with v2 authoritative
	pilots   map[string]bool // pilot customers with v2 authoritative
}

func v2Audience(p ReleasePlan) audience {
	a := audience{everyone: p.Authoritative == V2, pilots: map[string]bool{}}
	for _, c := range p.Cohorts {
		if c.Authoritative != V2 {
			continue
		}
		if c.Percent != nil {
			a.percent = max(a.percent, *c.Percent)
		}
		for _, id := range c.Customers {
			a.pilots[id] = true
		}
	}
	if a.percent >= 100 {
		a.everyone = true
	}
	return a
}

// Gates returns the gates a change from cur to next must pass, sorted: none
// for a change that widens nothing (a back-out, a narrowing, an edit of
// shadow or the auto back-out rule).
func Gates(cur, next ReleasePlan) []string {
	var gates []string
	if cur.Stage == Stage1 && next.Stage == Stage2 {
		gates = append(gates, GateStage2)
	}
	if widens(v2Audience(cur), v2Audience(next)) || next.Acceptance.lowerThan(cur.Acceptance) {
		gates = append(gates, GateWidening)
	}
	return gates
}

func widens(cur, next audience) bool {
	if cur.everyone {
		return false
	}
	if next.everyone || next.percent > cur.percent {
		return true
	}
	for id := range next.pilots {
		if !cur.pilots[id] {
			return true
		}
	}
	return false
}

// CheckApprovals returns nil when approvals (of cur's revision) satisfy the
// gates of the change from cur to next, and otherwise an
// erpgate.ApprovalRequired error whose problems name each gate short of
// approvals and each missing role. The requirement of a gate is the larger
// of cur's and next's. Approvals of another revision and repeated approvers
// do not count.
func CheckApprovals(cur, next ReleasePlan, approvals []Approval) error {
	gates := Gates(cur, next)
	if len(gates) == 0 {
		return nil
	}
	have := map[string]string{} // actor → role, of cur's revision
	for _, a := range approvals {
		if a.Revision == cur.Revision {
			if _, dup := have[a.Actor]; !dup {
				have[a.Actor] = a.Role
			}
		}
	}
	var ps []erpgate.Problem
	for _, g := range gates {
		n := 0
		switch g {
		case GateStage2:
			n = max(cur.Acceptance.Stage2, next.Acceptance.Stage2)
		case GateWidening:
			n = max(cur.Acceptance.Widening, next.Acceptance.Widening)
		}
		if len(have) < n {
			ps = append(ps, erpgate.Problem{Field: "approvals." + g,
				Message: fmt.Sprintf("%d of %d approvals of revision %d recorded; %d missing", len(have), n, cur.Revision, n-len(have))})
		}
	}
	roles := slices.Clone(cur.Acceptance.Roles)
	for _, r := range next.Acceptance.Roles {
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	for _, r := range roles {
		found := false
		for _, hr := range have {
			found = found || hr == r
		}
		if !found {
			ps = append(ps, erpgate.Problem{Field: "approvals.roles." + r,
				Message: fmt.Sprintf("no approval of revision %d by role %s", cur.Revision, r)})
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return &erpgate.Error{Code: erpgate.ApprovalRequired,
		Message: fmt.Sprintf("this change (%s) needs approvals of revision %d that are not recorded: %d problem(s); record them with POST /admin/release/approvals",
			strings.Join(gates, ", "), cur.Revision, len(ps)),
		Problems: ps}
}

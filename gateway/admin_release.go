package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"

	"erpgate"
	"erpgate/erp"
	"erpgate/manifest"
	"erpgate/store"
)

// The release plan admin API (admin token):
//
//	GET  /admin/release          the stored plan, plus applied_revision: the revision this
//	                             instance's delivery workers obey right now
//	PUT  /admin/release          the whole plan and a reason; expected_revision (or the
//	                             revision of a plan read before) makes it compare-and-set
//	POST /admin/release/backout  v1 authoritative for everyone, v2 paused; body optional {"reason"}
//	POST /admin/release/promote  v2 active and authoritative for everyone (stage 2); body optional
//	                             {"reason", "skip_delivered_by_v1": true, "version": "1.4.0"}
//	GET  /admin/release/history  the change record, newest first (?limit=, ?before=<revision>)
//	GET  /admin/release/shadow   the kept sample of shadow mismatches, newest first (?limit=)
//
// A change that widens v2's audience is refused (409 approval_required)
// until the approvals its acceptance gates need are recorded
// (admin_release_gates.go); a new live version under
// acceptance.require_manifest needs its stored manifest (409
// manifest_required).

// ReleaseAdmin is what the release admin API needs; *store.Releases
// implements it. Errors are *erpgate.Error: Invalid and Unprocessable with
// field problems for a bad plan or change record, Conflict for a stale
// expected revision, ApprovalRequired and ManifestRequired for a change its
// acceptance gates refuse (Set, Promote), Unavailable when Redis fails.
type ReleaseAdmin interface {
	// Current returns the stored plan.
	Current(ctx context.Context) (erp.ReleasePlan, error)
	// Applied returns the revision this instance obeys.
	Applied() int64
	// Set stores p as the next revision (only if the current one is
	// *expected, when given).
	Set(ctx context.Context, p erp.ReleasePlan, expected *int64, ch erp.Change) (erp.ReleasePlan, error)
	// Backout makes v1 authoritative and pauses v2; false if it already was.
	Backout(ctx context.Context, ch erp.Change) (erp.ReleasePlan, bool, error)
	// Promote makes v2 active and authoritative in stage 2.
	Promote(ctx context.Context, ch erp.Change, opt store.PromoteOptions) (store.PromoteResult, error)
	// History returns up to limit changes below revision before (0: all),
	// newest first.
	History(ctx context.Context, before int64, limit int) ([]erp.ReleaseChange, error)
	// Approve records an approval of the revision in force (*expected,
	// when given, must be it). Errors: Invalid, Conflict, Unavailable.
	Approve(ctx context.Context, a erp.Approval, expected *int64) (erp.Approval, error)
	// Approvals returns the approvals of revision rev, oldest first.
	Approvals(ctx context.Context, rev int64) ([]erp.Approval, error)
	// PutManifest stores a verified manifest in the library; false when
	// the same one was there. Errors: Conflict, Unavailable.
	PutManifest(ctx context.Context, m manifest.Manifest, actor string) (store.StoredManifest, bool, error)
	// Manifest returns the stored manifest of version. Errors: NotFound.
	Manifest(ctx context.Context, version string) (store.StoredManifest, error)
	// Manifests returns the library, oldest stored first.
	Manifests(ctx context.Context) ([]store.StoredManifest, error)
	// Mismatches returns up to limit kept shadow mismatches, newest first.
	Mismatches(ctx context.Context, limit int) ([]erp.ShadowMismatch, error)
}

var _ ReleaseAdmin = (*store.Releases)(nil)

// releaseView is the plan as GET and PUT /admin/release answer it.
type releaseView struct {
	erp.ReleasePlan
	// AppliedRevision is what this instance obeys; it reaches Revision
	// within a poll interval of a change.
	AppliedRevision int64 `json:"applied_revision"`
}

// releasePut is the body of PUT /admin/release: the whole plan and a reason.
// The read-only fields of a GET answer are accepted, so that a plan read,
// edited and sent back works; a revision sent that way counts as
// expected_revision.
type releasePut struct {
	Stage            int               `json:"stage"`
	Targets          map[string]string `json:"targets"`
	Authoritative    string            `json:"authoritative"`
	Cohorts          []erp.Cohort      `json:"cohorts"`
	Shadow           *bool             `json:"shadow"`
	AutoBackout      *erp.AutoBackout  `json:"auto_backout"`
	Acceptance       *erp.Acceptance   `json:"acceptance"`
	Live             *string           `json:"live"`
	BackoutTarget    *string           `json:"backout_target"`
	Reason           string            `json:"reason"`
	ExpectedRevision *int64            `json:"expected_revision"`

	// Read-only (from GET): revision counts as expected_revision; the rest
	// is ignored.
	Revision        *int64          `json:"revision"`
	Actor           json.RawMessage `json:"actor"`
	ChangedAt       json.RawMessage `json:"changed_at"`
	AppliedRevision json.RawMessage `json:"applied_revision"`
}

type releaseAction struct {
	Reason            string `json:"reason"`
	SkipDeliveredByV1 bool   `json:"skip_delivered_by_v1"`
	Version           string `json:"version"` // promote: the release version that goes live
}

type releaseActionResponse struct {
	Changed bool              `json:"changed"`
	Plan    releaseView       `json:"plan"`
	Skip    *store.SkipReport `json:"skip,omitempty"`
}

// actorHeader optionally names the person behind an admin token, for the
// change record ("<client id>/<person>").
const actorHeader = "Erpgate-Actor"

func (s *Server) releaseActor(c echo.Context) string {
	actor := principal(c).ClientID
	if h := strings.TrimSpace(c.Request().Header.Get(actorHeader)); h != "" && len(h) <= 64 &&
		strings.IndexFunc(h, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		actor += "/" + h
	}
	return actor
}

func (s *Server) releaseView(p erp.ReleasePlan) releaseView {
	return releaseView{ReleasePlan: p, AppliedRevision: s.release.Applied()}
}

func noStore(c echo.Context) {
	c.Response().Header().Set("Cache-Control", "no-store")
}

func (s *Server) handleGetRelease() echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := s.release.Current(c.Request().Context())
		if err != nil {
			return err
		}
		noStore(c)
		return c.JSON(http.StatusOK, s.releaseView(p))
	}
}

func (s *Server) handlePutRelease() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req releasePut
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		var missing []erpgate.Problem
		if req.Shadow == nil {
			missing = append(missing, erpgate.Problem{Field: "shadow", Message: "required: true or false"})
		}
		if req.AutoBackout == nil {
			missing = append(missing, erpgate.Problem{Field: "auto_backout", Message: "required (enabled false to switch it off)"})
		}
		if req.Targets == nil {
			missing = append(missing, erpgate.Problem{Field: "targets", Message: "required: the state of v1 and v2"})
		}
		p := erp.ReleasePlan{
			Stage: req.Stage, Targets: req.Targets, Authoritative: req.Authoritative, Cohorts: req.Cohorts,
		}
		if req.Shadow != nil {
			p.Shadow = *req.Shadow
		}
		if req.AutoBackout != nil {
			p.AutoBackout = *req.AutoBackout
		}
		if p.Cohorts == nil {
			p.Cohorts = []erp.Cohort{}
		}
		ch := erp.Change{Actor: s.releaseActor(c), Reason: req.Reason}
		if err := mergeProblems(missing, p.Validate(), ch.Validate()); err != nil {
			return err
		}
		expected := req.ExpectedRevision
		if expected == nil {
			expected = req.Revision
		}
		// Omitted acceptance gates and release versions keep what the plan
		// in force has (a client unaware of them must not drop the gates);
		// the change is then made against that very revision.
		if req.Acceptance == nil || req.Live == nil || req.BackoutTarget == nil {
			cur, err := s.release.Current(c.Request().Context())
			if err != nil {
				return err
			}
			if expected == nil {
				expected = &cur.Revision
			}
			p.Acceptance, p.Live, p.BackoutTarget = cur.Acceptance, cur.Live, cur.BackoutTarget
		}
		if req.Acceptance != nil {
			p.Acceptance = *req.Acceptance
		}
		if req.Live != nil {
			p.Live = *req.Live
		}
		if req.BackoutTarget != nil {
			p.BackoutTarget = *req.BackoutTarget
		}
		if err := p.Validate(); err != nil {
			return err
		}
		next, err := s.release.Set(c.Request().Context(), p, expected, ch)
		if err != nil {
			return err
		}
		s.log.InfoContext(c.Request().Context(), "release plan set", "revision", next.Revision, "actor", ch.Actor, "reason", ch.Reason)
		noStore(c)
		return c.JSON(http.StatusOK, s.releaseView(next))
	}
}

// mergeProblems joins the missing fields and the field problems of several
// checks into one error: Invalid if any part is malformed, else
// Unprocessable.
func mergeProblems(missing []erpgate.Problem, errs ...error) error {
	ps := missing
	code := ""
	if len(missing) > 0 {
		code = erpgate.Invalid
	}
	for _, err := range errs {
		if err == nil {
			continue
		}
		for _, p := range erpgate.ErrorProblems(err) {
			// "x: required" says it all; no need for x.y's problems too.
			if !slices.ContainsFunc(missing, func(m erpgate.Problem) bool { return strings.HasPrefix(p.Field, m.Field+".") }) {
				ps = append(ps, p)
			}
		}
		if c := erpgate.ErrorCode(err); code != erpgate.Invalid {
			code = c
		}
	}
	if len(ps) == 0 && code == "" {
		return nil
	}
	msg := "the release plan is invalid"
	if code == erpgate.Unprocessable {
		msg = "the release plan contradicts itself"
	}
	return &erpgate.Error{Code: code, Message: fmt.Sprintf("%s: %d problem(s)", msg, len(ps)), Problems: ps}
}

// decodeOptional decodes a JSON body into v unless the request has none.
func decodeOptional(c echo.Context, v any) error {
	if c.Request().ContentLength == 0 {
		return nil
	}
	return decodeJSON(c, v)
}

func (s *Server) handleReleaseBackout() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req releaseAction
		if err := decodeOptional(c, &req); err != nil {
			return err
		}
		if req.SkipDeliveredByV1 || req.Version != "" {
			return &erpgate.Error{Code: erpgate.Invalid, Message: "skip_delivered_by_v1 and version belong to promote",
				Problems: []erpgate.Problem{{Field: "skip_delivered_by_v1", Message: "not an option of backout"},
					{Field: "version", Message: "not an option of backout"}}}
		}
		if strings.TrimSpace(req.Reason) == "" {
			req.Reason = "back-out to v1 (no reason given)"
		}
		ch := erp.Change{Actor: s.releaseActor(c), Reason: req.Reason}
		p, changed, err := s.release.Backout(c.Request().Context(), ch)
		if err != nil {
			return err
		}
		s.log.WarnContext(c.Request().Context(), "release back-out", "changed", changed, "revision", p.Revision, "actor", ch.Actor, "reason", ch.Reason)
		noStore(c)
		return c.JSON(http.StatusOK, releaseActionResponse{Changed: changed, Plan: s.releaseView(p)})
	}
}

func (s *Server) handleReleasePromote() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req releaseAction
		if err := decodeOptional(c, &req); err != nil {
			return err
		}
		if strings.TrimSpace(req.Reason) == "" {
			req.Reason = "promote v2 (no reason given)"
		}
		ch := erp.Change{Actor: s.releaseActor(c), Reason: req.Reason}
		res, err := s.release.Promote(c.Request().Context(), ch, store.PromoteOptions{SkipDeliveredByV1: req.SkipDeliveredByV1, Version: req.Version})
		if err != nil {
			return err
		}
		s.log.InfoContext(c.Request().Context(), "release promote", "changed", res.Changed, "revision", res.Plan.Revision,
			"skip_delivered_by_v1", req.SkipDeliveredByV1, "actor", ch.Actor, "reason", ch.Reason)
		noStore(c)
		return c.JSON(http.StatusOK, releaseActionResponse{Changed: res.Changed, Plan: s.releaseView(res.Plan), Skip: res.Skip})
	}
}

func (s *Server) handleReleaseHistory() echo.HandlerFunc {
	return func(c echo.Context) error {
		limit, err := queryInt(c, "limit", 50, 1, 1000)
		if err != nil {
			return err
		}
		before, err := queryInt(c, "before", 0, 0, 1<<62)
		if err != nil {
			return err
		}
		changes, err := s.release.History(c.Request().Context(), int64(before), limit)
		if err != nil {
			return err
		}
		noStore(c)
		return c.JSON(http.StatusOK, map[string]any{"changes": changes})
	}
}

func (s *Server) handleReleaseShadow() echo.HandlerFunc {
	return func(c echo.Context) error {
		limit, err := queryInt(c, "limit", 100, 1, 100)
		if err != nil {
			return err
		}
		ms, err := s.release.Mismatches(c.Request().Context(), limit)
		if err != nil {
			return err
		}
		noStore(c)
		return c.JSON(http.StatusOK, map[string]any{"mismatches": ms})
	}
}

// queryInt reads an optional integer query parameter within [lo, hi].
func queryInt(c echo.Context, name string, def, lo, hi int) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, &erpgate.Error{Code: erpgate.Invalid, Message: "invalid query parameter " + name,
			Problems: []erpgate.Problem{{Field: name, Message: fmt.Sprintf("an integer between %d and %d", lo, hi)}}}
	}
	return n, nil
}

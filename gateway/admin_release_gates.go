package gateway

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"erpgate"
	"erpgate/erp"
	"erpgate/manifest"
)

// User acceptance and the library of releases (admin token; issue 15):
//
//	POST /admin/release/approvals            approve the plan revision in force (or "revision",
//	                                         which must be the one in force): {"role", "comment"}
//	GET  /admin/release/approvals            the approvals of a revision (?revision=, default the
//	                                         current) and what a promotion from it still lacks
//	PUT  /admin/release/manifests            store a signed release manifest (the body is the
//	                                         manifest `gateway release manifest` writes)
//	GET  /admin/release/manifests            the library: every stored version, which is live,
//	                                         which is the back-out target
//	GET  /admin/release/manifests/:version   one stored manifest, whole
//
// Who approves is the authenticated admin client (plus Erpgate-Actor); an
// approver counts once per revision, and any change of the plan starts its
// revision's approvals afresh (erp/acceptance.go).

type approvalRequest struct {
	Role     string `json:"role"`
	Comment  string `json:"comment"`
	Revision *int64 `json:"revision"`
}

type approvalsView struct {
	Revision   int64          `json:"revision"`
	Current    bool           `json:"current"` // Revision is the plan in force
	Acceptance erp.Acceptance `json:"acceptance"`
	Approvals  []erp.Approval `json:"approvals"`
	// PromoteMissing is what a promotion (everyone on v2, stage 2) from the
	// current revision still lacks; empty when it would pass the gates.
	PromoteMissing []erpgate.Problem `json:"promote_missing"`
}

func (s *Server) handleApprove() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req approvalRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		a := erp.Approval{Actor: s.releaseActor(c), Role: req.Role, Comment: req.Comment}
		a, err := s.release.Approve(c.Request().Context(), a, req.Revision)
		if err != nil {
			return err
		}
		noStore(c)
		return c.JSON(http.StatusCreated, a)
	}
}

func (s *Server) handleListApprovals() echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		cur, err := s.release.Current(ctx)
		if err != nil {
			return err
		}
		rev, err := queryInt(c, "revision", int(cur.Revision), 0, 1<<62)
		if err != nil {
			return err
		}
		as, err := s.release.Approvals(ctx, int64(rev))
		if err != nil {
			return err
		}
		v := approvalsView{Revision: int64(rev), Current: int64(rev) == cur.Revision, Acceptance: cur.Acceptance,
			Approvals: as, PromoteMissing: []erpgate.Problem{}}
		if v.Current {
			if ps := erpgate.ErrorProblems(erp.CheckApprovals(cur, cur.Promoted(), as)); ps != nil {
				v.PromoteMissing = ps
			}
		}
		noStore(c)
		return c.JSON(http.StatusOK, v)
	}
}

// releaseEntry is one version of the library as GET /admin/release/manifests
// lists it.
type releaseEntry struct {
	Version       string    `json:"version"`
	Commit        string    `json:"commit"`
	Modified      bool      `json:"modified,omitempty"`
	GoVersion     string    `json:"go_version"`
	Digest        string    `json:"digest"`
	KeyID         string    `json:"key_id"`
	CreatedAt     time.Time `json:"created_at"`
	StoredAt      time.Time `json:"stored_at"`
	StoredBy      string    `json:"stored_by"`
	Live          bool      `json:"live"`
	BackoutTarget bool      `json:"backout_target"`
	Artifacts     int       `json:"artifacts"`
}

func (s *Server) handlePutManifest() echo.HandlerFunc {
	return func(c echo.Context) error {
		var raw json.RawMessage
		if err := decodeJSON(c, &raw); err != nil {
			return err
		}
		m, err := manifest.Parse(raw)
		if err != nil {
			return err
		}
		if err := m.VerifySignature(s.manifestKey); err != nil {
			return err
		}
		sm, created, err := s.release.PutManifest(c.Request().Context(), m, s.releaseActor(c))
		if err != nil {
			return err
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		noStore(c)
		return c.JSON(status, map[string]any{"created": created, "version": sm.Manifest.Version, "digest": sm.Digest,
			"stored_at": sm.StoredAt, "stored_by": sm.StoredBy})
	}
}

func (s *Server) handleListManifests() echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		cur, err := s.release.Current(ctx)
		if err != nil {
			return err
		}
		ms, err := s.release.Manifests(ctx)
		if err != nil {
			return err
		}
		out := make([]releaseEntry, 0, len(ms))
		for _, sm := range ms {
			m := sm.Manifest
			e := releaseEntry{Version: m.Version, Commit: m.Commit, Modified: m.Modified, GoVersion: m.GoVersion,
				Digest: sm.Digest, CreatedAt: m.CreatedAt.UTC(), StoredAt: sm.StoredAt, StoredBy: sm.StoredBy,
				Live: m.Version == cur.Live, BackoutTarget: m.Version == cur.BackoutTarget, Artifacts: len(m.Artifacts)}
			if m.Signature != nil {
				e.KeyID = m.Signature.KeyID
			}
			out = append(out, e)
		}
		noStore(c)
		return c.JSON(http.StatusOK, map[string]any{"live": cur.Live, "backout_target": cur.BackoutTarget,
			"require_manifest": cur.Acceptance.RequireManifest, "releases": out})
	}
}

func (s *Server) handleGetManifest() echo.HandlerFunc {
	return func(c echo.Context) error {
		v := c.Param("version")
		if !manifest.ValidVersion(v) {
			return &erpgate.Error{Code: erpgate.Invalid, Message: "invalid release version",
				Problems: []erpgate.Problem{{Field: "version", Message: "1–64 of A-Z, a-z, 0-9, '.', '_', '+' and '-'"}}}
		}
		sm, err := s.release.Manifest(c.Request().Context(), v)
		if err != nil {
			return err
		}
		noStore(c)
		return c.JSON(http.StatusOK, sm)
	}
}

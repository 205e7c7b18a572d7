package gateway

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"erpgate"
	"erpgate/notice"
)

// Maintenance notices (package notice):
//
//	PUT    /admin/notices/{id}  create or replace a notice (201 new, 200 replaced);
//	                            shops in the audience get notice.scheduled / notice.updated
//	DELETE /admin/notices/{id}  remove it (shops: notice.cancelled while it has not ended)
//	GET    /admin/notices       every stored notice, soonest first
//	GET    /v1/notices          public: current and upcoming ones (?audience=, ?lang=)
//
// Every answer during a window carries Erpgate-Notice with the ids of the
// notices in force; a notice that pauses intake makes POST /v1/orders answer
// 503 with Retry-After and SOAP SubmitOrder a Server fault, until its end.

// HeaderNotice names the notices in force on every answer during a window.
const HeaderNotice = "Erpgate-Notice"

// noticePut is the body of PUT /admin/notices/{id}. Times are RFC 3339
// strings, read here so that a bad one is reported with its field.
type noticePut struct {
	ID           string            `json:"id"` // optional; must equal the path's
	Start        string            `json:"start"`
	End          string            `json:"end"`
	Messages     map[string]string `json:"messages"`
	Audiences    []string          `json:"audiences"`
	IntakePaused *bool             `json:"intake_paused"`

	// Read-only fields of a GET answer, accepted and ignored so that a
	// notice read, edited and sent back works.
	Revision  *int64  `json:"revision"`
	Actor     *string `json:"actor"`
	UpdatedAt *string `json:"updated_at"`
}

// publicNotice is a notice as GET /v1/notices shows it.
type publicNotice struct {
	ID           string            `json:"id"`
	Start        time.Time         `json:"start"`
	End          time.Time         `json:"end"`
	Active       bool              `json:"active"`
	Audiences    []string          `json:"audiences"`
	IntakePaused bool              `json:"intake_paused"`
	Message      string            `json:"message"`
	IntakeNote   string            `json:"intake_note"`
	Language     string            `json:"language"`
	Messages     map[string]string `json:"messages"`
}

func (s *Server) initNotices(svc *notice.Service, reg prometheus.Registerer) error {
	if svc == nil {
		return nil
	}
	s.notices = svc
	board := svc.Board()
	active := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "erpgate_notices_active",
		Help: "Maintenance notices whose window is in force now (from this instance's copy, at most a second old).",
	}, func() float64 { return float64(len(notice.Active(board.Cached(), board.Now()))) })
	paused := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "erpgate_notices_intake_paused",
		Help: "1 while a maintenance notice pauses order intake, else 0.",
	}, func() float64 {
		if _, ok := notice.Paused(board.Cached(), board.Now()); ok {
			return 1
		}
		return 0
	})
	for _, c := range []prometheus.Collector{active, paused} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// noticeHeader sets Erpgate-Notice on every answer while notices are in
// force. It reads the board's copy (a Redis read at most once a second per
// instance) and never fails a request.
func (s *Server) noticeHeader() echo.MiddlewareFunc {
	board := s.notices.Board()
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if act, _ := board.Active(c.Request().Context()); len(act) > 0 {
				ids := make([]string, len(act))
				for i, n := range act {
					ids[i] = n.ID
				}
				c.Response().Header().Set(HeaderNotice, strings.Join(ids, ", "))
			}
			return next(c)
		}
	}
}

func (s *Server) handlePutNotice() echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		if !notice.ValidID(id) {
			return invalidField("id", "the path's notice id: 1 to 64 letters, digits, '_' or '-'")
		}
		var req noticePut
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		var ps []erpgate.Problem
		if req.ID != "" && req.ID != id {
			ps = append(ps, erpgate.Problem{Field: "id", Message: "must equal the id in the path (or be left out)"})
		}
		n := notice.Notice{ID: id, Messages: req.Messages, Audiences: req.Audiences}
		n.Start, ps = parseTime("start", req.Start, ps)
		n.End, ps = parseTime("end", req.End, ps)
		if req.IntakePaused == nil {
			ps = append(ps, erpgate.Problem{Field: "intake_paused", Message: "required: true pauses order intake during the window, false keeps it open"})
		} else {
			n.IntakePaused = *req.IntakePaused
		}
		if len(ps) > 0 {
			// Report these with the notice's own findings.
			if err := n.Validate(s.now()); err != nil {
				for _, p := range erpgate.ErrorProblems(err) {
					if !slices.ContainsFunc(ps, func(q erpgate.Problem) bool { return q.Field == p.Field }) {
						ps = append(ps, p)
					}
				}
			}
			return &erpgate.Error{Code: erpgate.Invalid, Message: "invalid notice", Problems: ps}
		}
		stored, created, err := s.notices.Put(c.Request().Context(), n, s.releaseActor(c))
		if err != nil && stored.ID == "" {
			return err
		}
		if err != nil { // stored, but the shops were not told
			s.log.ErrorContext(c.Request().Context(), "notice stored; announcing it failed", "notice", id, "err", err)
			return err
		}
		s.log.InfoContext(c.Request().Context(), "notice set", "notice", id, "revision", stored.Revision,
			"start", stored.Start, "end", stored.End, "intake_paused", stored.IntakePaused, "actor", stored.Actor)
		return putAnswer(c, created, "/admin/notices/"+id, stored)
	}
}

// putAnswer answers a PUT that creates or replaces a resource: 201 with
// Location when it is new, else 200; never cached.
func putAnswer(c echo.Context, created bool, location string, v any) error {
	noStore(c)
	if created {
		c.Response().Header().Set(echo.HeaderLocation, location)
		return c.JSON(http.StatusCreated, v)
	}
	return c.JSON(http.StatusOK, v)
}

func parseTime(field, v string, ps []erpgate.Problem) (time.Time, []erpgate.Problem) {
	if v == "" {
		return time.Time{}, append(ps, erpgate.Problem{Field: field, Message: "required: an RFC 3339 time such as 2026-12-24T22:00:00Z"})
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, append(ps, erpgate.Problem{Field: field, Message: "not an RFC 3339 time such as 2026-12-24T22:00:00Z"})
	}
	return t, ps
}

func invalidField(field, msg string) error {
	return &erpgate.Error{Code: erpgate.Invalid, Message: "invalid " + field, Problems: []erpgate.Problem{{Field: field, Message: msg}}}
}

func (s *Server) handleDeleteNotice() echo.HandlerFunc {
	return func(c echo.Context) error {
		n, err := s.notices.Delete(c.Request().Context(), c.Param("id"))
		if err != nil && n.ID == "" {
			return err
		}
		s.log.InfoContext(c.Request().Context(), "notice deleted", "notice", n.ID, "actor", s.releaseActor(c))
		if err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

func (s *Server) handleListNotices() echo.HandlerFunc {
	return func(c echo.Context) error {
		ns, err := s.notices.Board().Notices(c.Request().Context())
		if err != nil {
			return err
		}
		ns = slices.Clone(ns)
		slices.SortFunc(ns, func(a, b notice.Notice) int {
			if c := a.Start.Compare(b.Start); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		noStore(c)
		return c.JSON(http.StatusOK, map[string]any{"notices": ns})
	}
}

func (s *Server) handlePublicNotices() echo.HandlerFunc {
	return func(c echo.Context) error {
		audience := c.QueryParam("audience")
		if audience != "" && !slices.Contains(notice.Audiences, audience) {
			return invalidField("audience", "one of "+strings.Join(notice.Audiences, ", ")+" (or leave it out for all)")
		}
		lang := c.QueryParam("lang")
		if lang == "" {
			lang = "en"
		} else if len(lang) != 2 || strings.Trim(lang, "abcdefghijklmnopqrstuvwxyz") != "" {
			return invalidField("lang", "a two-letter language code such as en or de")
		}
		ns, err := s.notices.Board().Notices(c.Request().Context())
		if err != nil {
			return err
		}
		now := s.now()
		vis := notice.Visible(ns, now, audience)
		out := make([]publicNotice, len(vis))
		for i, n := range vis {
			out[i] = publicNotice{ID: n.ID, Start: n.Start, End: n.End, Active: n.ActiveAt(now), Audiences: n.Audiences,
				IntakePaused: n.IntakePaused, Message: n.Message(lang), IntakeNote: n.IntakeNote(lang), Language: lang,
				Messages: n.Messages}
		}
		c.Response().Header().Set("Cache-Control", "public, max-age=5")
		return c.JSON(http.StatusOK, map[string]any{"notices": out})
	}
}

// NoticeBanner returns the banner the tracking page shows at t in lang: the
// customers' notice in force, or the next one within the lead time
// (--notice-lead-time). ok is false when there is none or notices are not
// configured. The tracking page calls it; it never fails a page.
func (s *Server) NoticeBanner(ctx context.Context, t time.Time, lang string) (notice.Banner, bool) {
	if s.notices == nil {
		return notice.Banner{}, false
	}
	return s.notices.Board().Banner(ctx, t, lang)
}

package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"erpgate"
	"erpgate/feedback"
	"erpgate/help"
	"erpgate/locale"
)

// The help on the web (package help) and the FAQ admin:
//
//	GET    /help, /help/faq      the user manual and the FAQ, English or German by ?lang=,
//	                             cookie or Accept-Language (public, server-rendered, no script)
//	GET    /robots.txt, /sitemap.xml
//	PUT    /admin/faq/{id}       publish a question and answer (en, de) for a feedback topic
//	DELETE /admin/faq/{id}
//	GET    /admin/faq            every published entry, most asked first

// FAQStore keeps the published FAQ entries; *store.FAQ implements it.
// Errors: Unprocessable (too many entries), NotFound (Delete), Unavailable.
type FAQStore interface {
	Put(ctx context.Context, e help.Entry) (bool, error)
	Delete(ctx context.Context, id string) error
	Entries(ctx context.Context) ([]help.Entry, error)
}

type faqPut struct {
	ID       string            `json:"id"` // optional; must equal the path's
	Topic    string            `json:"topic"`
	Question map[string]string `json:"question"`
	Answer   map[string]string `json:"answer"`
	// Read-only fields of a GET answer, ignored.
	Actor     *string `json:"actor"`
	UpdatedAt *string `json:"updated_at"`
}

// pageHeaders are the headers of every public help page; maxAge is how
// long (seconds) a cache may keep it. An answer that sets the language
// cookie (the switch was used) is private.
func pageHeaders(c echo.Context, maxAge int) {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", help.CSP())
	scope := "public"
	if h.Get("Set-Cookie") != "" {
		scope = "private"
	}
	h.Set("Cache-Control", scope+", max-age="+strconv.Itoa(maxAge))
	h.Set("Vary", "Accept-Language, Cookie")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
}

// pageLang negotiates the page language as every page does (help.Locale:
// ?lang=, the cookie, Accept-Language, English) and remembers a switch in
// the cookie; a ?lang= that names none is a 400 (a page, not problem+json,
// would hide the mistake in a link).
func pageLang(c echo.Context) (string, error) {
	if q := c.QueryParam(locale.QueryParam); q != "" {
		if _, ok := help.Locale.Supported(q); !ok {
			return "", invalidField("lang", "one of "+strings.Join(help.Languages, ", "))
		}
	}
	tag, from := help.Locale.Negotiate(c.Request(), "")
	if from == locale.FromQuery {
		http.SetCookie(c.Response(), locale.Cookie(tag))
	}
	return tag.String(), nil
}

func (s *Server) handleHelpManual() echo.HandlerFunc {
	// The manual depends only on the language (and the public URL): render
	// and compress it once.
	pages := map[string]compressedPage{}
	for _, l := range help.Languages {
		var buf bytes.Buffer
		if err := help.RenderManual(&buf, l, s.publicURL); err != nil {
			panic(err) // the embedded templates are tested; cannot happen
		}
		pages[l] = newCompressedPage(buf.Bytes())
	}
	return func(c echo.Context) error {
		lang, err := pageLang(c)
		if err != nil {
			return err
		}
		pageHeaders(c, 300)
		return pages[lang].write(c, http.StatusOK)
	}
}

// compressedPage is an HTML page as is and gzipped.
type compressedPage struct{ raw, gz []byte }

func newCompressedPage(raw []byte) compressedPage {
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	w.Write(raw)
	w.Close()
	return compressedPage{raw: raw, gz: gz.Bytes()}
}

// write sends the page, gzipped when the client accepts it.
func (p compressedPage) write(c echo.Context, status int) error {
	h := c.Response().Header()
	h.Add("Vary", "Accept-Encoding")
	if acceptsGzip(c.Request().Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		return c.Blob(status, "text/html; charset=utf-8", p.gz)
	}
	return c.Blob(status, "text/html; charset=utf-8", p.raw)
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

func (s *Server) handleHelpFAQ() echo.HandlerFunc {
	return func(c echo.Context) error {
		lang, err := pageLang(c)
		if err != nil {
			return err
		}
		ctx := c.Request().Context()
		es, err := s.faq.Entries(ctx)
		if err != nil {
			return err
		}
		var counts []feedback.TopicCount
		if s.feedback != nil && len(es) > 1 {
			if counts, err = s.feedback.Topics(ctx, 0); err != nil {
				return err
			}
		}
		var buf bytes.Buffer
		if err := help.RenderFAQ(&buf, lang, s.publicURL, help.Rank(es, counts)); err != nil {
			return erpgate.Wrap(erpgate.Internal, err, "internal error")
		}
		pageHeaders(c, 60)
		return newCompressedPage(buf.Bytes()).write(c, http.StatusOK)
	}
}

func (s *Server) handleRobots() echo.HandlerFunc {
	body := []byte(help.Robots(s.publicURL))
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		return c.Blob(http.StatusOK, "text/plain; charset=utf-8", body)
	}
}

func (s *Server) handleSitemap() echo.HandlerFunc {
	body := []byte(help.Sitemap(s.publicURL))
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		return c.Blob(http.StatusOK, "application/xml; charset=utf-8", body)
	}
}

func (s *Server) handlePutFAQ() echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		if !help.ValidID(id) {
			return invalidField("id", "the path's entry id: 1 to 64 lower-case letters, digits or '-'")
		}
		var req faqPut
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		if req.ID != "" && req.ID != id {
			return invalidField("id", "must equal the id in the path (or be left out)")
		}
		e := help.Entry{ID: id, Topic: req.Topic, Question: req.Question, Answer: req.Answer}
		if err := e.Validate(); err != nil {
			return err
		}
		e.Actor, e.UpdatedAt = s.releaseActor(c), s.now().UTC().Truncate(1e6)
		created, err := s.faq.Put(c.Request().Context(), e)
		if err != nil {
			return err
		}
		s.log.InfoContext(c.Request().Context(), "faq entry published", "entry", id, "topic", e.Topic, "actor", e.Actor)
		return putAnswer(c, created, "/admin/faq/"+id, e)
	}
}

func (s *Server) handleDeleteFAQ() echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		if !help.ValidID(id) {
			return invalidField("id", "the path's entry id: 1 to 64 lower-case letters, digits or '-'")
		}
		if err := s.faq.Delete(c.Request().Context(), id); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

func (s *Server) handleListFAQ() echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		es, err := s.faq.Entries(ctx)
		if err != nil {
			return err
		}
		var counts []feedback.TopicCount
		if s.feedback != nil {
			if counts, err = s.feedback.Topics(ctx, 0); err != nil {
				return err
			}
		}
		noStore(c)
		return c.JSON(http.StatusOK, map[string]any{"entries": help.Rank(es, counts)})
	}
}

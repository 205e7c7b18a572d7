package gateway

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"erpgate"
)

// statusOf is the one table from erpgate error codes to HTTP statuses.
var statusOf = map[string]int{
	erpgate.Invalid:             http.StatusBadRequest,
	erpgate.Unprocessable:       http.StatusUnprocessableEntity,
	erpgate.IdempotencyMismatch: http.StatusUnprocessableEntity,
	erpgate.Conflict:            http.StatusConflict,
	erpgate.NotFound:            http.StatusNotFound,
	erpgate.Unauthorized:        http.StatusUnauthorized,
	erpgate.Forbidden:           http.StatusForbidden,
	erpgate.TooLarge:            http.StatusRequestEntityTooLarge,
	erpgate.UnsupportedMedia:    http.StatusUnsupportedMediaType,
	erpgate.RateLimited:         http.StatusTooManyRequests,
	erpgate.Timeout:             http.StatusRequestTimeout,
	erpgate.Unavailable:         http.StatusServiceUnavailable,
	erpgate.Overloaded:          http.StatusServiceUnavailable,
	erpgate.OutcomeUnknown:      http.StatusServiceUnavailable,
	erpgate.Internal:            http.StatusInternalServerError,
	erpgate.ApprovalRequired:    http.StatusConflict,
	erpgate.ManifestRequired:    http.StatusConflict,
}

// problem is an RFC 9457 problem details object with erpgate's extensions.
type problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Instance  string            `json:"instance,omitempty"`
	Code      string            `json:"code"`
	RequestID string            `json:"request_id,omitempty"`
	Errors    []erpgate.Problem `json:"errors,omitempty"`
}

// problemTypePath prefixes the path of a problem "type" URI: the gateway
// serves a page per code there (problems.go), so the URI resolves.
const problemTypePath = "/problems/"

// errorHandler replaces echo's default handler, which would turn every
// wrapped error into a bare 500. It maps *erpgate.Error codes through
// statusOf, echo's own HTTP errors (404 route, 405 method, 413 body limit)
// to the matching code, and logs only internal errors. publicURL (the
// gateway's base URL, may be empty) makes the problem type URIs absolute.
func errorHandler(log *slog.Logger, publicURL string) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var he *echo.HTTPError
		echoStatus := 0
		if errors.As(err, &he) && erpgate.ErrorCode(err) == erpgate.Internal {
			err, echoStatus = fromEchoError(he), he.Code
		}
		code := erpgate.ErrorCode(err)
		status, ok := statusOf[code]
		if !ok {
			status = http.StatusInternalServerError
		}
		if echoStatus >= 400 && echoStatus < 600 {
			status = echoStatus
		}
		rid := c.Response().Header().Get(echo.HeaderXRequestID)
		if code == erpgate.Internal {
			log.ErrorContext(c.Request().Context(), "internal error", "err", err, "request_id", rid,
				"method", c.Request().Method, "route", c.Path())
		}
		p := problem{
			Type:      publicURL + problemTypePath + code,
			Title:     http.StatusText(status),
			Status:    status,
			Detail:    erpgate.ErrorMessage(err),
			Instance:  c.Request().URL.Path,
			Code:      code,
			RequestID: rid,
			Errors:    erpgate.ErrorProblems(err),
		}
		setRetryAfter(c.Response().Header(), status, err)
		writeProblem(c, p)
	}
}

// defaultRetryAfter is the Retry-After of a 503 or 429 whose error names
// no wait of its own.
const defaultRetryAfter = time.Second

// setRetryAfter sets Retry-After (whole seconds, rounded up, at least 1) on
// a 503 or 429 answer: the error's RetryAfter (a shed request, a rate
// limit, the end of an intake pause), or defaultRetryAfter — nothing was
// done, a retry (with the same Idempotency-Key) is safe, and clients should
// not hammer. It is the one place the header is set, for problem+json,
// SOAP faults and the feedback form's pages alike.
func setRetryAfter(h http.Header, status int, err error) {
	if status != http.StatusServiceUnavailable && status != http.StatusTooManyRequests {
		return
	}
	d := erpgate.ErrorRetryAfter(err)
	if d <= 0 {
		d = defaultRetryAfter
	}
	h.Set("Retry-After", strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
}

func writeProblem(c echo.Context, p problem) {
	b, _ := json.Marshal(p)
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "application/problem+json")
	switch p.Status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="erpgate"`)
	}
	if c.Request().Method == http.MethodHead {
		c.Response().WriteHeader(p.Status)
		return
	}
	c.Response().WriteHeader(p.Status)
	c.Response().Write(b)
}

func fromEchoError(he *echo.HTTPError) error {
	msg := http.StatusText(he.Code)
	switch he.Code {
	case http.StatusNotFound:
		return &erpgate.Error{Code: erpgate.NotFound, Message: "no such resource", Err: he}
	case http.StatusMethodNotAllowed:
		return &erpgate.Error{Code: erpgate.Invalid, Message: "method not allowed on this resource", Err: he}
	case http.StatusRequestEntityTooLarge:
		return &erpgate.Error{Code: erpgate.TooLarge, Message: "request body too large", Err: he}
	case http.StatusUnsupportedMediaType:
		return &erpgate.Error{Code: erpgate.UnsupportedMedia, Message: msg, Err: he}
	case http.StatusUnauthorized:
		return &erpgate.Error{Code: erpgate.Unauthorized, Message: "missing or invalid credentials", Err: he}
	case http.StatusTooManyRequests:
		return &erpgate.Error{Code: erpgate.RateLimited, Message: "too many requests", Err: he}
	case http.StatusServiceUnavailable:
		return &erpgate.Error{Code: erpgate.Unavailable, Message: "service unavailable", Err: he}
	}
	if he.Code >= 400 && he.Code < 500 {
		return &erpgate.Error{Code: erpgate.Invalid, Message: msg, Err: he}
	}
	return &erpgate.Error{Code: erpgate.Internal, Message: "internal error", Err: he}
}

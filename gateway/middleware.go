package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"erpgate"
)

// requestID takes a sane X-Request-Id from the caller or makes one, and
// echoes it on the response so both sides can quote it.
func requestID() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id := c.Request().Header.Get(echo.HeaderXRequestID)
			if !saneRequestID(id) {
				var b [12]byte
				rand.Read(b[:])
				id = hex.EncodeToString(b[:])
			}
			c.Response().Header().Set(echo.HeaderXRequestID, id)
			return next(c)
		}
	}
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.') {
			return false
		}
	}
	return true
}

// recoverPanics turns a panic in a handler into an internal error (logged
// once by the error handler) instead of a dropped connection.
func recoverPanics() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler {
						panic(r)
					}
					err = erpgate.Wrap(erpgate.Internal, fmt.Errorf("panic: %v", r), "internal error")
				}
			}()
			return next(c)
		}
	}
}

// observe records the request in the HTTP metrics by route template (never
// by raw path: ids would explode cardinality) and logs it at debug level.
func (s *Server) observe() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err) // write the response now so the status is known
			}
			route := c.Path()
			if route == "" || c.Response().Status == 404 && erpgate.ErrorCode(err) == erpgate.NotFound && route == "/*" {
				route = "unmatched"
			}
			method := c.Request().Method
			status := c.Response().Status
			s.metrics.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
			s.metrics.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
			if s.log.Enabled(c.Request().Context(), slog.LevelDebug) {
				s.log.DebugContext(c.Request().Context(), "request", "method", method, "route", route,
					"status", status, "duration", time.Since(start),
					"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
			}
			return nil
		}
	}
}

package gateway

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"erpgate/soap"
)

// A bug in an endpoint still answers with a Server fault (SOAP clients only
// understand envelopes); an aborted handler stays aborted.
func TestServeSOAPPanic(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	e := echo.New()
	for _, tt := range []struct {
		name      string
		value     any
		wantPanic bool
	}{
		{"bug", "boom", false},
		{"abort", http.ErrAbortHandler, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := s.serveSOAP(soapService{authenticate: func(*soapExchange) (*soap.Request, string, bool) { panic(tt.value) }})
			rec := httptest.NewRecorder()
			c := e.NewContext(httptest.NewRequest(http.MethodPost, "/soap/x", strings.NewReader("")), rec)
			defer func() {
				if p := recover(); (p != nil) != tt.wantPanic {
					t.Errorf("panic = %v, want a panic %v", p, tt.wantPanic)
				}
			}()
			if err := h(c); err != nil {
				t.Errorf("handler error = %v, want nil", err)
			}
			if got, want := rec.Code, http.StatusInternalServerError; got != want {
				t.Errorf("status = %d, want %d", got, want)
			}
			if body := rec.Body.String(); !strings.Contains(body, "Server") || !strings.Contains(body, "internal error") {
				t.Errorf("body = %s, want a Server fault", body)
			}
		})
	}
}

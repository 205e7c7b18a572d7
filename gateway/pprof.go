package gateway

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// pprofHandler serves one of Go's runtime profiles under /debug/pprof/ behind the
// admin token, so an operator can profile a gateway under real load:
//
//	curl -H 'Authorization: Bearer <admin token>' -o cpu.pprof \
//	    'http://127.0.0.1:8080/debug/pprof/profile?seconds=20'
//	go tool pprof -http :0 bin/gateway cpu.pprof
//
// Profiles show code paths, ids of live objects and, in goroutine dumps,
// request arguments, so they are never public. The handlers are the standard
// library's (net/http/pprof), registered on our router rather than on
// http.DefaultServeMux, which this process never serves.
func pprofHandler(h http.HandlerFunc) echo.HandlerFunc { return echo.WrapHandler(h) }

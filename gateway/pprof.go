package gateway

import (
	"net/http"
	"net/http/pprof"

	"github.com/labstack/echo/v4"
)

// pprofRoutes serves Go's runtime profiles under /debug/pprof/ behind the
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
func (s *Server) pprofRoutes() {
	admin := requireKind(s.keys, KindAdmin)
	g := s.e.Group("/debug/pprof", admin)
	g.GET("/cmdline", echo.WrapHandler(http.HandlerFunc(pprof.Cmdline)))
	g.GET("/profile", echo.WrapHandler(http.HandlerFunc(pprof.Profile)))
	g.GET("/symbol", echo.WrapHandler(http.HandlerFunc(pprof.Symbol)))
	g.POST("/symbol", echo.WrapHandler(http.HandlerFunc(pprof.Symbol)))
	g.GET("/trace", echo.WrapHandler(http.HandlerFunc(pprof.Trace)))
	// The index and the named profiles (heap, allocs, goroutine, block,
	// mutex, threadcreate): pprof.Index serves a name after /debug/pprof/
	// itself and the index page for the bare prefix.
	index := echo.WrapHandler(http.HandlerFunc(pprof.Index))
	g.GET("", index)
	g.GET("/", index)
	g.GET("/:name", index)
}

package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes lists the whole API in one place.
func (s *Server) routes() {
	s.e.Use(requestID(), s.observe(), recoverPanics())

	shop := requireKind(s.keys, KindShop)

	s.e.GET("/healthz", s.handleHealthz())
	s.e.GET("/readyz", s.handleReadyz())
	s.e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{})))
	// The icon every page of the origin asks for (favicon.go).
	s.e.GET("/favicon.ico", handleFavicon("image/x-icon", faviconICO))
	s.e.GET("/favicon.svg", handleFavicon("image/svg+xml", []byte(faviconSVG)))

	s.e.POST("/v1/orders", s.handleCreateOrder(), shop)
	s.e.GET("/v1/orders", s.handleFindOrder(), shop)
	s.e.GET("/v1/orders/:id", s.handleGetOrder(), shop)

	// Customer tracking: the order's token (?token= or Bearer) or the owning
	// shop's key; anything else is 404.
	if s.timelines != nil && s.live != nil {
		s.e.GET("/v1/tracking/:id", s.handleTracking())
		s.e.GET("/v1/tracking/:id/events", s.handleTrackingEvents())
		s.e.GET("/track/:id", s.handleTrackingPage())
	}

	// SOAP OrderService (soap_orders.go). The WSDL is public; the endpoint
	// authenticates shops itself (Bearer or WS-Security UsernameToken),
	// because its refusals must be SOAP faults, not problem+json.
	s.e.GET("/soap/orders", s.handleOrderServiceWSDL())
	s.e.POST("/soap/orders", s.handleOrderService())

	// Release plan admin (admin_release.go).
	if s.release != nil {
		admin := requireKind(s.keys, KindAdmin)
		s.e.GET("/admin/release", s.handleGetRelease(), admin)
		s.e.PUT("/admin/release", s.handlePutRelease(), admin)
		s.e.POST("/admin/release/backout", s.handleReleaseBackout(), admin)
		s.e.POST("/admin/release/promote", s.handleReleasePromote(), admin)
		s.e.GET("/admin/release/history", s.handleReleaseHistory(), admin)
		s.e.GET("/admin/release/shadow", s.handleReleaseShadow(), admin)
	}

	// --- pprof (pprof.go): runtime profiles behind the admin token ---
	s.pprofRoutes()
	// --- end pprof ---

	// --- ERP callbacks and webhook admin (erp_callback.go, admin_webhooks.go) ---
	// ERP v2 pushes status changes (SOAP, ERP callback key); its WSDL is public.
	if s.authority != nil && s.events != nil {
		s.e.GET(erpCallbackPath, s.handleERPCallbackWSDL())
		s.e.POST(erpCallbackPath, s.handleERPCallback())
	}
	if s.webhooks != nil {
		admin := requireKind(s.keys, KindAdmin)
		s.e.GET("/admin/webhooks", s.handleListWebhooks(), admin)
		s.e.POST("/admin/webhooks", s.handleCreateWebhook(), admin)
		s.e.GET("/admin/webhooks/dead-letters", s.handleWebhookDeadLetters(), admin)
		s.e.DELETE("/admin/webhooks/:id", s.handleDeleteWebhook(), admin)
	}
	// --- end ERP callbacks and webhook admin ---

	// --- supplier services and catalog (supplier.go, catalog.go, soap_supplier.go) ---
	s.supplierRoutes() // /v1/supplier/..., /v1/catalog/items, /soap/supplier
	// --- end supplier ---
}

func (s *Server) handleHealthz() echo.HandlerFunc {
	body := []byte("ok\n")
	return func(c echo.Context) error {
		return c.Blob(http.StatusOK, "text/plain; charset=utf-8", body)
	}
}

func (s *Server) handleReadyz() echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			return c.String(http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
		}
		return c.String(http.StatusOK, "ready\n")
	}
}

package gateway

import (
	"context"
	"net/http"
	"net/http/pprof"
	"time"

	"erpgate/supply"

	"github.com/labstack/echo/v4"
)

// routes lists the whole API in one place.
func (s *Server) routes() {
	s.e.Use(requestID(), s.observe(), recoverPanics(), s.admission.middleware())
	if s.notices != nil {
		s.e.Use(s.noticeHeader()) // Erpgate-Notice during a window (notices.go)
	}

	shop := []echo.MiddlewareFunc{requireKind(s.keys, KindShop), s.rateLimited()}

	s.e.GET("/healthz", s.handleHealthz())
	s.e.GET("/readyz", s.handleReadyz())
	if s.metricsOn {
		s.e.GET("/metrics", echo.WrapHandler(MetricsHandler(s.gatherer, s.metricsTk)))
	}
	// The icon every page of the origin asks for (favicon.go).
	s.e.GET("/favicon.ico", handleFavicon("image/x-icon", faviconICO))
	s.e.GET("/favicon.svg", handleFavicon("image/svg+xml", []byte(faviconSVG)))

	// The contract (openapi.go, apidocs.go, problems.go): the OpenAPI
	// description, its rendered reference, and a page per problem type.
	s.e.GET("/openapi.json", s.handleOpenAPI())
	s.e.GET("/docs/api", s.handleAPIDocs())
	s.e.GET("/problems", s.handleProblemTypes())
	s.e.GET("/problems/:code", s.handleProblemType())

	s.e.POST("/v1/orders", s.handleCreateOrder(), shop...)
	s.e.GET("/v1/orders", s.handleFindOrder(), shop...)
	s.e.GET("/v1/orders/:id", s.handleGetOrder(), shop...)

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
		// Acceptance and the library of releases (admin_release_gates.go).
		s.e.POST("/admin/release/approvals", s.handleApprove(), admin)
		s.e.GET("/admin/release/approvals", s.handleListApprovals(), admin)
		s.e.PUT("/admin/release/manifests", s.handlePutManifest(), admin)
		s.e.GET("/admin/release/manifests", s.handleListManifests(), admin)
		s.e.GET("/admin/release/manifests/:version", s.handleGetManifest(), admin)
	}

	// --- CMDB export (admin_cmdb.go) ---
	if s.cmdb != nil {
		s.e.GET("/admin/cmdb", s.handleCMDB(s.cmdb), requireKind(s.keys, KindAdmin))
	}
	// --- end CMDB export ---

	// Go's runtime profiles behind the admin token (pprof.go). pprof.Index
	// serves the index for the bare prefix and the named profiles (heap,
	// allocs, goroutine, block, mutex, threadcreate) after it.
	{
		g := s.e.Group("/debug/pprof", requireKind(s.keys, KindAdmin))
		index := pprofHandler(pprof.Index)
		g.GET("", index)
		g.GET("/", index)
		g.GET("/:name", index)
		g.GET("/cmdline", pprofHandler(pprof.Cmdline))
		g.GET("/profile", pprofHandler(pprof.Profile))
		g.GET("/symbol", pprofHandler(pprof.Symbol))
		g.POST("/symbol", pprofHandler(pprof.Symbol))
		g.GET("/trace", pprofHandler(pprof.Trace))
	}

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
		s.e.GET("/admin/webhooks/dead-letters/actions", s.handleWebhookDeadLetterActions(), admin)
		s.e.GET("/admin/webhooks/dead-letters/:id", s.handleWebhookDeadLetter(), admin)
		s.e.POST("/admin/webhooks/dead-letters/:id/replay", s.handleWebhookReplay(), admin)
		s.e.DELETE("/admin/webhooks/dead-letters/:id", s.handleWebhookDiscard(), admin)
		s.e.DELETE("/admin/webhooks/:id", s.handleDeleteWebhook(), admin)
	}
	// --- end ERP callbacks and webhook admin ---

	// --- notices, feedback, help (notices.go, feedback.go, help.go) ---
	s.e.GET("/help", s.handleHelpManual())
	s.e.GET("/robots.txt", s.handleRobots())
	s.e.GET("/sitemap.xml", s.handleSitemap())
	if s.faq != nil {
		admin := requireKind(s.keys, KindAdmin)
		s.e.GET("/help/faq", s.handleHelpFAQ())
		s.e.GET("/admin/faq", s.handleListFAQ(), admin)
		s.e.PUT("/admin/faq/:id", s.handlePutFAQ(), admin)
		s.e.DELETE("/admin/faq/:id", s.handleDeleteFAQ(), admin)
	}
	if s.notices != nil {
		admin := requireKind(s.keys, KindAdmin)
		s.e.GET("/v1/notices", s.handlePublicNotices())
		s.e.GET("/admin/notices", s.handleListNotices(), admin)
		s.e.PUT("/admin/notices/:id", s.handlePutNotice(), admin)
		s.e.DELETE("/admin/notices/:id", s.handleDeleteNotice(), admin)
	}
	if s.feedback != nil {
		admin := requireKind(s.keys, KindAdmin)
		s.e.POST("/v1/feedback", s.handleShopFeedback(), shop...)
		// The customer's form: the order's tracking token proves access.
		s.e.POST("/v1/tracking/:id/feedback", s.handleCustomerFeedback())
		s.e.GET("/admin/feedback", s.handleListFeedback(), admin)
		s.e.GET("/admin/feedback/topics", s.handleFeedbackTopics(), admin)
	}
	// --- end notices, feedback, help ---
	// Outbox state and dead letters (admin_outbox.go).
	if s.outbox != nil {
		admin := requireKind(s.keys, KindAdmin)
		s.e.GET("/admin/outbox", s.handleOutboxSummary(), admin)
		s.e.GET("/admin/outbox/dead-letters", s.handleOutboxDeadLetters(), admin)
		s.e.GET("/admin/outbox/dead-letters/actions", s.handleOutboxDeadLetterActions(), admin)
		s.e.GET("/admin/outbox/dead-letters/:id", s.handleOutboxDeadLetter(), admin)
		s.e.POST("/admin/outbox/dead-letters/:id/replay", s.handleOutboxReplay(), admin)
		s.e.DELETE("/admin/outbox/dead-letters/:id", s.handleOutboxDiscard(), admin)
	}

	// Supplier services (supplier.go): a supplier sees and changes only
	// its own documents. The catalog (catalog.go) is the shop's read side.
	if svc := s.supplier; svc != nil {
		sup := s.e.Group("/v1/supplier", s.requireSupplier(), s.rateLimited())
		sup.GET("/purchase-orders", handleListPurchaseOrders(svc))
		sup.GET("/purchase-orders/:number", handleGetPurchaseOrder(svc))
		sup.POST("/purchase-orders/:number/acknowledgements", handleAcknowledge(svc))
		sup.POST("/purchase-orders/:number/shipping-notices", handleShippingNotice(svc))
		sup.POST("/purchase-orders/:number/invoices", handleInvoice(svc))
		sup.POST("/stock-advices", handleStockAdvice(svc))
		sup.GET("/acknowledgements", handleListDocuments(svc, supply.KindAcknowledgement))
		sup.GET("/acknowledgements/:id", handleGetDocument(svc, supply.KindAcknowledgement))
		sup.GET("/shipping-notices", handleListDocuments(svc, supply.KindShippingNotice))
		sup.GET("/shipping-notices/:id", handleGetDocument(svc, supply.KindShippingNotice))
		sup.GET("/invoices", handleListDocuments(svc, supply.KindInvoice))
		sup.GET("/invoices/:id", handleGetDocument(svc, supply.KindInvoice))
		sup.GET("/stock-advices", handleListDocuments(svc, supply.KindStockAdvice))
		sup.GET("/stock-advices/:id", handleGetDocument(svc, supply.KindStockAdvice))

		s.e.GET("/v1/catalog/items", handleCatalogItems(svc), requireKind(s.keys, KindShop))
		s.e.GET("/v1/catalog/items/:sku", handleCatalogItem(svc), requireKind(s.keys, KindShop))

		// SOAP SupplierService (soap_supplier.go): the WSDL is public; the
		// endpoint authenticates suppliers itself (faults, not problem+json).
		s.e.GET(soapSupplierPath, s.handleSupplierServiceWSDL())
		s.e.POST(soapSupplierPath, s.handleSupplierService())
	}
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

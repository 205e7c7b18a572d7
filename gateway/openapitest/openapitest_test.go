package openapitest

import (
	"strings"
	"testing"

	"erpgate/gateway"
)

func TestOpenAPIPath(t *testing.T) {
	for in, want := range map[string]string{
		"/v1/orders/:id": "/v1/orders/{id}",
		"/v1/supplier/purchase-orders/:number/invoices": "/v1/supplier/purchase-orders/{number}/invoices",
		"/healthz": "/healthz",
	} {
		if got := OpenAPIPath(in); got != want {
			t.Errorf("OpenAPIPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCheckRoutes: a route neither described nor excluded, a described
// operation nobody registers, and an excluded route that is described are
// each reported.
func TestCheckRoutes(t *testing.T) {
	doc, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var routes []gateway.Route
	for _, p := range doc.Paths.InMatchingOrder() {
		for m := range doc.Paths.Value(p).Operations() {
			routes = append(routes, gateway.Route{Method: m, Path: strings.NewReplacer("{", ":", "}", "").Replace(p)})
		}
	}
	routes = append(routes, gateway.Route{Method: "GET", Path: "/track/:id"}, gateway.Route{Method: "POST", Path: "/soap/orders"})
	if bad := CheckRoutes(doc, routes); len(bad) != 0 {
		t.Fatalf("the description's own routes: %v", bad)
	}
	bad := CheckRoutes(doc, append(routes[1:], gateway.Route{Method: "GET", Path: "/v1/undocumented/:id"}))
	if len(bad) != 2 || !strings.Contains(strings.Join(bad, "\n"), "GET /v1/undocumented/{id} is registered but not in") ||
		!strings.Contains(strings.Join(bad, "\n"), "is described but the gateway does not register it") {
		t.Errorf("CheckRoutes = %q, want the undocumented route and the unregistered operation", bad)
	}
	Excluded["GET /healthz"] = "test"
	defer delete(Excluded, "GET /healthz")
	if bad := CheckRoutes(doc, routes); len(bad) != 1 || !strings.Contains(bad[0], "described and also excluded") {
		t.Errorf("CheckRoutes = %q, want the route both described and excluded", bad)
	}
}

func TestIsExcludedRequest(t *testing.T) {
	for path, want := range map[string]bool{
		"/track/ord_1": true, "/soap/orders": true, "/debug/pprof/heap": true,
		"/track/": false, "/track/a/b": false, "/v1/orders": false,
	} {
		if got := isExcludedRequest(path); got != want {
			t.Errorf("isExcludedRequest(%q) = %v, want %v", path, got, want)
		}
	}
}

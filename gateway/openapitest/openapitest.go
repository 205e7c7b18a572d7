// Package openapitest holds the gateway to its OpenAPI description
// (gateway/openapi/openapi.yaml) in tests, with an independent validator
// (kin-openapi):
//
//   - CheckRoutes: every route the gateway registers is described (path and
//     method), or listed in Excluded with the reason it is not REST; every
//     described operation is registered.
//   - Checker.Handler: wraps the gateway so that every request that goes
//     through it is validated against the description (parameters, body,
//     security scheme present) and every answer too (status listed for the
//     operation, headers, body schema with additionalProperties false, so an
//     undocumented field fails).
//   - Checker.Uncovered: the operations and statuses the description lists
//     that no request exercised, for a test that must exercise them all.
//
// Tests only: it is never linked into the gateway binary.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"erpgate/gateway"
)

// Excluded lists the routes that are deliberately not in the OpenAPI
// description, by "METHOD /path" (echo's path syntax) or "* /path" for every
// method, each with the reason. A route that is neither described nor listed
// here fails CheckRoutes.
var Excluded = map[string]string{
	"* /soap/orders":         "SOAP OrderService: described by its WSDL (GET /soap/orders?wsdl)",
	"* /soap/supplier":       "SOAP SupplierService: described by its WSDL (GET /soap/supplier?wsdl)",
	"* /erp/v2/callback":     "SOAP status callback for ERP v2: described by its WSDL (GET /erp/v2/callback?wsdl)",
	"GET /track/:id":         "the customer's tracking web page (HTML for browsers; its data is GET /v1/tracking/{id})",
	"GET /help":              "the help web page for people (HTML), not an API",
	"GET /help/faq":          "the FAQ web page for people (HTML); its data is the admin FAQ API",
	"GET /robots.txt":        "for search engine crawlers",
	"GET /sitemap.xml":       "for search engine crawlers",
	"GET /favicon.ico":       "the browser's tab icon",
	"GET /favicon.svg":       "the browser's tab icon (SVG) and the demo shop's logo",
	"* /debug/pprof":         "Go runtime profiles (net/http/pprof) for operators, admin token; not an API",
	"* /debug/pprof/":        "Go runtime profiles (net/http/pprof)",
	"* /debug/pprof/:name":   "Go runtime profiles (net/http/pprof)",
	"* /debug/pprof/cmdline": "Go runtime profiles (net/http/pprof)",
	"* /debug/pprof/profile": "Go runtime profiles (net/http/pprof)",
	"* /debug/pprof/symbol":  "Go runtime profiles (net/http/pprof)",
	"* /debug/pprof/trace":   "Go runtime profiles (net/http/pprof)",
}

// excluded returns the reason route (method, echo path) is excluded, or "".
func excluded(method, path string) string {
	if r := Excluded[method+" "+path]; r != "" {
		return r
	}
	return Excluded["* "+path]
}

// Load parses and validates the embedded description with kin-openapi.
func Load() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(gateway.OpenAPIYAML())
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return doc, nil
}

var echoParam = regexp.MustCompile(`:([A-Za-z_][A-Za-z0-9_]*)`)

// OpenAPIPath turns an echo route path ("/v1/orders/:id") into the
// description's form ("/v1/orders/{id}").
func OpenAPIPath(echoPath string) string {
	return echoParam.ReplaceAllString(echoPath, "{$1}")
}

// CheckRoutes compares the gateway's registered routes with the
// description and returns one line per disagreement.
func CheckRoutes(doc *openapi3.T, routes []gateway.Route) []string {
	var bad []string
	seen := map[string]bool{}
	for _, r := range routes {
		p := OpenAPIPath(r.Path)
		seen[r.Method+" "+p] = true
		item := doc.Paths.Value(p)
		var op *openapi3.Operation
		if item != nil {
			op = item.GetOperation(r.Method)
		}
		reason := excluded(r.Method, r.Path)
		switch {
		case op != nil && reason != "":
			bad = append(bad, fmt.Sprintf("%s %s is described and also excluded (%s): drop it from openapitest.Excluded", r.Method, r.Path, reason))
		case op == nil && reason == "":
			bad = append(bad, fmt.Sprintf("%s %s is registered but not in gateway/openapi/openapi.yaml (describe it, or exclude it with a reason in openapitest.Excluded)", r.Method, p))
		}
	}
	for _, p := range doc.Paths.InMatchingOrder() {
		for m := range doc.Paths.Value(p).Operations() {
			if !seen[m+" "+p] {
				bad = append(bad, fmt.Sprintf("%s %s is described but the gateway does not register it", m, p))
			}
		}
	}
	sort.Strings(bad)
	return bad
}

// Checker validates traffic against the description and records which
// operations and statuses it saw.
type Checker struct {
	doc    *openapi3.T
	router routers.Router

	mu       sync.Mutex
	failures []string
	seen     map[string]bool // "METHOD /path STATUS"
}

// New returns a checker for the embedded description.
func New() (*Checker, error) {
	doc, err := Load()
	if err != nil {
		return nil, err
	}
	// Route on paths only: the description's server is the demo's address,
	// the tests run on any port.
	rdoc := *doc
	rdoc.Servers = openapi3.Servers{{URL: "/"}}
	router, err := gorillamux.NewRouter(&rdoc)
	if err != nil {
		return nil, err
	}
	return &Checker{doc: doc, router: router, seen: map[string]bool{}}, nil
}

func init() {
	// The pages and the event stream are text; check their media type and
	// status, not a schema.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
}

// Doc returns the parsed description.
func (c *Checker) Doc() *openapi3.T { return c.doc }

func (c *Checker) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures = append(c.failures, fmt.Sprintf(format, args...))
}

// Failures returns what failed validation so far.
func (c *Checker) Failures() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.failures)
}

// Uncovered returns the described operations and statuses no validated
// answer had, as "METHOD /path STATUS".
func (c *Checker) Uncovered() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.doc.Paths.InMatchingOrder() {
		for m, op := range c.doc.Paths.Value(p).Operations() {
			for st := range op.Responses.Map() {
				if k := m + " " + p + " " + st; !c.seen[k] {
					out = append(out, k)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// Covered reports whether an answer with status was validated for the
// operation.
func (c *Checker) Covered(method, path string, status int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[fmt.Sprintf("%s %s %d", method, path, status)]
}

// expectInvalidHeader marks a request a test sends on purpose against the
// description (a bad body, a missing parameter): its validation must fail,
// and its answer is still validated. The header is removed before the
// gateway sees the request.
const expectInvalidHeader = "X-Openapitest-Expect-Invalid"

// ExpectInvalid marks req as deliberately invalid (see Handler).
func ExpectInvalid(req *http.Request) { req.Header.Set(expectInvalidHeader, "1") }

// Handler validates every request and answer that passes through to next.
// Requests to excluded routes pass unvalidated; a request the description
// has no operation for (and that no exclusion covers) is a failure unless
// it is answered 404 or 405 (probing unknown routes is allowed).
func (c *Checker) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		expectInvalid := r.Header.Get(expectInvalidHeader) != ""
		r.Header.Del(expectInvalidHeader)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			c.fail("%s %s: reading the request: %v", r.Method, r.URL, err)
			return
		}
		r.Body.Close()
		route, params, ferr := c.router.FindRoute(cloneRequest(r, body))
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if ferr != nil {
			next.ServeHTTP(rec, r)
			if rec.status != http.StatusNotFound && rec.status != http.StatusMethodNotAllowed && !isExcludedRequest(r.URL.Path) {
				c.fail("%s %s answered %d but the description has no such operation (%v)", r.Method, r.URL.Path, rec.status, ferr)
			}
			return
		}
		in := &openapi3filter.RequestValidationInput{
			Request: cloneRequest(r, body), PathParams: params, Route: route,
			Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: checkCredentials},
		}
		reqErr := openapi3filter.ValidateRequest(context.Background(), in)
		switch {
		case reqErr != nil && !expectInvalid:
			c.fail("%s %s: request does not match the description: %v", r.Method, r.URL, reqErr)
		case reqErr == nil && expectInvalid:
			c.fail("%s %s: request meant to be invalid passes the description", r.Method, r.URL)
		}
		next.ServeHTTP(rec, r)
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: rec.status, Header: rec.Header(),
			Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
		}
		out.SetBodyBytes(rec.body.Bytes())
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			c.fail("%s %s: answer %d does not match the description: %v\n%s", r.Method, r.URL, rec.status, err, clip(rec.body.String()))
		}
		if rec.status >= 400 && strings.Contains(rec.Header().Get("Content-Type"), "problem+json") {
			c.checkProblemType(r, rec)
		}
		c.mu.Lock()
		c.seen[fmt.Sprintf("%s %s %d", r.Method, route.Path, rec.status)] = true
		c.mu.Unlock()
	})
}

// CheckWebhook validates a request the gateway sent to a webhook receiver
// against the description's webhook name (its header parameters and its
// body).
func (c *Checker) CheckWebhook(name string, r *http.Request, body []byte) error {
	item := c.doc.Webhooks[name]
	if item == nil || item.Post == nil {
		return fmt.Errorf("the description has no webhook %q", name)
	}
	op := item.Post
	var errs []error
	for _, pr := range op.Parameters {
		p := pr.Value
		if p.In != openapi3.ParameterInHeader {
			continue
		}
		v := r.Header.Get(p.Name)
		if v == "" {
			if p.Required {
				errs = append(errs, fmt.Errorf("header %s missing", p.Name))
			}
			continue
		}
		if err := p.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			errs = append(errs, fmt.Errorf("header %s: %w", p.Name, err))
		}
	}
	mt := op.RequestBody.Value.Content.Get(r.Header.Get("Content-Type"))
	if mt == nil {
		errs = append(errs, fmt.Errorf("content type %q not described", r.Header.Get("Content-Type")))
	} else {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			errs = append(errs, fmt.Errorf("body: %w", err))
		} else if err := mt.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			errs = append(errs, fmt.Errorf("body: %w", err))
		}
	}
	return errors.Join(errs...)
}

// checkProblemType checks that a problem's type is the gateway's page for
// its code.
func (c *Checker) checkProblemType(r *http.Request, rec *recorder) {
	var p struct {
		Type string `json:"type"`
		Code string `json:"code"`
	}
	if err := json.Unmarshal(rec.body.Bytes(), &p); err != nil {
		return // the schema check reports it
	}
	u, err := url.Parse(p.Type)
	if err != nil || u.Path != "/problems/"+p.Code {
		c.fail("%s %s: problem type %q is not the page /problems/%s", r.Method, r.URL, p.Type, p.Code)
	}
}

// isExcludedRequest reports whether a request path falls on an excluded
// route (":name" matches one path segment).
func isExcludedRequest(path string) bool {
	for k := range Excluded {
		_, pattern, _ := strings.Cut(k, " ")
		if matchEchoPath(pattern, path) {
			return true
		}
	}
	return false
}

func matchEchoPath(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if ps[i] != xs[i] && !(strings.HasPrefix(ps[i], ":") && xs[i] != "") {
			return false
		}
	}
	return true
}

// checkCredentials accepts a security requirement when the request carries
// the credential the scheme names (the gateway decides whether it is
// valid): a request with no credentials at all does not match an
// operation that requires some.
func checkCredentials(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s := in.SecurityScheme
	r := in.RequestValidationInput.Request
	switch {
	case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
		if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			return nil
		}
	case s.Type == "apiKey" && s.In == "header":
		if r.Header.Get(s.Name) != "" {
			return nil
		}
	case s.Type == "apiKey" && s.In == "query":
		if r.URL.Query().Get(s.Name) != "" {
			return nil
		}
	default:
		return fmt.Errorf("unknown security scheme %s", in.SecuritySchemeName)
	}
	return errors.New("no " + in.SecuritySchemeName + " credentials")
}

func cloneRequest(r *http.Request, body []byte) *http.Request {
	c := r.Clone(context.Background())
	c.Body = io.NopCloser(bytes.NewReader(body))
	if c.URL.Host == "" {
		c.URL.Host = r.Host
	}
	return c
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

// recorder passes the answer through and keeps a copy of it.
type recorder struct {
	http.ResponseWriter
	status  int
	written bool
	body    bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if !r.written {
		r.status, r.written = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.written = true
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Flush passes flushes through (the event stream needs them).
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

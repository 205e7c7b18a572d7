package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"erpgate"
	"erpgate/store"
)

// TestProblemTypePages: every code of the status table has a problem type
// page that answers 200 and names the code and its status; the index lists
// them all; the description's ErrorCode enum is exactly the table's codes.
func TestProblemTypePages(t *testing.T) {
	e := newRESTEnv(t)
	var codes []string
	for code := range statusOf {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	var paged []string
	for _, p := range problemTypes {
		paged = append(paged, p.Code)
	}
	slices.Sort(paged)
	if !slices.Equal(paged, codes) {
		t.Fatalf("problem pages for %v, status table has %v", paged, codes)
	}
	index := e.do(t, http.MethodGet, "/problems", "", "", "")
	if index.status != http.StatusOK || !strings.HasPrefix(index.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /problems = %d %s", index.status, index.header.Get("Content-Type"))
	}
	for _, code := range codes {
		r := e.do(t, http.MethodGet, "/problems/"+code, "", "", "")
		if r.status != http.StatusOK || !strings.Contains(r.raw, "<code>"+code+"</code>") ||
			!strings.Contains(r.raw, "HTTP status "+itoa(statusOf[code])) {
			t.Errorf("GET /problems/%s = %d, want 200 naming the code and status %d:\n%s", code, r.status, statusOf[code], r.raw)
		}
		if !strings.Contains(index.raw, `/problems/`+code+`"`) {
			t.Errorf("/problems does not link %s", code)
		}
	}
	if r := e.do(t, http.MethodGet, "/problems/no_such_code", "", "", ""); r.status != http.StatusNotFound {
		t.Errorf("GET /problems/no_such_code = %d, want 404", r.status)
	}

	var doc struct {
		Components struct {
			Schemas struct {
				ErrorCode struct {
					Enum []string `yaml:"enum"`
				} `yaml:"ErrorCode"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		t.Fatal(err)
	}
	enum := slices.Sorted(slices.Values(doc.Components.Schemas.ErrorCode.Enum))
	if !slices.Equal(enum, codes) {
		t.Errorf("openapi.yaml ErrorCode enum = %v, want the status table's %v", enum, codes)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestProblemTypeResolves: the type of a problem answered is the gateway's
// own page for its code (absolute under the public URL), and it answers.
func TestProblemTypeResolves(t *testing.T) {
	e := newRESTEnv(t)
	for _, c := range []struct {
		method, path, key, body, code string
	}{
		{http.MethodGet, "/v1/orders/ord_NOPE", "demo-shop-key", "", erpgate.NotFound},
		{http.MethodGet, "/v1/orders/x", "", "", erpgate.Unauthorized},
		{http.MethodPost, "/v1/orders", "demo-shop-key", "{", erpgate.Invalid},
		{http.MethodGet, "/no/such/route", "", "", erpgate.NotFound},
	} {
		r := e.do(t, c.method, c.path, c.key, "application/json", c.body)
		typ, _ := r.body["type"].(string)
		if r.body["code"] != c.code || typ != "https://gw.example/problems/"+c.code {
			t.Errorf("%s %s: code %v type %q, want %s and https://gw.example/problems/%s", c.method, c.path, r.body["code"], typ, c.code, c.code)
			continue
		}
		page := e.do(t, http.MethodGet, strings.TrimPrefix(typ, "https://gw.example"), "", "", "")
		if page.status != http.StatusOK {
			t.Errorf("the type %s of %s %s answers %d, want 200", typ, c.method, c.path, page.status)
		}
	}
}

// TestOpenAPIJSON: /openapi.json is the embedded YAML description, as
// JSON, with the keys in the order of the source.
func TestOpenAPIJSON(t *testing.T) {
	e := newRESTEnv(t)
	r := e.do(t, http.MethodGet, "/openapi.json", "", "", "")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json = %d %s", r.status, r.header.Get("Content-Type"))
	}
	var fromYAML any
	if err := yaml.Unmarshal(openAPIYAML, &fromYAML); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(fromYAML) // map keys sorted: compare as values
	var got any
	if err := json.Unmarshal([]byte(r.raw), &got); err != nil {
		t.Fatal(err)
	}
	gotSorted, _ := json.Marshal(got)
	if string(gotSorted) != string(want) {
		t.Error("/openapi.json differs from openapi.yaml")
	}
	if !strings.HasPrefix(r.raw, "{\n  \"openapi\": \"3.1.0\",\n  \"info\"") {
		t.Errorf("/openapi.json does not keep the source's key order: %.60q", r.raw)
	}
	if got.(map[string]any)["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", got.(map[string]any)["openapi"])
	}
}

// TestAPIDocsPage: /docs/api renders every operation and schema of the
// description and is self-contained: no script, no external resource, a
// CSP that forbids loading any.
func TestAPIDocsPage(t *testing.T) {
	e := newRESTEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/docs/api", nil)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	page := string(b)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /docs/api = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP = %q, want default-src 'none'", csp)
	}
	if strings.Contains(page, "<script") || regexp.MustCompile(`(src|href)="(https?:)?//`).MatchString(page) ||
		strings.Contains(page, "@import") || strings.Contains(page, "url(") {
		t.Error("the reference page loads something: it must be self-contained")
	}
	var doc struct {
		Paths      map[string]map[string]any `yaml:"paths"`
		Components struct {
			Schemas map[string]any `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		t.Fatal(err)
	}
	ops := 0
	for path, item := range doc.Paths {
		for method, v := range item {
			op, ok := v.(map[string]any)
			if !ok || method == "parameters" {
				continue
			}
			ops++
			id, _ := op["operationId"].(string)
			if id == "" || !strings.Contains(page, `id="op-`+id+`"`) || !strings.Contains(page, "<code>"+path+"</code>") {
				t.Errorf("%s %s (%s) is not on the page", method, path, id)
			}
		}
	}
	for name := range doc.Components.Schemas {
		if !strings.Contains(page, `id="schema-`+name+`"`) {
			t.Errorf("schema %s is not on the page", name)
		}
	}
	if !strings.Contains(page, `id="op-receiveOrderEvent"`) {
		t.Error("the webhook the gateway sends is not on the page")
	}
	if ops < 30 {
		t.Errorf("%d operations in the description, want them all (30+)", ops)
	}
	if !strings.Contains(page, "demo-shop-key") || !strings.Contains(page, "WEB-1001") {
		t.Error("the page lacks the description's text or examples")
	}
}

// downStore fails every read as a dead Redis would.
type downStore struct{ nullStore }

func (downStore) Order(context.Context, string) (*store.Record, error) {
	return nil, erpgate.Errorf(erpgate.Unavailable, "store unavailable")
}

// TestUnavailableSaysWhenToRetry: a 503 carries Retry-After (the
// description requires it).
func TestUnavailableSaysWhenToRetry(t *testing.T) {
	keys, err := NewKeyring(DemoClients())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Store: downStore{}, Keyring: keys})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/orders/ord_1", nil)
	req.Header.Set("Authorization", "Bearer demo-shop-key")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("status %d, Retry-After %q; want 503 and 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

package gateway

// The REST contract: the OpenAPI 3.1 description (openapi/openapi.yaml,
// embedded), served as JSON at /openapi.json, rendered as one
// self-contained HTML page at /docs/api (apidocs.go), with a page per
// problem type at /problems/<code> (problems.go). contract_test.go holds the
// description to the code: every registered route is described (or
// excluded with a reason), and real requests and answers are validated
// against it.

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/labstack/echo/v4"
	"go.yaml.in/yaml/v4"
)

//go:embed openapi/openapi.yaml
var openAPIYAML []byte

// OpenAPIYAML returns the OpenAPI description as written (YAML).
func OpenAPIYAML() []byte { return bytes.Clone(openAPIYAML) }

// spec is the parsed description: an ordered tree (keys keep the order
// they are written in, so the JSON and the reference page read like the
// source).
var spec = sync.OnceValues(func() (*omap, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	v, err := fromYAML(&doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	m, ok := v.(*omap)
	if !ok {
		return nil, fmt.Errorf("openapi.yaml: not a mapping")
	}
	return m, nil
})

// OpenAPIJSON returns the OpenAPI description as JSON, keys in the order of
// the YAML source.
var OpenAPIJSON = sync.OnceValues(func() ([]byte, error) {
	m, err := spec()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
})

// omap is a JSON object that keeps its keys in order.
type omap struct {
	keys []string
	vals map[string]any
}

func (m *omap) get(k string) any { return m.vals[k] }

// str returns the string value of k ("" when absent or not a string).
func (m *omap) str(k string) string {
	s, _ := m.vals[k].(string)
	return s
}

// sub returns the object value of k (nil when absent or not an object).
func (m *omap) sub(k string) *omap {
	o, _ := m.vals[k].(*omap)
	return o
}

// MarshalJSON writes the object with its keys in order.
func (m *omap) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(m.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// fromYAML converts a YAML node to JSON values: *omap, []any, string,
// json.Number, bool or nil. Aliases are expanded; merge keys are not used
// in the description and refused.
func fromYAML(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, fmt.Errorf("line %d: want one document", n.Line)
		}
		return fromYAML(n.Content[0])
	case yaml.AliasNode:
		return fromYAML(n.Alias)
	case yaml.MappingNode:
		m := &omap{vals: make(map[string]any, len(n.Content)/2)}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return nil, fmt.Errorf("line %d: keys must be plain strings", k.Line)
			}
			if _, dup := m.vals[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			v, err := fromYAML(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m.keys = append(m.keys, k.Value)
			m.vals[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := fromYAML(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return n.Value, nil
		case "!!bool":
			return n.Value == "true", nil
		case "!!null":
			return nil, nil
		case "!!int", "!!float":
			if _, err := strconv.ParseFloat(n.Value, 64); err != nil {
				return nil, fmt.Errorf("line %d: number %q", n.Line, n.Value)
			}
			return json.Number(n.Value), nil
		}
		return nil, fmt.Errorf("line %d: unsupported scalar %s", n.Line, n.ShortTag())
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

func (s *Server) handleOpenAPI() echo.HandlerFunc {
	return func(c echo.Context) error {
		b, err := OpenAPIJSON()
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
	}
}

// Route is one registered route: method and echo path ("/v1/orders/:id").
type Route struct {
	Method, Path string
}

// Routes returns every route the server registered (for the contract
// tests: each must be in the OpenAPI description or excluded with a reason).
func (s *Server) Routes() []Route {
	var out []Route
	for _, r := range s.e.Routes() {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
			http.MethodDelete, http.MethodOptions:
			out = append(out, Route{Method: r.Method, Path: r.Path})
		}
	}
	return out
}

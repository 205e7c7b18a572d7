package gateway

// The API reference page (/docs/api): the OpenAPI description rendered on
// the server into one self-contained HTML page — no scripts, no fonts, no
// external resources (CSP default-src 'none'; inline styles only) — so it
// works offline and behind any proxy, and cannot drift from /openapi.json:
// both come from the same embedded file.

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options"}

type docOp struct {
	Method, Path, ID, Summary string
	Webhook                   bool // sent by the gateway to a subscriber
	Description               template.HTML
	Security                  []string
	Params                    []docParam
	Body                      *docBody
	Responses                 []docResponse
}

type docParam struct {
	Name, In, Type string
	Required       bool
	Description    template.HTML
}

type docBody struct {
	Required bool
	Media    []docMedia
}

type docMedia struct {
	Type    string
	Schema  template.HTML
	Example string
}

type docResponse struct {
	Status      string
	Description template.HTML
	Headers     []docParam
	Media       []docMedia
}

type docTag struct {
	Name        string
	Description template.HTML
	Ops         []docOp
}

type docSchema struct {
	Name        string
	Type        template.HTML
	Description template.HTML
	Props       []docParam
}

type docScheme struct {
	Name, Kind  string
	Description template.HTML
}

type apiDocPage struct {
	Title, Version string
	Description    template.HTML
	Tags           []docTag
	Schemes        []docScheme
	Schemas        []docSchema
}

// renderAPIDocs renders the page from the description.
var renderAPIDocs = sync.OnceValues(func() ([]byte, error) {
	doc, err := spec()
	if err != nil {
		return nil, err
	}
	r := &docRenderer{doc: doc}
	page := apiDocPage{Title: doc.sub("info").str("title"), Version: doc.sub("info").str("version"),
		Description: r.text(doc.sub("info").str("description"))}
	byTag := map[string]int{}
	for _, t := range list(doc.get("tags")) {
		tm, _ := t.(*omap)
		if tm == nil {
			continue
		}
		byTag[tm.str("name")] = len(page.Tags)
		page.Tags = append(page.Tags, docTag{Name: tm.str("name"), Description: r.text(tm.str("description"))})
	}
	paths := doc.sub("paths")
	hooks := doc.sub("webhooks")
	var names []string
	if paths != nil {
		names = append(names, paths.keys...)
	}
	if hooks != nil {
		names = append(names, hooks.keys...)
	}
	for i, p := range names {
		webhook := paths == nil || i >= len(paths.keys)
		item := paths.sub(p)
		if webhook {
			item = hooks.sub(p)
		}
		for _, m := range item.keys { // in the order written
			op := item.sub(m)
			if op == nil || !slices.Contains(httpMethods, m) {
				continue
			}
			d := r.op(p, m, item, op)
			d.Webhook = webhook
			tag := "other"
			if tags := list(op.get("tags")); len(tags) > 0 {
				tag, _ = tags[0].(string)
			}
			i, ok := byTag[tag]
			if !ok {
				i = len(page.Tags)
				byTag[tag] = i
				page.Tags = append(page.Tags, docTag{Name: tag})
			}
			page.Tags[i].Ops = append(page.Tags[i].Ops, d)
		}
	}
	comps := doc.sub("components")
	if ss := comps.sub("securitySchemes"); ss != nil {
		for _, name := range ss.keys {
			sc := ss.sub(name)
			kind := sc.str("type")
			switch {
			case sc.str("scheme") != "":
				kind += " " + sc.str("scheme")
			case sc.str("in") != "":
				kind += " in " + sc.str("in") + " " + sc.str("name")
			}
			page.Schemes = append(page.Schemes, docScheme{Name: name, Kind: kind, Description: r.text(sc.str("description"))})
		}
	}
	if ss := comps.sub("schemas"); ss != nil {
		for _, name := range ss.keys {
			sc := ss.sub(name)
			ds := docSchema{Name: name, Type: r.typeOf(sc), Description: r.text(sc.str("description"))}
			ds.Props = r.props(sc)
			page.Schemas = append(page.Schemas, ds)
		}
	}
	var b bytes.Buffer
	if err := apiDocTemplate.Execute(&b, page); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
})

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

type docRenderer struct{ doc *omap }

// resolve follows a local $ref ("#/components/…").
func (r *docRenderer) resolve(m *omap) *omap {
	for i := 0; m != nil && m.str("$ref") != "" && i < 10; i++ {
		cur := r.doc
		for _, part := range strings.Split(strings.TrimPrefix(m.str("$ref"), "#/"), "/") {
			cur = cur.sub(part)
		}
		if cur == nil {
			return m
		}
		m = cur
	}
	return m
}

var codeSpan = regexp.MustCompile("`([^`]+)`")
var boldSpan = regexp.MustCompile(`\*\*([^*]+)\*\*`)

// text renders the little Markdown the description uses: paragraphs,
// `code` and **bold**.
func (r *docRenderer) text(s string) template.HTML {
	var b strings.Builder
	for _, para := range strings.Split(strings.TrimSpace(s), "\n\n") {
		if strings.TrimSpace(para) == "" {
			continue
		}
		h := template.HTMLEscapeString(strings.Join(strings.Fields(para), " "))
		h = codeSpan.ReplaceAllString(h, "<code>$1</code>")
		h = boldSpan.ReplaceAllString(h, "<strong>$1</strong>")
		b.WriteString("<p>" + h + "</p>")
	}
	return template.HTML(b.String())
}

// typeOf describes a schema in a few words, linking named schemas.
func (r *docRenderer) typeOf(m *omap) template.HTML {
	if m == nil {
		return "any"
	}
	if ref := m.str("$ref"); ref != "" {
		name := ref[strings.LastIndex(ref, "/")+1:]
		return template.HTML(`<a href="#schema-` + template.HTMLEscapeString(name) + `">` + template.HTMLEscapeString(name) + `</a>`)
	}
	var parts []string
	for _, k := range []string{"anyOf", "oneOf", "allOf"} {
		if l := list(m.get(k)); l != nil {
			var alts []string
			for _, a := range l {
				am, _ := a.(*omap)
				alts = append(alts, string(r.typeOf(am)))
			}
			sep := " or "
			if k == "allOf" {
				sep = " and "
			}
			parts = append(parts, strings.Join(alts, sep))
		}
	}
	var t string
	switch v := m.get("type").(type) {
	case string:
		t = v
	case []any:
		var ts []string
		for _, x := range v {
			s, _ := x.(string)
			ts = append(ts, s)
		}
		t = strings.Join(ts, " or ")
	}
	switch {
	case strings.HasPrefix(t, "array"):
		items := m.sub("items")
		return template.HTML("array of " + string(r.typeOf(items)) + strings.TrimPrefix(t, "array"))
	case t == "object" && m.sub("additionalProperties") != nil:
		parts = append(parts, "map of "+string(r.typeOf(m.sub("additionalProperties"))))
	case t != "" && !(t == "object" && len(parts) > 0):
		s := template.HTMLEscapeString(t)
		if f := m.str("format"); f != "" {
			s += " (" + template.HTMLEscapeString(f) + ")"
		}
		parts = append(parts, s)
	}
	if e := list(m.get("enum")); e != nil {
		var vs []string
		for _, x := range e {
			b, _ := json.Marshal(x)
			vs = append(vs, "<code>"+template.HTMLEscapeString(string(b))+"</code>")
		}
		parts = append(parts, "one of "+strings.Join(vs, ", "))
	}
	if c := m.get("const"); c != nil {
		b, _ := json.Marshal(c)
		parts = append(parts, "always <code>"+template.HTMLEscapeString(string(b))+"</code>")
	}
	if len(parts) == 0 {
		return "any"
	}
	return template.HTML(strings.Join(parts, ", "))
}

// props lists an object schema's properties (of its allOf parts too).
func (r *docRenderer) props(m *omap) []docParam {
	if m == nil {
		return nil
	}
	var out []docParam
	for _, a := range list(m.get("allOf")) {
		am, _ := a.(*omap)
		out = append(out, r.props(r.resolve(am))...)
	}
	required := map[string]bool{}
	for _, x := range list(m.get("required")) {
		s, _ := x.(string)
		required[s] = true
	}
	if ps := m.sub("properties"); ps != nil {
		for _, name := range ps.keys {
			p := ps.sub(name)
			out = append(out, docParam{Name: name, Type: string(r.typeOf(p)), Required: required[name],
				Description: r.text(r.resolve(p).str("description"))})
		}
	}
	return out
}

func (r *docRenderer) media(content *omap) []docMedia {
	if content == nil {
		return nil
	}
	var out []docMedia
	for _, mt := range content.keys {
		c := content.sub(mt)
		dm := docMedia{Type: mt, Schema: r.typeOf(c.sub("schema"))}
		ex := c.get("example")
		if ex == nil {
			if exs := c.sub("examples"); exs != nil && len(exs.keys) > 0 {
				ex = exs.sub(exs.keys[0]).get("value")
			}
		}
		if ex == nil {
			if s := r.resolve(c.sub("schema")); s != nil {
				ex = s.get("example")
			}
		}
		switch v := ex.(type) {
		case nil:
		case string:
			dm.Example = v
		default:
			b, _ := json.MarshalIndent(v, "", "  ")
			dm.Example = string(b)
		}
		out = append(out, dm)
	}
	return out
}

func (r *docRenderer) param(p *omap) docParam {
	p = r.resolve(p)
	req, _ := p.get("required").(bool)
	return docParam{Name: p.str("name"), In: p.str("in"), Type: string(r.typeOf(p.sub("schema"))), Required: req,
		Description: r.text(p.str("description"))}
}

func (r *docRenderer) op(path, method string, item, op *omap) docOp {
	d := docOp{Method: strings.ToUpper(method), Path: path, ID: op.str("operationId"), Summary: op.str("summary"),
		Description: r.text(op.str("description"))}
	sec := op.get("security")
	if sec == nil {
		sec = r.doc.get("security")
	}
	for _, alt := range list(sec) {
		am, _ := alt.(*omap)
		if am == nil {
			continue
		}
		if len(am.keys) == 0 {
			d.Security = append(d.Security, "none")
		} else {
			d.Security = append(d.Security, strings.Join(am.keys, " + "))
		}
	}
	for _, src := range []*omap{item, op} {
		for _, p := range list(src.get("parameters")) {
			pm, _ := p.(*omap)
			d.Params = append(d.Params, r.param(pm))
		}
	}
	if rb := r.resolve(op.sub("requestBody")); rb != nil {
		req, _ := rb.get("required").(bool)
		d.Body = &docBody{Required: req, Media: r.media(rb.sub("content"))}
	}
	if rs := op.sub("responses"); rs != nil {
		for _, st := range rs.keys {
			resp := r.resolve(rs.sub(st))
			dr := docResponse{Status: st, Description: r.text(resp.str("description")), Media: r.media(resp.sub("content"))}
			if hs := resp.sub("headers"); hs != nil {
				for _, h := range hs.keys {
					hm := r.resolve(hs.sub(h))
					dr.Headers = append(dr.Headers, docParam{Name: h, Type: string(r.typeOf(hm.sub("schema"))), Description: r.text(hm.str("description"))})
				}
			}
			d.Responses = append(d.Responses, dr)
		}
	}
	return d
}

var apiDocTemplate = template.Must(template.New("api").Funcs(template.FuncMap{
	"html": func(s string) template.HTML { return template.HTML(s) },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}} — reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1b1b1b;display:flex}
nav{width:17rem;flex:none;height:100vh;overflow:auto;position:sticky;top:0;background:#f6f7f9;padding:1rem;box-sizing:border-box;font-size:13px}
nav a{display:block;color:#234;text-decoration:none;padding:1px 0}nav h3{margin:1em 0 .2em;text-transform:capitalize}
main{padding:1rem 2rem;max-width:60rem;min-width:0}
code,pre{font:13px/1.4 ui-monospace,monospace;background:#f2f2f2;border-radius:3px}code{padding:0 .25em}
pre{padding:.6em;overflow:auto}
.op{border:1px solid #dde;border-radius:6px;margin:1.2em 0;padding:.2em 1em 1em}
.m{font:bold 12px ui-monospace,monospace;padding:.15em .5em;border-radius:3px;color:#fff;background:#555}
.m.GET{background:#2b6cb0}.m.POST{background:#2f855a}.m.PUT{background:#b7791f}.m.DELETE{background:#c53030}
table{border-collapse:collapse;width:100%;margin:.4em 0}td,th{border-bottom:1px solid #e3e3e3;padding:.25em .5em;text-align:left;vertical-align:top}
td p,dd p{margin:0}.req{color:#c53030;font-size:12px}h2{text-transform:capitalize;border-bottom:2px solid #dde;margin-top:2em}
</style></head><body>
<nav><strong>{{.Title}}</strong> v{{.Version}}
<a href="#intro">Introduction</a><a href="#security">Authentication</a>
{{range .Tags}}<h3>{{.Name}}</h3>{{range .Ops}}<a href="#op-{{.ID}}"><code>{{.Method}}</code> {{if .Webhook}}webhook {{end}}{{.Path}}</a>{{end}}{{end}}
<h3>Schemas</h3>{{range .Schemas}}<a href="#schema-{{.Name}}">{{.Name}}</a>{{end}}
</nav>
<main>
<h1 id="intro">{{.Title}}</h1>
<p>Version {{.Version}} · the description as JSON: <a href="/openapi.json">/openapi.json</a> · error codes: <a href="/problems">/problems</a></p>
{{.Description}}
<h2 id="security">Authentication</h2>
<table><tr><th>scheme</th><th>kind</th><th></th></tr>
{{range .Schemes}}<tr><td><code>{{.Name}}</code></td><td>{{.Kind}}</td><td>{{.Description}}</td></tr>{{end}}</table>
{{range .Tags}}<h2 id="tag-{{.Name}}">{{.Name}}</h2>{{.Description}}
{{range .Ops}}<section class="op" id="op-{{.ID}}">
<h3><span class="m {{.Method}}">{{.Method}}</span> {{if .Webhook}}to the subscriber's URL: webhook <code>{{.Path}}</code>{{else}}<code>{{.Path}}</code>{{end}} — {{.Summary}}</h3>
{{.Description}}
<p>Authentication: {{range $i, $s := .Security}}{{if $i}} or {{end}}<code>{{$s}}</code>{{else}}none{{end}}</p>
{{if .Params}}<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th></th></tr>
{{range .Params}}<tr><td><code>{{.Name}}</code>{{if .Required}} <span class="req">required</span>{{end}}</td><td>{{.In}}</td><td>{{html .Type}}</td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
{{with .Body}}<h4>Request body{{if .Required}} <span class="req">required</span>{{end}}</h4>
{{range .Media}}<p><code>{{.Type}}</code>: {{.Schema}}</p>{{if .Example}}<pre>{{.Example}}</pre>{{end}}{{end}}{{end}}
<h4>Responses</h4><table><tr><th>status</th><th></th></tr>
{{range .Responses}}<tr><td><strong>{{.Status}}</strong></td><td>{{.Description}}
{{range .Headers}}<p>Header <code>{{.Name}}</code> ({{html .Type}}){{.Description}}</p>{{end}}
{{range .Media}}<p><code>{{.Type}}</code>: {{.Schema}}</p>{{if .Example}}<pre>{{.Example}}</pre>{{end}}{{end}}</td></tr>{{end}}</table>
</section>{{end}}{{end}}
<h2 id="schemas">Schemas</h2>
{{range .Schemas}}<section id="schema-{{.Name}}"><h3>{{.Name}}</h3><p>{{.Type}}</p>{{.Description}}
{{if .Props}}<table><tr><th>field</th><th>type</th><th></th></tr>
{{range .Props}}<tr><td><code>{{.Name}}</code>{{if .Required}} <span class="req">required</span>{{end}}</td><td>{{html .Type}}</td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
</section>{{end}}
</main></body></html>
`))

func (s *Server) handleAPIDocs() echo.HandlerFunc {
	return func(c echo.Context) error {
		b, err := renderAPIDocs()
		if err != nil {
			return err
		}
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		return c.HTMLBlob(http.StatusOK, b)
	}
}

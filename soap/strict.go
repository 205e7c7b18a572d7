package soap

// Strict decoding of a request body into a generated request type.

import (
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"erpgate"
)

// DecodeStrict decodes the body element into v (a generated request type)
// and refuses what encoding/xml would silently accept: elements the schema
// does not declare (a misspelt <Discount> must not vanish), elements outside
// the service namespace, a single-valued element given twice (which one
// would win?), and integers that do not parse. Every finding is a problem
// with the element's path; they are reported together as one Invalid error.
func (req *Request) DecodeStrict(v any) error {
	sd := &strictDecoder{into: v, ns: req.Operation.Space}
	if err := req.Decode(sd); err != nil {
		return err
	}
	if len(sd.problems) > 0 {
		n := len(sd.problems) + sd.dropped
		if sd.dropped > 0 {
			sd.problems = append(sd.problems, erpgate.Problem{Message: strconv.Itoa(sd.dropped) + " more problems not listed"})
		}
		count := strconv.Itoa(n) + " problems"
		if n == 1 {
			count = "1 problem"
		}
		return &erpgate.Error{Code: erpgate.Invalid, Message: "the " + req.Operation.Local + " request does not match the schema: " + count, Problems: sd.problems}
	}
	return nil
}

// strictDecoder is an xml.Unmarshaler: Request.Decode hands it the body
// element with every namespace prefix already resolved. It checks the tokens
// against the shape of the generated type, keeps them, and decodes the
// generated value from that copy.
type strictDecoder struct {
	into     any
	ns       string // the service namespace: the operation element's (checked by the caller)
	problems []erpgate.Problem
	dropped  int
}

type strictFrame struct {
	t       reflect.Type // struct type of the element, nil for a leaf
	kind    reflect.Kind // leaf kind
	path    string
	seen    map[string]int
	text    []byte
	ignored bool // already reported; its content is not checked
}

func (sd *strictDecoder) problem(field, msg string) {
	if len(sd.problems) >= erpgate.MaxProblems-1 {
		sd.dropped++
		return
	}
	sd.problems = append(sd.problems, erpgate.Problem{Field: field, Message: msg})
}

// UnmarshalXML implements xml.Unmarshaler.
func (sd *strictDecoder) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	root := reflect.TypeOf(sd.into).Elem()
	toks := []xml.Token{start.Copy()}
	stack := []*strictFrame{{t: root, seen: map[string]int{}}}
	for len(stack) > 0 {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		tok = xml.CopyToken(tok)
		toks = append(toks, tok)
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, sd.child(top, t.Name))
		case xml.CharData:
			if top.t == nil && !top.ignored {
				top.text = append(top.text, t...)
			}
		case xml.EndElement:
			sd.checkLeaf(top)
			stack = stack[:len(stack)-1]
		}
	}
	if len(sd.problems) > 0 {
		return nil
	}
	return xml.NewTokenDecoder(&tokenReplay{toks: toks}).Decode(sd.into)
}

// child checks one child element of parent and returns its frame.
func (sd *strictDecoder) child(parent *strictFrame, name xml.Name) *strictFrame {
	if parent.ignored {
		return &strictFrame{ignored: true}
	}
	path := name.Local
	if parent.path != "" {
		path = parent.path + "/" + name.Local
	}
	if parent.t == nil {
		sd.problem(parent.path, "must not contain elements")
		parent.ignored = true
		return &strictFrame{ignored: true}
	}
	if name.Space != sd.ns {
		sd.problem(path, "element must be in namespace "+sd.ns)
		return &strictFrame{ignored: true}
	}
	f, ok := wireFields(parent.t)[name.Local]
	if !ok {
		sd.problem(path, "unknown element")
		return &strictFrame{ignored: true}
	}
	n := parent.seen[name.Local] + 1
	parent.seen[name.Local] = n
	if f.repeated {
		path += "[" + strconv.Itoa(n) + "]"
	} else if n > 1 {
		sd.problem(path, "must appear at most once")
		return &strictFrame{ignored: true}
	}
	if f.elem.Kind() == reflect.Struct {
		return &strictFrame{t: f.elem, path: path, seen: map[string]int{}}
	}
	return &strictFrame{kind: f.elem.Kind(), path: path}
}

// checkLeaf checks the text of an integer element. (Booleans and strings
// need no check here; amounts and dates are strings in the generated types
// and are checked when translated.)
func (sd *strictDecoder) checkLeaf(f *strictFrame) {
	if f.ignored || f.t != nil {
		return
	}
	switch f.kind {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s := strings.Trim(string(f.text), " \t\r\n")
		bits := map[reflect.Kind]int{reflect.Int8: 8, reflect.Int16: 16, reflect.Int32: 32}[f.kind]
		if bits == 0 {
			bits = 64
		}
		if _, err := strconv.ParseInt(s, 10, bits); err != nil {
			msg := "must be an integer"
			if errors.Is(err, strconv.ErrRange) {
				msg = "is out of range"
			}
			sd.problem(f.path, msg)
		}
	}
}

type wireField struct {
	elem     reflect.Type // element type with pointers and slices removed
	repeated bool
}

var wireFieldCache sync.Map // reflect.Type → map[string]wireField

// wireFields returns the child elements a generated struct type declares,
// by local name, from its xml tags.
func wireFields(t reflect.Type) map[string]wireField {
	if m, ok := wireFieldCache.Load(t); ok {
		return m.(map[string]wireField)
	}
	m := map[string]wireField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("xml"), ",")
		if f.Name == "XMLName" || name == "" || name == "-" || strings.Contains(opts, "attr") ||
			strings.Contains(opts, "chardata") || strings.Contains(opts, "innerxml") {
			continue
		}
		if _, local, ok := strings.Cut(name, " "); ok {
			name = local
		}
		ft, repeated := f.Type, false
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() != reflect.Uint8 {
			ft, repeated = ft.Elem(), true
		}
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		m[name] = wireField{elem: ft, repeated: repeated}
	}
	wireFieldCache.Store(t, m)
	return m
}

// tokenReplay is an xml.TokenReader over recorded tokens.
type tokenReplay struct{ toks []xml.Token }

func (r *tokenReplay) Token() (xml.Token, error) {
	if len(r.toks) == 0 {
		return nil, io.EOF
	}
	t := r.toks[0]
	r.toks = r.toks[1:]
	return t, nil
}

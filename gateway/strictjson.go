package gateway

// The strict rules every JSON body must pass besides encoding/json's.
//
// encoding/json is lenient where a gateway must not be: it replaces
// invalid UTF-8 (and lone surrogate escapes) with U+FFFD, lets the last of
// two equal keys win, and matches keys case-insensitively ("EXTERNAL_ID"
// fills external_id). Another parser of the same body — the shop's, an
// auditor's — may read it differently, so the gateway refuses all three
// before encoding/json decodes. The fast order decoder (decode.go) refuses
// them by giving up on any such body; FuzzStrictDecode holds both paths to
// a reference built on encoding/json's tokenizer.

import (
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"erpgate"
)

// checkStrictJSON returns an Invalid error when body breaks one of the
// strict rules while decoding into a value of type t: invalid UTF-8 in a
// string (raw bytes or a lone surrogate escape), a key given twice in one
// object, or a key that matches a field of t only when case is ignored.
// Syntax errors are not its business: it returns nil at the first one, and
// encoding/json reports it.
func checkStrictJSON(body []byte, t reflect.Type) error {
	s := strictScanner{b: body}
	err := s.value(t)
	if err == errStrictSyntax {
		return nil
	}
	return err
}

// errStrictSyntax stops the scan at a syntax error (left to encoding/json).
var errStrictSyntax = errors.New("syntax")

type strictScanner struct {
	b    []byte
	i    int
	path []string // the keys and [indexes] down to the current value
	buf  []byte   // scratch for keys with escapes
}

func (s *strictScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// field returns the path of the current value, e.g. "lines[2].unit_price".
func (s *strictScanner) field() string {
	var b strings.Builder
	for _, p := range s.path {
		if b.Len() > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	if b.Len() == 0 {
		return "(body)"
	}
	return b.String()
}

func (s *strictScanner) value(t reflect.Type) error {
	t = strictType(t)
	s.space()
	if s.i >= len(s.b) {
		return errStrictSyntax
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(t)
	case c == '[':
		return s.array(t)
	case c == '"':
		_, err := s.str(false)
		return err
	default:
		// Numbers and literals: skip their characters; encoding/json
		// judges their form.
		start := s.i
		for s.i < len(s.b) && (s.b[s.i] >= 'a' && s.b[s.i] <= 'z' || s.b[s.i] >= '0' && s.b[s.i] <= '9' ||
			s.b[s.i] == '-' || s.b[s.i] == '+' || s.b[s.i] == '.' || s.b[s.i] == 'E') {
			s.i++
		}
		if s.i == start {
			return errStrictSyntax
		}
		return nil
	}
}

func (s *strictScanner) object(t reflect.Type) error {
	s.i++ // '{'
	var fields *strictFields
	var elem reflect.Type
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = fieldsOf(t)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	var seen []string
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return errStrictSyntax
		}
		key, err := s.str(true)
		if err != nil {
			return err
		}
		for _, k := range seen {
			if k == key {
				s.path = append(s.path, key)
				return &erpgate.Error{Code: erpgate.Invalid, Message: "the JSON body has a duplicate key",
					Problems: []erpgate.Problem{{Field: s.field(), Message: "given twice in one object: send each key once"}}}
			}
		}
		seen = append(seen, key)
		vt := elem
		if fields != nil {
			ft, ok := fields.exact[key]
			if !ok {
				if name, folded := fields.fold(key); folded {
					s.path = append(s.path, key)
					return &erpgate.Error{Code: erpgate.Invalid, Message: "the JSON body has a key in the wrong case",
						Problems: []erpgate.Problem{{Field: s.field(),
							Message: "keys are case-sensitive: this field is spelled " + strconv.Quote(name)}}}
				}
			}
			vt = ft // nil for an unknown field: encoding/json refuses it
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return errStrictSyntax
		}
		s.i++
		s.path = append(s.path, key)
		if err := s.value(vt); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		if done, err := s.more('}'); done || err != nil {
			return err
		}
	}
}

// more reads what follows a member or element: a comma (more to come) or
// the closing bracket (done).
func (s *strictScanner) more(closing byte) (done bool, err error) {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != ',' && s.b[s.i] != closing {
		return false, errStrictSyntax
	}
	s.i++
	return s.b[s.i-1] == closing, nil
}

func (s *strictScanner) array(t reflect.Type) error {
	s.i++ // '['
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for n := 0; ; n++ {
		s.path = append(s.path, "["+strconv.Itoa(n)+"]")
		if err := s.value(elem); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		if done, err := s.more(']'); done || err != nil {
			return err
		}
	}
}

// str reads a string token; with decode it returns its content (for keys).
func (s *strictScanner) str(decode bool) (string, error) {
	s.i++ // '"'
	start := s.i
	s.buf = s.buf[:0]
	escaped := false
	invalid := func() error {
		return &erpgate.Error{Code: erpgate.Invalid, Message: "the JSON body is not valid UTF-8",
			Problems: []erpgate.Problem{{Field: s.field(), Message: "not valid UTF-8 (or a lone UTF-16 surrogate escape): send text as UTF-8"}}}
	}
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw := s.b[start:s.i]
			s.i++
			if !decode {
				return "", nil
			}
			if !escaped {
				return string(raw), nil
			}
			return string(s.buf), nil
		case c < 0x20:
			return "", errStrictSyntax
		case c == '\\':
			if !escaped {
				s.buf = append(s.buf, s.b[start:s.i]...)
				escaped = true
			}
			if s.i+1 >= len(s.b) {
				return "", errStrictSyntax
			}
			e := s.b[s.i+1]
			s.i += 2
			switch e {
			case '"', '\\', '/':
				s.buf = append(s.buf, e)
			case 'b':
				s.buf = append(s.buf, '\b')
			case 'f':
				s.buf = append(s.buf, '\f')
			case 'n':
				s.buf = append(s.buf, '\n')
			case 'r':
				s.buf = append(s.buf, '\r')
			case 't':
				s.buf = append(s.buf, '\t')
			case 'u':
				r, ok := s.hex4()
				if !ok {
					return "", errStrictSyntax
				}
				if utf16.IsSurrogate(r) {
					// Only a high surrogate followed by an escaped low one
					// is a character; encoding/json turns the rest into
					// U+FFFD.
					r2 := rune(-1)
					if r < 0xDC00 && s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
						s.i += 2
						var ok bool
						if r2, ok = s.hex4(); !ok {
							return "", errStrictSyntax
						}
					}
					if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
						return "", invalid()
					}
				}
				s.buf = utf8.AppendRune(s.buf, r)
			default:
				return "", errStrictSyntax
			}
			continue
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && size == 1 {
				return "", invalid()
			}
			if escaped {
				s.buf = append(s.buf, s.b[s.i:s.i+size]...)
			}
			s.i += size
			continue
		}
		if escaped {
			s.buf = append(s.buf, c)
		}
		s.i++
	}
	return "", errStrictSyntax
}

// hex4 reads the four hex digits of a \u escape.
func (s *strictScanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	s.i += 4
	return r, true
}

// strictType is the type whose keys a JSON value fills: pointers followed,
// nil for a type that decodes itself (its keys are its own business) or
// for an interface (any key goes; duplicates are still refused).
func strictType(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface {
		return nil
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(reflect.TypeFor[json.Unmarshaler]()) || pt.Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return nil
	}
	return t
}

// strictFields are the JSON keys of a struct type, as encoding/json names
// them (tag name or field name; "-" skipped; untagged embedded structs
// promoted).
type strictFields struct {
	exact map[string]reflect.Type
}

// fold returns the field key matches when case is ignored.
func (f *strictFields) fold(key string) (string, bool) {
	for name := range f.exact {
		if strings.EqualFold(name, key) {
			return name, true
		}
	}
	return "", false
}

var strictFieldCache sync.Map // reflect.Type → *strictFields

func fieldsOf(t reflect.Type) *strictFields {
	if f, ok := strictFieldCache.Load(t); ok {
		return f.(*strictFields)
	}
	f := &strictFields{exact: map[string]reflect.Type{}}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if sf.Anonymous && name == "" {
				et := sf.Type
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					walk(et)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if _, dup := f.exact[name]; !dup {
				f.exact[name] = sf.Type
			}
		}
	}
	walk(t)
	strictFieldCache.Store(t, f)
	return f
}

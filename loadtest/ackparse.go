package loadtest

import (
	"bytes"
	"encoding/json"
)

// restAck is what an order acknowledgement (202, or 200 for a replay) says.
// The fields alias the response buffer until copied.
type restAck struct {
	id, externalID, token []byte
}

// parseRESTAck reads {"id":…,"external_id":…,"tracking":{"token":…},…}.
// The common case — a well-formed object whose strings need no unescaping —
// is scanned in place without allocating; anything else (escapes, non-ASCII,
// a malformed body) goes to encoding/json, so the verdict is always
// encoding/json's.
func parseRESTAck(data []byte) (restAck, bool) {
	if a, ok := scanRESTAck(data); ok {
		return a, true
	}
	var v struct {
		ID         string `json:"id"`
		ExternalID string `json:"external_id"`
		Tracking   struct {
			Token string `json:"token"`
		} `json:"tracking"`
	}
	if json.Unmarshal(data, &v) != nil {
		return restAck{}, false
	}
	return restAck{id: []byte(v.ID), externalID: []byte(v.ExternalID), token: []byte(v.Tracking.Token)}, true
}

// jscan is a strict scanner over one JSON text that gives up (ok false) on
// anything it would have to unescape or decode.
type jscan struct {
	b []byte
	i int
}

func (s *jscan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jscan) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str reads a string made of printable ASCII without escapes.
func (s *jscan) str() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		switch {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

// value skips one value; depth bounds nesting.
func (s *jscan) value(depth int) bool {
	if depth > 32 {
		return false
	}
	s.ws()
	switch c := s.peek(); {
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '{':
		return s.object(depth, nil)
	case c == '[':
		s.i++
		s.ws()
		if s.peek() == ']' {
			s.i++
			return true
		}
		for {
			if !s.value(depth + 1) {
				return false
			}
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return true
			default:
				return false
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
				s.i += len(lit)
				return true
			}
		}
		return false
	}
}

// number skips a JSON number (RFC 8259 grammar).
func (s *jscan) number() bool {
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.peek() == '-' {
		s.i++
	}
	if s.peek() == '0' {
		s.i++
	} else if digits() == 0 {
		return false
	}
	if s.peek() == '.' {
		s.i++
		if digits() == 0 {
			return false
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// object reads an object, calling field for each member; field reads the
// value itself and reports success. A nil field skips every value.
func (s *jscan) object(depth int, field func(key []byte) bool) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	s.ws()
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		s.ws()
		key, ok := s.str()
		if !ok {
			return false
		}
		s.ws()
		if s.peek() != ':' {
			return false
		}
		s.i++
		s.ws()
		if field != nil {
			ok = field(key)
		} else {
			ok = s.value(depth + 1)
		}
		if !ok {
			return false
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

func scanRESTAck(data []byte) (restAck, bool) {
	s := jscan{b: data}
	var a restAck
	s.ws()
	ok := s.object(0, func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "id":
			a.id, ok = s.str()
		case "external_id":
			a.externalID, ok = s.str()
		case "tracking":
			if s.peek() != '{' {
				return false // null, or a type error: encoding/json decides
			}
			a.token = nil
			ok = s.object(1, func(key []byte) bool {
				if string(key) == "token" {
					var ok bool
					a.token, ok = s.str()
					return ok
				}
				return s.value(2)
			})
		default:
			ok = s.value(1)
		}
		return ok
	})
	if !ok {
		return restAck{}, false
	}
	s.ws()
	return a, s.i == len(s.b)
}

// scanSOAPID is the fast path of parseSOAPResponse for the common answer:
// no fault anywhere, and the first element with one of the names holds
// plain text (no entities, no nested markup). ok is false when the slow
// parser must decide.
func scanSOAPID(body []byte, idElements []string) (string, bool) {
	if bytes.Contains(body, []byte("Fault")) || bytes.Contains(body, []byte("<!")) {
		return "", false
	}
	best, bestAt := "", -1
	for _, name := range idElements {
		at, text, ok := findElementText(body, name)
		if !ok {
			return "", false
		}
		if at >= 0 && (bestAt < 0 || at < bestAt) {
			best, bestAt = text, at
		}
	}
	if bestAt < 0 {
		return "", false
	}
	return best, true
}

// findElementText finds the first start tag <name> or <prefix:name> (no
// attributes) and returns its position and the text up to the next '<',
// which must be the matching end tag. at is -1 when there is no such tag;
// ok is false when the tag is there but is not simple.
func findElementText(body []byte, name string) (at int, text string, ok bool) {
	for off := 0; ; {
		i := bytes.IndexByte(body[off:], '<')
		if i < 0 {
			return -1, "", true
		}
		i += off
		j := bytes.IndexByte(body[i:], '>')
		if j < 0 {
			return -1, "", true
		}
		tag := body[i+1 : i+j]
		off = i + 1
		if len(tag) == 0 || tag[0] == '/' || tag[0] == '?' {
			continue
		}
		qname := tag
		if k := bytes.IndexAny(tag, " \t\r\n/"); k >= 0 {
			qname = tag[:k]
		}
		local := qname
		if k := bytes.IndexByte(qname, ':'); k >= 0 {
			local = qname[k+1:]
		}
		if string(local) != name {
			continue
		}
		if len(qname) != len(tag) {
			return i, "", false // attributes or self-closing: let the decoder decide
		}
		rest := body[i+j+1:]
		end := bytes.IndexByte(rest, '<')
		if end < 0 || bytes.IndexByte(rest[:end], '&') >= 0 {
			return i, "", false
		}
		closing := append(append([]byte("</"), tag...), '>')
		if !bytes.HasPrefix(rest[end:], closing) {
			return i, "", false
		}
		return i, string(bytes.TrimSpace(rest[:end])), true
	}
}

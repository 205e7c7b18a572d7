package erpsim

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"regexp"
	"strings"
)

// addressLocation matches the location attribute of a WSDL soap:address (SOAP
// 1.1 or 1.2 binding, whatever the prefix).
var addressLocation = regexp.MustCompile(`(<(?:[A-Za-z_][\w.-]*:)?address\s+location=")[^"]*(")`)

// handleWSDL serves GET <path>?wsdl: the version's WSDL with soap:address
// pointing at the host the client used, so a client generated from it
// talks to this simulator wherever it listens.
func (s *Sim) handleWSDL(v *version) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !wantsWSDL(r) {
			w.Header().Set("Allow", "POST")
			http.Error(w, "POST SOAP requests to this endpoint; its WSDL is at ?wsdl", http.StatusMethodNotAllowed)
			return
		}
		if s.faults.get(v.name).Down {
			s.refuseDown(w)
			return
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = w.Write(rewriteLocation(v.wsdl, scheme+"://"+r.Host+v.path))
	}
}

// wantsWSDL reports whether the query asks for the WSDL (?wsdl, ?WSDL).
func wantsWSDL(r *http.Request) bool {
	for k := range r.URL.Query() {
		if strings.EqualFold(k, "wsdl") {
			return true
		}
	}
	return false
}

// rewriteLocation returns wsdl with every soap:address location set to loc.
func rewriteLocation(wsdl []byte, loc string) []byte {
	var esc bytes.Buffer
	_ = xml.EscapeText(&esc, []byte(loc))
	repl := bytes.ReplaceAll(esc.Bytes(), []byte("$"), []byte("$$"))
	return addressLocation.ReplaceAll(wsdl, append(append([]byte("${1}"), repl...), "${2}"...))
}

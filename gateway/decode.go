package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"erpgate"
)

// MaxBodyBytes is the largest request body any JSON endpoint reads.
const MaxBodyBytes = 1 << 20

// decodeJSON reads one JSON object from the request into v: content type
// application/json, at most MaxBodyBytes (413 beyond), unknown fields and
// trailing data rejected, syntax and type errors reported with their place.
func decodeJSON(c echo.Context, v any) error {
	req := c.Request()
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return erpgate.Errorf(erpgate.UnsupportedMedia, "send the body as application/json")
		}
	}
	if req.ContentLength > MaxBodyBytes {
		return erpgate.Errorf(erpgate.TooLarge, "request body is larger than %d bytes", MaxBodyBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return erpgate.Errorf(erpgate.TooLarge, "request body is larger than %d bytes", MaxBodyBytes)
		}
		return erpgate.Wrap(erpgate.Invalid, err, "could not read the request body")
	}
	return unmarshalStrict(body, v)
}

func unmarshalStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(body, err)
	}
	if dec.More() {
		return erpgate.Errorf(erpgate.Invalid, "the body must hold exactly one JSON object")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return erpgate.Errorf(erpgate.Invalid, "the body must hold exactly one JSON object")
	}
	return nil
}

func jsonError(body []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return erpgate.Errorf(erpgate.Invalid, "the request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return erpgate.Errorf(erpgate.Invalid, "the JSON body is truncated")
	case errors.As(err, &syn):
		return erpgate.Errorf(erpgate.Invalid, "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return &erpgate.Error{Code: erpgate.Invalid, Message: "a field has the wrong JSON type", Err: err,
			Problems: []erpgate.Problem{{Field: field, Message: fmt.Sprintf("must be a JSON %s", jsonKind(typ.Type.Kind().String()))}}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &erpgate.Error{Code: erpgate.Invalid, Message: "the body has a field this API does not know", Err: err,
			Problems: []erpgate.Problem{{Field: name, Message: "unknown field"}}}
	default:
		// Errors from UnmarshalJSON methods (e.g. a decimal sent as a number).
		return &erpgate.Error{Code: erpgate.Invalid, Message: "invalid JSON value: " + strings.TrimPrefix(err.Error(), "json: "), Err: err}
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "float32", "float64":
		return "number"
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	case "bool":
		return "boolean"
	}
	return goKind
}

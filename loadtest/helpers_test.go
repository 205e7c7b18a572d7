package loadtest_test

import (
	"encoding/json"
	"io"
	"net/http"
)

func decodeJSON(r *http.Request, v any) error {
	return json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v)
}

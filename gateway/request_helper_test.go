package gateway

import (
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
)

// sendRequest sends one request to base+path with client: token as a
// Bearer key, body (if any) as JSON, hdr as pairs of header name and value.
// It returns the status, the headers and the body, gunzipped when the
// answer was compressed.
func sendRequest(t *testing.T, client *http.Client, base, method, path, token, body string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rdr := io.Reader(resp.Body)
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		rdr = zr
	}
	b, err := io.ReadAll(rdr)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

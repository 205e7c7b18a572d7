package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"erpgate/loadtest"
)

// TestRunSSEMode: --sse through run() against a minimal fake gateway that
// streams one live event per order.
func TestRunSSEMode(t *testing.T) {
	t.Parallel()
	var seq atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/orders":
			io.Copy(io.Discard, r.Body)
			n := seq.Add(1)
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, `{"id":"ord_%d","tracking":{"token":"t%d"}}`, n, n)
		case strings.HasSuffix(r.URL.Path, "/events"):
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			time.Sleep(10 * time.Millisecond)
			fmt.Fprintf(w, "id: 1-0\ndata: {\"time\":%q}\n\n", time.Now().Format(time.RFC3339Nano))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case r.URL.Path == "/metrics":
			fmt.Fprintln(w, "process_resident_memory_bytes 1e+06")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"loadtest", "--target", srv.URL, "--sse", "6", "--sse-per-order", "2",
		"--sse-open-rate", "500", "--sse-hold", "200ms", "--json", "--quiet"}, func(string) string { return "" }, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	var res loadtest.SSEResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout.String())
	}
	if res.Streams != 6 || res.Orders != 3 || res.Opened != 6 || res.Events != 6 || res.RSSPeak != 1e6 {
		t.Errorf("streams %d orders %d opened %d events %d rss %d; want 6, 3, 6, 6, 1000000",
			res.Streams, res.Orders, res.Opened, res.Events, res.RSSPeak)
	}
	if !strings.Contains(stderr.String(), "fan-out") {
		t.Errorf("no text table on stderr with --json:\n%s", stderr.String())
	}

	// A bad SSE setting is a usage error (exit status 2).
	err = run(context.Background(), []string{"loadtest", "--target", srv.URL, "--sse", "2", "--sse-per-order", "5"},
		func(string) string { return "" }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("--sse 2 --sse-per-order 5: error %v, want a usage error", err)
	}
}

package erpsim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLatencyDelaysSOAPCallsOnly(t *testing.T) {
	s := New(Config{Faults: Faults{LatencyMS: 250}})
	var (
		mu    sync.Mutex
		slept []time.Duration
	)
	s.sleep = func(_ context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		slept = append(slept, d)
		return nil
	}
	srv := httptest.NewServer(s)
	defer srv.Close()

	res, err := http.Post(srv.URL+"/erp/v2", "text/xml", strings.NewReader("<not-soap/>"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res, err = http.Get(srv.URL + "/sim/orders"); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	mu.Lock()
	defer mu.Unlock()
	if len(slept) != 1 || slept[0] != 250*time.Millisecond {
		t.Errorf("slept %v, want [250ms] (once, for the SOAP call only)", slept)
	}
}

func TestLatencyGivesUpWithTheCaller(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := sleepCtx(ctx, time.Hour); err == nil {
		t.Error("sleepCtx on a cancelled context = nil, want the context error")
	}
}

func TestRewriteLocation(t *testing.T) {
	in := []byte(`<wsdl:port name="p"><soap:address location="http://127.0.0.1:8090/erp/v2"/></wsdl:port><soap12:address  location="x"/>`)
	got := string(rewriteLocation(in, `http://h:1/erp/v2?a="b"&$1`))
	want := `<wsdl:port name="p"><soap:address location="http://h:1/erp/v2?a=&#34;b&#34;&amp;$1"/></wsdl:port><soap12:address  location="http://h:1/erp/v2?a=&#34;b&#34;&amp;$1"/>`
	if got != want {
		t.Errorf("rewriteLocation =\n%s\nwant\n%s", got, want)
	}
}

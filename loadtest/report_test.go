package loadtest_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"erpgate/loadtest"
	"erpgate/loadtest/loadtesttest"
)

func sampleResult(t *testing.T) *loadtest.Result {
	t.Helper()
	srv := httptest.NewServer(&loadtesttest.Gateway{ERP: loadtesttest.NewERP()})
	defer srv.Close()
	sch, err := loadtest.ParseSteps("50:600ms,100:600ms")
	if err != nil {
		t.Fatal(err)
	}
	res, err := loadtest.Run(context.Background(), loadtest.Config{MaxInflight: 64, Target: srv.URL, Schedule: sch, Mix: loadtest.Mix{loadtest.OpREST: 3, loadtest.OpSupplier: 1}, RunID: "lt-<report>"})
	if err != nil {
		t.Fatal(err)
	}
	res.Errors["http_404"] += 3 // something to show
	res.Verification = &loadtest.Verification{Versions: []string{"v2"}, Acked: 7, Lost: 1, LostExamples: []string{"v2/ord_<1>"}, Failed: true, Reason: "1 lost"}
	return res
}

func TestWriteHTMLIsSelfContained(t *testing.T) {
	t.Parallel()
	res := sampleResult(t)
	var buf bytes.Buffer
	if err := loadtest.WriteHTML(&buf, res); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	// Nothing may be fetched: no src/href attributes, no @import, no url().
	if m := regexp.MustCompile(`(?i)\s(src|href)=|@import|url\(`).FindString(page); m != "" {
		t.Errorf("report references an external resource: %q", m)
	}
	for _, want := range []string{"<svg", "<polyline", "Throughput per second", "Latency percentiles", "FAIL: 1 lost", "By step"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(page, "lt-<report>") || strings.Contains(page, "ord_<1>") {
		t.Error("report does not escape text from the run")
	}
	// Each SVG must be well-formed XML.
	for _, svg := range regexp.MustCompile(`(?s)<svg.*?</svg>`).FindAllString(page, -1) {
		dec := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := dec.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Fatalf("SVG is not well-formed: %v", err)
				}
				break
			}
		}
	}
	if n := strings.Count(page, "<polyline"); n != 7 {
		t.Errorf("%d lines in the charts, want 3 throughput + 4 latency", n)
	}
}

func TestWriteText(t *testing.T) {
	t.Parallel()
	res := sampleResult(t)
	var buf bytes.Buffer
	if err := loadtest.WriteText(&buf, res); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"p99.9", "rest", "supplier", "all", "http_404=3", "step", "FAIL: 1 lost", "lost e.g.: v2/ord_<1>"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}

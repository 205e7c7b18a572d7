package loadtest

import (
	"strings"
	"testing"
	"time"
)

func TestReadSSEEvents(t *testing.T) {
	t1 := time.Date(2026, 3, 2, 9, 0, 0, 123000000, time.UTC)
	long := strings.Repeat("x", 3*sseReadBuffer)
	stream := "retry: 2000\r\n\r\n" +
		": ping\n\n" +
		"id: 1-0\nevent: accepted\ndata: {\"time\":\"2026-03-02T09:00:00.123Z\",\"type\":\"accepted\"}\n\n" +
		"id: 2-0\ndata: {\"summary\":\"" + long + "\",\n" + "data: \"time\":\"2026-03-02T09:00:00.123Z\"}\n\n" +
		"event: x\ndata: not json\n\n" +
		"data:\n\n" +
		"id: 3-0\n\n" // no data: not an event
	var got []time.Time
	var received []time.Time
	err := readSSEEvents(strings.NewReader(stream), func(at, rec time.Time) {
		got = append(got, at)
		received = append(received, rec)
	})
	if err == nil || err.Error() != "EOF" {
		t.Errorf("error %v, want EOF at the end of the stream", err)
	}
	if len(got) != 4 {
		t.Fatalf("%d events, want 4 (two timed, one without JSON, one empty)", len(got))
	}
	if !got[0].Equal(t1) || !got[1].Equal(t1) {
		t.Errorf("event times %v, %v; want %v (also across a multi-line, long data field)", got[0], got[1], t1)
	}
	// Without a time in the data the event counts as received when read.
	if !got[2].Equal(received[2]) || !got[3].Equal(received[3]) {
		t.Errorf("untimed events: at %v / %v, received %v / %v; want equal", got[2], got[3], received[2], received[3])
	}
}

func TestParseMetrics(t *testing.T) {
	text := "# HELP a b\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1.5e+08\n" +
		"erpgate_tracking_streams_active 10000\nerpgate_tracking_streams_active_other 3\nx{a=\"b\"} 1\n\nbad\n"
	m := parseMetrics(strings.NewReader(text), "process_resident_memory_bytes", "erpgate_tracking_streams_active", "missing")
	if m["process_resident_memory_bytes"] != 1.5e8 || m["erpgate_tracking_streams_active"] != 10000 || len(m) != 2 {
		t.Errorf("parseMetrics = %v", m)
	}
}

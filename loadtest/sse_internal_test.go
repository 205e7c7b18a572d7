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
		"id: 1772442000456-0\nevent: accepted\ndata: {\"time\":\"2026-03-02T09:00:00.123Z\",\"type\":\"accepted\"}\n\n" +
		"id: 2-0\ndata: {\"summary\":\"" + long + "\",\n" + "data: \"time\":\"2026-03-02T09:00:00.123Z\"}\n\n" +
		"event: x\ndata: not json\n\n" +
		"data:\n\n" +
		"id: 3-0\n\n" // no data: not an event
	var got, recorded, received []time.Time
	err := readSSEEvents(strings.NewReader(stream), func(recd, at, rec time.Time) {
		got = append(got, at)
		recorded = append(recorded, recd)
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
	// The first event's id is a Redis entry id: recorded at its milliseconds
	// (2026-03-02T09:00:00.456Z); the second's ("2-0") is one too, the
	// others have none and count as recorded when they happened.
	if want := time.UnixMilli(1772442000456); !recorded[0].Equal(want) {
		t.Errorf("recorded %v, want %v (the id's milliseconds)", recorded[0], want)
	}
	if want := time.UnixMilli(2); !recorded[1].Equal(want) {
		t.Errorf("recorded %v, want %v", recorded[1], want)
	}
	if !recorded[2].Equal(got[2]) || !recorded[3].Equal(got[3]) {
		t.Errorf("events without id: recorded %v / %v, want their times %v / %v", recorded[2], recorded[3], got[2], got[3])
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

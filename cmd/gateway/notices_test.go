package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"erpgate/notice"
)

// TestNoticeLeadTimeFlag: --notice-lead-time defaults to the package's lead
// time, takes a duration, and refuses nonsense.
func TestNoticeLeadTimeFlag(t *testing.T) {
	env := func(string) string { return "" }
	o, err := parseFlags([]string{"gateway"}, env, io.Discard)
	if err != nil || o.noticeLeadTime != notice.DefaultLeadTime {
		t.Fatalf("default = %v, %v; want %v", o.noticeLeadTime, err, notice.DefaultLeadTime)
	}
	if o, err = parseFlags([]string{"gateway", "--notice-lead-time", "6h"}, env, io.Discard); err != nil || o.noticeLeadTime != 6*time.Hour {
		t.Errorf("6h = %v, %v", o.noticeLeadTime, err)
	}
	for _, bad := range []string{"0s", "-1h", "9000h"} {
		if _, err := parseFlags([]string{"gateway", "--notice-lead-time", bad}, env, io.Discard); err == nil ||
			!strings.Contains(err.Error(), "--notice-lead-time") {
			t.Errorf("%s = %v, want refused", bad, err)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// runDeadLettersCLI runs `gateway deadletters ...` through run().
func runDeadLettersCLI(t *testing.T, gw string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	full := append([]string{"gateway", "deadletters", "--url", gw, "--actor", "ann"}, args...)
	if err := run(context.Background(), full, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("deadletters %v: %v\n%s", args, err, errOut.String())
	}
	return out.String()
}

type outboxSummary struct {
	Targets []struct {
		Target      string `json:"target"`
		Pending     int64  `json:"pending"`
		Undelivered int64  `json:"undelivered"`
		DeadLetters int64  `json:"dead_letters"`
	} `json:"targets"`
	DeadLetters int64 `json:"dead_letters"`
}

func waitFor(t *testing.T, what string, ok func() bool, show ...func() string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			var more []string
			for _, f := range show {
				more = append(more, f())
			}
			t.Fatalf("%s: not within 60s\n%s", what, strings.Join(more, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDeadLettersReplayIsIdempotent: v2 creates three orders but its answers
// are lost, so they are dead-lettered for v2 while the ERP holds them. Once
// v2 answers again, one dead letter is replayed into v2 and one into v1
// (both ERPs hold those orders already), the third is discarded — through
// the CLI over the admin API. Each ERP still holds each order exactly once,
// the replayed order reads back as created by v2, and the actions are
// recorded with who did them.
func TestDeadLettersReplayIsIdempotent(t *testing.T) {
	gw, logs, _ := startRun(t, "--erp-max-deliveries", "1", "--erp-backoff-max", "50ms")
	sim := logs.wait(t, "EMBEDDED ERP SIMULATOR")
	putJSON(t, sim+"/sim/faults?version=v2", `{"lost_reply_rate":1}`)

	var ids []string
	for i := range 3 {
		resp, body := post(t, gw+"/v1/orders", "demo-shop-key", orderBody(fmt.Sprintf("DL-%d", i)))
		if resp.StatusCode != 202 {
			t.Fatalf("order %d: %d %v", i, resp.StatusCode, body)
		}
		ids = append(ids, body["id"].(string))
	}
	var sum outboxSummary
	waitFor(t, "three v2 dead letters", func() bool {
		return adminCall(t, "GET", gw+"/admin/outbox", "", &sum) == 200 && sum.DeadLetters == 3
	}, func() string { return fmt.Sprintf("%+v\n%s", sum, strings.Join(logs.lines, "\n")) })
	waitDelivered(t, sim, ids, "v1", "v2") // v2 holds them: only its answers were lost
	putJSON(t, sim+"/sim/faults?version=v2", `{"lost_reply_rate":0}`)

	list := runDeadLettersCLI(t, gw, "list")
	if !strings.Contains(list, "3 dead letter(s)") {
		t.Fatalf("list:\n%s", list)
	}
	deadID := map[string]string{} // order id → dead-letter id
	for _, line := range strings.Split(list, "\n") {
		for _, id := range ids {
			if strings.Contains(line, id) && strings.Contains(line, " v2 gave up") {
				deadID[id] = strings.Fields(line)[0]
			}
		}
	}
	if len(deadID) != 3 {
		t.Fatalf("dead letters by order %v from:\n%s", deadID, list)
	}
	if show := runDeadLettersCLI(t, gw, "show", deadID[ids[0]]); !strings.Contains(show, `"order_id": "`+ids[0]+`"`) {
		t.Errorf("show:\n%s", show)
	}
	var o orderView
	getJSON(t, gw+"/v1/orders/"+ids[0], "demo-shop-key", &o)
	if o.ERP["v2"].State != "dead" {
		t.Fatalf("order %s v2 state %q before replay, want dead", ids[0], o.ERP["v2"].State)
	}

	out := runDeadLettersCLI(t, gw, "replay", deadID[ids[0]], "--reason", "v2 answers again")
	if !strings.Contains(out, "replayed: order.create "+ids[0]+" into v2") {
		t.Errorf("replay into v2:\n%s", out)
	}
	out = runDeadLettersCLI(t, gw, "replay", deadID[ids[1]], "--target", "v1")
	if !strings.Contains(out, "into v1") {
		t.Errorf("replay into v1:\n%s", out)
	}
	out = runDeadLettersCLI(t, gw, "discard", deadID[ids[2]], "--reason", "test order")
	if !strings.Contains(out, "discarded: order.create "+ids[2]) {
		t.Errorf("discard:\n%s", out)
	}
	waitFor(t, "replay of "+ids[0]+" into v2", func() bool {
		getJSON(t, gw+"/v1/orders/"+ids[0], "demo-shop-key", &o)
		return o.ERP["v2"].State == "created"
	})
	waitFor(t, "the outbox drained", func() bool {
		if adminCall(t, "GET", gw+"/admin/outbox", "", &sum) != 200 || sum.DeadLetters != 0 {
			return false
		}
		for _, tg := range sum.Targets {
			if tg.Pending != 0 || tg.Undelivered != 0 {
				return false
			}
		}
		return true
	})
	waitDelivered(t, sim, ids, "v1", "v2") // still exactly once each
	if got := runDeadLettersCLI(t, gw, "list"); !strings.Contains(got, "0 dead letter(s)") {
		t.Errorf("list after:\n%s", got)
	}
	actions := runDeadLettersCLI(t, gw, "actions")
	lines := strings.Split(strings.TrimSpace(actions), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "discard "+ids[2]+" by demo-admin/ann: test order") ||
		!strings.Contains(lines[1], "replay  "+ids[1]+" by demo-admin/ann into v1") ||
		!strings.Contains(lines[2], "replay  "+ids[0]+" by demo-admin/ann into v2: v2 answers again") {
		t.Errorf("actions:\n%s", actions)
	}

	// Refusals: a dead letter that is gone, a malformed id.
	var p map[string]any
	if code := adminCall(t, "POST", gw+"/admin/outbox/dead-letters/"+deadID[ids[0]]+"/replay", `{"target":"v1"}`, &p); code != 404 {
		t.Errorf("replay of a replayed dead letter = %d %v, want 404", code, p)
	}
	if code := adminCall(t, "GET", gw+"/admin/outbox/dead-letters/x", "", &p); code != 404 {
		t.Errorf("GET unknown dead letter = %d, want 404", code)
	}
}

func TestDeadLettersCLIUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "a command is required"},
		{[]string{"resurrect"}, `unknown command "resurrect"`},
		{[]string{"show"}, "deadletters show: got 0 arguments, want 1"},
		{[]string{"list", "x"}, "deadletters list: got 1 arguments, want 0"},
		{[]string{"discard", "1-0", "--target", "v1"}, "--target belongs to replay"},
		{[]string{"replay", "1-0", "--webhooks", "--target", "v1"}, "--target belongs to replay of outbox dead letters"},
		{[]string{"summary", "--webhooks"}, "summary is the outbox's"},
		{[]string{"list", "--url", "ftp://x"}, "is not an http(s) URL"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"gateway", "deadletters"}, c.args...), func(string) string { return "" }, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("deadletters %v: error %v, want %q", c.args, err, c.want)
		}
	}
}

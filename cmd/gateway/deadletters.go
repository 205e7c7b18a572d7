package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"erpgate/store"
	"erpgate/tracking"
)

const deadLettersUsage = `usage: gateway deadletters [flags] <command> [args]

Commands (over the admin API of a running gateway; --webhooks for webhook
dead letters instead of the ERP outbox's):
  summary                  per target: pending, undelivered, oldest age, dead letters
  list [--limit N]         dead letters (outbox: oldest first; webhooks: newest first)
  show ID                  one dead letter
  replay ID [--target T]   outbox: back on the outbox for T (default: the target that
                           gave up; "v1" or "v2"). Webhooks: POST the event again now
  discard ID               drop it for good
  actions [--limit N]      who replayed or discarded what, newest first

Every replay and discard is recorded with --actor and --reason.

Flags (before or after the command):
`

// deadLettersCLI is one invocation of the deadletters command.
type deadLettersCLI struct {
	adminClient
	webhooks bool
	target   string
	reason   string
	limit    int
}

// runDeadLetters is the dead-letter CLI: `gateway deadletters
// summary|list|show ID|replay ID|discard ID|actions [--webhooks]`.
func runDeadLetters(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cli := &deadLettersCLI{adminClient: adminClient{name: "deadletters", stdout: stdout, stderr: stderr}}
	fs := flag.NewFlagSet("deadletters", flag.ContinueOnError)
	fs.BoolVar(&cli.webhooks, "webhooks", false, "act on webhook dead letters instead of the ERP outbox's")
	fs.StringVar(&cli.target, "target", "", "replay: the ERP target to deliver to (v1, v2); default the one that gave up")
	fs.StringVar(&cli.reason, "reason", "", "replay, discard: why; recorded with the action")
	fs.IntVar(&cli.limit, "limit", 50, "list, actions: how many")
	pos, err := cli.parse(fs, deadLettersUsage, args, getenv)
	if err != nil || pos == nil {
		return err
	}
	cmd, cmdArgs, err := cli.command(fs, pos, map[string]int{"summary": 0, "list": 0, "show": 1, "replay": 1, "discard": 1, "actions": 0})
	if err != nil {
		return err
	}
	if cli.target != "" && (cmd != "replay" || cli.webhooks) {
		return fmt.Errorf("deadletters: --target belongs to replay of outbox dead letters")
	}
	if cli.webhooks && cmd == "summary" {
		return fmt.Errorf("deadletters: summary is the outbox's; use list --webhooks")
	}
	base := "/admin/outbox/dead-letters"
	if cli.webhooks {
		base = "/admin/webhooks/dead-letters"
	}
	switch cmd {
	case "summary":
		return cli.summary(ctx)
	case "list":
		return cli.list(ctx, base)
	case "show":
		return cli.show(ctx, base+"/"+url.PathEscape(cmdArgs[0]))
	case "replay":
		body, _ := json.Marshal(map[string]string{"target": cli.target, "reason": cli.reason})
		if cli.webhooks {
			body, _ = json.Marshal(map[string]string{"reason": cli.reason})
		}
		return cli.act(ctx, http.MethodPost, base+"/"+url.PathEscape(cmdArgs[0])+"/replay", body)
	case "discard":
		return cli.act(ctx, http.MethodDelete, base+"/"+url.PathEscape(cmdArgs[0])+"?reason="+url.QueryEscape(cli.reason), nil)
	default:
		return cli.actions(ctx, base+"/actions")
	}
}

func (c *deadLettersCLI) summary(ctx context.Context) error {
	var res struct {
		Targets []struct {
			Target           string  `json:"target"`
			Pending          int64   `json:"pending"`
			Undelivered      int64   `json:"undelivered"`
			OldestAgeSeconds float64 `json:"oldest_age_seconds"`
			DeadLetters      int64   `json:"dead_letters"`
		} `json:"targets"`
		DeadLetters int64 `json:"dead_letters"`
	}
	raw, err := c.do(ctx, http.MethodGet, "/admin/outbox", nil, &res)
	if err != nil || c.jsonOut {
		return c.rawOr(raw, err)
	}
	for _, t := range res.Targets {
		fmt.Fprintf(c.stdout, "%-3s pending %d, undelivered %d, oldest %s, dead letters %d\n", t.Target, t.Pending,
			t.Undelivered, (time.Duration(t.OldestAgeSeconds * float64(time.Second))).Round(time.Second), t.DeadLetters)
	}
	fmt.Fprintf(c.stdout, "dead letters waiting: %d\n", res.DeadLetters)
	return nil
}

// outboxDeadLetter is an outbox dead letter as the admin API shows it.
type outboxDeadLetter struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	OrderID    string    `json:"order_id"`
	Target     string    `json:"target"`
	Reason     string    `json:"reason"`
	Deliveries int64     `json:"deliveries"`
	DeadAt     time.Time `json:"dead_at"`
}

func (c *deadLettersCLI) list(ctx context.Context, path string) error {
	var res struct {
		Outbox []outboxDeadLetter `json:"dead_letters"`
	}
	raw, err := c.do(ctx, http.MethodGet, path+"?limit="+strconv.Itoa(min(max(c.limit, 1), 1000)), nil, &res)
	if err != nil || c.jsonOut {
		return c.rawOr(raw, err)
	}
	if c.webhooks {
		var wh struct {
			DeadLetters []tracking.DeadLetter `json:"dead_letters"`
		}
		if err := json.Unmarshal(raw, &wh); err != nil {
			return err
		}
		for _, d := range wh.DeadLetters {
			fmt.Fprintf(c.stdout, "%s  %s  subscription %s  order %s  event %s  %d attempts: %s\n", d.ID,
				d.Time.Format(time.RFC3339), d.SubscriptionID, d.OrderID, d.EventID, d.Attempts, d.Error)
		}
		fmt.Fprintf(c.stdout, "%d webhook dead letter(s)\n", len(wh.DeadLetters))
		return nil
	}
	for _, d := range res.Outbox {
		fmt.Fprintf(c.stdout, "%s  %s  %s %s  %s gave up after %d deliveries: %s\n", d.ID, d.DeadAt.Format(time.RFC3339),
			d.Type, d.OrderID, d.Target, d.Deliveries, d.Reason)
	}
	fmt.Fprintf(c.stdout, "%d dead letter(s)\n", len(res.Outbox))
	return nil
}

func (c *deadLettersCLI) show(ctx context.Context, path string) error {
	var v map[string]any
	raw, err := c.do(ctx, http.MethodGet, path, nil, &v)
	return c.rawOr(raw, err)
}

func (c *deadLettersCLI) act(ctx context.Context, method, path string, body []byte) error {
	var a struct {
		store.DeadLetterAction
		SubscriptionID string `json:"subscription_id"`
		EventID        string `json:"event_id"`
	}
	raw, err := c.do(ctx, method, path, body, &a)
	if err != nil || c.jsonOut {
		return c.rawOr(raw, err)
	}
	switch {
	case c.webhooks:
		fmt.Fprintf(c.stdout, "%s done: event %s of order %s, subscription %s (recorded as %s by %s)\n",
			a.Action, a.EventID, a.OrderID, a.SubscriptionID, a.ID, a.Actor)
	case a.Action == "replay":
		fmt.Fprintf(c.stdout, "replayed: %s %s into %s as outbox entry %s (gave up: %s; recorded as %s by %s)\n",
			a.Type, a.OrderID, a.Target, a.OutboxID, a.From, a.ID, a.Actor)
	default:
		fmt.Fprintf(c.stdout, "discarded: %s %s (gave up: %s; recorded as %s by %s)\n", a.Type, a.OrderID, a.From, a.ID, a.Actor)
	}
	return nil
}

func (c *deadLettersCLI) actions(ctx context.Context, path string) error {
	var res struct {
		Actions []map[string]any `json:"actions"`
	}
	raw, err := c.do(ctx, http.MethodGet, path+"?limit="+strconv.Itoa(min(max(c.limit, 1), 1000)), nil, &res)
	if err != nil || c.jsonOut {
		return c.rawOr(raw, err)
	}
	for _, a := range res.Actions {
		at := a["at"]
		if at == nil {
			at = a["time"]
		}
		fmt.Fprintf(c.stdout, "%v  %-7v %v by %v", at, a["action"], a["order_id"], a["actor"])
		if t, _ := a["target"].(string); t != "" {
			fmt.Fprintf(c.stdout, " into %s", t)
		}
		if r, _ := a["reason"].(string); r != "" {
			fmt.Fprintf(c.stdout, ": %s", r)
		}
		fmt.Fprintln(c.stdout)
	}
	if len(res.Actions) == 0 {
		fmt.Fprintln(c.stdout, "no actions recorded")
	}
	return nil
}

// rawOr prints raw (the server's JSON) unless err is set.
func (c *deadLettersCLI) rawOr(raw []byte, err error) error {
	if err != nil {
		return err
	}
	return c.raw(raw)
}

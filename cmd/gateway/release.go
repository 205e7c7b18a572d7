package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"erpgate/erp"
	"erpgate/store"
)

const releaseUsage = `usage: gateway release [flags] <command> [args]

Commands (over the admin API of a running gateway):
  status                           show the release plan and what this instance obeys
  set FILE                         replace the whole plan with FILE (JSON; "-" = stdin);
                                   a "revision" in FILE makes it compare-and-set
  promote [--skip-delivered-by-v1] v2 active and authoritative for everyone (stage 2);
                                   v2 catches up from where it stopped, unless told to
                                   skip what v1 already holds
  backout                          v1 authoritative for everyone, v2 paused
  history [--limit N]              the change record, newest first
  shadow [--limit N]               recent orders whose v1 and v2 answers differ

Flags (before or after the command):
`

// releaseCLI is one invocation of the release command.
type releaseCLI struct {
	adminClient
	reason string
	skip   bool
	limit  int
}

// runRelease is the release-plan CLI: `gateway release status|set FILE|
// promote [--skip-delivered-by-v1]|backout|history|shadow`. It talks to a
// running gateway's admin API; a refusal returns an error with the server's
// problem detail (and field problems), so the process exits non-zero.
func runRelease(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cli := &releaseCLI{adminClient: adminClient{name: "release", stdout: stdout, stderr: stderr}}
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.StringVar(&cli.reason, "reason", "", "why the plan changes (set, promote, backout); recorded in the history")
	fs.BoolVar(&cli.skip, "skip-delivered-by-v1", false, "promote: v2 skips the orders v1 already created while v2 was paused")
	fs.IntVar(&cli.limit, "limit", 20, "history, shadow: how many entries")
	pos, err := cli.parse(fs, releaseUsage, args, getenv)
	if err != nil || pos == nil {
		return err
	}

	cmd, cmdArgs, err := cli.command(fs, pos, map[string]int{"status": 0, "set": 1, "promote": 0, "backout": 0, "history": 0, "shadow": 0})
	if err != nil {
		return err
	}
	if cli.skip && cmd != "promote" {
		return errors.New("release: --skip-delivered-by-v1 belongs to promote")
	}
	switch cmd {
	case "status":
		return cli.status(ctx)
	case "set":
		return cli.set(ctx, cmdArgs[0])
	case "promote":
		return cli.action(ctx, "promote", map[string]any{"reason": cli.reason, "skip_delivered_by_v1": cli.skip})
	case "backout":
		return cli.action(ctx, "backout", map[string]any{"reason": cli.reason})
	case "history":
		return cli.history(ctx)
	default:
		return cli.shadow(ctx)
	}
}

// planView is GET /admin/release's answer.
type planView struct {
	erp.ReleasePlan
	AppliedRevision int64 `json:"applied_revision"`
}

func (c *releaseCLI) status(ctx context.Context) error {
	var p planView
	raw, err := c.do(ctx, http.MethodGet, "/admin/release", nil, &p)
	if err != nil {
		return err
	}
	if c.jsonOut {
		return c.raw(raw)
	}
	printPlan(c.stdout, p)
	return nil
}

func (c *releaseCLI) set(ctx context.Context, file string) error {
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(io.LimitReader(os.Stdin, 2<<20))
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return fmt.Errorf("release set: %w", err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("release set: %s is not a JSON object: %w", file, err)
	}
	if c.reason != "" {
		doc["reason"], _ = json.Marshal(c.reason)
	}
	body, _ := json.Marshal(doc)
	var p planView
	raw, err := c.do(ctx, http.MethodPut, "/admin/release", body, &p)
	if err != nil {
		return err
	}
	if c.jsonOut {
		return c.raw(raw)
	}
	fmt.Fprintf(c.stdout, "release plan set: revision %d\n\n", p.Revision)
	printPlan(c.stdout, p)
	return nil
}

func (c *releaseCLI) action(ctx context.Context, name string, req map[string]any) error {
	body, _ := json.Marshal(req)
	var res struct {
		Changed bool              `json:"changed"`
		Plan    planView          `json:"plan"`
		Skip    *store.SkipReport `json:"skip"`
	}
	raw, err := c.do(ctx, http.MethodPost, "/admin/release/"+name, body, &res)
	if err != nil {
		return err
	}
	if c.jsonOut {
		return c.raw(raw)
	}
	if res.Skip != nil {
		fmt.Fprintf(c.stdout, "v2 skips %d message(s) whose orders v1 already holds; %d wait for v2\n", res.Skip.Skipped, res.Skip.Kept)
	}
	if res.Changed {
		fmt.Fprintf(c.stdout, "%s done: revision %d\n\n", name, res.Plan.Revision)
	} else {
		fmt.Fprintf(c.stdout, "%s: nothing to change, the plan already is that (revision %d)\n\n", name, res.Plan.Revision)
	}
	printPlan(c.stdout, res.Plan)
	return nil
}

func (c *releaseCLI) history(ctx context.Context) error {
	var res struct {
		Changes []erp.ReleaseChange `json:"changes"`
	}
	raw, err := c.do(ctx, http.MethodGet, "/admin/release/history?limit="+strconv.Itoa(c.limit), nil, &res)
	if err != nil {
		return err
	}
	if c.jsonOut {
		return c.raw(raw)
	}
	if len(res.Changes) == 0 {
		fmt.Fprintln(c.stdout, "no changes yet: the built-in default plan (revision 0) is in force")
		return nil
	}
	for _, ch := range res.Changes {
		fmt.Fprintf(c.stdout, "rev %-4d %s  %-8s by %s: %s\n         → %s\n", ch.Revision, ch.At.Format(time.RFC3339),
			ch.Action, ch.Actor, ch.Reason, planSummary(ch.Plan))
	}
	return nil
}

func (c *releaseCLI) shadow(ctx context.Context) error {
	var res struct {
		Mismatches []erp.ShadowMismatch `json:"mismatches"`
	}
	raw, err := c.do(ctx, http.MethodGet, "/admin/release/shadow?limit="+strconv.Itoa(min(max(c.limit, 1), 100)), nil, &res)
	if err != nil {
		return err
	}
	if c.jsonOut {
		return c.raw(raw)
	}
	if len(res.Mismatches) == 0 {
		fmt.Fprintln(c.stdout, "no shadow mismatches kept")
		return nil
	}
	for _, m := range res.Mismatches {
		fmt.Fprintf(c.stdout, "%s  order %s (%s %s)  differs in %s\n", m.At.Format(time.RFC3339), m.OrderID, m.ShopID, m.ExternalID, strings.Join(m.Fields, ", "))
		for _, t := range erp.KnownTargets {
			if a, ok := m.Answers[t]; ok {
				fmt.Fprintf(c.stdout, "    %s: %s\n", t, answerSummary(a))
			}
		}
	}
	return nil
}

func answerSummary(a erp.ShadowAnswer) string {
	s := a.State
	if a.ERPOrderNumber != "" {
		s += " " + a.ERPOrderNumber
	}
	if a.Status != "" {
		s += " status=" + a.Status
	}
	if a.Total != nil {
		s += " total=" + a.Total.String()
	}
	if a.LineCount != nil {
		s += " lines=" + strconv.Itoa(*a.LineCount)
	}
	if a.Reason != "" {
		s += " reason=" + strconv.Quote(a.Reason)
	}
	return s
}

// printPlan writes a readable summary of p.
func printPlan(w io.Writer, p planView) {
	fmt.Fprintf(w, "revision       %d", p.Revision)
	if p.AppliedRevision != p.Revision {
		fmt.Fprintf(w, " (this instance still obeys %d; it follows within a second)", p.AppliedRevision)
	}
	fmt.Fprintln(w)
	if p.Revision == 0 {
		fmt.Fprintln(w, "changed        never (built-in default)")
	} else {
		fmt.Fprintf(w, "changed        %s by %s: %s\n", p.ChangedAt.Format(time.RFC3339), p.Actor, p.Reason)
	}
	stage := "2 (orders through v2)"
	if p.Stage == erp.Stage1 {
		stage = "1 (read side only; no order traffic to v2)"
	}
	fmt.Fprintf(w, "stage          %s\n", stage)
	fmt.Fprintf(w, "targets        v1 %s, v2 %s\n", p.Targets[erp.V1], p.Targets[erp.V2])
	fmt.Fprintf(w, "authoritative  %s for everyone else\n", p.Authoritative)
	for _, c := range p.Cohorts {
		who := ""
		if c.Percent != nil {
			who = fmt.Sprintf("%d%% of customers", *c.Percent)
		} else {
			who = fmt.Sprintf("%d pilot customer(s)", len(c.Customers))
			if len(c.Customers) <= 5 {
				who += " " + strings.Join(c.Customers, ", ")
			}
		}
		fmt.Fprintf(w, "  cohort %-12s %s → %s\n", c.Name, who, c.Authoritative)
	}
	shadow := "off"
	if p.Shadow {
		shadow = "on"
	}
	fmt.Fprintf(w, "shadow         %s\n", shadow)
	a := p.AutoBackout
	state := "off"
	if a.Enabled {
		state = "ON"
	}
	fmt.Fprintf(w, "auto back-out  %s: failure ratio ≥ %.2f (min sample %d) or %d mismatches, over the last %d\n",
		state, a.FailureRatio, a.MinSample, a.Mismatches, a.Window)
}

// planSummary is a one-line summary for the history.
func planSummary(p erp.ReleasePlan) string {
	s := fmt.Sprintf("stage %d, v1 %s, v2 %s, %s authoritative", p.Stage, p.Targets[erp.V1], p.Targets[erp.V2], p.Authoritative)
	for _, c := range p.Cohorts {
		s += fmt.Sprintf(", cohort %s → %s", c.Name, c.Authoritative)
	}
	return s
}

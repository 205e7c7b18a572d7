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

	"erpgate"
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
  history [--limit N]              the change record (changes and approvals), newest first
  shadow [--limit N]               recent orders whose v1 and v2 answers differ
  approve --role R --comment TEXT  approve the plan revision in force (--revision N: the one
                                   you tested, refused if it is no longer in force)
  approvals [--revision N]         the approvals of a revision and what a promotion still lacks
  publish MANIFEST                 store a signed manifest in the release library
  library                          the library: every stored version, live, back-out target

Commands on this host (no gateway needed):
  keygen --out FILE                a new ed25519 signing key (FILE) and its public key (FILE.pub)
  manifest --signing-key FILE      the signed manifest of this build (to --out FILE or stdout):
                                   version, commit, Go version and the SHA-256 of the binary,
                                   every WSDL, the dashboards and alert rules (--ops-dir) and
                                   the configuration without secrets (--config)
  verify MANIFEST                  check the signature (--public-key FILE) and every digest
                                   against this binary and the files here; --running also
                                   checks the instances registered at --url; names each mismatch

Flags (before or after the command):
`

// releaseCLI is one invocation of the release command.
type releaseCLI struct {
	adminClient
	reason string
	skip   bool
	limit  int

	// Acceptance and the master copy (issue 15).
	role, comment, version string
	revision               int64
	signingKey, publicKey  string
	out, opsDir            string
	configFile, binary     string
	allowUnknown, running  bool
	now                    func() time.Time
}

// runRelease is the release-plan CLI: `gateway release status|set FILE|
// promote [--skip-delivered-by-v1]|backout|history|shadow`. It talks to a
// running gateway's admin API; a refusal returns an error with the server's
// problem detail (and field problems), so the process exits non-zero.
func runRelease(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cli := &releaseCLI{adminClient: adminClient{name: "release", stdout: stdout, stderr: stderr,
		client: &http.Client{Timeout: 60 * time.Second}}, now: time.Now}
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, releaseUsage)
		fs.PrintDefaults()
	}
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	defaultActor := getenv("USER")
	fs.StringVar(&cli.url, "url", env("ERPGATE_URL", "http://127.0.0.1:8080"), "base URL of the gateway [ERPGATE_URL]")
	fs.StringVar(&cli.token, "token", getenv("ERPGATE_ADMIN_TOKEN"), "admin token [ERPGATE_ADMIN_TOKEN] (default: the demo token demo-admin-token)")
	fs.StringVar(&cli.reason, "reason", "", "why the plan changes (set, promote, backout); recorded in the history")
	fs.StringVar(&cli.actor, "actor", defaultActor, "who you are, recorded with the admin client's id [USER]")
	fs.BoolVar(&cli.jsonOut, "json", false, "print the server's JSON instead of a summary")
	fs.BoolVar(&cli.skip, "skip-delivered-by-v1", false, "promote: v2 skips the orders v1 already created while v2 was paused")
	fs.IntVar(&cli.limit, "limit", 20, "history, shadow: how many entries")
	fs.StringVar(&cli.role, "role", "", "approve: the role you approve in (e.g. business, ops, pilot-user)")
	fs.StringVar(&cli.comment, "comment", "", "approve: what was tested and why you approve")
	fs.Int64Var(&cli.revision, "revision", -1, "approve: the plan revision you tested; approvals: the revision to list (default: the one in force)")
	fs.StringVar(&cli.version, "version", "", "promote: the release version that goes live with the promotion")
	fs.StringVar(&cli.signingKey, "signing-key", getenv("ERPGATE_SIGNING_KEY"), "manifest: PEM ed25519 private key to sign with [ERPGATE_SIGNING_KEY]")
	fs.StringVar(&cli.publicKey, "public-key", getenv("ERPGATE_RELEASE_PUBLIC_KEY"), "verify: the PEM ed25519 public key the manifest must be signed by [ERPGATE_RELEASE_PUBLIC_KEY]")
	fs.StringVar(&cli.out, "out", "", "keygen: the private key file to write; manifest: the file to write (default stdout)")
	fs.StringVar(&cli.opsDir, "ops-dir", "ops", "manifest, verify: the directory with grafana/*.json and prometheus/*.yml")
	fs.StringVar(&cli.configFile, "config", getenv("ERPGATE_CONFIG"), "manifest, verify: the gateway's config file (default: the demo configuration) [ERPGATE_CONFIG]")
	fs.StringVar(&cli.binary, "binary", "", "manifest, verify: the gateway binary (default: this executable)")
	fs.BoolVar(&cli.allowUnknown, "allow-unknown-commit", false, "manifest: sign a build that does not know its commit or has uncommitted changes")
	fs.BoolVar(&cli.running, "running", false, "verify: also compare the instances registered at --url")

	// Flags may come before and after the command.
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var pos []string
	rest := fs.Args()
	for len(rest) > 0 {
		pos = append(pos, rest[0])
		if err := fs.Parse(rest[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
		rest = fs.Args()
	}
	if len(pos) == 0 {
		fs.Usage()
		return errors.New("release: a command is required")
	}
	cmd, cmdArgs := pos[0], pos[1:]
	wantArgs := map[string]int{"status": 0, "set": 1, "promote": 0, "backout": 0, "history": 0, "shadow": 0,
		"approve": 0, "approvals": 0, "publish": 1, "library": 0, "keygen": 0, "manifest": 0, "verify": 1}
	n, known := wantArgs[cmd]
	if !known {
		fs.Usage()
		return fmt.Errorf("release: unknown command %q", cmd)
	}
	if len(cmdArgs) != n {
		return fmt.Errorf("release %s: got %d arguments, want %d", cmd, len(cmdArgs), n)
	}
	if cli.skip && cmd != "promote" {
		return errors.New("release: --skip-delivered-by-v1 belongs to promote")
	}
	if cli.version != "" && cmd != "promote" {
		return errors.New("release: --version belongs to promote (the build's own version: gateway --version)")
	}
	// Local commands need no gateway.
	switch cmd {
	case "keygen":
		return cli.keygen()
	case "manifest":
		return cli.makeManifest()
	case "verify":
		if !cli.running {
			return cli.verify(ctx, cmdArgs[0])
		}
	}
	if err := cli.connect(); err != nil {
		return err
	}
	switch cmd {
	case "verify":
		return cli.verify(ctx, cmdArgs[0])
	case "approve":
		return cli.approve(ctx)
	case "approvals":
		return cli.approvals(ctx)
	case "publish":
		return cli.publish(ctx, cmdArgs[0])
	case "library":
		return cli.library(ctx)
	case "status":
		return cli.status(ctx)
	case "set":
		return cli.set(ctx, cmdArgs[0])
	case "promote":
		return cli.action(ctx, "promote", map[string]any{"reason": cli.reason, "skip_delivered_by_v1": cli.skip, "version": cli.version})
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
		if ch.Action == erp.ActionApprove && ch.Approval != nil {
			fmt.Fprintf(c.stdout, "rev %-4d %s  %-8s by %s as %s: %s\n", ch.Revision, ch.At.Format(time.RFC3339),
				ch.Action, ch.Actor, ch.Approval.Role, ch.Reason)
			continue
		}
		fmt.Fprintf(c.stdout, "rev %-4d %s  %-8s by %s: %s\n         → %s\n", ch.Revision, ch.At.Format(time.RFC3339),
			ch.Action, ch.Actor, ch.Reason, planSummary(ch.Plan))
		if len(ch.Approvals) > 0 {
			var who []string
			for _, a := range ch.Approvals {
				who = append(who, a.Actor+" ("+a.Role+")")
			}
			fmt.Fprintf(c.stdout, "         approved by %s\n", strings.Join(who, ", "))
		}
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

// problemLines renders the field problems of an *erpgate.Error, one per line.
func problemLines(err error) string {
	var s string
	for _, p := range erpgate.ErrorProblems(err) {
		s += fmt.Sprintf("\n  %s: %s", p.Field, p.Message)
	}
	return s
}

func (c *releaseCLI) approve(ctx context.Context) error {
	req := map[string]any{"role": c.role, "comment": c.comment}
	if c.revision >= 0 {
		req["revision"] = c.revision
	}
	body, _ := json.Marshal(req)
	var a erp.Approval
	raw, err := c.do(ctx, http.MethodPost, "/admin/release/approvals", body, &a)
	if err != nil {
		return err
	}
	if c.jsonOut {
		return c.raw(raw)
	}
	fmt.Fprintf(c.stdout, "approved revision %d as %s by %s at %s\n", a.Revision, a.Role, a.Actor, a.At.Format(time.RFC3339))
	return c.approvals(ctx)
}

func (c *releaseCLI) approvals(ctx context.Context) error {
	path := "/admin/release/approvals"
	if c.revision >= 0 {
		path += "?revision=" + strconv.FormatInt(c.revision, 10)
	}
	var v struct {
		Revision       int64             `json:"revision"`
		Current        bool              `json:"current"`
		Acceptance     erp.Acceptance    `json:"acceptance"`
		Approvals      []erp.Approval    `json:"approvals"`
		PromoteMissing []erpgate.Problem `json:"promote_missing"`
	}
	raw, err := c.do(ctx, http.MethodGet, path, nil, &v)
	if err != nil {
		return err
	}
	if c.jsonOut {
		return c.raw(raw)
	}
	a := v.Acceptance
	roles := "none"
	if len(a.Roles) > 0 {
		roles = strings.Join(a.Roles, ", ")
	}
	fmt.Fprintf(c.stdout, "gates          stage 2: %d approval(s), widening: %d, roles: %s, manifest required: %v\n",
		a.Stage2, a.Widening, roles, a.RequireManifest)
	fmt.Fprintf(c.stdout, "revision %d has %d approval(s)\n", v.Revision, len(v.Approvals))
	for _, ap := range v.Approvals {
		fmt.Fprintf(c.stdout, "  %s  %s as %s: %s\n", ap.At.Format(time.RFC3339), ap.Actor, ap.Role, ap.Comment)
	}
	switch {
	case !v.Current:
		fmt.Fprintln(c.stdout, "(not the revision in force: these approvals no longer count)")
	case len(v.PromoteMissing) == 0:
		fmt.Fprintln(c.stdout, "a promotion from this revision passes its gates")
	default:
		fmt.Fprintln(c.stdout, "a promotion from this revision still needs:")
		for _, p := range v.PromoteMissing {
			fmt.Fprintf(c.stdout, "  %s: %s\n", p.Field, p.Message)
		}
	}
	return nil
}

func (c *releaseCLI) library(ctx context.Context) error {
	var v struct {
		Live          string `json:"live"`
		BackoutTarget string `json:"backout_target"`
		Releases      []struct {
			Version       string    `json:"version"`
			Commit        string    `json:"commit"`
			Digest        string    `json:"digest"`
			StoredBy      string    `json:"stored_by"`
			StoredAt      time.Time `json:"stored_at"`
			Live          bool      `json:"live"`
			BackoutTarget bool      `json:"backout_target"`
		} `json:"releases"`
	}
	raw, err := c.do(ctx, http.MethodGet, "/admin/release/manifests", nil, &v)
	if err != nil {
		return err
	}
	if c.jsonOut {
		return c.raw(raw)
	}
	if len(v.Releases) == 0 {
		fmt.Fprintln(c.stdout, "the release library is empty: publish a manifest with `release publish MANIFEST`")
	}
	for _, r := range v.Releases {
		mark := ""
		switch {
		case r.Live:
			mark = "  LIVE"
		case r.BackoutTarget:
			mark = "  BACK-OUT TARGET"
		}
		fmt.Fprintf(c.stdout, "%-16s commit %.12s  digest %.16s  stored %s by %s%s\n", r.Version, r.Commit, r.Digest,
			r.StoredAt.Format(time.RFC3339), r.StoredBy, mark)
	}
	return nil
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
	if g := p.Acceptance; g.Stage2 > 0 || g.Widening > 0 || len(g.Roles) > 0 || g.RequireManifest {
		fmt.Fprintf(w, "gates          stage 2 needs %d approval(s), widening %d; roles %v; manifest required %v\n",
			g.Stage2, g.Widening, g.Roles, g.RequireManifest)
	}
	if p.Live != "" || p.BackoutTarget != "" {
		fmt.Fprintf(w, "release        %s live, back-out target %s\n", orNone(p.Live), orNone(p.BackoutTarget))
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// planSummary is a one-line summary for the history.
func planSummary(p erp.ReleasePlan) string {
	s := fmt.Sprintf("stage %d, v1 %s, v2 %s, %s authoritative", p.Stage, p.Targets[erp.V1], p.Targets[erp.V2], p.Authoritative)
	for _, c := range p.Cohorts {
		s += fmt.Sprintf(", cohort %s → %s", c.Name, c.Authoritative)
	}
	return s
}

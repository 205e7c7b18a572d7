package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/cmdb"
	"erpgate/erp"
	"erpgate/gateway"
	"erpgate/manifest"
	"erpgate/soap/erpv1ws"
	"erpgate/soap/erpv2ws"
	"erpgate/store"
)

// The CMDB (issue 15): every instance registers itself with a heartbeat;
// GET /admin/cmdb describes the deployment; `gateway cmdb export` writes it
// to a file.

// storeInstances lists the instance registry (store/instances.go, where
// every instance heartbeats) for the CMDB.
type storeInstances struct{ s *store.Instances }

var _ cmdb.Instances = storeInstances{}

func (a storeInstances) List(ctx context.Context) ([]cmdb.Instance, error) {
	is, err := a.s.List(ctx)
	out := make([]cmdb.Instance, len(is))
	for i, in := range is {
		out[i] = cmdb.Instance(in)
	}
	return out, err
}

// cmdbWiring is what the CMDB of a running gateway reads.
type cmdbWiring struct {
	opt      *options
	rdb      redis.UniversalClient
	registry cmdb.Instances
	rel      *store.Releases
	disp     *erp.Dispatcher
	keys     *gateway.Keyring
	webhooks gateway.WebhookAdmin
	v1URL    string
	v2URL    string
}

// sources returns the CMDB's sources.
func (w cmdbWiring) sources() cmdb.Sources {
	return cmdb.Sources{
		Instances: w.registry,
		Redis:     w.redis,
		ERP:       w.erp,
		Clients: func(context.Context) ([]cmdb.Client, error) {
			cs, _ := configItems(w.keys.Clients(), nil)
			return cs, nil
		},
		Webhooks: func(ctx context.Context) ([]cmdb.Webhook, error) {
			subs, err := w.webhooks.List(ctx)
			if err != nil {
				return nil, err
			}
			_, ws := configItems(nil, subs)
			return ws, nil
		},
		Release: w.release,
	}
}

func (w cmdbWiring) snapshot(ctx context.Context) (cmdb.Snapshot, error) {
	return cmdb.Collect(ctx, w.sources())
}

// redis reads the deployment from INFO; the address is the --redis-url
// without its password.
func (w cmdbWiring) redis(ctx context.Context) (cmdb.Redis, error) {
	if w.opt.redisURL == "" {
		return cmdb.Redis{Address: "embedded", Mode: "embedded", Version: "miniredis (in-memory)", Role: "master", AOF: "off"}, nil
	}
	r := cmdb.Redis{Address: cmdb.RedactURL(w.opt.redisURL), AOF: "unknown", Mode: "unknown", Version: "unknown"}
	info, err := w.rdb.Info(ctx, "server", "persistence", "replication").Result()
	if err != nil {
		return r, fmt.Errorf("INFO failed: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "redis_version":
			r.Version = v
		case "redis_mode":
			r.Mode = v
		case "role":
			r.Role = v
		case "aof_enabled":
			r.AOF = map[string]string{"1": "on", "0": "off"}[v]
		case "connected_slaves":
			r.Replicas, _ = strconv.Atoi(v)
		}
	}
	if strings.HasPrefix(w.opt.redisURL, "redis+sentinel://") {
		r.Mode = "sentinel"
	}
	return r, nil
}

// erp describes ERP v1 and v2: endpoint, WSDL, this instance's breaker and
// the role the plan in force gives each.
func (w cmdbWiring) erp(context.Context) ([]cmdb.ERPInterface, error) {
	p := w.rel.View().Plan()
	var out []cmdb.ERPInterface
	for _, t := range []struct {
		name, url string
		wsdl      []byte
	}{{erp.V1, w.v1URL, erpv1ws.WSDL}, {erp.V2, w.v2URL, erpv2ws.WSDL}} {
		e := cmdb.ERPInterface{Name: t.name, Endpoint: cmdb.RedactURL(t.url), WSDLDigest: manifest.Sum(t.wsdl),
			State: p.Targets[t.name], Role: planRole(p, t.name)}
		if b := w.disp.Breaker(t.name); b != nil {
			e.Breaker = b.State().String()
		}
		out = append(out, e)
	}
	return out, nil
}

// planRole says what plan p makes of target, in words.
func planRole(p erp.ReleasePlan, target string) string {
	var roles []string
	if p.Authoritative == target {
		roles = append(roles, "authoritative")
	}
	for _, c := range p.Cohorts {
		if c.Authoritative == target && p.Authoritative != target {
			roles = append(roles, "authoritative for cohort "+c.Name)
		}
	}
	if len(roles) == 0 {
		if p.Targets[target] == erp.TargetPaused {
			return "paused"
		}
		roles = append(roles, "beside")
	}
	if p.Shadow {
		roles = append(roles, "shadow-compared")
	}
	return strings.Join(roles, ", ")
}

func (w cmdbWiring) release(ctx context.Context) (cmdb.Release, error) {
	p, err := w.rel.Current(ctx)
	if err != nil {
		return cmdb.Release{}, err
	}
	r := cmdb.Release{Version: p.Live, BackoutTarget: p.BackoutTarget, Revision: p.Revision, Stage: p.Stage,
		Authoritative: p.Authoritative, ChangedAt: p.ChangedAt}
	if p.Live != "" {
		sm, err := w.rel.Manifest(ctx, p.Live)
		switch {
		case err == nil:
			r.ManifestDigest = sm.Digest
		case erpgate.ErrorCode(err) != erpgate.NotFound:
			return r, err
		}
	}
	return r, nil
}

// checkOwnManifest reads --manifest, checks its signature (against
// --release-public-key when given) and that it describes this binary, its
// WSDLs and its configuration; it returns the manifest's digest for the
// instance registry. A manifest that does not match is fatal: the instance
// would claim to be a release it is not.
func checkOwnManifest(opt *options) (string, error) {
	if opt.manifestFile == "" {
		return "", nil
	}
	m, _, err := readManifest(opt.manifestFile)
	if err != nil {
		return "", fmt.Errorf("--manifest: %w", err)
	}
	var trusted []byte
	if opt.releasePublicKey != "" {
		if trusted, err = readPublicKey(opt.releasePublicKey); err != nil {
			return "", err
		}
	}
	if err := m.VerifySignature(trusted); err != nil {
		return "", fmt.Errorf("--manifest %s: %w", opt.manifestFile, err)
	}
	// The ops files are not part of a running instance (opsDir ""): the
	// binary, its WSDLs and its configuration are compared.
	mine, err := collectArtifacts(artifactSources{configFile: opt.configFile})
	if err != nil {
		return "", fmt.Errorf("--manifest: %w", err)
	}
	if mm := manifest.Compare(m, mine, false); len(mm) > 0 {
		var ss []string
		for _, x := range mm {
			ss = append(ss, x.String())
		}
		return "", fmt.Errorf("--manifest %s does not describe this instance: %s", opt.manifestFile, strings.Join(ss, "; "))
	}
	if b := buildInfo(); b.Version != m.Version || b.Commit != m.Commit {
		return "", fmt.Errorf("--manifest %s is of version %s commit %s, this binary is %s commit %s", opt.manifestFile, m.Version, m.Commit, b.Version, b.Commit)
	}
	return m.Digest(), nil
}

func readPublicKey(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--release-public-key: %w", err)
	}
	k, err := manifest.ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("--release-public-key %s: %w", file, err)
	}
	return k, nil
}

const cmdbUsage = `usage: gateway cmdb [flags] export

Writes the configuration items and relations of the running gateway at --url
(GET /admin/cmdb) to --out: ServiceNow's Identification and Reconciliation API
payload (--format servicenow, the default) or erpgate's own JSON (--format json).

Flags:
`

// runCMDB is `gateway cmdb export`.
func runCMDB(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cli := &releaseCLI{adminClient: adminClient{name: "cmdb", stdout: stdout, stderr: stderr,
		client: &http.Client{Timeout: 60 * time.Second}}}
	fs := flag.NewFlagSet("cmdb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, cmdbUsage)
		fs.PrintDefaults()
	}
	def := getenv("ERPGATE_URL")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	var format, source string
	fs.StringVar(&cli.url, "url", def, "base URL of the gateway [ERPGATE_URL]")
	fs.StringVar(&cli.token, "token", getenv("ERPGATE_ADMIN_TOKEN"), "admin token [ERPGATE_ADMIN_TOKEN] (default: the demo token)")
	fs.StringVar(&cli.out, "out", "", "the file to write (required; \"-\" = stdout)")
	fs.StringVar(&format, "format", "servicenow", "servicenow or json")
	fs.StringVar(&source, "source", "erpgate", "servicenow: the discovery source name (sys_object_source_info.source_name)")
	// Flags may come before and after the command.
	var pos []string
	for rest := args[1:]; ; rest = fs.Args()[1:] {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
	}
	if len(pos) != 1 || pos[0] != "export" {
		fs.Usage()
		return errors.New("cmdb: the command is export")
	}
	if cli.out == "" {
		return errors.New("cmdb export: --out FILE is required")
	}
	if err := cli.connect(); err != nil {
		return err
	}
	q := url.Values{"format": {format}}
	if format == "servicenow" {
		q.Set("source", source)
	}
	var doc map[string]any
	raw, err := cli.do(ctx, http.MethodGet, "/admin/cmdb?"+q.Encode(), nil, &doc)
	if err != nil {
		return fmt.Errorf("cmdb export: %w", err)
	}
	if cli.out == "-" {
		return cli.raw(raw)
	}
	if err := os.WriteFile(cli.out, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("cmdb export: %w", err)
	}
	items, _ := doc["items"].([]any)
	rels, _ := doc["relations"].([]any)
	fmt.Fprintf(stdout, "wrote %s: %d configuration items, %d relations (%s)\n", cli.out, len(items), len(rels), format)
	return nil
}

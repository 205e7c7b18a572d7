package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"erpgate/cmdb"
	"erpgate/gateway"
	"erpgate/manifest"
	"erpgate/soap/erpv1ws"
	"erpgate/soap/erpv2cb"
	"erpgate/soap/erpv2ws"
	"erpgate/soap/orderws"
	"erpgate/soap/supplierws"
	"erpgate/tracking"
)

// The master copy: `release manifest`, `release keygen`, `release verify`
// (local; no gateway needed) and `release publish` (to the library).

// binaryName is the binary's artifact name, whatever its path on a host.
const binaryName = "gateway"

// configName is the artifact name of the configuration fingerprint.
const configName = "clients-and-webhooks"

// wsdls are the WSDLs embedded in the binary: those it serves (order and
// supplier services, the ERP v2 status callback) and those its ERP adapters
// are built on (v1, v2). Their digests are of the embedded files; a served
// WSDL's soap:address is rewritten when it is served.
var wsdls = []struct {
	name string
	doc  []byte
}{
	{"soap/orderws/orderservice.wsdl", orderws.WSDL},
	{"soap/supplierws/supplierservice.wsdl", supplierws.WSDL},
	{"soap/erpv2cb/callback.wsdl", erpv2cb.WSDL},
	{"soap/erpv1ws/erpv1.wsdl", erpv1ws.WSDL},
	{"soap/erpv2ws/erpv2.wsdl", erpv2ws.WSDL},
}

// artifactSources says where the artifacts of a release are on this host.
type artifactSources struct {
	binary     string // path of the gateway binary; "" = this executable
	opsDir     string // the ops/ directory (dashboards, alert rules); "" = not collected
	configFile string // the --config file; "" = the demo configuration
}

// collectArtifacts digests every artifact as it is here. A missing file is
// an error for the binary, the ops directory and the config file.
func collectArtifacts(src artifactSources) ([]manifest.Artifact, error) {
	var out []manifest.Artifact
	bin := src.binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("locating this executable: %w", err)
		}
		bin = exe
	}
	sum, err := sumFile(bin)
	if err != nil {
		return nil, fmt.Errorf("binary: %w", err)
	}
	out = append(out, manifest.Artifact{Kind: manifest.KindBinary, Name: binaryName, SHA256: sum})
	for _, w := range wsdls {
		out = append(out, manifest.Artifact{Kind: manifest.KindWSDL, Name: w.name, SHA256: manifest.Sum(w.doc)})
	}
	if src.opsDir != "" {
		ops, err := opsArtifacts(src.opsDir)
		if err != nil {
			return nil, err
		}
		out = append(out, ops...)
	}
	fp, err := configFingerprint(src.configFile)
	if err != nil {
		return nil, err
	}
	return append(out, manifest.Artifact{Kind: manifest.KindConfig, Name: configName, SHA256: fp}), nil
}

func sumFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return manifest.SumReader(f)
}

// opsArtifacts digests the dashboards (grafana/*.json) and alert rules
// (prometheus/*.yml, not their *_test.yml unit tests) under dir, named
// "ops/<path under dir>".
func opsArtifacts(dir string) ([]manifest.Artifact, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("--ops-dir %q is not a directory (the dashboards and alert rules are part of a release)", dir)
	}
	var out []manifest.Artifact
	for _, g := range []struct{ kind, pattern string }{
		{manifest.KindDashboard, "grafana/*.json"},
		{manifest.KindAlerts, "prometheus/*.yml"},
	} {
		files, err := fs.Glob(os.DirFS(dir), g.pattern)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.yml") {
				continue
			}
			sum, err := sumFile(filepath.Join(dir, filepath.FromSlash(f)))
			if err != nil {
				return nil, err
			}
			out = append(out, manifest.Artifact{Kind: g.kind, Name: "ops/" + f, SHA256: sum})
		}
	}
	return out, nil
}

// configFingerprint is the SHA-256 of the configuration without secrets:
// the clients (id, kind, supplier) and webhooks (id, shop, URL reduced to
// scheme, host and path), sorted by id. Keys, key hashes, HMAC and webhook
// secrets do not enter it: rotating a key is not a new release.
func configFingerprint(file string) (string, error) {
	clients, hooks := gateway.DemoClients(), []tracking.Subscription(nil)
	if file != "" {
		fc, err := loadConfig(file)
		if err != nil {
			return "", err
		}
		clients, hooks = fc.Clients, fc.Webhooks
	}
	cs, ws := configItems(clients, hooks)
	b, err := json.Marshal(struct {
		Clients  []cmdb.Client
		Webhooks []cmdb.Webhook
	}{cs, ws})
	if err != nil {
		return "", err
	}
	return manifest.Sum(b), nil
}

// configItems are the clients and webhooks without their secrets, sorted
// by id: what the CMDB shows and the configuration fingerprint covers.
func configItems(clients []gateway.Client, hooks []tracking.Subscription) ([]cmdb.Client, []cmdb.Webhook) {
	cs := make([]cmdb.Client, 0, len(clients))
	for _, c := range clients {
		cs = append(cs, cmdb.Client{ID: c.ID, Kind: c.Kind, SupplierID: c.SupplierID})
	}
	ws := make([]cmdb.Webhook, 0, len(hooks))
	for _, h := range hooks {
		ws = append(ws, cmdb.Webhook{ID: h.ID, Shop: h.ShopID, URL: cmdb.RedactURL(h.URL), Static: h.Static})
	}
	slices.SortFunc(cs, func(a, b cmdb.Client) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(ws, func(a, b cmdb.Webhook) int { return strings.Compare(a.ID, b.ID) })
	return cs, ws
}

// keygen writes a new ed25519 key pair: file (private, mode 0600) and
// file.pub. It never overwrites a key.
func (c *releaseCLI) keygen() error {
	if c.out == "" {
		return errors.New("release keygen: --out FILE is required (the private key; FILE.pub gets the public key)")
	}
	priv, pub, err := manifest.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{c.out, priv, 0o600}, {c.out + ".pub", pub, 0o644}} {
		fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
		if err != nil {
			return fmt.Errorf("release keygen: %w (an existing key is never overwritten)", err)
		}
		if _, err := fh.Write(f.data); err != nil {
			fh.Close()
			return err
		}
		if err := fh.Close(); err != nil {
			return err
		}
	}
	pk, _ := manifest.ParsePublicKey(pub)
	fmt.Fprintf(c.stdout, "wrote %s (private: keep it secret) and %s.pub (public; key id %s)\n", c.out, c.out, manifest.KeyID(pk))
	return nil
}

// makeManifest writes the signed manifest of this build.
func (c *releaseCLI) makeManifest() error {
	if c.signingKey == "" {
		return errors.New("release manifest: --signing-key FILE is required (make one with `release keygen --out FILE`)")
	}
	kb, err := os.ReadFile(c.signingKey)
	if err != nil {
		return fmt.Errorf("release manifest: %w", err)
	}
	priv, err := manifest.ParsePrivateKey(kb)
	if err != nil {
		return fmt.Errorf("release manifest: --signing-key %s: %w", c.signingKey, err)
	}
	b := buildInfo()
	if b.Commit == unknownCommit && !c.allowUnknown {
		return errors.New("release manifest: this build does not know its commit (built with -buildvcs=false and without -ldflags); " +
			"build with -ldflags \"-X main.version=… -X main.commit=$(git rev-parse HEAD)\", or pass --allow-unknown-commit")
	}
	if b.Modified && !c.allowUnknown {
		return errors.New("release manifest: this build is from a tree with uncommitted changes; commit first, or pass --allow-unknown-commit")
	}
	arts, err := collectArtifacts(c.artifactSources())
	if err != nil {
		return fmt.Errorf("release manifest: %w", err)
	}
	m := manifest.Manifest{Schema: manifest.Schema, Version: b.Version, Commit: b.Commit, Modified: b.Modified,
		GoVersion: b.GoVersion, CreatedAt: c.now().UTC().Truncate(time.Second), CreatedBy: c.actor, Artifacts: arts}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("release manifest: %w", err)
	}
	if err := m.Sign(priv); err != nil {
		return err
	}
	doc, err := m.Marshal()
	if err != nil {
		return err
	}
	if c.out == "" {
		_, err = c.stdout.Write(doc)
		return err
	}
	if err := os.WriteFile(c.out, doc, 0o644); err != nil {
		return fmt.Errorf("release manifest: %w", err)
	}
	fmt.Fprintf(c.stderr, "wrote %s: version %s commit %s, %d artifacts, digest %s, signed by key %s\n",
		c.out, m.Version, m.Commit, len(m.Artifacts), m.Digest(), m.Signature.KeyID)
	return nil
}

func (c *releaseCLI) artifactSources() artifactSources {
	return artifactSources{binary: c.binary, opsDir: c.opsDir, configFile: c.configFile}
}

func readManifest(file string) (manifest.Manifest, []byte, error) {
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(io.LimitReader(os.Stdin, manifest.MaxBytes+1))
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return manifest.Manifest{}, nil, err
	}
	m, err := manifest.Parse(b)
	if err != nil {
		return m, b, fmt.Errorf("%s: %w%s", file, err, problemLines(err))
	}
	return m, b, nil
}

// verify checks a manifest's signature and every digest against what is
// here (and, with --running, the build of every registered instance), and
// names each mismatch. Any mismatch is an error (exit status 1).
func (c *releaseCLI) verify(ctx context.Context, file string) error {
	m, _, err := readManifest(file)
	if err != nil {
		return fmt.Errorf("release verify: %w", err)
	}
	var trusted []byte
	if c.publicKey != "" {
		kb, err := os.ReadFile(c.publicKey)
		if err != nil {
			return fmt.Errorf("release verify: %w", err)
		}
		if trusted, err = manifest.ParsePublicKey(kb); err != nil {
			return fmt.Errorf("release verify: --public-key %s: %w", c.publicKey, err)
		}
	}
	var problems []string
	if err := m.VerifySignature(trusted); err != nil {
		problems = append(problems, "signature: "+strings.TrimPrefix(err.Error(), "unprocessable: "))
	} else if trusted == nil {
		fmt.Fprintf(c.stderr, "warning: no --public-key: the signature holds under the key the manifest names (%s), which proves it unaltered, not who signed it\n", m.Signature.KeyID)
	}
	arts, err := collectArtifacts(c.artifactSources())
	if err != nil {
		return fmt.Errorf("release verify: %w", err)
	}
	for _, mm := range manifest.Compare(m, arts, true) {
		problems = append(problems, mm.String())
	}
	if c.binary == "" {
		// The binary running this check is the one verified: its own build
		// information must be the manifest's too.
		b := buildInfo()
		if b.Version != m.Version {
			problems = append(problems, fmt.Sprintf("build version: this binary is %s, manifest says %s", b.Version, m.Version))
		}
		if b.Commit != m.Commit {
			problems = append(problems, fmt.Sprintf("build commit: this binary is %s, manifest says %s", b.Commit, m.Commit))
		}
	}
	if c.running {
		ps, err := c.verifyRunning(ctx, m)
		if err != nil {
			return err
		}
		problems = append(problems, ps...)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(c.stdout, "MISMATCH "+p)
		}
		return fmt.Errorf("release verify: %s does not match: %d mismatch(es)", file, len(problems))
	}
	fmt.Fprintf(c.stdout, "OK %s: version %s commit %s, signature and %d artifact digests match (digest %s)\n",
		file, m.Version, m.Commit, len(m.Artifacts), m.Digest())
	return nil
}

// verifyRunning compares the running gateway instances (from the CMDB of
// the gateway at --url) with the manifest.
func (c *releaseCLI) verifyRunning(ctx context.Context, m manifest.Manifest) ([]string, error) {
	var snap cmdb.Snapshot
	if _, err := c.do(ctx, http.MethodGet, "/admin/cmdb", nil, &snap); err != nil {
		return nil, err
	}
	var out []string
	n := 0
	for _, it := range snap.Items {
		if it.Class != cmdb.ClassInstance {
			continue
		}
		n++
		v := it.Values
		switch {
		case v["version"] != m.Version:
			out = append(out, fmt.Sprintf("instance %s: runs version %s, manifest says %s", it.Name, v["version"], m.Version))
		case v["u_commit"] != m.Commit:
			out = append(out, fmt.Sprintf("instance %s: runs commit %s, manifest says %s", it.Name, v["u_commit"], m.Commit))
		case v["u_manifest_sha256"] != m.Digest():
			out = append(out, fmt.Sprintf("instance %s: runs with manifest %q, not this one (%s)", it.Name, v["u_manifest_sha256"], m.Digest()))
		}
	}
	if n == 0 {
		out = append(out, "running: no gateway instance is registered at "+c.url)
	}
	return out, nil
}

// publish stores a manifest in the release library of the gateway at --url.
func (c *releaseCLI) publish(ctx context.Context, file string) error {
	_, raw, err := readManifest(file)
	if err != nil {
		return fmt.Errorf("release publish: %w", err)
	}
	var res struct {
		Created bool   `json:"created"`
		Version string `json:"version"`
		Digest  string `json:"digest"`
	}
	out, err := c.do(ctx, http.MethodPut, "/admin/release/manifests", raw, &res)
	if err != nil {
		return err
	}
	if c.jsonOut {
		return c.raw(out)
	}
	if res.Created {
		fmt.Fprintf(c.stdout, "stored version %s in the release library (digest %s)\n", res.Version, res.Digest)
	} else {
		fmt.Fprintf(c.stdout, "version %s is in the release library already, with this very manifest (digest %s)\n", res.Version, res.Digest)
	}
	return nil
}

// Package manifest is the master copy of an erpgate release: a signed
// manifest that says what a release is — version, commit, Go version and the
// SHA-256 of every artifact that makes it up (the gateway binary, the WSDLs
// it serves and consumes, the dashboard and alert rules, a fingerprint of the
// configuration without secrets) — signed with an ed25519 key.
//
// The signature covers the manifest's canonical JSON without its signature
// member (Payload); Digest, the SHA-256 of that payload, names the release
// in the release library and the CMDB. Compare checks a manifest against the
// artifacts as they are (running or on disk) and names every mismatch.
//
// The package knows nothing of where artifacts come from; cmd/gateway
// collects them. It depends on the standard library and erpgate only.
package manifest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"erpgate"
)

// Schema names the manifest format; a manifest of another schema is refused.
const Schema = "erpgate-release-manifest/1"

// Artifact kinds.
const (
	KindBinary    = "binary"    // the gateway executable
	KindWSDL      = "wsdl"      // a WSDL the gateway serves or consumes
	KindDashboard = "dashboard" // ops/grafana/*.json
	KindAlerts    = "alerts"    // ops/prometheus/*.yml
	KindConfig    = "config"    // fingerprint of the configuration without secrets
)

// Kinds lists every artifact kind.
var Kinds = []string{KindBinary, KindWSDL, KindDashboard, KindAlerts, KindConfig}

// Limits of a manifest.
const (
	MaxArtifacts  = 200
	MaxNameLen    = 200
	MaxVersionLen = 64
	MaxBytes      = 256 << 10 // of a manifest's JSON
)

// Artifact is one part of a release and its SHA-256 (64 lower-case hex).
type Artifact struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// Signature is the ed25519 signature of a manifest's Payload.
type Signature struct {
	Algorithm string `json:"algorithm"`  // "ed25519"
	PublicKey string `json:"public_key"` // base64 (standard) of the 32-byte key
	KeyID     string `json:"key_id"`     // KeyID of the public key
	Value     string `json:"value"`      // base64 (standard) of the 64-byte signature
}

// Manifest says what one release is.
type Manifest struct {
	Schema    string     `json:"schema"`
	Version   string     `json:"version"`
	Commit    string     `json:"commit"`             // "unknown" when the build did not record one
	Modified  bool       `json:"modified,omitempty"` // built from a tree with uncommitted changes
	GoVersion string     `json:"go_version"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by,omitempty"`
	Artifacts []Artifact `json:"artifacts"`
	Signature *Signature `json:"signature,omitempty"`
}

// Sum returns the SHA-256 of b in lower-case hex.
func Sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// SumReader returns the SHA-256 of everything r yields.
func SumReader(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Payload returns the canonical JSON the signature covers: m without its
// signature, artifacts sorted by kind and name.
func (m Manifest) Payload() ([]byte, error) {
	m.Signature = nil
	m.Artifacts = slices.Clone(m.Artifacts)
	sortArtifacts(m.Artifacts)
	m.CreatedAt = m.CreatedAt.UTC()
	return json.Marshal(m)
}

// Digest returns the SHA-256 of m's Payload: the name of this exact release
// in the release library and the CMDB.
func (m Manifest) Digest() string {
	b, err := m.Payload()
	if err != nil {
		return ""
	}
	return Sum(b)
}

func sortArtifacts(as []Artifact) {
	slices.SortFunc(as, func(a, b Artifact) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// Validate reports every problem of m's fields at once (erpgate.Invalid with
// field problems). It does not check the signature.
func (m Manifest) Validate() error {
	var ps []erpgate.Problem
	bad := func(f, msg string) { ps = append(ps, erpgate.Problem{Field: f, Message: msg}) }
	if m.Schema != Schema {
		bad("schema", fmt.Sprintf("must be %q", Schema))
	}
	if !ValidVersion(m.Version) {
		bad("version", fmt.Sprintf("1–%d of A-Z, a-z, 0-9, '.', '_', '+' and '-'", MaxVersionLen))
	}
	if !validToken(m.Commit, MaxVersionLen) {
		bad("commit", "required: the commit hash, or \"unknown\"")
	}
	if m.GoVersion == "" || len(m.GoVersion) > MaxVersionLen {
		bad("go_version", "required")
	}
	if m.CreatedAt.IsZero() {
		bad("created_at", "required")
	}
	if len(m.CreatedBy) > 100 {
		bad("created_by", "at most 100 bytes")
	}
	switch {
	case len(m.Artifacts) == 0:
		bad("artifacts", "required: at least the binary")
	case len(m.Artifacts) > MaxArtifacts:
		bad("artifacts", fmt.Sprintf("at most %d", MaxArtifacts))
	}
	seen := map[string]int{}
	for i, a := range m.Artifacts {
		if i >= MaxArtifacts {
			break
		}
		at := fmt.Sprintf("artifacts[%d]", i)
		if !slices.Contains(Kinds, a.Kind) {
			bad(at+".kind", "one of "+strings.Join(Kinds, ", "))
		}
		if a.Name == "" || len(a.Name) > MaxNameLen || strings.ContainsAny(a.Name, "\x00\n\r") {
			bad(at+".name", fmt.Sprintf("1–%d bytes, one line", MaxNameLen))
		}
		if len(a.SHA256) != 64 || strings.Trim(a.SHA256, "0123456789abcdef") != "" {
			bad(at+".sha256", "64 lower-case hex digits")
		}
		k := a.Kind + "\x00" + a.Name
		if j, dup := seen[k]; dup {
			bad(at, fmt.Sprintf("same kind and name as artifacts[%d]", j))
		}
		seen[k] = i
	}
	if s := m.Signature; s != nil && s.Algorithm != "ed25519" {
		bad("signature.algorithm", `must be "ed25519"`)
	}
	if len(ps) == 0 {
		return nil
	}
	return &erpgate.Error{Code: erpgate.Invalid, Message: fmt.Sprintf("the manifest is invalid: %d problem(s)", len(ps)), Problems: ps}
}

// ValidVersion reports whether s is a well-formed release version
// ("1.4.0", "v1.4.0-rc.1+build.7"; also "dev" and "unknown", the honest
// names of unstamped builds).
func ValidVersion(s string) bool { return validToken(s, MaxVersionLen) }

func validToken(s string, n int) bool {
	return s != "" && len(s) <= n &&
		strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-") == ""
}

// Parse decodes a manifest strictly (unknown members are refused: they
// would not be covered by the signature) and validates it. Errors:
// erpgate.Invalid, TooLarge.
func Parse(b []byte) (Manifest, error) {
	var m Manifest
	if len(b) > MaxBytes {
		return m, erpgate.Errorf(erpgate.TooLarge, "a manifest is at most %d bytes", MaxBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, &erpgate.Error{Code: erpgate.Invalid, Message: "the manifest is not valid JSON of the manifest format",
			Problems: []erpgate.Problem{{Field: "", Message: err.Error()}}, Err: err}
	}
	if dec.More() {
		return m, erpgate.Errorf(erpgate.Invalid, "the manifest has trailing data after its JSON object")
	}
	return m, m.Validate()
}

// Marshal returns m as indented JSON (what `release manifest` writes).
func (m Manifest) Marshal() ([]byte, error) {
	m.Artifacts = slices.Clone(m.Artifacts)
	sortArtifacts(m.Artifacts)
	m.CreatedAt = m.CreatedAt.UTC()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Sign signs m with priv, replacing any signature.
func (m *Manifest) Sign(priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize {
		return errors.New("manifest: not an ed25519 private key")
	}
	p, err := m.Payload()
	if err != nil {
		return err
	}
	pub := priv.Public().(ed25519.PublicKey)
	m.Signature = &Signature{
		Algorithm: "ed25519",
		PublicKey: base64.StdEncoding.EncodeToString(pub),
		KeyID:     KeyID(pub),
		Value:     base64.StdEncoding.EncodeToString(ed25519.Sign(priv, p)),
	}
	return nil
}

// KeyID names a public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string { return Sum(pub)[:16] }

// VerifySignature checks m's signature. With trusted given, the manifest
// must be signed by that key; without, by the key it names (which proves the
// manifest unaltered since signing, not who signed it). Errors:
// erpgate.Unprocessable with a "signature" problem.
func (m Manifest) VerifySignature(trusted ed25519.PublicKey) error {
	fail := func(msg string) error {
		return &erpgate.Error{Code: erpgate.Unprocessable, Message: "the manifest's signature does not hold: " + msg,
			Problems: []erpgate.Problem{{Field: "signature", Message: msg}}}
	}
	s := m.Signature
	if s == nil {
		return fail("the manifest is not signed")
	}
	pub, err := base64.StdEncoding.DecodeString(s.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return fail("public_key is not a base64 ed25519 public key")
	}
	sig, err := base64.StdEncoding.DecodeString(s.Value)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fail("value is not a base64 ed25519 signature")
	}
	if trusted != nil && !bytes.Equal(pub, trusted) {
		return fail(fmt.Sprintf("signed by key %s, not by the trusted key %s", KeyID(pub), KeyID(trusted)))
	}
	p, err := m.Payload()
	if err != nil {
		return fail(err.Error())
	}
	if !ed25519.Verify(pub, p, sig) {
		return fail("the signature does not match the manifest's content (altered after signing, or signed by another key)")
	}
	return nil
}

// Mismatch is one difference between a manifest and what is there.
type Mismatch struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	Want string `json:"want"` // in the manifest; "" for an artifact the manifest does not list
	Got  string `json:"got"`  // found; "" for an artifact not found
}

// String says what differs, for people.
func (m Mismatch) String() string {
	switch {
	case m.Got == "":
		return fmt.Sprintf("%s %s: missing (manifest has %s)", m.Kind, m.Name, short(m.Want))
	case m.Want == "":
		return fmt.Sprintf("%s %s: not in the manifest (found %s)", m.Kind, m.Name, short(m.Got))
	default:
		return fmt.Sprintf("%s %s: sha256 %s, manifest says %s", m.Kind, m.Name, short(m.Got), short(m.Want))
	}
}

func short(h string) string { return h[:min(len(h), 16)] }

// Compare checks every artifact of m against actual and returns the
// mismatches sorted by kind and name: a different digest, an artifact not
// found, and an artifact found that m does not list. Only the kinds present
// in actual are compared (a check that did not look at dashboards does not
// report them missing), unless all is set.
func Compare(m Manifest, actual []Artifact, all bool) []Mismatch {
	got := map[string]string{}
	kinds := map[string]bool{}
	for _, a := range actual {
		got[a.Kind+"\x00"+a.Name] = a.SHA256
		kinds[a.Kind] = true
	}
	var out []Mismatch
	want := map[string]bool{}
	for _, a := range m.Artifacts {
		k := a.Kind + "\x00" + a.Name
		want[k] = true
		if !all && !kinds[a.Kind] {
			continue
		}
		if g := got[k]; g != a.SHA256 {
			out = append(out, Mismatch{Kind: a.Kind, Name: a.Name, Want: a.SHA256, Got: g})
		}
	}
	for _, a := range actual {
		if !want[a.Kind+"\x00"+a.Name] {
			out = append(out, Mismatch{Kind: a.Kind, Name: a.Name, Got: a.SHA256})
		}
	}
	slices.SortFunc(out, func(a, b Mismatch) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// GenerateKey returns a new ed25519 key pair as PEM: the private key
// (PKCS #8, "PRIVATE KEY") and the public key (PKIX, "PUBLIC KEY"), the
// forms openssl reads.
func GenerateKey(rand io.Reader) (privPEM, pubPEM []byte, err error) {
	pub, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	pder, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), nil
}

// ParsePrivateKey reads a PEM PKCS #8 ed25519 private key.
func ParsePrivateKey(b []byte) (ed25519.PrivateKey, error) {
	return parsePEM[ed25519.PrivateKey](b, "PRIVATE KEY", x509.ParsePKCS8PrivateKey)
}

// ParsePublicKey reads a PEM PKIX ed25519 public key.
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	return parsePEM[ed25519.PublicKey](b, "PUBLIC KEY", x509.ParsePKIXPublicKey)
}

func parsePEM[K any](b []byte, typ string, parse func([]byte) (any, error)) (K, error) {
	var zero K
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != typ {
		return zero, fmt.Errorf("not a PEM %q block", typ)
	}
	k, err := parse(blk.Bytes)
	if err != nil {
		return zero, err
	}
	key, ok := k.(K)
	if !ok {
		return zero, fmt.Errorf("a %T, not an ed25519 key", k)
	}
	return key, nil
}

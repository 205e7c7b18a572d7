package manifest

import (
	"crypto/ed25519"
	"testing"
)

// FuzzParse: Parse reads what PUT /admin/release/manifests receives. It
// never panics, and what it accepts writes and reads back to the same
// digest, so the signature covers exactly what is stored.
func FuzzParse(f *testing.F) {
	m := sample()
	_, priv, _ := ed25519.GenerateKey(nil)
	m.Sign(priv)
	good, _ := m.Marshal()
	f.Add(good)
	f.Add([]byte(`{"schema":"erpgate-release-manifest/1"}`))
	f.Add([]byte(`{"artifacts":[{"kind":"binary","name":"x","sha256":"zz"}]} trailing`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		_ = m.VerifySignature(nil)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed manifest: %v", err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("a written manifest does not parse: %v\n%s", err, out)
		}
		if back.Digest() != m.Digest() {
			t.Fatalf("digest changed by writing and reading: %s vs %s", back.Digest(), m.Digest())
		}
	})
}

package manifest

import (
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"erpgate"
)

func sample() Manifest {
	return Manifest{Schema: Schema, Version: "1.4.0", Commit: "0123abcd", GoVersion: "go1.26.0",
		CreatedAt: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC),
		Artifacts: []Artifact{
			{Kind: KindWSDL, Name: "soap/orderws/orderservice.wsdl", SHA256: Sum([]byte("wsdl"))},
			{Kind: KindBinary, Name: "gateway", SHA256: Sum([]byte("bin"))},
		}}
}

func TestSignVerifyAndTamper(t *testing.T) {
	privPEM, pubPEM, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	m := sample()
	if err := m.Sign(priv); err != nil {
		t.Fatal(err)
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.VerifySignature(pub); err != nil {
		t.Fatalf("verify the written manifest: %v", err)
	}
	if back.Digest() != m.Digest() || len(m.Digest()) != 64 {
		t.Errorf("digest changed by writing and reading: %s vs %s", back.Digest(), m.Digest())
	}
	tampered := back
	tampered.Artifacts = slices.Clone(back.Artifacts)
	tampered.Artifacts[0].SHA256 = Sum([]byte("evil"))
	if err := tampered.VerifySignature(nil); erpgate.ErrorCode(err) != erpgate.Unprocessable {
		t.Errorf("tampered: got %v, want unprocessable", err)
	}
	_, other, _ := GenerateKey(rand.Reader)
	otherPub, _ := ParsePublicKey(other)
	if err := back.VerifySignature(otherPub); err == nil {
		t.Error("a manifest signed by another key passed with a trusted key given")
	}
	unsigned := sample()
	if err := unsigned.VerifySignature(nil); err == nil {
		t.Error("an unsigned manifest passed")
	}
	if _, err := Parse(append(b[:len(b)-2], []byte(`,"extra":1}`)...)); erpgate.ErrorCode(err) != erpgate.Invalid {
		t.Errorf("unknown member: got %v, want invalid", err)
	}
}

func TestValidate(t *testing.T) {
	m := Manifest{Schema: "x", Artifacts: []Artifact{{Kind: "exe", Name: "", SHA256: "XYZ"}, {Kind: "exe", Name: ""}}}
	var got []string
	for _, p := range erpgate.ErrorProblems(m.Validate()) {
		got = append(got, p.Field)
	}
	want := []string{"schema", "version", "commit", "go_version", "created_at",
		"artifacts[0].kind", "artifacts[0].name", "artifacts[0].sha256",
		"artifacts[1].kind", "artifacts[1].name", "artifacts[1].sha256", "artifacts[1]"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestCompareNamesEachMismatch(t *testing.T) {
	m := sample()
	actual := []Artifact{
		{Kind: KindBinary, Name: "gateway", SHA256: Sum([]byte("other bin"))},
		{Kind: KindWSDL, Name: "soap/erpv1ws/erpv1.wsdl", SHA256: Sum([]byte("v1"))},
	}
	got := Compare(m, actual, false)
	if len(got) != 3 {
		t.Fatalf("got %v, want 3 mismatches", got)
	}
	if got[0].Name != "gateway" || got[0].Got == "" || got[0].Want == "" {
		t.Errorf("binary: got %+v", got[0])
	}
	if got[1].Name != "soap/erpv1ws/erpv1.wsdl" || got[1].Want != "" {
		t.Errorf("unlisted: got %+v", got[1])
	}
	if got[2].Name != "soap/orderws/orderservice.wsdl" || got[2].Got != "" {
		t.Errorf("missing: got %+v", got[2])
	}
	if n := len(Compare(m, []Artifact{{Kind: KindBinary, Name: "gateway", SHA256: Sum([]byte("bin"))}}, false)); n != 0 {
		t.Errorf("only the binary checked: %d mismatches, want 0 (WSDLs not looked at)", n)
	}
}

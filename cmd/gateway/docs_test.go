package main

// The documentation's examples run here, against a gateway started through
// run() in embedded mode (in-memory Redis, ERP simulator), one fresh gateway
// per document. Fenced blocks say what they are on their opening line:
//
//	```sh run            executed by bash, in document order, one bash session per document
//	                     (variables carry over); a command whose last line ends in
//	                     "# → 202" must answer that HTTP status
//	```json expect       the answer of the last "# →" command before it must match:
//	                     every key shown has the value shown ("…" matches anything,
//	                     within a string any text: "ord_…"); arrays match in full
//	```go verify         a webhook signature check (also python, js): run against
//	                     signatures made by the gateway's own signer
//	```json plan         a release plan: decoded into erp.ReleasePlan and validated,
//	                     and checked against docs/release-plan.schema.json
//	```json config       a config file: read by loadConfig
//	file=NAME            (with any marker) the block is also written to NAME in the
//	                     directory the run blocks run in
//	```<lang> static     shown, not run (diagrams, formats, commands for a real host)
//
// The reader docs must mark every block; a block without a marker fails.
// http://127.0.0.1:8080 and :8090 in a block stand for the test's gateway
// and simulator. Inside a run block, curl is a shell function that records
// each answer's status and body; the real curl does the work.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"erpgate/erp"
	"erpgate/gateway"
	"erpgate/tracking"
)

// readerDocs are the documents whose every block must carry a marker.
var readerDocs = []string{
	"README.md", "docs/index.md", "docs/shop-integrators.md", "docs/suppliers.md",
	"docs/operators.md", "docs/release-managers.md", "docs/architecture.md", "docs/simulator.md",
	"docs/performance.md",
}

type docBlock struct {
	file    string
	line    int // of the opening fence
	lang    string
	markers []string
	text    string
}

func (b docBlock) has(m string) bool { return slices.Contains(b.markers, m) }

// markedBlocks returns the reader docs' blocks with marker m.
func markedBlocks(t *testing.T, m string) []docBlock {
	t.Helper()
	var out []docBlock
	for _, doc := range readerDocs {
		for _, b := range docBlocks(t, doc) {
			if b.has(m) {
				out = append(out, b)
			}
		}
	}
	return out
}
func (b docBlock) where() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

var fenceRe = regexp.MustCompile("^(\\s*)(```+)(.*)$")

// docBlocks returns the fenced blocks of a Markdown file.
func docBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", path))
	if err != nil {
		t.Fatal(err)
	}
	var out []docBlock
	var cur *docBlock
	var body []string
	indent, fence := "", ""
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		m := fenceRe.FindStringSubmatch(line)
		switch {
		case cur == nil && m != nil:
			f := strings.Fields(m[3])
			cur = &docBlock{file: path, line: n}
			if len(f) > 0 {
				cur.lang, cur.markers = f[0], f[1:]
			}
			indent, fence, body = m[1], m[2], nil
		case cur != nil && m != nil && m[2] == fence && strings.TrimSpace(m[3]) == "":
			cur.text = strings.Join(body, "\n") + "\n"
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body = append(body, strings.TrimPrefix(line, indent))
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: unclosed code fence", path, cur.line)
	}
	return out
}

// TestDocsEveryBlockIsMarked: every example in the reader docs is either
// run, compared with a real answer, or says it is shown only.
func TestDocsEveryBlockIsMarked(t *testing.T) {
	known := []string{"run", "expect", "verify", "plan", "config", "static"}
	counts := map[string]int{}
	for _, doc := range readerDocs {
		for _, b := range docBlocks(t, doc) {
			var ok []string
			for _, m := range b.markers {
				if slices.Contains(known, m) {
					ok = append(ok, m)
				}
			}
			if len(ok) != 1 {
				t.Errorf("%s: block ```%s %s has markers %v; want exactly one of %v", b.where(), b.lang,
					strings.Join(b.markers, " "), ok, known)
				continue
			}
			counts[ok[0]]++
		}
	}
	t.Logf("doc blocks by kind: %v", counts)
	if counts["run"] == 0 || counts["expect"] == 0 || counts["verify"] < 3 {
		t.Errorf("doc blocks by kind %v: want run and expect blocks and three verify blocks", counts)
	}
}

// expectRe finds "# → 202" at the end of a line of a run block.
var expectRe = regexp.MustCompile(`#\s*→\s*(\d{3})\b[^']*$`)

// docShellPrelude wraps curl so that every answer's status and body are
// recorded, and defines the check that "# → NNN" turns into.
const docShellPrelude = `set -euo pipefail
trap 'echo "failed: $BASH_COMMAND (see the nearest # --- marker above line $LINENO of the script)" >&2' ERR
__seen=0
curl() {
	local out code
	out=$(mktemp -p "$DOCTEST")
	command curl "$@" -sS -w '\n%{http_code}' >"$out"
	code=$(tail -n1 "$out")
	head -n -1 "$out" >"$DOCTEST/last"
	printf '%s\n' "$code" >>"$DOCTEST/statuses"
	cat "$DOCTEST/last"
}
__expect() { # want, answer number, where
	local n got
	n=$(wc -l <"$DOCTEST/statuses" 2>/dev/null || echo 0)
	if [ "$n" = "$__seen" ]; then echo "$3: no curl answered before this '# → $1'" >&2; exit 97; fi
	__seen=$n
	got=$(tail -n1 "$DOCTEST/statuses")
	if [ "$got" != "$1" ]; then
		echo "$3: answered $got, the doc says $1; body:" >&2; cat "$DOCTEST/last" >&2; exit 98
	fi
	cp "$DOCTEST/last" "$DOCTEST/answer.$2"
}
`

// TestDocsExamplesRun runs every document's run blocks against a fresh
// gateway and compares its expect blocks with the real answers.
func TestDocsExamplesRun(t *testing.T) {
	needTools(t, "curl", "openssl", "bash")
	docs := slices.Clone(readerDocs)
	more, _ := filepath.Glob("../../docs/*.md")
	for _, m := range more {
		if p := "docs/" + filepath.Base(m); !slices.Contains(docs, p) {
			docs = append(docs, p)
		}
	}
	only := os.Getenv("ERPGATE_DOCS") // e.g. docs/suppliers.md: run that document's examples only
	for _, doc := range docs {
		if only != "" && doc != only {
			continue
		}
		blocks := docBlocks(t, doc)
		if !slices.ContainsFunc(blocks, func(b docBlock) bool { return b.has("run") }) {
			continue
		}
		t.Run(strings.TrimSuffix(filepath.Base(doc), ".md"), func(t *testing.T) {
			runDocBlocks(t, doc, blocks)
		})
	}
}

// needTools skips the test when a tool is missing, or fails it when
// ERPGATE_REQUIRE_TOOLS is set (CI installs them).
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("ERPGATE_REQUIRE_TOOLS") != "" {
				t.Fatalf("%s is required for the docs' examples: %v", tool, err)
			}
			t.Skipf("%s not installed (set ERPGATE_REQUIRE_TOOLS=1 to make this a failure)", tool)
		}
	}
}

func runDocBlocks(t *testing.T, doc string, blocks []docBlock) {
	gw, logs, _ := startRun(t)
	sim := logs.wait(t, "EMBEDDED ERP SIMULATOR")
	dir := t.TempDir()
	for _, b := range blocks { // ```json plan file=plan.json: the block is that file for the run blocks
		for _, m := range b.markers {
			if name, ok := strings.CutPrefix(m, "file="); ok {
				if name != filepath.Base(name) {
					t.Fatalf("%s: file=%s: a plain file name, please", b.where(), name)
				}
				if err := os.WriteFile(filepath.Join(dir, name), []byte(b.text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	var script strings.Builder
	script.WriteString(docShellPrelude)
	answers := 0
	expects := map[int]docBlock{} // answer number → its expect block
	for _, b := range blocks {
		switch {
		case b.has("expect"):
			if answers == 0 {
				t.Fatalf("%s: an expect block with no checked command before it", b.where())
			}
			expects[answers] = b
		case b.has("run"):
			if b.lang != "sh" && b.lang != "bash" {
				t.Fatalf("%s: run blocks are sh, not %s", b.where(), b.lang)
			}
			text := strings.NewReplacer("http://127.0.0.1:8080", gw, "http://127.0.0.1:8090", sim).Replace(b.text)
			fmt.Fprintf(&script, "# --- %s\n", b.where())
			for i, line := range strings.Split(text, "\n") {
				script.WriteString(line + "\n")
				if m := expectRe.FindStringSubmatch(line); m != nil {
					answers++
					fmt.Fprintf(&script, "__expect %s %d %s:%d\n", m[1], answers, b.file, b.line+1+i)
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCTEST="+dir, "GW="+gw, "SIM="+sim)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: the examples failed: %v\n%s", doc, err, tail(string(out), 4000))
	}
	for n, b := range expects {
		got, err := os.ReadFile(filepath.Join(dir, "answer."+strconv.Itoa(n)))
		if err != nil {
			t.Errorf("%s: no answer %d recorded", b.where(), n)
			continue
		}
		body := string(got)
		if strings.HasPrefix(body, "HTTP/") { // curl -i: headers, blank line, body
			if _, after, ok := strings.Cut(strings.ReplaceAll(body, "\r\n", "\n"), "\n\n"); ok {
				body = after
			}
		}
		var want, have any
		if err := json.Unmarshal([]byte(b.text), &want); err != nil {
			t.Errorf("%s: the expected answer is not JSON: %v", b.where(), err)
			continue
		}
		if err := json.Unmarshal([]byte(body), &have); err != nil {
			t.Errorf("%s: the real answer is not JSON: %v\n%s", b.where(), err, body)
			continue
		}
		if diff := jsonMatch("$", want, have); diff != "" {
			t.Errorf("%s: the documented answer differs from the real one: %s\nreal answer: %s", b.where(), diff, body)
		}
	}
	t.Logf("%s: %d checked answers, %d compared bodies", doc, answers, len(expects))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// jsonMatch reports where have does not match the documented want: every
// key of a documented object must match (extra keys are allowed), arrays
// match element by element in full, "…" matches any value, and within a
// string any text ("http://…/track/ord_…").
func jsonMatch(path string, want, have any) string {
	if s, ok := want.(string); ok && strings.Contains(s, "…") {
		if s == "…" {
			return ""
		}
		parts := strings.Split(s, "…")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		h, ok := have.(string)
		if !ok || !regexp.MustCompile("^"+strings.Join(parts, ".*")+"$").MatchString(h) {
			return fmt.Sprintf("%s: got %v, want a string like %q", path, have, s)
		}
		return ""
	}
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %v, want an object", path, have)
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			hv, ok := h[k]
			if !ok {
				return fmt.Sprintf("%s.%s: missing", path, k)
			}
			if d := jsonMatch(path+"."+k, w[k], hv); d != "" {
				return d
			}
		}
		return ""
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return fmt.Sprintf("%s: got %v, want %d elements", path, have, len(w))
		}
		for i := range w {
			if d := jsonMatch(fmt.Sprintf("%s[%d]", path, i), w[i], h[i]); d != "" {
				return d
			}
		}
		return ""
	default:
		if !reflect.DeepEqual(want, have) {
			return fmt.Sprintf("%s: got %v, want %v", path, have, want)
		}
		return ""
	}
}

func TestJSONMatch(t *testing.T) {
	var want, have any
	json.Unmarshal([]byte(`{"id":"ord_…","u":"http://…/t/…?x","n":1,"any":"…","l":[{"a":"x"}]}`), &want)
	json.Unmarshal([]byte(`{"id":"ord_123","u":"http://h:1/t/ord_1?x","n":1,"any":{"z":1},"l":[{"a":"x","b":2}],"extra":true}`), &have)
	if d := jsonMatch("$", want, have); d != "" {
		t.Errorf("match: %s", d)
	}
	for _, bad := range []string{
		`{"id":"xyz","u":"http://h:1/t/ord_1?x","n":1,"any":1,"l":[{"a":"x"}]}`,
		`{"id":"ord_1","u":"http://h:1/t/ord_1?x","n":2,"any":1,"l":[{"a":"x"}]}`,
		`{"id":"ord_1","u":"http://h:1/t/ord_1?x","n":1,"any":1,"l":[{"a":"x"},{"a":"x"}]}`,
		`{"id":"ord_1","u":"http://h:1/t/ord_1?x","n":1,"l":[{"a":"x"}]}`,
		`{"id":"ord_1","u":"http://h:1/t/ord_1?y","n":1,"any":1,"l":[{"a":"x"}]}`,
	} {
		json.Unmarshal([]byte(bad), &have)
		if jsonMatch("$", want, have) == "" {
			t.Errorf("%s matched %v", bad, want)
		}
	}
}

// TestDocsWebhookVerifiers runs each documented signature check (Go,
// Python, JavaScript) against signatures the gateway's own signer makes:
// a genuine delivery passes; a changed body, a stale timestamp and a wrong
// secret fail; of several signatures one matching is enough.
func TestDocsWebhookVerifiers(t *testing.T) {
	verifiers := markedBlocks(t, "verify")
	langs := map[string]bool{}
	for _, b := range verifiers {
		langs[b.lang] = true
	}
	for _, l := range []string{"go", "python", "js"} {
		if !langs[l] {
			t.Errorf("no %s verify block in the docs", l)
		}
	}
	const secret = "whsec_docs-test-secret-0123456789"
	body := []byte(`{"id":"1765000000000-0","order_id":"ord_01","type":"shipped","time":"2026-12-07T12:00:00Z","summary":"Zoë's parcel"}`)
	now := time.Now()
	cases := []struct {
		name, secret, sig string
		ts                time.Time
		body              []byte
		want              bool
	}{
		{"genuine", secret, tracking.Sign(secret, now, body), now, body, true},
		{"second of two signatures", secret, tracking.Sign("whsec_old-secret-0123456789", now, body) + " " + tracking.Sign(secret, now, body), now, body, true},
		{"body changed", secret, tracking.Sign(secret, now, body), now, append(body[:len(body):len(body)], ' '), false},
		{"stale", secret, tracking.Sign(secret, now.Add(-10*time.Minute), body), now.Add(-10 * time.Minute), body, false},
		{"wrong secret", "whsec_another-secret-0123456789", tracking.Sign(secret, now, body), now, body, false},
	}
	for _, b := range verifiers {
		t.Run(b.lang, func(t *testing.T) {
			dir := t.TempDir()
			var cmd []string
			switch b.lang {
			case "go":
				if !strings.HasPrefix(b.text, "package main") {
					t.Fatalf("%s: the Go example must be a whole file (package main)", b.where())
				}
				os.WriteFile(filepath.Join(dir, "receiver.go"), []byte(b.text), 0o644)
				os.WriteFile(filepath.Join(dir, "harness.go"), []byte(goVerifyHarness), 0o644)
				bin := filepath.Join(dir, "verify")
				build := exec.Command("go", "build", "-o", bin, "receiver.go", "harness.go")
				build.Dir = dir // outside the module: the example needs nothing but the standard library
				if out, err := build.CombinedOutput(); err != nil {
					t.Fatalf("%s: %v\n%s", b.where(), err, out)
				}
				cmd = []string{bin}
			case "python":
				needTools(t, "python3")
				os.WriteFile(filepath.Join(dir, "verify.py"), []byte(b.text+pyVerifyHarness), 0o644)
				cmd = []string{"python3", filepath.Join(dir, "verify.py")}
			case "js":
				needTools(t, "node")
				os.WriteFile(filepath.Join(dir, "verify.js"), []byte(b.text+jsVerifyHarness), 0o644)
				cmd = []string{"node", filepath.Join(dir, "verify.js")}
			default:
				t.Fatalf("%s: verify blocks are go, python or js", b.where())
			}

			for _, c := range cases {
				bodyFile := filepath.Join(dir, "body")
				os.WriteFile(bodyFile, c.body, 0o644)
				x := exec.Command(cmd[0], cmd[1:]...)
				x.Env = append(os.Environ(), "SECRET="+c.secret, "TS="+strconv.FormatInt(c.ts.Unix(), 10),
					"SIG="+c.sig, "BODY_FILE="+bodyFile)
				out, err := x.CombinedOutput()
				got := strings.TrimSpace(string(out))
				if err != nil || (got != "true" && got != "false") {
					t.Fatalf("%s %s: %v: %s", b.where(), c.name, err, out)
				}
				if (got == "true") != c.want {
					t.Errorf("%s: %s: verify said %s, want %v", b.where(), c.name, got, c.want)
				}
			}
		})
	}
}

// The harnesses call the documented function with the test's case.
const goVerifyHarness = `package main

import (
	"fmt"
	"os"
	"time"
)

func init() {
	body, _ := os.ReadFile(os.Getenv("BODY_FILE"))
	fmt.Println(Verify(os.Getenv("SECRET"), os.Getenv("TS"), os.Getenv("SIG"), body, time.Now()))
	os.Exit(0)
}
`

const pyVerifyHarness = `
if __name__ == "__main__":
    import os as _os, time as _time
    with open(_os.environ["BODY_FILE"], "rb") as _f:
        _body = _f.read()
    print("true" if verify(_os.environ["SECRET"], _os.environ["TS"], _os.environ["SIG"], _body, _time.time()) else "false")
`

const jsVerifyHarness = `
{
  const body = require("fs").readFileSync(process.env.BODY_FILE);
  console.log(verify(process.env.SECRET, process.env.TS, process.env.SIG, body, Date.now() / 1000) ? "true" : "false");
}
`

// TestDocsConfigExamples: every config file shown in the docs is one the
// gateway loads.
func TestDocsConfigExamples(t *testing.T) {
	blocks := markedBlocks(t, "config")
	for _, b := range blocks {
		path := filepath.Join(t.TempDir(), "erpgate.json")
		os.WriteFile(path, []byte(b.text), 0o600)
		fc, err := loadConfig(path)
		if err != nil {
			t.Errorf("%s: %v", b.where(), err)
			continue
		}
		if _, err := gateway.NewKeyring(fc.Clients); err != nil {
			t.Errorf("%s: clients: %v", b.where(), err)
		}
		// The subscriptions are checked as at start (no Redis call is made).
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
		_, err = tracking.NewWebhooks(tracking.WebhooksConfig{Client: rdb, Static: fc.Webhooks,
			ShopOf: func(context.Context, string) (string, error) { return "", nil }})
		rdb.Close()
		if err != nil {
			t.Errorf("%s: webhooks: %v", b.where(), err)
		}
	}
	if len(blocks) == 0 {
		t.Error("no config example in the docs")
	}
}

// TestReleasePlanSchema holds docs/release-plan.schema.json to the real plan
// type: the gateway's JSON of the default plan and of a plan with every
// field validates, every plan.json in the docs validates and is a valid
// plan, broken plans do not validate, and the schema's properties are the
// type's JSON fields (plus the write-only ones the admin API takes).
func TestReleasePlanSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	raw, err := os.ReadFile("../../docs/release-plan.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource("release-plan.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	c.AssertFormat()
	sch, err := c.Compile("release-plan.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	validate := func(b []byte) error {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
		if err != nil {
			return err
		}
		return sch.Validate(v)
	}

	pct := 10
	full := erp.DefaultReleasePlan()
	full.Revision, full.Actor, full.ChangedAt = 7, "ops/ann", time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	full.Authoritative = erp.V1
	full.Cohorts = []erp.Cohort{{Name: "pilot", Customers: []string{"C-42"}, Authoritative: erp.V2},
		{Name: "canary-10", Percent: &pct, Authoritative: erp.V2}}
	full.AutoBackout.Enabled = true
	for name, p := range map[string]erp.ReleasePlan{"default": erp.DefaultReleasePlan(), "full": full} {
		if err := p.Validate(); err != nil {
			t.Fatalf("%s plan invalid: %v", name, err)
		}
		b, _ := json.Marshal(struct {
			erp.ReleasePlan
			AppliedRevision int64 `json:"applied_revision"`
		}{p, 3})
		if err := validate(b); err != nil {
			t.Errorf("the gateway's JSON of the %s plan does not match the schema: %v\n%s", name, err, b)
		}
	}

	plans := markedBlocks(t, "plan")
	for _, b := range plans {
		if err := validate([]byte(b.text)); err != nil {
			t.Errorf("%s: not valid by the schema: %v", b.where(), err)
		}
		dec := json.NewDecoder(strings.NewReader(b.text))
		dec.DisallowUnknownFields()
		var p erp.ReleasePlan
		if err := dec.Decode(&p); err != nil {
			t.Errorf("%s: not a release plan: %v", b.where(), err)
		} else if err := p.Validate(); err != nil {
			t.Errorf("%s: the gateway refuses this plan: %v", b.where(), err)
		}
	}
	if len(plans) == 0 {
		t.Error("no plan example in the docs")
	}

	for _, bad := range []string{
		`{"stage": 3, "targets": {"v1": "active", "v2": "active"}, "authoritative": "v2"}`,
		`{"stage": 2, "targets": {"v1": "active", "v3": "active"}, "authoritative": "v2"}`,
		`{"stage": 2, "targets": {"v1": "active", "v2": "on"}, "authoritative": "v2"}`,
		`{"stage": 2, "targets": {"v1": "active", "v2": "active"}, "authoritative": "v2", "cohorts": [{"name": "x", "percent": 5, "customers": ["C-1"], "authoritative": "v2"}]}`,
		`{"stage": 2, "targets": {"v1": "active", "v2": "active"}, "authoritative": "v2", "cohorts": [{"name": "Default!", "percent": 5, "authoritative": "v2"}]}`,
		`{"stage": 2, "targets": {"v1": "active", "v2": "active"}, "authoritative": "v2", "shadow": "yes"}`,
		`{"stage": 2, "targets": {"v1": "active", "v2": "active"}, "authoritative": "v2", "colour": "blue"}`,
	} {
		if validate([]byte(bad)) == nil {
			t.Errorf("the schema accepts %s", bad)
		}
	}

	// The schema's properties are the plan type's JSON fields.
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Defs       map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	json.Unmarshal(raw, &s)
	for _, c := range []struct {
		props map[string]json.RawMessage
		typ   reflect.Type
		extra []string
	}{
		{s.Properties, reflect.TypeFor[erp.ReleasePlan](), []string{"expected_revision", "applied_revision"}},
		{s.Defs["cohort"].Properties, reflect.TypeFor[erp.Cohort](), nil},
		{s.Defs["autoBackout"].Properties, reflect.TypeFor[erp.AutoBackout](), nil},
	} {
		var fields []string
		for f := range c.typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fields = append(fields, name)
		}
		fields = append(fields, c.extra...)
		var props []string
		for k := range c.props {
			props = append(props, k)
		}
		slices.Sort(fields)
		slices.Sort(props)
		if !slices.Equal(fields, props) {
			t.Errorf("%s: schema properties %v, JSON fields %v", c.typ, props, fields)
		}
	}
}

// laterDocs are pages other work adds (the docs index links to them before
// they exist on every branch).
var laterDocs = []string{"docs/api.md", "docs/hardening.md", "docs/recovery.md", "docs/tracking.md",
	"docs/notices-feedback-help.md", "docs/release-management.md", "docs/release-runbook.md"}

var mdLinkRe = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// anchorOf is GitHub's anchor of a heading.
func anchorOf(heading string) string {
	h := strings.ToLower(strings.TrimSpace(heading))
	var b strings.Builder
	for _, r := range h {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127 && !strings.ContainsRune("→—–·…", r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestDocsLinks: every relative link of the reader docs points to a file of
// the repository (or a page other work adds), and every #anchor to a
// heading of the page it names.
func TestDocsLinks(t *testing.T) {
	anchors := map[string]map[string]bool{}
	headings := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		a := map[string]bool{}
		raw, _ := os.ReadFile(filepath.Join("..", "..", path))
		inFence := false
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inFence = !inFence
			}
			if !inFence && strings.HasPrefix(line, "#") {
				a[anchorOf(strings.TrimLeft(line, "#"))] = true
			}
		}
		anchors[path] = a
		return a
	}
	for _, doc := range readerDocs {
		raw, err := os.ReadFile(filepath.Join("..", "..", doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLinkRe.FindAllStringSubmatch(string(raw), -1) {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(link, "#")
			target := doc
			if file != "" {
				target = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(doc), file)))
			}
			if slices.Contains(laterDocs, target) {
				continue
			}
			if _, err := os.Stat(filepath.Join("..", "..", target)); err != nil {
				t.Errorf("%s: link %s: no file %s", doc, link, target)
				continue
			}
			if anchor != "" && strings.HasSuffix(target, ".md") && !headings(target)[anchor] {
				t.Errorf("%s: link %s: no heading #%s in %s", doc, link, anchor, target)
			}
		}
	}
}

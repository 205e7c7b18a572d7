package main

import (
	"bufio"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// readEnvFile reads a systemd EnvironmentFile of KEY=value lines.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(v, `"'$`) {
			t.Fatalf("%s:%d: %q is not a plain KEY=value line", path, n, line)
		}
		env[k] = v
	}
	return env
}

// TestDeployEnvFileIsUnderstood: every variable of the example environment
// file is one the gateway reads, with a value it accepts, and the settings a
// production system needs (real Redis, both ERP URLs) are there.
func TestDeployEnvFileIsUnderstood(t *testing.T) {
	env := readEnvFile(t, "../../deploy/erpgate.env")
	read := map[string]bool{}
	getenv := func(k string) string { read[k] = true; return env[k] }
	opt, err := parseFlags([]string{"gateway", "--config", "/run/credentials/erpgate.service/erpgate.json"}, getenv, io.Discard)
	if err != nil {
		t.Fatalf("parseFlags with deploy/erpgate.env: %v", err)
	}
	for k := range env {
		if !read[k] {
			t.Errorf("deploy/erpgate.env sets %s, which the gateway does not read", k)
		}
	}
	if opt.redisURL == "" || opt.erpV1URL == "" || opt.erpV2URL == "" || opt.publicURL == "" {
		t.Errorf("deploy/erpgate.env leaves REDIS_URL, an ERP URL or the public URL empty: %+v", opt)
	}
	if _, err := newRedisClient(opt.redisURL, 0); err != nil {
		t.Errorf("REDIS_URL: %v", err)
	}
	if _, err := newLogger(opt, io.Discard); err != nil {
		t.Errorf("log settings: %v", err)
	}
}

func TestSentinelURLWithPassword(t *testing.T) {
	c, err := newRedisClient("redis+sentinel://:s3cret@s1:26379,s2:26379/mymaster", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, ok := c.(interface{ Options() *redis.Options })
	if !ok || rc.Options().Password != "s3cret" {
		t.Errorf("sentinel client %T: password not taken from the URL", c)
	}
	if _, err := newRedisClient("redis+sentinel://:pw@/mymaster", 0); err == nil {
		t.Error("a sentinel URL without hosts was accepted")
	}
}

// TestContainerfile lints deploy/Containerfile, which CI cannot build (no
// container engine, no image registry): a multi-stage build whose every
// base image is pinned by digest, that fetches nothing by URL, builds a
// static binary, and runs it as a non-root user in exec form.
func TestContainerfile(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines; drop comments and blank lines.
	var instrs []string
	cur := ""
	for _, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		instrs = append(instrs, cur+trimmed)
		cur = ""
	}
	args := map[string]string{}
	digest := regexp.MustCompile(`^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$`)
	var froms []string
	stageUser := ""
	lastEntrypoint := ""
	for _, in := range instrs {
		op, rest, _ := strings.Cut(in, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(op) {
		case "ARG":
			if k, v, ok := strings.Cut(rest, "="); ok {
				args[k] = v
			}
		case "FROM":
			f := strings.Fields(rest)
			img := f[0]
			if strings.HasPrefix(img, "${") {
				img = args[strings.Trim(img, "${}")]
			}
			if !digest.MatchString(img) {
				t.Errorf("FROM %s: base image %q is not pinned by digest", rest, img)
			}
			froms = append(froms, img)
			stageUser = ""
		case "ADD":
			t.Errorf("%s: use COPY (ADD fetches URLs and unpacks archives)", in)
		case "RUN":
			if strings.Contains(rest, "curl ") || strings.Contains(rest, "wget ") {
				t.Errorf("%s: the build fetches something by URL", in)
			}
		case "USER":
			stageUser = rest
		case "ENTRYPOINT":
			lastEntrypoint = rest
		}
	}
	if len(froms) < 2 {
		t.Errorf("%d stages, want a multi-stage build", len(froms))
	}
	if u, _, _ := strings.Cut(stageUser, ":"); u == "" || u == "0" || u == "root" {
		t.Errorf("final stage runs as %q, want a non-root USER", stageUser)
	}
	if !strings.HasPrefix(lastEntrypoint, "[") {
		t.Errorf("ENTRYPOINT %s: want exec form", lastEntrypoint)
	}
	if len(froms) > 0 && !strings.Contains(froms[len(froms)-1], "distroless/static") && !strings.HasPrefix(froms[len(froms)-1], "scratch") {
		t.Errorf("runtime image %s: want a minimal one (distroless/static or scratch)", froms[len(froms)-1])
	}
	if !strings.Contains(string(raw), "CGO_ENABLED=0") {
		t.Error("the binary is not built static (CGO_ENABLED=0)")
	}
}

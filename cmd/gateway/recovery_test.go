package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startRedisServer starts a redis-server of its own with args on a free
// loopback port and returns its address once it answers. A missing
// redis-server fails the test under ERPGATE_REQUIRE_TOOLS=1 or
// ERPGATE_REDIS_REQUIRED=1 and skips it otherwise.
func startRedisServer(t *testing.T, args ...string) string {
	t.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("ERPGATE_REQUIRE_TOOLS") == "1" || os.Getenv("ERPGATE_REDIS_REQUIRED") == "1" {
			t.Fatal("redis-server not found but ERPGATE_REQUIRE_TOOLS or ERPGATE_REDIS_REQUIRED is 1")
		}
		t.Skip("redis-server not installed")
	}
	addr := freePort(t)
	_, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(server, append([]string{"--port", port, "--bind", "127.0.0.1", "--dir", t.TempDir(), "--save", ""}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(t.Context()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer within 10s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr
}

// TestAppendfsyncWarning: the README promises a warning at start when Redis
// syncs its AOF less often than every write (appendfsync everysec), and none
// when it syncs always.
func TestAppendfsyncWarning(t *testing.T) {
	const warning = "redis appendfsync is not always"
	for _, fsync := range []string{"everysec", "always"} {
		t.Run(fsync, func(t *testing.T) {
			addr := startRedisServer(t, "--appendonly", "yes", "--appendfsync", fsync)
			_, logs, stop := startRun(t, "--redis-url", "redis://"+addr)
			stop()
			logs.mu.Lock()
			defer logs.mu.Unlock()
			var found bool
			for _, l := range logs.lines {
				if strings.Contains(l, warning) && strings.Contains(l, `"appendfsync":"`+fsync+`"`) {
					found = true
				}
			}
			if want := fsync != "always"; found != want {
				t.Errorf("appendfsync %s: warning logged = %v, want %v", fsync, found, want)
			}
		})
	}
}

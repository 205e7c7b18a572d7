package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"erpgate/erp"
	"erpgate/erp/erptest"
	"erpgate/erp/erpv2"
	"erpgate/erpsim"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger
// and the reads of a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var urlRE = regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+)`)

// start runs the program with args and env and returns its base URL once
// it listens, and a function that stops it and returns run's error.
func start(t *testing.T, env map[string]string, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"erpsim", "--listen", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, &stdout, &stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := urlRE.FindStringSubmatch(stderr.String()); m != nil {
			stop := sync.OnceValue(func() error {
				cancel()
				select {
				case err := <-done:
					return err
				case <-time.After(15 * time.Second):
					return errors.New("run did not return within 15s of cancel")
				}
			})
			t.Cleanup(func() {
				if err := stop(); err != nil {
					t.Errorf("stopping erpsim: %v", err)
				}
			})
			return m[1], stop
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("run returned before listening: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no listening line in the log:\n%s", stderr.String())
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestRunServesAndShutsDown(t *testing.T) {
	base, stop := start(t, nil)

	if code, body := get(t, base+"/healthz"); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, base+"/erp/v2?wsdl"); code != http.StatusOK || !strings.Contains(body, `location="`+base+`/erp/v2"`) {
		t.Errorf("/erp/v2?wsdl = %d, location of %s missing", code, base)
	}

	// An order through the real adapter reaches the simulator once.
	a, err := erpv2.New(erpv2.Config{URL: base + "/erp/v2"})
	if err != nil {
		t.Fatal(err)
	}
	o := erptest.Order()
	for range 2 {
		if _, err := a.CreateOrder(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	code, body := get(t, base+"/sim/orders?version=v2&external_ref="+o.ID)
	var orders []erpsim.OrderInfo
	if err := json.Unmarshal([]byte(body), &orders); err != nil || code != http.StatusOK {
		t.Fatalf("/sim/orders = %d %q: %v", code, body, err)
	}
	if len(orders) != 1 || orders[0].CreateCalls != 2 || orders[0].ERPOrderNumber == "" {
		t.Errorf("orders = %+v, want one with create_calls 2", orders)
	}

	if err := stop(); err != nil {
		t.Fatalf("run after cancel = %v, want nil", err)
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second); err == nil {
		t.Error("still listening after shutdown")
	}
}

func TestFlagsAndEnvironmentSetFaults(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want erpsim.Faults
		code string // error code of a create, "" for success
	}{
		{"down by flag", nil, []string{"--down"}, erpsim.Faults{Down: true}, erpv2.CodeHTTPStatus},
		{"down by env", map[string]string{"ERPSIM_DOWN": "true"}, nil, erpsim.Faults{Down: true}, erpv2.CodeHTTPStatus},
		{"flag beats env", map[string]string{"ERPSIM_DOWN": "true"}, []string{"--down=false"}, erpsim.Faults{}, ""},
		{"busy", nil, []string{"--error-rate", "1"}, erpsim.Faults{ErrorRate: 1}, erpv2.CodeServiceBusy},
		{"latency", map[string]string{"ERPSIM_LATENCY": "5ms"}, nil, erpsim.Faults{LatencyMS: 5}, ""},
		{"lost replies", nil, []string{"--lost-reply-rate", "0.25"}, erpsim.Faults{LostReplyRate: 0.25}, "skip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, _ := start(t, tt.env, tt.args...)
			_, body := get(t, base+"/sim/faults")
			var got erpsim.Faults
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("faults = %+v, want %+v", got, tt.want)
			}
			if tt.code == "skip" {
				return
			}
			a, err := erpv2.New(erpv2.Config{URL: base + "/erp/v2"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.CreateOrder(t.Context(), erptest.Order())
			var code string
			var e *erp.Error
			if errors.As(err, &e) {
				code = e.Code
			} else if err != nil {
				t.Fatalf("create: %v", err)
			}
			if code != tt.code {
				t.Errorf("create error code = %q, want %q", code, tt.code)
			}
		})
	}
}

func TestBadConfigurationIsRefused(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"rate above 1", nil, []string{"--error-rate", "2"}},
		{"negative latency", nil, []string{"--latency", "-1s"}},
		{"latency too long", nil, []string{"--latency", "1h"}},
		{"zero max orders", nil, []string{"--max-orders", "0"}},
		{"unknown flag", nil, []string{"--verbose"}},
		{"stray argument", nil, []string{"serve"}},
		{"bad env", map[string]string{"ERPSIM_ERROR_RATE": "lots"}, nil},
		{"port in use", nil, []string{"--listen", busy.Addr().String()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr syncBuffer
			args := append([]string{"erpsim", "--listen", "127.0.0.1:0"}, tt.args...)
			if err := run(t.Context(), args, func(k string) string { return tt.env[k] }, io.Discard, &stderr); err == nil {
				t.Error("run = nil, want an error")
			}
		})
	}
	if err := run(t.Context(), []string{"erpsim", "-h"}, func(string) string { return "" }, io.Discard, io.Discard); err != nil {
		t.Errorf("run -h = %v, want nil", err)
	}
}

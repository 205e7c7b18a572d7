package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/internal/redistest"
	"erpgate/store"
	"erpgate/tracking"
)

// The crash window of the Idempotency-Key (claim.go): the claim is written,
// then the process dies before the accept. TestMain runs this package's
// test binary as that process when crashEnv is set.
const (
	crashEnv   = "ERPGATE_STORE_CRASH_CHILD" // "crash" (exit right after the claim) or "retry"
	crashURL   = "ERPGATE_STORE_CRASH_URL"   // the Redis of the parent test
	crashExit  = 3
	crashShop  = "shop-a"
	crashExt   = "EXT-CRASH"
	crashKey   = "key-crash"
	crashParts = 16
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(crashEnv); mode != "" {
		os.Exit(crashChild(mode, os.Getenv(crashURL)))
	}
	os.Exit(m.Run())
}

// crashChild accepts the crash test's order with its key in a fresh process;
// in mode "crash" it exits with crashExit right after the claim. It prints
// the accept's outcome as JSON.
func crashChild(mode, url string) int {
	var rdb redis.UniversalClient
	if hosts, ok := strings.CutPrefix(url, "redis+cluster://"); ok {
		rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(hosts, ",")})
	} else {
		o, err := redis.ParseURL(url)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		rdb = redis.NewClient(o)
	}
	defer rdb.Close()
	s := store.New(rdb, store.Options{Partitions: crashParts})
	ctx := context.Background()
	if err := s.Init(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if mode == "crash" {
		store.SetAfterClaim(func() { os.Exit(crashExit) })
	}
	// Every process draws its own order id, as every gateway request does.
	seq := 0
	id := s.NewOrderID(crashShop, crashExt, func() string {
		seq++
		return fmt.Sprintf("ord_%s_%d_%d", mode, os.Getpid(), seq)
	})
	o := testOrder(id, crashShop, crashExt)
	ev := tracking.Event{Time: t0, Type: tracking.TypeAccepted, Source: tracking.SourceGateway, Summary: "accepted"}
	acc, err := s.Accept(ctx, store.Intake{Order: o, Fingerprint: "fp-crash", IdempotencyKey: crashKey, Token: "tok-" + mode, Event: ev.Encode()})
	out, _ := json.Marshal(struct {
		Acc store.Accepted
		Err string
	}{acc, fmt.Sprint(err)})
	fmt.Println(string(out))
	if err != nil {
		return 1
	}
	return 0
}

// runCrashChild runs the test binary as crashChild in mode.
func runCrashChild(t *testing.T, mode, url string) (exit int, acc store.Accepted) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+mode, crashURL+"="+url)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		exit = ee.ExitCode()
	default:
		t.Fatalf("%s child: %v", mode, err)
	}
	if exit == 0 {
		var r struct {
			Acc store.Accepted
			Err string
		}
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("%s child printed %q (stderr %s): %v", mode, out, stderr.String(), err)
		}
		acc = r.Acc
	} else if exit != crashExit {
		t.Fatalf("%s child exited %d: %s %s", mode, exit, out, stderr.String())
	}
	return exit, acc
}

// TestIdempotencyKeyCrashBetweenClaimAndAccept: a process that dies right
// after claiming an Idempotency-Key (before the accept) leaves a claim and
// no order; the shop's retry — in a new process, with a new order id drawn
// — completes the claim: the order exists exactly once, under the claimed
// id, and a further retry replays that same id.
func TestIdempotencyKeyCrashBetweenClaimAndAccept(t *testing.T) {
	rdb := redistest.Universal(t)
	url := redistest.URL(t, rdb)
	ctx := context.Background()
	s := store.New(rdb, store.Options{Partitions: crashParts})
	if err := s.Init(ctx); err != nil {
		t.Fatal(err)
	}

	if exit, _ := runCrashChild(t, "crash", url); exit != crashExit {
		t.Fatalf("crash child exited %d, want %d (killed between claim and accept)", exit, crashExit)
	}
	claim, err := rdb.Get(ctx, "idem:key:"+crashShop+":"+crashKey).Result()
	if err != nil {
		t.Fatalf("claim after the crash: %v, want it left behind", err)
	}
	claimed, _, _ := strings.Cut(claim, " ")
	if _, err := s.OrderByExternalID(ctx, crashShop, crashExt); erpgate.ErrorCode(err) != erpgate.NotFound {
		t.Fatalf("order after the crash: %v, want none (the accept never ran)", err)
	}

	exit, acc := runCrashChild(t, "retry", url)
	if exit != 0 || acc.OrderID != claimed || acc.Replayed {
		t.Fatalf("retry after the crash = exit %d, %+v; want the claimed order %s stored", exit, acc, claimed)
	}
	if keys := redistest.Keys(t, rdb, "ord:*"); len(keys) != 1 {
		t.Errorf("order records %v, want exactly one", keys)
	}
	rec, err := s.OrderByExternalID(ctx, crashShop, crashExt)
	if err != nil || rec.Order.ID != claimed {
		t.Fatalf("order by external id = %v, %v; want %s", rec, err, claimed)
	}

	exit, again := runCrashChild(t, "retry", url)
	if exit != 0 || again.OrderID != claimed || !again.Replayed || again.Token != acc.Token {
		t.Errorf("second retry = exit %d, %+v; want %s replayed with token %s", exit, again, claimed, acc.Token)
	}
	if keys := redistest.Keys(t, rdb, "ord:*"); len(keys) != 1 {
		t.Errorf("order records after the replay %v, want exactly one", keys)
	}
}

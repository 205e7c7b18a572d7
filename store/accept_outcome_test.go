package store_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/store"
)

// loseReplies is a go-redis hook that runs every EVALSHA/EVAL and then
// reports the connection as reset, as when Redis or the network dies after
// the accept script ran but before its reply arrived.
type loseReplies struct{ on atomic.Bool }

var _ redis.Hook = (*loseReplies)(nil)

func (h *loseReplies) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *loseReplies) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if h.on.Load() && strings.HasPrefix(strings.ToLower(cmd.Name()), "eval") {
			err = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
			cmd.SetErr(err)
		}
		return err
	}
}
func (h *loseReplies) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestAcceptLostReplyIsOutcomeUnknown: when the reply of an accept that ran
// is lost, the caller hears "outcome unknown" (never "nothing was stored"),
// and the retry with the same external id replays the stored order.
func TestAcceptLostReplyIsOutcomeUnknown(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, rdb)
		hook := &loseReplies{}
		hook.on.Store(true)
		rdb.AddHook(hook)
		in := intake("ord_lost1", "shop-a", "EXT-LOST", "fp1", "key-1")
		_, err := s.Accept(ctx, in)
		if got := code(err); got != erpgate.OutcomeUnknown {
			t.Fatalf("Accept with a lost reply: code %q (%v), want %q", got, err, erpgate.OutcomeUnknown)
		}
		if msg := erpgate.ErrorMessage(err); strings.Contains(msg, "nothing was stored") {
			t.Errorf("message %q claims nothing was stored", msg)
		}
		hook.on.Store(false)
		// The shop's retry: a new request, so a new order id, same keys.
		retry := intake("ord_lost2", "shop-a", "EXT-LOST", "fp1", "key-1")
		acc, err := s.Accept(ctx, retry)
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if !acc.Replayed || acc.OrderID != "ord_lost1" {
			t.Errorf("retry = %+v, want a replay of ord_lost1 (the first accept was stored)", acc)
		}
	})
}

// TestAcceptNotSentIsUnavailable: a Redis that cannot be reached at all
// stored nothing, and says so.
func TestAcceptNotSentIsUnavailable(t *testing.T) {
	s := store.New(downClient(t), store.Options{Partitions: 1})
	_, err := s.Accept(context.Background(), intake("ord_1", "shop-a", "EXT-1", "fp1", ""))
	if code(err) != erpgate.Unavailable || !strings.Contains(erpgate.ErrorMessage(err), "nothing was stored") {
		t.Errorf("Accept on a dead Redis: %v, want unavailable saying nothing was stored", err)
	}
	var e *erpgate.Error
	if !errors.As(err, &e) {
		t.Fatalf("not an *erpgate.Error: %T", err)
	}
}

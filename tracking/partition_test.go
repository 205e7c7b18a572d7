package tracking

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"erpgate/internal/partition"
)

// Most tests of this package read and write the feed directly: they run on
// one partition, whose feed is testFeed. TestPartitionedFeed runs on the
// default count.
var (
	testSpace = partition.MustNew(1)
	testFeed  = FeedKey(testSpace.Tag(0))
)

// TestPartitionedFeed: on the default 16 partitions, the events of orders
// of every partition reach a live subscriber (the hub reads every
// partition's feed) and the webhook receiver, each event once and in
// timeline order, with two webhook instances sharing the partitions.
func TestPartitionedFeed(t *testing.T) {
	space := partition.MustNew(partition.Default)
	env := newWHEnv(t)
	st, err := NewStore(StoreConfig{Space: space, Client: env.rdb})
	if err != nil {
		t.Fatal(err)
	}
	env.store = st
	// One order in each partition.
	var orders []string
	for p := range space.N() {
		for k := 0; ; k++ {
			if id := fmt.Sprintf("ord_p%d_%d", p, k); space.Of(id) == p {
				orders = append(orders, id)
				env.shops[id] = "shop-a"
				break
			}
		}
	}
	h := startHub(t, env.rdb, HubConfig{Store: st})
	live := make(map[string]<-chan Event, len(orders))
	for _, o := range orders {
		ch, cancel := h.Subscribe(o)
		t.Cleanup(cancel)
		live[o] = ch
	}
	rcv, srv := newReceiver(t, env.clk, func(WebhookPayload, int) bool { return false })
	sub := Subscription{ID: "backoffice", ShopID: "shop-a", URL: srv.URL + "/hook", Secret: secret}
	cfg := env.config(sub)
	cfg.Space = space
	w1, _ := env.start(t, cfg)
	env.start(t, cfg)

	want := env.lifecycle(t, orders...)
	for _, o := range orders {
		for _, id := range want[o] {
			if e, ok := recv(t, live[o]); !ok || e.ID != id {
				t.Fatalf("order %s (partition %d): live event %q (open %v), want %s", o, space.Of(o), e.ID, ok, id)
			}
		}
	}
	total := 5 * len(orders)
	eventually(t, "all webhooks delivered and the backlog drained", func() bool {
		n, _ := w1.Backlog(context.Background())
		return len(rcv.received()) >= total && n == 0
	})
	got := rcv.received()
	if len(got) != total {
		t.Fatalf("receiver accepted %d requests, want exactly %d (each event once)", len(got), total)
	}
	gotBy := byOrder(got)
	for _, o := range orders {
		if strings.Join(gotBy[o], ",") != strings.Join(want[o], ",") {
			t.Errorf("order %s: delivered %v, want %v in this order", o, gotBy[o], want[o])
		}
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"erpgate/internal/redistest"
	"erpgate/tracking"
)

// TestTrackingCacheFollowsTheFeed: repeated tracking reads are answered from
// the instance's read cache, and an event appended by another instance (here
// the test, writing to the shared Redis as any gateway would) reaches this
// instance's next reads through the feed — the cache never keeps serving a
// timeline that changed.
func TestTrackingCacheFollowsTheFeed(t *testing.T) {
	rdb := redistest.Universal(t)
	args := []string{"--redis-url", redistest.URL(t, rdb), "--allow-volatile-redis"}
	gw, _, _ := startRun(t, args...)

	resp, b := post(t, gw+"/v1/orders", "demo-shop-key", orderBody("WEB-CACHE-1"))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST order: %d %v", resp.StatusCode, b)
	}
	id := b["id"].(string)
	token := b["tracking"].(map[string]any)["token"].(string)
	url := gw + "/v1/tracking/" + id + "?token=" + token

	const hits = `erpgate_tracking_cache_lookups_total{result="hit"}`
	before := metricValue(t, gw, hits)
	for range 5 {
		var v trackView
		if code := getJSON(t, url, "", &v); code != http.StatusOK || len(v.Events) == 0 {
			t.Fatalf("tracking: %d %+v", code, v)
		}
	}
	if after := metricValue(t, gw, hits); before < 0 || after < before+3 {
		t.Fatalf("cache hits %v → %v over 5 reads of one order: the cache is not answering", before, after)
	}
	// A wrong token is still refused when the answer is cached.
	if code := getJSON(t, gw+"/v1/tracking/"+id+"?token=wrong", "", nil); code != http.StatusNotFound {
		t.Fatalf("wrong token on a cached order: %d, want 404", code)
	}

	// Another instance appends an event.
	other, err := tracking.NewStore(tracking.StoreConfig{Client: rdb})
	if err != nil {
		t.Fatal(err)
	}
	note := "Parcel handed to the neighbour (cache test)"
	if _, err := other.Append(context.Background(), id, tracking.Event{Type: "customer_note", Source: tracking.SourceGateway, Summary: note}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var v trackView
		if code := getJSON(t, url, "", &v); code == http.StatusOK && strings.Contains(fmt.Sprint(trail(v.Events, "")), "customer_note") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the event another instance appended never reached this instance's tracking reads: %v", trail(v.Events, ""))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The page renders from the same (refreshed) view.
	pr, err := http.Get(gw + "/track/" + id + "?token=" + token)
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Body.Close()
	page, _ := io.ReadAll(pr.Body)
	if pr.StatusCode != http.StatusOK || !strings.Contains(string(page), "neighbour") {
		t.Fatalf("tracking page: %d, missing the appended event", pr.StatusCode)
	}
}

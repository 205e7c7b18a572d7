package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate/internal/redistest"
	"erpgate/store"
)

// BenchmarkCreateOrder measures the REST intake path as a shop sees it minus
// the network: decode + validate + one atomic accept in Redis + the 202.
// With ERPGATE_REDIS_ADDR it runs against a real redis-server (the figure
// that matters); otherwise against miniredis.
//
//	ERPGATE_REDIS_ADDR=127.0.0.1:6390 go test -run X -bench CreateOrder -benchmem ./gateway
func BenchmarkCreateOrder(b *testing.B) {
	var rdb redis.UniversalClient
	if os.Getenv("ERPGATE_REDIS_ADDR") != "" {
		rdb = redistest.Universal(b)
	} else {
		rdb, _ = redistest.Mini(b)
	}
	now := func() time.Time { return restNow }
	st := store.New(rdb, store.Options{Now: now, Partitions: 1})
	if err := st.Init(context.Background()); err != nil {
		b.Fatal(err)
	}
	keys, _ := NewKeyring(DemoClients())
	s, err := New(Config{PublicURL: "https://gw.example", Store: st, Keyring: keys, Now: now})
	if err != nil {
		b.Fatal(err)
	}
	bodies := make([]string, b.N)
	for i := range bodies {
		bodies[i] = strings.Replace(validOrderJSON, `"WEB-1"`, `"B-`+strconv.Itoa(i)+`"`, 1)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/v1/orders", strings.NewReader(bodies[i]))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer demo-shop-key")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusAccepted {
			b.Fatalf("got %d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkDecodeValidate is the CPU part of intake without Redis.
func BenchmarkDecodeValidate(b *testing.B) {
	body := []byte(validOrderJSON)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var req orderRequest
		if err := unmarshalStrict(body, &req); err != nil {
			b.Fatal(err)
		}
		o, problems := req.toOrder()
		if problems != nil {
			b.Fatal(problems)
		}
		if err := o.ValidateAt(restNow); err != nil {
			b.Fatal(err)
		}
	}
}

package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// cannedServer answers every HTTP/1.1 request on a keep-alive connection
// with the same 202 the gateway sends for an accepted order, doing as little
// as it can, so that the benchmarks below differ only by the client.
func cannedServer(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	body := `{"id":"ord_01JZ0000000000000000000000","status":"accepted","tracking_url":"http://127.0.0.1/track/x"}`
	resp := []byte("HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					n := 0
					for { // headers
						line, err := r.ReadSlice('\n')
						if err != nil {
							return
						}
						if v, ok := bytes.CutPrefix(bytes.ToLower(line), []byte("content-length: ")); ok {
							n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := r.Discard(n); err != nil {
						return
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

var benchOrder = []byte(`{"external_id":"WEB-1","customer":{"id":"C-1","name":"Ann","email":"ann@example.com"},"lines":[{"sku":"SKU-1011","quantity":1,"unit_price":"9.99"}],"currency":"EUR"}`)

// BenchmarkClientRaw and BenchmarkClientNetHTTP compare the load tool's
// raw client with net/http's on one keep-alive connection to the canned
// server (compare their cpu-ns/op: the generator's CPU per request, which
// the gateway under test on the same machine does not get).
func BenchmarkClientRaw(b *testing.B) {
	addr := cannedServer(b)
	x := &rawExchange{rc: newRawClient(addr, addr)}
	defer x.close()
	req := &reqSpec{method: "POST", path: "/v1/orders", body: benchOrder,
		header: [][2]string{{"Authorization", "Bearer demo-shop-key"}, {"Content-Type", "application/json"}, {"Idempotency-Key", "k-1"}}}
	ctx := context.Background()
	b.ReportAllocs()
	start, _ := processCPU()
	for b.Loop() {
		if st, _, err := x.do(ctx, req, time.Now().Add(5*time.Second)); err != nil || st != 202 {
			b.Fatal(st, err)
		}
	}
	end, _ := processCPU()
	b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
}

func BenchmarkClientNetHTTP(b *testing.B) {
	addr := cannedServer(b)
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer c.CloseIdleConnections()
	b.ReportAllocs()
	start, _ := processCPU()
	for b.Loop() {
		req, _ := http.NewRequest("POST", "http://"+addr+"/v1/orders", bytes.NewReader(benchOrder))
		req.Header.Set("Authorization", "Bearer demo-shop-key")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "k-1")
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 202 {
			b.Fatal(resp.StatusCode)
		}
	}
	end, _ := processCPU()
	b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
}

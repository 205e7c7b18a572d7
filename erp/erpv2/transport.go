package erpv2

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// errResponseTooLarge is returned when an answer exceeds MaxResponseBytes.
var errResponseTooLarge = errors.New("erpv2: ERP answer exceeds the response size limit")

// newHTTPClient returns the client the generated SOAP client uses: base (or
// a pooled default) with a transport that keeps connections alive and
// bounds answers.
func newHTTPClient(base *http.Client, maxBody int64) *http.Client {
	var c http.Client
	if base != nil {
		c = *base
	}
	rt := c.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		// Delivery workers call one host concurrently; keep enough idle
		// connections for them instead of the default two.
		t.MaxIdleConnsPerHost = 64
		rt = t
	}
	c.Transport = &transport{base: rt, maxBody: maxBody}
	return &c
}

// transport undoes gowsdl v0.5.0's req.Close = true, which would open a new
// TCP connection for every call (and, under load, run a host out of
// ephemeral ports), and limits the size of answers, which gowsdl reads
// without bound.
type transport struct {
	base    http.RoundTripper
	maxBody int64
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Close {
		// A RoundTripper must not modify its request: change a copy.
		r := *req
		r.Close = false
		req = &r
	}
	res, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	res.Body = &limitedBody{rc: res.Body, left: t.maxBody}
	return res, nil
}

// limitedBody reads at most left bytes and fails beyond.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errResponseTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

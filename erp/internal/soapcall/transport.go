package soapcall

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Limit bounds the answers a client made by NewHTTPClient reads.
type Limit struct {
	// MaxBytes is the largest answer body read; beyond it reads fail.
	MaxBytes int64
	// Err is the error a read beyond MaxBytes returns. It names the
	// adapter, and Classify recognises it (errors.Is) as a bad answer.
	Err error
	// RefuseAnnounced refuses an answer whose Content-Length already
	// exceeds MaxBytes before reading any of it (RoundTrip fails with Err
	// wrapped), instead of failing at the first read beyond the limit.
	RefuseAnnounced bool
}

// NewHTTPClient returns the client gowsdl's generated client uses: a copy
// of base (or, when base is nil, a client with a pooled default transport)
// whose transport keeps connections alive and bounds answers by lim.
func NewHTTPClient(base *http.Client, lim Limit) *http.Client {
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
	c.Transport = &transport{base: rt, lim: lim}
	return &c
}

// transport undoes gowsdl v0.5.0's req.Close = true, which would open a new
// TCP connection for every call (and, under load, run a host out of
// ephemeral ports), and bounds the bodies of answers, which gowsdl reads
// whole (also the body of an error status) from an ERP outside our control.
type transport struct {
	base http.RoundTripper
	lim  Limit
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
	if t.lim.RefuseAnnounced && res.ContentLength > t.lim.MaxBytes {
		res.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes announced, limit %d", t.lim.Err, res.ContentLength, t.lim.MaxBytes)
	}
	res.Body = &limitedBody{rc: res.Body, left: t.lim.MaxBytes, tooLarge: t.lim.Err}
	return res, nil
}

// limitedBody reads at most left bytes and fails with tooLarge beyond.
type limitedBody struct {
	rc       io.ReadCloser
	left     int64
	tooLarge error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe: an answer of exactly the limit ends here.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, b.tooLarge
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

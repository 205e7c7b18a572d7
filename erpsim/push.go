package erpsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	gsoap "github.com/hooklift/gowsdl/soap"

	"erpgate/soap"
	"erpgate/soap/erpv2cb"
)

// The v2 status push. Every status change of a v2 order (lifecycle step or
// SetStatus) becomes a SalesOrderStatusChanged call (soap/erpv2cb) to the
// callback URL, with "Authorization: Bearer <CallbackToken>". Delivery is
// at-least-once and in order per order:
//
//   - changes are queued in memory, partitioned by external reference; each
//     partition sends one call at a time, head first, so one order's changes
//     arrive in sequence;
//   - a failed call (no answer, an HTTP error, a Server fault) is retried
//     with jittered exponential backoff until it succeeds; meanwhile the
//     partition waits, which keeps the order;
//   - a Client fault (HTTP 500 with faultcode Client: unknown order, invalid
//     message) is final: the change is dropped and counted as failed;
//   - the queue is bounded (pushQueueMax): beyond it new changes are dropped
//     and counted, because a simulator must not grow without bound while the
//     gateway is away. Close drops what is queued.
//
// A retried call may have been recorded already (its answer was lost), so
// the receiver sees duplicates: each carries the same EventId.

// Push tuning. The simulator keeps these fixed; tests shorten the backoff.
// 16 calls at a time: with 4, a busy 2-core box pushed some 300 changes a
// second, and 10,000 orders' lifecycles (50,000 changes in a minute) reached
// the gateway minutes late — the load tests then measured the simulator's
// queue, not the gateway.
const (
	pushWorkers  = 16
	pushQueueMax = 100_000 // changes queued over all partitions
	pushTimeout  = 10 * time.Second
	pushBodyMax  = 1 << 20
)

// CallbackInfo is the status push configuration and its counters, as GET
// /sim/callback shows them (the token itself is never shown).
type CallbackInfo struct {
	URL      string `json:"url"`
	TokenSet bool   `json:"token_set"`
	Queued   int    `json:"queued"`
	// Sent counts calls answered with a response (Recorded + Ignored).
	Sent     uint64 `json:"sent"`
	Recorded uint64 `json:"recorded"`
	Ignored  uint64 `json:"ignored"`
	// Retried counts failed calls that will be (or were) repeated.
	Retried uint64 `json:"retried"`
	// Failed counts changes refused with a Client fault (not repeated).
	Failed uint64 `json:"failed"`
	// Dropped counts changes not sent because the queue was full or the
	// simulator closed.
	Dropped uint64 `json:"dropped"`
}

// pushItem is one queued status change.
type pushItem struct {
	ref string
	msg *erpv2cb.SalesOrderStatusChanged
}

// pushMessage builds the callback message of change c of order number/ref.
func pushMessage(number, ref string, c change) *pushItem {
	st := erpv2cb.OrderStatus(c.status.Status)
	ts := erpv2cb.Timestamp(c.status.ChangedAt.UTC().Format(time.RFC3339Nano))
	m := &erpv2cb.SalesOrderStatusChanged{
		EventId:           number + "-" + strconv.FormatUint(c.event, 10),
		Sequence:          int32(min(c.seq, 1<<31-1)),
		SalesOrderNumber:  number,
		ExternalReference: ref,
		Status:            &st,
		StatusChangedAt:   &ts,
		Carrier:           c.status.Carrier,
		TrackingNumber:    c.status.TrackingNumber,
		Reason:            c.status.Reason,
	}
	if c.status.ExpectedDelivery != "" {
		d := erpv2cb.CalendarDate(c.status.ExpectedDelivery)
		m.ExpectedDeliveryDate = &d
	}
	for _, s := range c.short {
		m.ShortItem = append(m.ShortItem, &erpv2cb.ShortItem{Sku: s.SKU, QuantityShort: s.Quantity})
	}
	return &pushItem{ref: ref, msg: m}
}

// pusher sends status changes to the callback URL.
type pusher struct {
	log  *slog.Logger
	http *http.Client
	rand func() float64

	mu      sync.Mutex
	url     string
	token   string
	svc     erpv2cb.SalesOrderStatusCallback // nil while url is empty
	started bool
	closed  bool
	stop    chan struct{}
	ctx     context.Context // cancelled by close: aborts calls in flight
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	parts   []*pushPart

	// Backoff of failed calls: attempt n waits a random time in [d/2, d)
	// with d = min(retryBase·2^(n-1), retryMax).
	retryBase, retryMax time.Duration

	sent, recorded, ignored, retried, failed, dropped atomic.Uint64
}

// pushPart is one partition: a FIFO of changes and its worker's wake-up.
type pushPart struct {
	mu   sync.Mutex
	q    []*pushItem
	wake chan struct{}
}

func newPusher(log *slog.Logger, rnd func() float64, callbackURL, token string) *pusher {
	p := &pusher{log: log, rand: rnd, stop: make(chan struct{}),
		retryBase: 100 * time.Millisecond, retryMax: 10 * time.Second}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConnsPerHost = pushWorkers
	p.http = &http.Client{Transport: &pushTransport{p: p, base: t}, Timeout: pushTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for range pushWorkers {
		p.parts = append(p.parts, &pushPart{wake: make(chan struct{}, 1)})
	}
	p.setTarget(callbackURL, token)
	return p
}

// validCallbackURL reports whether u is empty or an absolute http(s) URL.
func validCallbackURL(u string) error {
	if u == "" {
		return nil
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("callback url must be an absolute http or https URL, not %q", u)
	}
	return nil
}

// setTarget changes where changes are pushed; "" stops queueing new ones.
// Changes already queued go to the new URL.
func (p *pusher) setTarget(callbackURL, token string) {
	p.mu.Lock()
	p.url, p.token, p.svc = callbackURL, token, nil
	if callbackURL != "" {
		p.svc = erpv2cb.NewSalesOrderStatusCallback(gsoap.NewClient(callbackURL, gsoap.WithHTTPClient(p.http),
			gsoap.WithHTTPHeaders(map[string]string{"User-Agent": "erpgate-erpsim"})))
	}
	p.mu.Unlock()
	for _, part := range p.parts {
		signal(part.wake)
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// enqueue queues a change, unless pushing is off or the queue is full.
func (p *pusher) enqueue(it *pushItem) {
	p.mu.Lock()
	if p.url == "" || p.closed {
		p.mu.Unlock()
		return
	}
	if !p.started {
		p.started = true
		for _, part := range p.parts {
			p.wg.Add(1)
			go p.work(part)
		}
	}
	p.mu.Unlock()
	h := fnv.New32a()
	_, _ = io.WriteString(h, it.ref)
	part := p.parts[h.Sum32()%uint32(len(p.parts))]
	part.mu.Lock()
	full := len(part.q) >= pushQueueMax/len(p.parts)
	if !full {
		part.q = append(part.q, it)
	}
	part.mu.Unlock()
	if full {
		if n := p.dropped.Add(1); n == 1 || n%1000 == 0 {
			p.log.Warn("erpsim: status push queue full; dropping status changes", "dropped", n, "event", it.msg.EventId)
		}
		return
	}
	signal(part.wake)
}

// work sends part's changes one by one until the pusher closes.
func (p *pusher) work(part *pushPart) {
	defer p.wg.Done()
	attempt := 0
	for {
		part.mu.Lock()
		var it *pushItem
		if len(part.q) > 0 {
			it = part.q[0]
		}
		part.mu.Unlock()
		p.mu.Lock()
		svc := p.svc
		p.mu.Unlock()
		if it == nil || svc == nil {
			select {
			case <-part.wake:
				continue
			case <-p.stop:
				return
			}
		}
		err := p.send(svc, it)
		if err != nil && !finalPushError(err) {
			attempt++
			p.retried.Add(1)
			if attempt == 1 {
				p.log.Warn("erpsim: status push failed; retrying with backoff", "event", it.msg.EventId, "err", err)
			}
			t := time.NewTimer(p.backoff(attempt))
			select {
			case <-t.C:
				continue
			case <-p.stop:
				t.Stop()
				return
			}
		}
		if attempt > 0 {
			p.log.Info("erpsim: status push works again", "attempts", attempt+1)
		}
		attempt = 0
		if err != nil {
			p.failed.Add(1)
			p.log.Warn("erpsim: status push refused; not repeated", "event", it.msg.EventId, "ref", it.ref, "err", err)
		}
		part.mu.Lock()
		part.q[0] = nil
		part.q = part.q[1:]
		part.mu.Unlock()
	}
}

// send makes one call and counts its answer.
func (p *pusher) send(svc erpv2cb.SalesOrderStatusCallback, it *pushItem) error {
	ctx, cancel := context.WithTimeout(p.ctx, pushTimeout)
	defer cancel()
	resp, err := svc.SalesOrderStatusChangedContext(ctx, it.msg)
	if err != nil {
		return err
	}
	p.sent.Add(1)
	if resp.Outcome != nil && *resp.Outcome == erpv2cb.OutcomeIgnored {
		p.ignored.Add(1)
	} else {
		p.recorded.Add(1)
	}
	return nil
}

// finalPushError reports whether err is a Client fault: the receiver read
// the message and refused it, so sending it again cannot help. Refusals of
// the credentials (401, 403) are not final: the token may be fixed.
func finalPushError(err error) bool {
	var he *gsoap.HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusInternalServerError {
		return false
	}
	f, perr := soap.ParseFault(he.ResponseBody)
	return perr == nil && f.Code == soap.FaultClient
}

func (p *pusher) backoff(attempt int) time.Duration {
	d := p.retryBase
	for i := 1; i < attempt && d < p.retryMax; i++ {
		d *= 2
	}
	d = min(d, p.retryMax)
	return d/2 + time.Duration(p.rand()*float64(d/2))
}

// close stops the workers and drops what is queued.
func (p *pusher) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.stop)
	p.cancel()
	p.mu.Unlock()
	p.wg.Wait()
	for _, part := range p.parts {
		part.mu.Lock()
		p.dropped.Add(uint64(len(part.q)))
		part.q = nil
		part.mu.Unlock()
	}
}

func (p *pusher) info() CallbackInfo {
	p.mu.Lock()
	ci := CallbackInfo{URL: p.url, TokenSet: p.token != ""}
	p.mu.Unlock()
	for _, part := range p.parts {
		part.mu.Lock()
		ci.Queued += len(part.q)
		part.mu.Unlock()
	}
	ci.Sent, ci.Recorded, ci.Ignored = p.sent.Load(), p.recorded.Load(), p.ignored.Load()
	ci.Retried, ci.Failed, ci.Dropped = p.retried.Load(), p.failed.Load(), p.dropped.Load()
	return ci
}

// pushTransport adds the current token, undoes gowsdl v0.5.0's
// req.Close = true (a new TCP connection per call) and bounds answers.
type pushTransport struct {
	p    *pusher
	base http.RoundTripper
}

func (t *pushTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.p.mu.Lock()
	token := t.p.token
	t.p.mu.Unlock()
	r := req.Clone(req.Context()) // a RoundTripper must not modify its request
	r.Close = false
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	res.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(res.Body, pushBodyMax), res.Body}
	return res, nil
}

// Callback returns the status push configuration and counters.
func (s *Sim) Callback() CallbackInfo { return s.push.info() }

// SetCallback changes where v2 pushes status changes (an absolute http(s)
// URL; "" stops pushing new changes) and the Bearer token it sends.
func (s *Sim) SetCallback(callbackURL, token string) error {
	if err := validCallbackURL(callbackURL); err != nil {
		return fmt.Errorf("erpsim: %w", err)
	}
	s.push.setTarget(callbackURL, token)
	return nil
}

// handlePutCallback serves PUT /sim/callback {"url":"…","token":"…"};
// fields left out keep their value.
func (s *Sim) handlePutCallback(w http.ResponseWriter, r *http.Request) {
	var in struct {
		URL   *string `json:"url"`
		Token *string `json:"token"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeJSONError(w, http.StatusBadRequest, `body must be {"url":"…","token":"…"}: `+err.Error())
		return
	}
	s.push.mu.Lock()
	u, tok := s.push.url, s.push.token
	s.push.mu.Unlock()
	if in.URL != nil {
		u = *in.URL
	}
	if in.Token != nil {
		tok = *in.Token
	}
	if err := s.SetCallback(u, tok); err != nil {
		writeJSONError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, s.Callback())
}

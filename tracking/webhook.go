package tracking

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/internal/instance"
	"erpgate/internal/partition"
	"erpgate/internal/streamgroup"
)

// Redis layout of webhooks. Every key shares the hash tag {trk:wh}, so the
// scripts below stay valid on Redis Cluster.
//
//	{trk:wh}:subs             hash  subscription id → Subscription JSON (API-created)
//	{trk:wh}:due              zset  "<sub>|<order>" → unix ms when due (or lease end while claimed)
//	{trk:wh}:gen              hash  "<sub>|<order>" → notification counter
//	{trk:wh}:att              hash  "<sub>|<order>" → failed attempts of the next event
//	{trk:wh}:cur:<sub>:<order> string id of the last event handled for that pair (TTL CursorTTL)
//	{trk:wh}:dead             stream dead letters (sub, order, event, attempts, error, time)
//
// and the consumer group "trk-webhooks" on trk:feed.
const (
	whSubsKey    = "{trk:wh}:subs"
	whDueKey     = "{trk:wh}:due"
	whGenKey     = "{trk:wh}:gen"
	whAttKey     = "{trk:wh}:att"
	whDeadKey    = "{trk:wh}:dead"
	whCurKey     = "{trk:wh}:cur:"
	WebhookGroup = "trk-webhooks"
)

// Subscription is one webhook endpoint of a shop's back office.
type Subscription struct {
	// ID is unique; generated ("whs_…") when empty on Subscribe. Letters,
	// digits, '_' and '-', at most 64.
	ID string `json:"id"`
	// ShopID is the shop whose orders' events are delivered.
	ShopID string `json:"shop_id"`
	// URL is the absolute http(s) endpoint events are POSTed to.
	URL string `json:"url"`
	// Secret keys the HMAC signature; generated ("whsec_…") when empty on
	// Subscribe. At least 16 bytes.
	Secret string `json:"secret,omitempty"`
	// Types, when not empty, limits delivery to these event types.
	Types []string `json:"types,omitempty"`
	// Static marks subscriptions from the config file; the API cannot delete them.
	Static bool `json:"static,omitempty"`
	// CreatedAt is when Subscribe stored the subscription, on Redis's
	// clock to the millisecond. Only the events of the timelines from then
	// on are delivered to it. Static subscriptions have none: they are
	// delivered every event the webhook group reads.
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// Redacted returns s without its secret, for listings.
func (s Subscription) Redacted() Subscription {
	s.Secret = ""
	s.Types = slices.Clone(s.Types)
	return s
}

func (s Subscription) wants(eventType string) bool {
	return len(s.Types) == 0 || slices.Contains(s.Types, eventType)
}

// validate checks s; generate fills a missing id and secret.
func (s *Subscription) validate(generate bool) error {
	var probs []erpgate.Problem
	add := func(f, m string) { probs = append(probs, erpgate.Problem{Field: f, Message: m}) }
	if s.ID == "" && generate {
		s.ID = "whs_" + randomHex(8)
	}
	if !validSubID(s.ID) {
		add("id", "letters, digits, '_' and '-', 1 to 64")
	}
	if checkOrderID(s.ShopID) != nil { // same rules as an id: printable, no spaces
		add("shop_id", "required, printable ASCII without spaces, at most 128")
	}
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s.URL) > 2048 || u.User != nil {
		add("url", "absolute http or https URL without credentials, at most 2048 characters")
	}
	if s.Secret == "" && generate {
		s.Secret = "whsec_" + randomHex(24)
	}
	if len(s.Secret) < 16 || len(s.Secret) > 256 {
		add("secret", "16 to 256 bytes")
	}
	for i, t := range s.Types {
		if !slices.Contains(Types, t) && !isNoticeType(t) {
			add(fmt.Sprintf("types[%d]", i), "unknown event type")
		}
	}
	if len(probs) > 0 {
		return &erpgate.Error{Code: erpgate.Invalid, Message: "invalid webhook subscription", Problems: probs}
	}
	return nil
}

func validSubID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// WebhookPayload is the JSON body of every webhook POST.
type WebhookPayload struct {
	ID      string `json:"id"` // event id, unique within the order
	OrderID string `json:"order_id,omitempty"`
	// NoticeID names the maintenance notice of a notice.* event (which has
	// no order_id); see webhook_notice.go.
	NoticeID string            `json:"notice_id,omitempty"`
	Type     string            `json:"type"`
	Time     time.Time         `json:"time"`
	Source   string            `json:"source"`
	Summary  string            `json:"summary"`
	Details  map[string]string `json:"details,omitempty"`
}

// DeadLetter is an event a subscription gave up on after MaxAttempts.
type DeadLetter struct {
	ID             string    `json:"id"` // dead-letter stream entry id
	SubscriptionID string    `json:"subscription_id"`
	OrderID        string    `json:"order_id"`
	EventID        string    `json:"event_id"`
	Attempts       int       `json:"attempts"`
	Error          string    `json:"error"`
	Time           time.Time `json:"time"`
}

// WebhooksConfig configures Webhooks. Zero durations and counts take the
// defaults named.
type WebhooksConfig struct {
	// Client is the shared Redis. Required.
	Client redis.UniversalClient
	// ShopOf returns the shop that owns an order (from the order store).
	// Required: the first event of an order is written by the store's atomic
	// accept, not through Append, so the shop cannot travel with the event.
	// An error with code NotFound drops the event for webhooks; any other
	// error leaves it to be retried.
	ShopOf func(ctx context.Context, orderID string) (string, error)
	// Static are the subscriptions from the config file.
	Static []Subscription
	// HTTPClient posts the webhooks; default: Timeout, no redirects followed.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Registerer receives erpgate_tracking_webhook_deliveries_total,
	// erpgate_tracking_webhook_lag_seconds and the feed gauges
	// (feedmetrics.go); nil registers nothing.
	Registerer prometheus.Registerer
	// Now is the wall clock for signatures, schedules and lag; default
	// time.Now. It must advance: retries fall due by it.
	Now func() time.Time
	// Consumer names this instance in the feed's consumer group:
	// "<instance id>:webhooks" (internal/instance), the same after a
	// restart, so that a restarted instance takes over the feed entries it
	// had read at once. Default: the host name as the instance id.
	Consumer string
	// Instances tells which instances are alive; with it, the feed entries
	// a dead instance had read are taken over within about TakeoverEvery of
	// its heartbeat expiring, rather than after ReclaimIdle. Optional.
	Instances interface {
		Alive(ctx context.Context, id string) (bool, error)
	}
	// TakeoverEvery is how often the feed reader looks for entries of dead
	// instances; default 1s.
	TakeoverEvery time.Duration
	// Workers is the number of concurrent deliveries per instance; default 4.
	// One (subscription, order) pair is only ever worked on by one worker.
	Workers int
	// MaxAttempts before an event is dead-lettered; default 12 (with the
	// default backoff, about an hour and a half of trying).
	MaxAttempts int
	// BackoffBase and BackoffMax shape the jittered exponential backoff:
	// attempt n waits a random time in [d/2, d) with d = min(Base·2^(n-1), Max).
	// Defaults 2s and 15m.
	BackoffBase, BackoffMax time.Duration
	// Timeout bounds one POST; default 10s.
	Timeout time.Duration
	// PollInterval is how often idle workers look for due work (work this
	// instance enqueues wakes them at once); default 500ms.
	PollInterval time.Duration
	// Block bounds one blocking read of the feed; default 2s.
	Block time.Duration
	// ReadPoll, when positive, replaces the blocking reads: a partition's
	// feed is read without BLOCK and, when that finds nothing, read again
	// after ReadPoll. For the embedded Redis (miniredis), which re-runs
	// every blocked read after every command (see HubConfig.Poll).
	ReadPoll time.Duration
	// Space is the partition space of the feed (the store's); default
	// partition.Default partitions. Every partition's feed is read, by one
	// goroutine each.
	Space partition.Space
	// Coalesce is the pause after a read of the feed that found fewer
	// entries than it could take, so that the next read carries more of
	// them: fewer rounds of reads, acknowledgements and enqueue scripts
	// under load, each entry up to Coalesce later (webhook receivers see
	// seconds of lag anyway). The read after the pause does not block and
	// is pipelined with the acknowledgement of the round before. Default
	// 20ms; negative turns it off (a blocking read at once, each round
	// acknowledged on its own, as before Coalesce existed).
	Coalesce time.Duration
	// ReclaimIdle is how long a feed entry may stay unacknowledged before
	// any instance takes it over (a crashed consumer, a failed ShopOf);
	// default 30s.
	ReclaimIdle time.Duration
	// CursorTTL is how long the delivery position of a (subscription, order)
	// pair is kept after its last event; default 90 days. An order with no
	// cursor is delivered from its first event.
	CursorTTL time.Duration
	// DeadLetterMaxLen caps the dead-letter stream (approximately);
	// default 100000.
	DeadLetterMaxLen int64
	// FeedKeep is how much of the feed (by age) is kept whatever the webhook
	// group needs, for the hubs; default 1m. TrimEvery is how often the
	// feed is trimmed; default 10s. See "Trimming the feed".
	FeedKeep  time.Duration
	TrimEvery time.Duration
	// SubscriptionRefresh is how often the subscription list is re-read
	// from Redis (changes by other instances); default 2s. While there is
	// no subscription at all, the feed consumer re-reads it every round
	// (PollInterval) that finds the feed grown, before skipping the feed.
	SubscriptionRefresh time.Duration
}

// Webhooks delivers every timeline event of a shop's orders to the shop's
// subscriptions: signed, in order per (subscription, order), at least once
// (exactly once unless a receiver's 2xx is lost or a lease expires mid-POST;
// Webhook-Id lets receivers drop such repeats), retried from Redis with
// jittered exponential backoff across restarts, dead-lettered after
// MaxAttempts.
//
// How: a consumer group on trk:feed turns each announced event into a
// notification "(subscription, order) has news" in a due set. Workers claim
// a due pair with a lease, read the order's timeline after the pair's
// cursor, and POST event by event, advancing the cursor after each 2xx. The
// timeline itself is the queue, which is what makes per-order ordering and
// durability hold without copying events. While there is no subscription
// at all, the group is moved past the feed without reading it: the news of
// those events is dropped, as reading and ignoring it did before (an order
// that has news after a subscription appears is delivered from its first
// event, as always).
type Webhooks struct {
	rdb     redis.UniversalClient
	space   partition.Space
	feed    *streamgroup.Group // the webhook group on every partition's feed
	shopOf  func(context.Context, string) (string, error)
	client  *http.Client
	log     *slog.Logger
	now     func() time.Time
	cfg     WebhooksConfig
	wake    chan struct{}
	static  map[string]Subscription
	outcome *prometheus.CounterVec
	lag     prometheus.Histogram

	noSkip atomic.Bool // Redis cannot move the group (no XGROUP SETID): read the feed instead of skipping

	mu       sync.Mutex
	cache    map[string]Subscription // id → subscription, static included
	cachedAt time.Time               // when the read that filled cache began
	epoch    uint64                  // bumped by invalidate
}

// NewWebhooks returns Webhooks; start delivery with Run. It validates the
// static subscriptions.
func NewWebhooks(cfg WebhooksConfig) (*Webhooks, error) {
	if cfg.Client == nil || cfg.ShopOf == nil {
		return nil, errors.New("tracking: WebhooksConfig.Client and ShopOf are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.BackoffBase, 2*time.Second)
	def(&cfg.BackoffMax, 15*time.Minute)
	def(&cfg.Timeout, 10*time.Second)
	def(&cfg.PollInterval, 500*time.Millisecond)
	def(&cfg.Block, 2*time.Second)
	if cfg.Coalesce == 0 {
		cfg.Coalesce = 20 * time.Millisecond
	}
	def(&cfg.ReclaimIdle, 30*time.Second)
	def(&cfg.FeedKeep, time.Minute)
	def(&cfg.TrimEvery, 10*time.Second)
	def(&cfg.CursorTTL, 90*24*time.Hour)
	def(&cfg.SubscriptionRefresh, 2*time.Second)
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 12
	}
	if cfg.DeadLetterMaxLen <= 0 {
		cfg.DeadLetterMaxLen = 100000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Consumer == "" {
		cfg.Consumer = instance.Consumer(instance.Default(), "webhooks")
	}
	def(&cfg.TakeoverEvery, time.Second)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{
			Timeout: cfg.Timeout,
			// A redirect is a misconfigured endpoint; following it would
			// send the signed event somewhere nobody subscribed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	static := make(map[string]Subscription, len(cfg.Static))
	for i, s := range cfg.Static {
		s.Static = true
		s.Types = slices.Clone(s.Types)
		if err := s.validate(false); err != nil {
			return nil, fmt.Errorf("tracking: static webhook subscription %d (%q): %w", i, s.ID, err)
		}
		if _, dup := static[s.ID]; dup {
			return nil, fmt.Errorf("tracking: static webhook subscription id %q twice", s.ID)
		}
		static[s.ID] = s
	}
	outcome, err := register(cfg.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "erpgate_tracking_webhook_deliveries_total",
		Help: "Webhook delivery attempts by outcome: ok (2xx), retry (failed, will retry), dead (failed, dead-lettered).",
	}, []string{"outcome"}))
	if err != nil {
		return nil, err
	}
	lag, err := register(cfg.Registerer, prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "erpgate_tracking_webhook_lag_seconds",
		Help:    "Time from an event to its successful webhook delivery.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
	}))
	if err != nil {
		return nil, err
	}
	for _, o := range []string{"ok", "retry", "dead"} {
		outcome.WithLabelValues(o) // export zeros so alerts see the series
	}
	if cfg.Space.N() == 0 {
		cfg.Space = partition.MustNew(partition.Default)
	}
	feed := streamgroup.New(cfg.Client, streamgroup.Config{Name: WebhookGroup, Streams: feedKeys(cfg.Space)})
	if _, err := register(cfg.Registerer, newFeedCollector(cfg.Client, feed)); err != nil {
		return nil, err
	}
	shopOf := cfg.ShopOf
	return &Webhooks{
		rdb: cfg.Client, space: cfg.Space, feed: feed,
		// Notice timelines name their shop (webhook_notice.go).
		shopOf: func(ctx context.Context, id string) (string, error) {
			if shop, ok := noticeShop(id); ok {
				return shop, nil
			}
			return shopOf(ctx, id)
		}, client: cfg.HTTPClient, log: cfg.Logger,
		now: cfg.Now, cfg: cfg, wake: make(chan struct{}, cfg.Workers), static: static,
		outcome: outcome, lag: lag,
	}, nil
}

// Subscribe stores a new subscription and returns it with its id and secret
// (generated when empty). Errors: Invalid, Conflict (id taken), Unavailable.
func (w *Webhooks) Subscribe(ctx context.Context, s Subscription) (Subscription, error) {
	s.Static = false
	s.Types = slices.Clone(s.Types)
	if err := s.validate(true); err != nil {
		return Subscription{}, err
	}
	if _, ok := w.static[s.ID]; ok {
		return Subscription{}, erpgate.Errorf(erpgate.Conflict, "subscription %s exists", s.ID)
	}
	// Redis's clock, to the millisecond: the timeline ids are stamped
	// with it, and deliver sends a pair only the events from this moment
	// on — a new subscription never receives history.
	at, err := w.rdb.Time(ctx).Result()
	if err != nil {
		return Subscription{}, unavailable(err)
	}
	s.CreatedAt = at.UTC().Truncate(time.Millisecond)
	b, err := json.Marshal(s)
	if err != nil {
		return Subscription{}, erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	ok, err := w.rdb.HSetNX(ctx, whSubsKey, s.ID, b).Result()
	if err != nil {
		return Subscription{}, unavailable(err)
	}
	if !ok {
		return Subscription{}, erpgate.Errorf(erpgate.Conflict, "subscription %s exists", s.ID)
	}
	w.invalidate()
	return s, nil
}

// List returns every subscription, static and stored, ordered by id, with
// secrets (use Redacted to show them). Errors: Unavailable.
func (w *Webhooks) List(ctx context.Context) ([]Subscription, error) {
	m, err := w.load(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Subscription, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Delete removes a stored subscription; events not yet delivered to it are
// dropped. Errors: NotFound, Forbidden (a static subscription: edit the
// config file), Unavailable.
func (w *Webhooks) Delete(ctx context.Context, id string) error {
	if _, ok := w.static[id]; ok {
		return erpgate.Errorf(erpgate.Forbidden, "subscription %s is configured in the config file", id)
	}
	n, err := w.rdb.HDel(ctx, whSubsKey, id).Result()
	if err != nil {
		return unavailable(err)
	}
	if n == 0 {
		return erpgate.Errorf(erpgate.NotFound, "no subscription %s", id)
	}
	w.invalidate()
	return nil
}

// DeadLetters returns up to n dead letters, newest first. Errors: Unavailable.
func (w *Webhooks) DeadLetters(ctx context.Context, n int) ([]DeadLetter, error) {
	if n <= 0 || n > 1000 {
		n = 1000
	}
	msgs, err := w.rdb.XRevRangeN(ctx, whDeadKey, "+", "-", int64(n)).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]DeadLetter, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, deadLetterOf(m))
	}
	return out, nil
}

// Backlog returns how many (subscription, order) pairs have events waiting
// for delivery (including ones in backoff). Errors: Unavailable.
func (w *Webhooks) Backlog(ctx context.Context) (int64, error) {
	n, err := w.rdb.ZCard(ctx, whDueKey).Result()
	if err != nil {
		return 0, unavailable(err)
	}
	return n, nil
}

// invalidate drops the cached subscriptions after this instance changed
// them. A read that began before is not cached when it ends (epoch).
func (w *Webhooks) invalidate() {
	w.mu.Lock()
	w.cachedAt = time.Time{}
	w.epoch++
	w.mu.Unlock()
}

// load returns all subscriptions by id, from a cache at most
// SubscriptionRefresh old.
func (w *Webhooks) load(ctx context.Context) (map[string]Subscription, error) {
	w.mu.Lock()
	if w.cache != nil && time.Since(w.cachedAt) < w.cfg.SubscriptionRefresh {
		m := w.cache
		w.mu.Unlock()
		return m, nil
	}
	w.mu.Unlock()
	return w.refresh(ctx)
}

// refresh reads all subscriptions from Redis, bypassing the cache, and
// caches them unless a newer read (or an invalidate) came first: the list
// returned is never older than the call, and the cache never goes back to
// an older one.
func (w *Webhooks) refresh(ctx context.Context) (map[string]Subscription, error) {
	w.mu.Lock()
	epoch := w.epoch
	w.mu.Unlock()
	began := time.Now()
	raw, err := w.rdb.HGetAll(ctx, whSubsKey).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	m := make(map[string]Subscription, len(raw)+len(w.static))
	for id, b := range raw {
		var s Subscription
		if err := json.Unmarshal([]byte(b), &s); err != nil {
			w.log.Error("tracking webhooks: undecodable subscription; ignored", "id", id, "err", err)
			continue
		}
		s.Static = false
		m[id] = s
	}
	for id, s := range w.static {
		m[id] = s
	}
	w.mu.Lock()
	if epoch == w.epoch && began.After(w.cachedAt) {
		w.cache, w.cachedAt = m, began
	}
	w.mu.Unlock()
	return m, nil
}

// streamKey is the timeline key of orderID.
func (w *Webhooks) streamKey(orderID string) string {
	return StreamKey(w.space.TagOf(orderID), orderID)
}

package tracking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/internal/partition"
)

// Limits on what Append accepts. Events come from the ERP and suppliers; the
// limits keep one bad producer from bloating a timeline every customer loads.
const (
	MaxOrderIDLen  = 128
	MaxTypeLen     = 40
	MaxSummaryLen  = 500 // characters
	MaxDetails     = 32
	MaxDetailKey   = 64
	MaxDetailValue = 1024 // bytes
	MaxDedupKeyLen = 200
	// MaxTimeline bounds how many events Timeline and Since return.
	MaxTimeline = 5000
)

// DefaultFeedMaxLen is the approximate length appends cap trk:feed at, the
// same as the store's accept script uses: a memory bound (≈80 bytes an
// entry), not the trim policy — the webhook trim loop keeps the feed to what
// is still needed ("Trimming the feed" in webhook_run.go). The feed only
// announces events; the timelines themselves are never trimmed.
const DefaultFeedMaxLen = 1000000

// StoreConfig configures a Store.
type StoreConfig struct {
	// Client is the shared Redis. Required.
	Client redis.UniversalClient
	// Registerer receives erpgate_tracking_events_total; nil registers nothing.
	Registerer prometheus.Registerer
	// Now is the clock for events without a time; default time.Now.
	Now func() time.Time
	// FeedMaxLen is the approximate cap of trk:feed; default DefaultFeedMaxLen.
	FeedMaxLen int64
	// Space is the partition space of the order ids (the store's,
	// store.Store.Space); default partition.Default partitions. An order's
	// events are announced on its partition's feed.
	Space partition.Space
	// OnAppend, if set, is called with the order id after Append wrote an
	// event (not for a deduplicated repeat), before Append returns: a read
	// cache invalidates there, so this instance reads its own writes at once.
	OnAppend func(orderID string)
}

// Store keeps order timelines in Redis streams (layout in the package doc).
type Store struct {
	rdb    redis.UniversalClient
	space  partition.Space
	now    func() time.Time
	maxLen int64
	events *prometheus.CounterVec
	onApp  func(orderID string)
}

// NewStore returns a Store.
func NewStore(cfg StoreConfig) (*Store, error) {
	if cfg.Client == nil {
		return nil, errors.New("tracking: StoreConfig.Client is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FeedMaxLen <= 0 {
		cfg.FeedMaxLen = DefaultFeedMaxLen
	}
	events, err := register(cfg.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "erpgate_tracking_events_total",
		Help: "Timeline events recorded, by type and source (unknown values count as \"other\").",
	}, []string{"type", "source"}))
	if err != nil {
		return nil, err
	}
	return &Store{rdb: cfg.Client, now: cfg.Now, maxLen: cfg.FeedMaxLen, events: events, onApp: cfg.OnAppend,
		space: orDefault(cfg.Space)}, nil
}

// orDefault is sp, or the default space for the zero Space.
func orDefault(sp partition.Space) partition.Space {
	if sp.N() == 0 {
		return partition.MustNew(partition.Default)
	}
	return sp
}

// StreamKey returns the key of orderID's timeline stream.
func (s *Store) StreamKey(orderID string) string { return StreamKey(s.space.TagOf(orderID), orderID) }

// Space returns the partition space of the store's keys.
func (s *Store) Space() partition.Space { return s.space }

// appendScript writes an event to the order's stream and announces it on the
// feed in one atomic step, so the feed order of one order's events is its
// stream order. The order's dedup hash (KEYS[3]) remembers dedup keys
// (field = the key, value = the first event's id), so a repeat returns that
// id instead of writing again, and which sources have spoken (field
// "src:<source>"), so that an append can be conditional on a source not
// having spoken yet (AppendUnlessSpoke) without a check-then-write race.
//
// KEYS: trk:<order>, trk:feed:T (the order's partition), trk:dedup:<order>
// ARGV: event JSON, order id, feed maxlen, dedup key or "", source, unless-source or ""
// Returns {1, id} when written, {0, id} for a duplicate, {2, ""} when the
// unless-source has spoken.
var appendScript = redis.NewScript(`
if ARGV[4] ~= '' then
  local prev = redis.call('HGET', KEYS[3], ARGV[4])
  if prev then return {0, prev} end
end
if ARGV[6] ~= '' and redis.call('HEXISTS', KEYS[3], 'src:' .. ARGV[6]) == 1 then
  return {2, ''}
end
local id = redis.call('XADD', KEYS[1], '*', 'ev', ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'o', ARGV[2], 'e', id)
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[4], id) end
redis.call('HSETNX', KEYS[3], 'src:' .. ARGV[5], id)
return {1, id}
`)

// DedupKey returns the Redis key of the hash that remembers the dedup keys of
// an order's events (field = dedup key, value = event id) and the sources
// that have spoken (field "src:<source>"). It lives as long as the timeline.
// tag is the order's partition tag, as for StreamKey.
func DedupKey(tag, orderID string) string { return "trk:dedup:" + tag + ":" + orderID }

// Append records e on the order's timeline and returns it with ID set (and
// Time, if it was zero). Details[DetailDedup], when present, makes the call
// idempotent: a later Append with the same dedup key for the same order
// records nothing and returns the event recorded first. A shipped event with
// a known carrier gets a tracking_url. An empty Summary becomes Label(Type).
//
// Append does not check that the order exists; callers that take events from
// outside (ERP pushes, suppliers) must. Errors: Invalid (bad event),
// Unavailable (Redis).
func (s *Store) Append(ctx context.Context, orderID string, e Event) (Event, error) {
	e, _, err := s.append(ctx, orderID, e, "")
	return e, err
}

// AppendUnlessSpoke is Append, except that it records nothing (and returns
// false) when an event from source unless was recorded on the order's
// timeline before — checked and written in one atomic step. It returns true
// when the event is on the timeline (written now, or earlier under the same
// dedup key). The gateway's
// "passed to the warehouse" event uses it so that it never lands after the
// ERP's own confirmation, however the two race.
//
// Only events appended since sources were remembered count (this release);
// callers that must also respect older timelines check Timeline as well.
func (s *Store) AppendUnlessSpoke(ctx context.Context, orderID string, e Event, unless string) (Event, bool, error) {
	if !validName(unless) {
		return Event{}, false, erpgate.Errorf(erpgate.Invalid, "invalid source %q", unless)
	}
	return s.append(ctx, orderID, e, unless)
}

func (s *Store) append(ctx context.Context, orderID string, e Event, unless string) (Event, bool, error) {
	dedup := e.Details[DetailDedup]
	e, err := s.normalize(orderID, e)
	if err != nil {
		return Event{}, false, err
	}
	tag := s.space.TagOf(orderID)
	keys := []string{StreamKey(tag, orderID), FeedKey(tag), DedupKey(tag, orderID)}
	res, err := appendScript.Run(ctx, s.rdb, keys, e.Encode(), orderID, s.maxLen, dedup, e.Source, unless).Slice()
	if err != nil {
		return Event{}, false, unavailable(err)
	}
	if len(res) != 2 {
		return Event{}, false, erpgate.Wrap(erpgate.Internal, fmt.Errorf("append script returned %v", res), "internal error")
	}
	id, _ := res[1].(string)
	switch n, _ := res[0].(int64); n {
	case 0:
		evs, err := s.read(ctx, orderID, id, id, 1)
		if err != nil {
			return Event{}, false, err
		}
		if len(evs) == 1 {
			return evs[0], true, nil
		}
		return Event{}, false, erpgate.Wrap(erpgate.Internal, fmt.Errorf("dedup key %q points at missing event %s", dedup, id), "internal error")
	case 2:
		return Event{}, false, nil
	}
	e.ID = id
	s.Count(e)
	if s.onApp != nil {
		s.onApp(orderID)
	}
	return e, true, nil
}

// Count adds e to erpgate_tracking_events_total. Append counts the events it
// writes; call Count for events written elsewhere, i.e. the "accepted" event
// written by the store's atomic accept.
func (s *Store) Count(e Event) {
	s.events.WithLabelValues(metricLabel(e.Type, StatusBearing(e.Type) || isSupplierType(e.Type)),
		metricLabel(e.Source, e.Source == SourceGateway || e.Source == SourceERP || e.Source == SourceSupplier)).Inc()
}

func isSupplierType(t string) bool {
	return t == TypePOIssued || t == TypePOAcked || t == TypePOShipped || t == TypePOReceived
}

func metricLabel(v string, known bool) string {
	if known {
		return v
	}
	return "other" // labels stay bounded whatever producers send
}

// normalize validates e and fills defaults.
func (s *Store) normalize(orderID string, e Event) (Event, error) {
	var probs []erpgate.Problem
	add := func(field, msg string) { probs = append(probs, erpgate.Problem{Field: field, Message: msg}) }
	if err := checkOrderID(orderID); err != nil {
		return Event{}, err
	}
	if !validName(e.Type) {
		add("type", fmt.Sprintf("lower-case letters, digits and _, starting with a letter, at most %d", MaxTypeLen))
	}
	if !validName(e.Source) {
		add("source", fmt.Sprintf("lower-case letters, digits and _, starting with a letter, at most %d", MaxTypeLen))
	}
	if !utf8.ValidString(e.Summary) || utf8.RuneCountInString(e.Summary) > MaxSummaryLen {
		add("summary", fmt.Sprintf("valid UTF-8, at most %d characters", MaxSummaryLen))
	}
	if len(e.Details) > MaxDetails+1 { // +1: the dedup key is removed below
		add("details", fmt.Sprintf("at most %d entries", MaxDetails))
	}
	var details map[string]string
	for k, v := range e.Details {
		if k == DetailDedup {
			if len(v) > MaxDedupKeyLen || !utf8.ValidString(v) {
				add("details.dedup", fmt.Sprintf("valid UTF-8, at most %d bytes", MaxDedupKeyLen))
			}
			continue
		}
		if len(k) == 0 || len(k) > MaxDetailKey || !validKey(k) {
			add("details", fmt.Sprintf("key %.64q: lower-case letters, digits and _, at most %d", k, MaxDetailKey))
			continue
		}
		if len(v) > MaxDetailValue || !utf8.ValidString(v) {
			add("details."+k, fmt.Sprintf("valid UTF-8, at most %d bytes", MaxDetailValue))
		}
		if details == nil {
			details = make(map[string]string, len(e.Details))
		}
		details[k] = v
	}
	if len(probs) > 0 {
		return Event{}, &erpgate.Error{Code: erpgate.Invalid, Message: "invalid tracking event", Problems: probs}
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.Time = e.Time.UTC()
	if e.Summary == "" {
		e.Summary = Label(e.Type)
	}
	if details[DetailTrackingNumber] != "" && details[DetailTrackingURL] == "" {
		if u := CarrierTrackingURL(details[DetailCarrier], details[DetailTrackingNumber]); u != "" {
			details[DetailTrackingURL] = u
		}
	}
	e.Details = details
	e.ID = ""
	return e, nil
}

func checkOrderID(id string) error {
	if id == "" || len(id) > MaxOrderIDLen {
		return erpgate.Errorf(erpgate.Invalid, "order id must have 1 to %d characters", MaxOrderIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= 0x20 || c >= 0x7f || c == '|' {
			return erpgate.Errorf(erpgate.Invalid, "order id has invalid characters")
		}
	}
	return nil
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > MaxTypeLen || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	return validKey(s)
}

func validKey(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// Timeline returns the order's events, oldest first (at most MaxTimeline).
// An order without events has an empty timeline; existence and access are the
// caller's to check. Errors: Invalid (order id), Unavailable (Redis).
func (s *Store) Timeline(ctx context.Context, orderID string) ([]Event, error) {
	return s.Since(ctx, orderID, "")
}

// Since returns the order's events after the one with id lastID, oldest
// first; with lastID "" the whole timeline. Errors: Invalid (order id or an
// id that is not a stream id), Unavailable (Redis).
func (s *Store) Since(ctx context.Context, orderID, lastID string) ([]Event, error) {
	if err := checkOrderID(orderID); err != nil {
		return nil, err
	}
	start := "-"
	if lastID != "" {
		if !ValidID(lastID) {
			return nil, erpgate.Errorf(erpgate.Invalid, "invalid event id")
		}
		start = "(" + lastID
	}
	return s.read(ctx, orderID, start, "+", MaxTimeline)
}

// read returns up to limit events of the order's stream in [start, end],
// paging so that one call never asks Redis for a huge reply.
func (s *Store) read(ctx context.Context, orderID, start, end string, limit int) ([]Event, error) {
	const page = 500
	var out []Event
	for len(out) < limit {
		n := min(page, limit-len(out))
		msgs, err := s.rdb.XRangeN(ctx, s.StreamKey(orderID), start, end, int64(n)).Result()
		if err != nil {
			return nil, unavailable(err)
		}
		for _, m := range msgs {
			e, err := decodeEntry(m)
			if err != nil {
				return nil, erpgate.Wrap(erpgate.Internal, err, "internal error")
			}
			out = append(out, e)
		}
		if len(msgs) < n {
			break
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
	return out, nil
}

// decodeEntry turns one timeline stream entry into an Event.
func decodeEntry(m redis.XMessage) (Event, error) {
	raw, _ := m.Values["ev"].(string)
	var e Event
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return Event{}, fmt.Errorf("timeline entry %s: %w", m.ID, err)
	}
	e.ID = m.ID
	return e, nil
}

func unavailable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return erpgate.Wrap(erpgate.Unavailable, err, "request cancelled or timed out")
	}
	return erpgate.Wrap(erpgate.Unavailable, err, "tracking store unavailable")
}

// ValidID reports whether s is a complete Redis stream id "<ms>-<seq>", the
// form of every event id (and so of every SSE Last-Event-ID we send).
func ValidID(s string) bool {
	_, _, ok := parseID(s)
	return ok
}

func parseID(s string) (ms, seq uint64, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return ms, seq, err1 == nil && err2 == nil
}

// CompareIDs orders two event ids as Redis orders stream entries: -1 if a is
// older than b, 0 if equal, +1 if newer. "" sorts before every id; ids that
// are not stream ids sort as "".
func CompareIDs(a, b string) int {
	am, as, _ := parseID(a)
	bm, bs, _ := parseID(b)
	switch {
	case am < bm || (am == bm && as < bs):
		return -1
	case am == bm && as == bs:
		return 0
	default:
		return 1
	}
}

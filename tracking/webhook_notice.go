package tracking

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
)

// Maintenance notices reach the shops' back offices through the same
// signed webhooks as order events.
//
// A notice is not an order, but the webhook machinery delivers timelines:
// so every shop has a notice timeline of its own, the stream
// trk:notices~<shop>, announced on the feed like an order's. Its pseudo
// order id "notices~<shop>" can never be a real order's (those are
// "ord_…") and names the shop, so no order lookup is needed to route it;
// the payload carries notice_id instead of order_id. A subscription gets
// the notice events unless its types filter leaves them out.

// Webhook event types of maintenance notices.
const (
	TypeNoticeScheduled = "notice.scheduled"
	TypeNoticeUpdated   = "notice.updated"
	TypeNoticeCancelled = "notice.cancelled"
)

// NoticeTypes lists the notice event types a subscription may choose.
var NoticeTypes = []string{TypeNoticeScheduled, TypeNoticeUpdated, TypeNoticeCancelled}

// DetailNoticeID carries the notice id in a notice event's details.
const DetailNoticeID = "notice_id"

const (
	noticeStreamPrefix = "notices~"
	// noticeStreamMaxLen caps a shop's notice timeline (approximately): a
	// new subscription is delivered a shop's timeline from its start, and
	// old notices are of no use to it.
	noticeStreamMaxLen = 100
)

// NoticeStreamID returns the pseudo order id of shop's notice timeline.
func NoticeStreamID(shop string) string { return noticeStreamPrefix + shop }

// noticeShop returns the shop of a notice timeline's pseudo order id.
func noticeShop(id string) (string, bool) {
	shop, ok := strings.CutPrefix(id, noticeStreamPrefix)
	return shop, ok && shop != ""
}

// noticeAppendScript appends an event to a notice timeline and announces
// it on the feed. KEYS: timeline, feed. ARGV: event JSON, pseudo id,
// timeline maxlen, feed maxlen.
var noticeAppendScript = redis.NewScript(`
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'ev', ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'o', ARGV[2], 'e', id)
return id
`)

// AnnounceNotice appends a notice event of type typ (one of NoticeTypes) to
// the notice timeline of every shop that has a subscription wanting it;
// the webhook workers deliver it, signed, like any event. summary is the
// notice's English text; details carry its window and messages (notice_id
// is set here). It returns the shops told. Errors: Invalid (type),
// Unavailable.
func (w *Webhooks) AnnounceNotice(ctx context.Context, typ, noticeID, summary string, details map[string]string) ([]string, error) {
	if !isNoticeType(typ) {
		return nil, erpgate.Errorf(erpgate.Invalid, "unknown notice event type %q", typ)
	}
	subs, err := w.refresh(ctx) // not the cache: a subscription made a moment ago counts
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var shops []string
	for _, s := range subs {
		if s.wants(typ) && !seen[s.ShopID] {
			seen[s.ShopID] = true
			shops = append(shops, s.ShopID)
		}
	}
	sort.Strings(shops)
	d := make(map[string]string, len(details)+1)
	for k, v := range details {
		d[k] = v
	}
	d[DetailNoticeID] = noticeID
	ev, err := json.Marshal(Event{Time: w.now().UTC().Truncate(time.Millisecond), Type: typ, Source: SourceGateway,
		Summary: summary, Details: d})
	if err != nil {
		return nil, erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	for _, shop := range shops {
		id := NoticeStreamID(shop)
		if err := noticeAppendScript.Run(ctx, w.rdb, []string{w.streamKey(id), w.feed.Stream(w.space.Of(id))}, ev, id,
			noticeStreamMaxLen, DefaultFeedMaxLen).Err(); err != nil {
			return nil, unavailable(err)
		}
	}
	return shops, nil
}

func isNoticeType(t string) bool {
	for _, n := range NoticeTypes {
		if t == n {
			return true
		}
	}
	return false
}

// payloadFor is the webhook body of event e of the timeline orderID: for an
// order its event; for a notice timeline the notice event, with notice_id
// and no order_id.
func payloadFor(orderID string, e Event) WebhookPayload {
	p := WebhookPayload{ID: e.ID, OrderID: orderID, Type: e.Type, Time: e.Time, Source: e.Source, Summary: e.Summary, Details: e.Details}
	if _, ok := noticeShop(orderID); ok {
		p.OrderID, p.NoticeID = "", e.Details[DetailNoticeID]
	}
	return p
}

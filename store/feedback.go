package store

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/feedback"
)

// Feedback keys:
//
//	fb:log        stream, one entry per feedback, field "f" = JSON (without id; the
//	              entry id is the feedback id). Never trimmed: feedback is data.
//	fb:count      hash: "<revision>|<topic>" → count (the FAQ candidates)
//	rl:fb:<key>   string: the key's rate-limit bucket (GCRA, ratelimit.go)
const (
	feedbackLogKey   = "{fb}:log"
	feedbackCountKey = "{fb}:count"
	feedbackRLPrefix = "fb:" // under the limiter's rl: prefix
	// feedbackScan bounds the entries one filtered List reads.
	feedbackScan = 5000
)

// Feedback keeps pilot users' feedback in Redis. It implements
// feedback.Store.
type Feedback struct{ s *Store }

var _ feedback.Store = (*Feedback)(nil)

// Feedback returns the feedback store on s's Redis.
func (s *Store) Feedback() *Feedback { return &Feedback{s: s} }

// Allow implements feedback.Store: at most limit uses of key per window,
// all of them at once if need be, on the shared GCRA limiter
// (ratelimit.go).
func (f *Feedback) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	if limit < 1 || window <= 0 {
		return false, 0, erpgate.Errorf(erpgate.Internal, "feedback rate limit %d per %v", limit, window)
	}
	d, err := NewRateLimiter(f.s.rdb).Allow(ctx, feedbackRLPrefix+key, float64(limit)/window.Seconds(), limit)
	if err != nil {
		return false, 0, err
	}
	return d.Allowed, d.RetryAfter, nil
}

// feedbackAddScript appends feedback and counts it in one step.
// KEYS: fb:log, fb:count. ARGV: JSON, count field. Returns the entry id.
var feedbackAddScript = redis.NewScript(`
local id = redis.call('XADD', KEYS[1], '*', 'f', ARGV[1])
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
return id
`)

// Add implements feedback.Store.
func (f *Feedback) Add(ctx context.Context, fb feedback.Feedback) (feedback.Feedback, error) {
	fb.ID = ""
	b, err := json.Marshal(fb)
	if err != nil {
		return feedback.Feedback{}, erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	field := strconv.FormatInt(fb.Revision, 10) + "|" + fb.Topic
	id, err := feedbackAddScript.Run(ctx, f.s.rdb, []string{feedbackLogKey, feedbackCountKey}, b, field).Text()
	if err != nil {
		return feedback.Feedback{}, unavailable(err)
	}
	fb.ID = "fb_" + id
	return fb, nil
}

// List implements feedback.Store: newest first, reading at most
// feedbackScan entries per call when filtering (the cursor then points
// where it stopped, so the next call goes on).
func (f *Feedback) List(ctx context.Context, flt feedback.Filter) ([]feedback.Feedback, string, error) {
	end := "+"
	if flt.Before != "" {
		id := strings.TrimPrefix(flt.Before, "fb_")
		if !validStreamID(id) {
			return nil, "", &erpgate.Error{Code: erpgate.Invalid, Message: "invalid cursor",
				Problems: []erpgate.Problem{{Field: "before", Message: "the next_before of a previous page"}}}
		}
		end = "(" + id
	}
	out := make([]feedback.Feedback, 0, flt.Limit)
	scanned := 0
	for {
		page := min(int64(flt.Limit)*2, 500)
		msgs, err := f.s.rdb.XRevRangeN(ctx, feedbackLogKey, end, "-", page).Result()
		if err != nil {
			return nil, "", unavailable(err)
		}
		for _, m := range msgs {
			scanned++
			end = "(" + m.ID
			raw, _ := m.Values["f"].(string)
			var fb feedback.Feedback
			if err := json.Unmarshal([]byte(raw), &fb); err != nil {
				f.s.log.Error("feedback: undecodable entry skipped", "id", m.ID, "err", err)
				continue
			}
			fb.ID = "fb_" + m.ID
			if (flt.Topic != "" && fb.Topic != flt.Topic) || (flt.Revision != 0 && fb.Revision != flt.Revision) {
				if scanned >= feedbackScan {
					return out, "fb_" + m.ID, nil
				}
				continue
			}
			out = append(out, fb)
			if len(out) == flt.Limit {
				return out, fb.ID, nil
			}
			if scanned >= feedbackScan {
				return out, fb.ID, nil
			}
		}
		if int64(len(msgs)) < page {
			return out, "", nil
		}
	}
}

// Counts implements feedback.Store.
func (f *Feedback) Counts(ctx context.Context) ([]feedback.Count, error) {
	m, err := f.s.rdb.HGetAll(ctx, feedbackCountKey).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	out := make([]feedback.Count, 0, len(m))
	for k, v := range m {
		rev, topic, ok := strings.Cut(k, "|")
		r, err := strconv.ParseInt(rev, 10, 64)
		if !ok || err != nil {
			continue
		}
		out = append(out, feedback.Count{Topic: topic, Revision: r, Count: parseInt64(v)})
	}
	return out, nil
}

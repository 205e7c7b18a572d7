package store

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/help"
	"erpgate/notice"
)

// Global records of notices and the FAQ, at fixed keys (read through the
// notice.Board cache and on every FAQ page view):
//
//	notices      hash: notice id → notice JSON (without revision)
//	notices:rev  hash: notice id → revision
//	faq          hash: FAQ entry id → entry JSON
const (
	noticesKey    = "{notices}"
	noticesRevKey = "{notices}:rev"
	faqKey        = "faq"
)

// Notices keeps the maintenance notices in Redis. It implements
// notice.Store.
type Notices struct{ s *Store }

var _ notice.Store = (*Notices)(nil)

// Notices returns the notice store on s's Redis.
func (s *Store) Notices() *Notices { return &Notices{s: s} }

// noticePutScript stores a notice unless the hash is full, bumps its
// revision and says whether it is new.
//
// KEYS: notices, notices:rev. ARGV: id, JSON, max notices.
// Returns {existed 0|1, revision}, or -1 when full.
var noticePutScript = redis.NewScript(`
local existed = redis.call('HEXISTS', KEYS[1], ARGV[1])
if existed == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end
local rev = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {existed, rev}
`)

// Put stores n and reports whether it is new; notices that ended more than
// notice.Keep ago are forgotten first. Errors: Unprocessable (notice.MaxNotices
// stored), Unavailable.
func (ns *Notices) Put(ctx context.Context, n notice.Notice) (notice.Notice, bool, error) {
	if err := ns.prune(ctx); err != nil {
		return notice.Notice{}, false, err
	}
	n.Revision = 0
	b, err := json.Marshal(n)
	if err != nil {
		return notice.Notice{}, false, erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	res, err := noticePutScript.Run(ctx, ns.s.rdb, []string{noticesKey, noticesRevKey}, n.ID, b, notice.MaxNotices).Result()
	if err != nil {
		return notice.Notice{}, false, unavailable(err)
	}
	r, ok := res.([]any)
	if !ok || len(r) != 2 {
		return notice.Notice{}, false, erpgate.Errorf(erpgate.Unprocessable, "at most %d notices can be stored; delete old ones", notice.MaxNotices)
	}
	existed, _ := r[0].(int64)
	n.Revision, _ = r[1].(int64)
	return n, existed == 0, nil
}

// prune deletes the notices that ended more than notice.Keep ago.
func (ns *Notices) prune(ctx context.Context) error {
	all, err := ns.Notices(ctx)
	if err != nil {
		return err
	}
	cut := ns.s.now().Add(-notice.Keep)
	var old []string
	for _, n := range all {
		if n.End.Before(cut) {
			old = append(old, n.ID)
		}
	}
	if len(old) == 0 {
		return nil
	}
	_, err = ns.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, noticesKey, old...)
		p.HDel(ctx, noticesRevKey, old...)
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// Delete removes the notice id and returns it. Errors: NotFound, Unavailable.
func (ns *Notices) Delete(ctx context.Context, id string) (notice.Notice, error) {
	var get *redis.StringCmd
	var rev *redis.StringCmd
	_, err := ns.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		get = p.HGet(ctx, noticesKey, id)
		rev = p.HGet(ctx, noticesRevKey, id)
		p.HDel(ctx, noticesKey, id)
		p.HDel(ctx, noticesRevKey, id)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return notice.Notice{}, unavailable(err)
	}
	b, err := get.Result()
	if errors.Is(err, redis.Nil) {
		return notice.Notice{}, erpgate.Errorf(erpgate.NotFound, "no notice %s", id)
	}
	var n notice.Notice
	if err := json.Unmarshal([]byte(b), &n); err != nil {
		return notice.Notice{}, erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	n.Revision, _ = rev.Int64()
	return n, nil
}

// Notices returns every stored notice (undecodable ones are logged and
// left out). Errors: Unavailable.
func (ns *Notices) Notices(ctx context.Context) ([]notice.Notice, error) {
	var all *redis.MapStringStringCmd
	var revs *redis.MapStringStringCmd
	_, err := ns.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		all = p.HGetAll(ctx, noticesKey)
		revs = p.HGetAll(ctx, noticesRevKey)
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	rv := revs.Val()
	out := make([]notice.Notice, 0, len(all.Val()))
	for id, b := range all.Val() {
		var n notice.Notice
		if err := json.Unmarshal([]byte(b), &n); err != nil {
			ns.s.log.Error("notices: undecodable notice ignored", "id", id, "err", err)
			continue
		}
		n.Revision = parseInt64(rv[id])
		out = append(out, n)
	}
	return out, nil
}

// FAQ keeps the published FAQ entries in Redis.
type FAQ struct{ s *Store }

// FAQ returns the FAQ store on s's Redis.
func (s *Store) FAQ() *FAQ { return &FAQ{s: s} }

// faqPutScript stores an entry unless the hash is full; returns 1 when new,
// 0 when replaced, -1 when full. KEYS: faq. ARGV: id, JSON, max.
var faqPutScript = redis.NewScript(`
local existed = redis.call('HEXISTS', KEYS[1], ARGV[1])
if existed == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1 - existed
`)

// Put stores e and reports whether it is new. Errors: Unprocessable
// (help.MaxEntries stored), Unavailable.
func (f *FAQ) Put(ctx context.Context, e help.Entry) (bool, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return false, erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	n, err := faqPutScript.Run(ctx, f.s.rdb, []string{faqKey}, e.ID, b, help.MaxEntries).Int()
	if err != nil {
		return false, unavailable(err)
	}
	if n < 0 {
		return false, erpgate.Errorf(erpgate.Unprocessable, "at most %d FAQ entries can be published", help.MaxEntries)
	}
	return n == 1, nil
}

// Delete removes the entry id. Errors: NotFound, Unavailable.
func (f *FAQ) Delete(ctx context.Context, id string) error {
	n, err := f.s.rdb.HDel(ctx, faqKey, id).Result()
	if err != nil {
		return unavailable(err)
	}
	if n == 0 {
		return erpgate.Errorf(erpgate.NotFound, "no FAQ entry %s", id)
	}
	return nil
}

// Entries returns every published entry, in no particular order.
// Errors: Unavailable.
func (f *FAQ) Entries(ctx context.Context) ([]help.Entry, error) {
	all, err := f.s.rdb.HGetAll(ctx, faqKey).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]help.Entry, 0, len(all))
	for id, b := range all {
		var e help.Entry
		if err := json.Unmarshal([]byte(b), &e); err != nil {
			f.s.log.Error("faq: undecodable entry ignored", "id", id, "err", err)
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

func parseInt64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

package store

// The shadow comparison store: both targets' answers per order, the sample
// of mismatches and the windows of the automatic back-out rule.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
)

// Returns the other target's answer once both are there (once per order),
// else false.
var recordAnswerScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], '_done') == 1 then return false end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local o = redis.call('HGET', KEYS[1], ARGV[3])
if not o then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return false
end
redis.call('HDEL', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[1], '_done', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return o
`)

// RecordAnswer implements erp.ShadowStore.
func (r *Releases) RecordAnswer(ctx context.Context, orderID, target string, a erp.ShadowAnswer, other string) (*erp.ShadowAnswer, error) {
	doc, err := json.Marshal(a)
	if err != nil {
		return nil, erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	res, err := recordAnswerScript.Run(ctx, r.s.rdb, []string{shadowKey(orderID)},
		target, doc, other, shadowWaitTTL.Milliseconds(), shadowDoneTTL.Milliseconds()).Text()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(err)
	}
	var theirs erp.ShadowAnswer
	if err := json.Unmarshal([]byte(res), &theirs); err != nil {
		return nil, erpgate.Wrap(erpgate.Internal, fmt.Errorf("shadow answer of %s for %s: %w", other, orderID, err), "internal error")
	}
	return &theirs, nil
}

// recordResultScript does a shadow result's work in one call (see
// erp.ShadowResultStore.RecordResult).
// KEYS shadow hash, results list, results counts, comparisons list,
// comparisons counts.
// ARGV target, json, other, waitms, donems, projection (a JSON array of
// erp.ShadowProjection), record ("1"|"0"), results item (""|"0"|"1"),
// observe comparisons ("1"|"0"), window size, window ttlms.
// Returns {other's json or "", results n, results bad, comparisons n,
// comparisons bad}; a count is -1 when not observed.
var recordResultScript = redis.NewScript(`
local function window(list, counts, item, size, ttl)
  redis.call('LPUSH', list, item)
  redis.call('HINCRBY', counts, item, 1)
  local n = redis.call('LLEN', list)
  while n > size do
    local old = redis.call('RPOP', list)
    redis.call('HINCRBY', counts, old, -1)
    n = n - 1
  end
  redis.call('PEXPIRE', list, ttl)
  redis.call('PEXPIRE', counts, ttl)
  return {n, tonumber(redis.call('HGET', counts, '1') or '0')}
end
-- CompareAnswers on projections {state, reason, total, lines, status}.
local function differ(a, b)
  if a[1] ~= b[1] then return true end
  if a[1] == 'rejected' then return a[2] ~= b[2] end
  for i = 3, 5 do
    if a[i] ~= '' and b[i] ~= '' and a[i] ~= b[i] then return true end
  end
  return false
end
local size, ttl = tonumber(ARGV[10]), ARGV[11]
local out = {'', -1, -1, -1, -1}
if ARGV[8] ~= '' then
  local w = window(KEYS[2], KEYS[3], ARGV[8], size, ttl)
  out[2], out[3] = w[1], w[2]
end
if ARGV[7] ~= '1' or redis.call('HEXISTS', KEYS[1], '_done') == 1 then return out end
local mineP = ARGV[1] .. '#p'
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], mineP, ARGV[6])
local o = redis.call('HGET', KEYS[1], ARGV[3])
if not o then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return out
end
local otherP = redis.call('HGET', KEYS[1], ARGV[3] .. '#p')
redis.call('HDEL', KEYS[1], ARGV[1], ARGV[3], mineP, ARGV[3] .. '#p')
redis.call('HSET', KEYS[1], '_done', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
out[1] = o
if ARGV[9] == '1' and otherP then
  local bad = '0'
  if differ(cjson.decode(ARGV[6]), cjson.decode(otherP)) then bad = '1' end
  local w = window(KEYS[4], KEYS[5], bad, size, ttl)
  out[4], out[5] = w[1], w[2]
end
return out
`)

var _ erp.ShadowResultStore = (*Releases)(nil)

// RecordResult implements erp.ShadowResultStore: one script call.
func (r *Releases) RecordResult(ctx context.Context, in erp.ShadowResult) (erp.ShadowOutcome, error) {
	var out erp.ShadowOutcome
	var doc, proj []byte
	record := "0"
	if in.Answer != nil {
		var err error
		if doc, err = json.Marshal(in.Answer); err != nil {
			return out, erpgate.Wrap(erpgate.Internal, err, "internal error")
		}
		if proj, err = json.Marshal(erp.ShadowProjection(*in.Answer)); err != nil {
			return out, erpgate.Wrap(erpgate.Internal, err, "internal error")
		}
		record = "1"
	}
	item := ""
	if in.Results != nil {
		item = "0"
		if *in.Results {
			item = "1"
		}
	}
	cmp := "0"
	if in.Comparisons {
		cmp = "1"
	}
	res, cnt := windowKey(in.Revision, erp.WindowResults), windowKey(in.Revision, erp.WindowComparisons)
	v, err := recordResultScript.Run(ctx, r.s.rdb, []string{shadowKey(in.OrderID), res, res + ":n", cnt, cnt + ":n"},
		in.Target, doc, in.Other, shadowWaitTTL.Milliseconds(), shadowDoneTTL.Milliseconds(),
		proj, record, item, cmp, max(in.WindowSize, 1), windowTTL.Milliseconds()).Slice()
	if err != nil {
		return out, unavailable(err)
	}
	if len(v) != 5 {
		return out, erpgate.Wrap(erpgate.Internal, fmt.Errorf("shadow result script returned %v", v), "internal error")
	}
	counts := make([]int, 4)
	for i := range counts {
		n, ok := v[i+1].(int64)
		if !ok {
			return out, erpgate.Wrap(erpgate.Internal, fmt.Errorf("shadow result script returned %v", v), "internal error")
		}
		counts[i] = int(n)
	}
	if counts[0] >= 0 {
		out.Results = &erp.WindowCount{N: counts[0], Bad: counts[1]}
	}
	if counts[2] >= 0 {
		out.Comparisons = &erp.WindowCount{N: counts[2], Bad: counts[3]}
	}
	if theirs, _ := v[0].(string); theirs != "" {
		out.Theirs = new(erp.ShadowAnswer)
		if err := json.Unmarshal([]byte(theirs), out.Theirs); err != nil {
			return erp.ShadowOutcome{}, erpgate.Wrap(erpgate.Internal, fmt.Errorf("shadow answer of %s for %s: %w", in.Other, in.OrderID, err), "internal error")
		}
	}
	return out, nil
}

// AddMismatch implements erp.ShadowStore: the sample keeps the last 100.
func (r *Releases) AddMismatch(ctx context.Context, m erp.ShadowMismatch) error {
	doc, err := json.Marshal(m)
	if err != nil {
		return erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	_, err = r.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LPush(ctx, shadowSampleKey, doc)
		p.LTrim(ctx, shadowSampleKey, 0, shadowSampleSize-1)
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// Mismatches returns up to limit of the kept shadow mismatches, newest
// first. Errors: Unavailable.
func (r *Releases) Mismatches(ctx context.Context, limit int) ([]erp.ShadowMismatch, error) {
	if limit <= 0 || limit > shadowSampleSize {
		limit = shadowSampleSize
	}
	docs, err := r.s.rdb.LRange(ctx, shadowSampleKey, 0, int64(limit-1)).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]erp.ShadowMismatch, 0, len(docs))
	for _, d := range docs {
		var m erp.ShadowMismatch
		if err := json.Unmarshal([]byte(d), &m); err != nil {
			r.log.Warn("release: undecodable shadow mismatch skipped", "err", err)
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// windowScript: KEYS list, counts; ARGV item ("0"|"1"), size, ttlms
// Returns {length, bad count}.
var windowScript = redis.NewScript(`
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
local n = redis.call('LLEN', KEYS[1])
local size = tonumber(ARGV[2])
while n > size do
  local old = redis.call('RPOP', KEYS[1])
  redis.call('HINCRBY', KEYS[2], old, -1)
  n = n - 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {n, tonumber(redis.call('HGET', KEYS[2], '1') or '0')}
`)

// Window implements erp.ShadowStore.
func (r *Releases) Window(ctx context.Context, rev int64, kind string, bad bool, size int) (int, int, error) {
	if kind != erp.WindowResults && kind != erp.WindowComparisons {
		return 0, 0, erpgate.Errorf(erpgate.Internal, "unknown window %q", kind)
	}
	item := "0"
	if bad {
		item = "1"
	}
	k := windowKey(rev, kind)
	v, err := windowScript.Run(ctx, r.s.rdb, []string{k, k + ":n"}, item, max(size, 1), windowTTL.Milliseconds()).Int64Slice()
	if err != nil {
		return 0, 0, unavailable(err)
	}
	if len(v) != 2 {
		return 0, 0, erpgate.Wrap(erpgate.Internal, fmt.Errorf("window script returned %v", v), "internal error")
	}
	return int(v[0]), int(v[1]), nil
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

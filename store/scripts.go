package store

import (
	"github.com/redis/go-redis/v9"

	"erpgate/internal/streamgroup"
)

// The Lua scripts. Each is one atomic step on the server. Every key a script
// touches is passed in KEYS, so they stay valid where Redis enforces that.
//
// A script that fails half-way is not rolled back by Redis; the scripts
// therefore do all their checks before the first write, and the first write
// is the only one Redis may refuse for memory (later writes of a script that
// has written are allowed).

// acceptScript accepts a batch of orders of one partition (batch.go), each
// on its own as if alone, in order. Every key is under the partition's hash
// tag, so the call stays in one slot. The Idempotency-Key record is not
// here: it lives in its own slot and is claimed before (claim.go).
// KEYS feed, outbox, then per order: ord, ext, trk
// ARGV feedmaxlen, n, then per order: nkeys (3), id, fp, json, shop, ext, token, event, atms, idemkey
// Returns per order {"ok", id, outboxID} | {"replay", id} | {"mismatch", id} |
// {"exists", id} | {"err", message}. An order whose step fails (a Redis
// error) is that order's "err" only; the orders after it still run.
var acceptScript = redis.NewScript(`
local feed, outbox, maxlen = KEYS[1], KEYS[2], ARGV[1]
local function accept(ok, ek, tk, id, fp, json, shop, ext, token, ev, at, idem)
  local v = redis.call('GET', ek)
  if v then
    local sp = string.find(v, ' ', 1, true)
    local eid, efp = string.sub(v, 1, sp - 1), string.sub(v, sp + 1)
    if efp ~= fp then return {'mismatch', eid} end
    return {'replay', eid}
  end
  if redis.call('EXISTS', ok) == 1 then return {'exists', id} end
  redis.call('HSET', ok, 'json', json, 'shop', shop, 'ext', ext, 'token', token,
    'fp', fp, 'key', idem, 'status', 'accepted', 'created', at)
  redis.call('SET', ek, id .. ' ' .. fp)
  local e = redis.call('XADD', tk, '*', 'ev', ev)
  redis.call('XADD', feed, 'MAXLEN', '~', maxlen, '*', 'o', id, 'e', e)
  local ob = redis.call('XADD', outbox, '*', 'type', 'order.create', 'id', id, 'at', at)
  return {'ok', id, ob}
end
local out = {}
local k, a = 3, 3
for i = 1, tonumber(ARGV[2]) do
  local nk = tonumber(ARGV[a])
  local done, res = pcall(accept, KEYS[k], KEYS[k + 1], KEYS[k + 2],
    ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8], ARGV[a + 9])
  if not done then
    if type(res) == 'table' and res.err then res = res.err end
    res = {'err', tostring(res)}
  end
  out[i] = res
  k = k + nk
  a = a + 10
end
return out
`)

// setResultScript: KEYS ord; ARGV field, json, state, authoritative(0|1), status, reason
// Returns "ok", "kept" (a final result is not replaced) or "nf" (no such order).
var setResultScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 'nf' end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local cs = cjson.decode(cur).state
  if (ARGV[3] == 'pending' and cs ~= 'pending') or (cs == 'created' and ARGV[3] ~= 'created') then
    return 'kept'
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[4] == '1' and ARGV[3] ~= 'pending' then
  redis.call('HSET', KEYS[1], 'status', ARGV[5], 'reason', ARGV[6])
end
return 'ok'
`)

// replayScript: KEYS dead, outbox (one partition's); ARGV dead stream id, target, dead-letter id
// Puts a dead letter back on the outbox for one target and removes it from
// the dead-letter stream. Returns the new outbox id, or false if absent.
var replayScript = redis.NewScript(`
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then return false end
local f = e[1][2]
local t, id, at = '', '', ''
for i = 1, #f, 2 do
  if f[i] == 'type' then t = f[i + 1] elseif f[i] == 'id' then id = f[i + 1] elseif f[i] == 'at' then at = f[i + 1] end
end
local ob = redis.call('XADD', KEYS[2], '*', 'type', t, 'id', id, 'at', at, 'only', ARGV[2], 'replay', ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[1])
return ob
`)

// trimScript: KEYS outbox
// Trims the outbox below the oldest entry some group still needs: for each
// group its oldest pending entry, or if none the entry after its last
// delivered one. Reading the groups and trimming is one atomic step, so a
// group cannot move backwards in between. Never by length.
// Returns {minid, trimmed}; minid "" when there is nothing to decide on.
var trimScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'', 0} end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return {'', 0} end
` + streamgroup.FieldLua + `
local function parse(id)
  local d = string.find(id, '-', 1, true)
  if not d then return tonumber(id), 0 end
  return tonumber(string.sub(id, 1, d - 1)), tonumber(string.sub(id, d + 1))
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local minid
for _, g in ipairs(groups) do
  local name, last = field(g, 'name'), field(g, 'last-delivered-id')
  local thr
  local p = redis.call('XPENDING', KEYS[1], name)
  if tonumber(p[1]) > 0 then
    thr = p[2]
  else
    local ms, seq = parse(last)
    thr = string.format('%d-%d', ms, seq + 1)
  end
  if not minid or less(thr, minid) then minid = thr end
end
local n = redis.call('XTRIM', KEYS[1], 'MINID', minid)
return {minid, n}
`)

var allScripts = append([]*redis.Script{
	acceptScript, setResultScript, replayScript, trimScript,
}, streamgroup.Scripts...)

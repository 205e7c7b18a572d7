package store

import "github.com/redis/go-redis/v9"

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

// deferScript: KEYS outbox, retry; ARGV group, id, duems, deliveries, parkconsumer
// Moves a pending entry to the parking consumer (idle reset, counter set, no
// increment) and schedules it. Returns 0 if the entry is no longer pending.
var deferScript = redis.NewScript(`
local c = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[5], 0, ARGV[2], 'RETRYCOUNT', ARGV[4], 'JUSTID')
if #c == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
return 1
`)

// touchScript: KEYS outbox; ARGV group, consumer, id...
// Re-claims (idle reset, counter kept) the ids consumer still holds and
// returns them.
var touchScript = redis.NewScript(`
local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if #p == 1 and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'RETRYCOUNT', p[1][4], 'JUSTID')
    table.insert(out, id)
  end
end
return out
`)

// dueScript: KEYS outbox, retry; ARGV group, consumer, nowms, count, parkconsumer
// Claims parked entries that are due, oldest due first. A schedule whose
// entry is no longer parked (acknowledged, or reclaimed by another path) is
// dropped. Returns {{id, {field, value, ...}, deliveries}, ...}.
var dueScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[2], id)
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if #p == 1 and p[1][2] == ARGV[5] then
    local n = tonumber(p[1][4]) + 1
    local c = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'RETRYCOUNT', n)
    if #c == 1 and c[1] then
      table.insert(out, {c[1][1], c[1][2], n})
    end
  end
end
return out
`)

// deadScript: KEYS outbox, dead; ARGV group, id, type, orderid, target, reason, deliveries, at, deadms
// Acknowledges the entry and records it as dead in one step; if it was no
// longer pending (another worker finished it) nothing is recorded.
var deadScript = redis.NewScript(`
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'type', ARGV[3], 'id', ARGV[4], 'target', ARGV[5], 'reason', ARGV[6],
  'deliveries', ARGV[7], 'entry', ARGV[2], 'at', ARGV[8], 'dead_at', ARGV[9])
return 1
`)

// replayScript: KEYS dead, outbox; ARGV deadID, target
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
local ob = redis.call('XADD', KEYS[2], '*', 'type', t, 'id', id, 'at', at, 'only', ARGV[2], 'replay', ARGV[1])
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
` + fieldFunc + `
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

// pruneScript: KEYS outbox; ARGV group, minidlems, keep
// Deletes consumers that hold nothing and have been idle for long (each
// process start names new ones). The check and the delete are one step, so a
// consumer that just read an entry is never deleted with it.
var pruneScript = redis.NewScript(`
` + fieldFunc + `
local cs = redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
local n = 0
for _, c in ipairs(cs) do
  local name, pending, idle = field(c, 'name'), tonumber(field(c, 'pending')), tonumber(field(c, 'idle'))
  if name ~= ARGV[3] and pending == 0 and idle >= tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    n = n + 1
  end
end
return n
`)

// fieldFunc reads a field of an XINFO reply, whether it arrives as a flat
// list (Redis) or as a table keyed by name (miniredis's map replies).
const fieldFunc = `
local function field(t, k)
  if t[k] ~= nil then return t[k] end
  for i = 1, #t, 2 do
    if t[i] == k then return t[i + 1] end
  end
  return nil
end`

var allScripts = []*redis.Script{
	acceptScript, setResultScript, touchScript, deferScript, dueScript, deadScript, replayScript, trimScript, pruneScript,
}

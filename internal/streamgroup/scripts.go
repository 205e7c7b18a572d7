package streamgroup

import "github.com/redis/go-redis/v9"

// The Lua scripts of Group. Each touches one partition's keys, all passed
// in KEYS.

// deferScript: KEYS stream, parked; ARGV group, id, duems, deliveries, parkconsumer
// Moves a pending entry to the parking consumer (idle reset, counter set, no
// increment) and schedules it. Returns 0 if the entry is no longer pending.
var deferScript = redis.NewScript(`
local c = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[5], 0, ARGV[2], 'RETRYCOUNT', ARGV[4], 'JUSTID')
if #c == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
return 1
`)

// touchScript: KEYS stream; ARGV group, consumer, id...
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

// dueScript: KEYS stream, parked; ARGV group, consumer, nowms, count, parkconsumer
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

// deadScript: KEYS stream, dead; ARGV group, id, field, value, ...
// Acknowledges the entry and appends the fields and entry=<id> to the
// dead-letter stream in one step; if it was no longer pending (another
// consumer finished it) nothing is recorded. Returns the dead letter's id,
// or false.
var deadScript = redis.NewScript(`
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return false end
local f = {}
for i = 3, #ARGV do f[#f + 1] = ARGV[i] end
f[#f + 1] = 'entry'
f[#f + 1] = ARGV[2]
return redis.call('XADD', KEYS[2], '*', unpack(f))
`)

// pruneScript: KEYS stream; ARGV group, minidlems, keep
// Deletes consumers that hold nothing and have been idle for long (each
// process start may name new ones). The check and the delete are one step,
// so a consumer that just read an entry is never deleted with it.
var pruneScript = redis.NewScript(`
` + FieldLua + `
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

// FieldLua defines field(t, k), which reads a field of an XINFO reply,
// whether it arrives as a flat list (Redis) or as a table keyed by name
// (miniredis's map replies).
const FieldLua = `
local function field(t, k)
  if t[k] ~= nil then return t[k] end
  for i = 1, #t, 2 do
    if t[i] == k then return t[i + 1] end
  end
  return nil
end`

// Scripts are the scripts of Group, for loading at start.
var Scripts = []*redis.Script{deferScript, touchScript, dueScript, deadScript, pruneScript}

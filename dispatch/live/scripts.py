"""The Lua scripts that keep the live store consistent: each runs atomically inside Redis.

A rider is in exactly one cell hash, or in none once evicted: every script that
moves a rider deletes its entry from the old cell and writes the new one in the
same atomic step. Cell entries are `lat|lng|seen_ms|status|load` so a nearby query
filters and ranks in one pass without touching the rider hashes.

Keys touched but not passed in KEYS (riders' hashes and cells, built from the
region's prefixes) share the region's hash tag, so they live in the same cluster
slot as the declared key: every script stays within one slot.
"""

from __future__ import annotations

# KEYS: [seen]
# ARGV: [now_ms, rider_ttl_s, rider_prefix, cell_prefix, then two values per rider:
#        id, "lat|lng|ts|seq|cell|status_hint|conn|extra"]
# (Packing each rider's fields into one string keeps the client's encoding cost per
# fix low; rider and cell keys are built here from the region's prefixes, so they
# share the region's hash tag and slot with `seen`.)
# Returns one integer per rider: 1 if the fix became the rider's position, 0 if it was
# older than (or a duplicate of) the position already stored. `status_hint` (the status
# the rider last declared on its connection) is used only when Redis has none, which is
# how a Redis that restarted empty gets riders' statuses back with their next fix.
APPLY_FIXES = """
local now = ARGV[1]
local ttl = tonumber(ARGV[2])
local rprefix, cprefix = ARGV[3], ARGV[4]
local out = {}
for i = 5, #ARGV, 2 do
  local id = ARGV[i]
  local lat, lng, ts_s, seq_s, cell, hint, conn, extra =
    string.match(ARGV[i + 1], '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
  local ts, seq = tonumber(ts_s), tonumber(seq_s)
  local rk = rprefix .. id
  local cur = redis.call('HMGET', rk, 'ts', 'pseq', 'cell', 'status', 'load', 'seq')
  local cts = tonumber(cur[1]) or -1
  local cpseq = tonumber(cur[2]) or -1
  local cseq = tonumber(cur[6]) or -1
  local maxseq = cseq
  if seq > maxseq then maxseq = seq end
  if ts > cts or (ts == cts and seq > cpseq) then
    local status = cur[4] or hint
    local load = cur[5] or '0'
    local old = cur[3]
    if old and old ~= '' and old ~= cell then redis.call('HDEL', cprefix .. old, id) end
    redis.call('HSET', cprefix .. cell, id,
      lat .. '|' .. lng .. '|' .. now .. '|' .. status .. '|' .. load)
    redis.call('HSET', rk, 'lat', lat, 'lng', lng, 'ts', ts_s, 'pseq', seq_s, 'seq', maxseq,
      'seen', now, 'cell', cell, 'x', extra, 'status', status, 'load', load, 'conn', conn)
    redis.call('ZADD', KEYS[1], now, id)
    redis.call('EXPIRE', rk, ttl)
    out[#out + 1] = 1
  else
    redis.call('HSET', rk, 'seq', maxseq, 'conn', conn)
    out[#out + 1] = 0
  end
end
return out
"""

# KEYS: [rider]   ARGV: [id, cell_prefix, field, value, (required_conn)]
# Sets `status` or `load` and rewrites the rider's cell entry to match. With a fifth
# argument, only does so while the rider's current connection id equals it (so a
# late "offline after grace" from an old connection never overrides a new one).
# Returns 1 if changed, 0 if the connection condition failed.
SET_FIELD = """
local rk = KEYS[1]
local id, prefix, field, value = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if ARGV[5] and redis.call('HGET', rk, 'conn') ~= ARGV[5] then return 0 end
redis.call('HSET', rk, field, value)
local cur = redis.call('HMGET', rk, 'cell', 'status', 'load')
if cur[1] and cur[1] ~= '' then
  local ck = prefix .. cur[1]
  local entry = redis.call('HGET', ck, id)
  if entry then
    local lat, lng, seen = string.match(entry, '^([^|]*)|([^|]*)|([^|]*)|')
    redis.call('HSET', ck, id, lat .. '|' .. lng .. '|' .. seen .. '|' ..
      (cur[2] or 'offline') .. '|' .. (cur[3] or '0'))
  end
end
return 1
"""

# KEYS: [seen]   ARGV: [cutoff_ms, limit, cell_prefix, rider_prefix]
# Removes riders whose latest fix is older than the cutoff from their cell and from
# `seen`, keeping their hash (last known position) until it expires. Returns the ids.
EVICT_STALE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  local rk = ARGV[4] .. id
  local cell = redis.call('HGET', rk, 'cell')
  if cell and cell ~= '' then redis.call('HDEL', ARGV[3] .. cell, id) end
  if redis.call('EXISTS', rk) == 1 then redis.call('HSET', rk, 'cell', '') end
  redis.call('ZREM', KEYS[1], id)
end
return ids
"""

# KEYS: [seen] (names the region's slot; the cell hashes scanned share its hash tag)
# ARGV: [lat, lng, radius_m, k, fresh_after_ms, status ('' for any), max_load (-1 any),
#        cell_prefix, rings, bounds, offset_m]
# `rings`: the cells to scan ring by ring outwards, rings separated by ';', cells by ','.
# `bounds`: one distance per ring, comma-separated, less `offset_m` (the query point's
# distance from its cell's centre; floored at 0): no rider of that ring or a later one
# is nearer than it. Once k riders are found and the k-th is nearer than the next ring's
# bound, the outer rings cannot change the answer and are not read, so the caller can
# send a generous disk for the price of the rings actually needed.
# (Cells travel as one argument: encoding dozens of key arguments per query cost the
# client more than the whole scan costs Redis.)
# Returns up to k riders nearest first (ties by id), each as seven flat values:
# id, distance_m, lat, lng (strings), seen_ms (integer), status, load (integer).
NEARBY = """
local rad = math.pi / 180
local earth = 6371008.8
local lat0, lng0 = tonumber(ARGV[1]) * rad, tonumber(ARGV[2]) * rad
local radius, k, fresh = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local want, max_load = ARGV[6], tonumber(ARGV[7])
local c0 = math.cos(lat0)
local top, n, limit = {}, 0, radius
local find, match, sub = string.find, string.match, string.sub
local function before(d, id, other)
  return d < other[1] or (d == other[1] and id < other[2])
end
local prefix = ARGV[8]
local bounds = {}
local offset = tonumber(ARGV[11])
for b in string.gmatch(ARGV[10], '[^,]+') do
  bounds[#bounds + 1] = math.max(0, tonumber(b) - offset)
end
local r = 0
for cells in string.gmatch(ARGV[9], '[^;]+') do
  r = r + 1
  if n == k and limit < bounds[r] then break end
  for cell in string.gmatch(cells, '[^,]+') do
    local flat = redis.call('HGETALL', prefix .. cell)
    for j = 1, #flat, 2 do
      local entry = flat[j + 1]
      local bar = find(entry, '|', 1, true)
      local p = tonumber(sub(entry, 1, bar - 1)) * rad
      -- the latitude gap alone is a lower bound of the distance: skip hopeless riders
      -- before parsing the rest of their entry
      if earth * math.abs(p - lat0) <= limit then
        local lng, seen, status, load = match(entry, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)$', bar + 1)
        if tonumber(seen) >= fresh and (want == '' or status == want)
          and (max_load < 0 or tonumber(load) <= max_load) then
          local dp = (p - lat0) / 2
          local dl = (tonumber(lng) * rad - lng0) / 2
          local h = math.sin(dp) ^ 2 + c0 * math.cos(p) * math.sin(dl) ^ 2
          if h > 1 then h = 1 end
          local d = 2 * earth * math.asin(math.sqrt(h))
          local id = flat[j]
          if d <= limit and (n < k or before(d, id, top[n])) then
            -- insert into the sorted top-k (k is small, so a shift beats a full sort)
            local i = math.min(n, k - 1)
            while i > 0 and before(d, id, top[i]) do top[i + 1] = top[i]; i = i - 1 end
            top[i + 1] = {d, id, sub(entry, 1, bar - 1), lng, tonumber(seen), status,
              tonumber(load)}
            if n < k then n = n + 1 end
            if n == k then limit = top[k][1] end
          end
        end
      end
    end
  end
end
local out = {}
for i = 1, n do
  local t = top[i]
  out[#out + 1] = t[2]
  out[#out + 1] = string.format('%.17g', t[1])
  for j = 3, 7 do out[#out + 1] = t[j] end
end
return out
"""

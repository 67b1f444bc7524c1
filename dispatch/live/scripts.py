"""The Lua scripts that keep the live store consistent: each runs atomically inside Redis.

A cell is one string key holding a fixed-width record for every rider currently in it,
so a nearby query reads a whole ring of cells with one MGET and decodes each rider with
one `struct.unpack`. (A hash per cell cost a Redis call per cell at query time, which
at 10,000 riders in a city was most of a query's Redis time.) A record is `RECORD_SIZE`
bytes:

    lat, lng, seen_ms (little-endian doubles), load (int32), status code, id length,
    then the id, zero-padded to `MAX_ID_BYTES`

and the rider's hash holds the cell and the record's `slot` (its index in the cell),
so every write stays O(record): a fix in the same cell is one `SETRANGE` over the
rider's slot; a status or load change rewrites five bytes; leaving a cell moves the
cell's last record into the vacated slot (and tells that rider its new slot) and cuts
the last slot off; joining one is an `APPEND`. An empty cell has no key.

A rider is in exactly one cell, or in none once evicted: every script that moves a
rider removes its record from the old cell and writes the new one in the same atomic
step.

Keys touched but not passed in KEYS (riders' hashes and cells, built from the
region's prefixes) share the region's hash tag, so they live in the same cluster
slot as the declared key: every script stays within one slot.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from dispatch.live.models import RiderStatus

RECORD_HEAD = "<dddiBB"  # lat, lng, seen_ms, load, status code, id length
MAX_ID_BYTES = 64  # rider ids are account ids (40 characters at most)
RECORD = struct.Struct(f"{RECORD_HEAD}{MAX_ID_BYTES}s")  # the head, then the padded id
RECORD_SIZE = RECORD.size
STATUS_CODES = {status.value: code for code, status in enumerate(RiderStatus, start=1)}
# by code (0: a status the record does not know)
STATUS_NAMES = ("", *STATUS_CODES)


class CellRecord(NamedTuple):
    """One rider's record in a cell string, as the scripts write it."""

    rider_id: str
    lat: float
    lng: float
    seen_ms: int
    load: int
    status: str


def decode_cell(data: bytes) -> list[CellRecord]:
    """The records of a cell string read raw from Redis, slot by slot (for inspection)."""
    if len(data) % RECORD_SIZE:
        raise ValueError(f"a cell of {len(data)} bytes is not whole records")
    return [CellRecord(rider_id[:length].decode(), lat, lng, int(seen), load, STATUS_NAMES[code])
            for lat, lng, seen, load, code, length, rider_id in RECORD.iter_unpack(data)]


# Status names and codes, shared by every script (codes fit the record's one byte).
_STATUSES = (
    "local CODE = {" + ", ".join(f"{name} = {code}" for name, code in STATUS_CODES.items())
    + "}\n"
)
_ID_AT = RECORD_SIZE - MAX_ID_BYTES  # bytes before a record's id; its length byte is the last
_LOAD_AT = struct.calcsize("<ddd")  # where a record's load (then its status code) starts

# Helpers of the scripts that write cells (prepended to each of them).
# `record(...)`: one record. `remove(cell_key, slot)`: takes the record at `slot` (0-based)
# out of the cell, moving the cell's last record into its place.
_CELLS = _STATUSES + f"""
local W = {RECORD_SIZE}
local PAD = string.rep('\\0', {MAX_ID_BYTES})
local function record(id, lat, lng, seen, load, status)
  return struct.pack('{RECORD_HEAD}', lat, lng, seen, load, CODE[status] or 0, #id) .. id ..
    string.sub(PAD, #id + 1)
end
local function remove(ck, slot, rprefix)
  local last = redis.call('STRLEN', ck) / W - 1
  if slot < last then
    local moved = redis.call('GETRANGE', ck, last * W, last * W + W - 1)
    redis.call('SETRANGE', ck, slot * W, moved)
    local mk = rprefix .. string.sub(moved, {_ID_AT + 1}, {_ID_AT} + string.byte(moved, {_ID_AT}))
    -- (a rider whose hash expired unseen has no slot to update, and gets no hash back)
    if redis.call('EXISTS', mk) == 1 then redis.call('HSET', mk, 'slot', slot) end
  end
  if last <= 0 then redis.call('DEL', ck)
  else redis.call('SET', ck, redis.call('GETRANGE', ck, 0, last * W - 1)) end
end
"""

# KEYS: [seen]
# ARGV: [now_ms, rider_ttl_s, rider_prefix, cell_prefix, fixes], where `fixes` holds one
#        line per rider: "id|lat|lng|ts|seq|cell|status_hint|conn|extra\n", the id
#        escaped by `escape_id`, lat and lng as hexadecimal floats (`float.hex`: exact,
#        and what the rider's hash stores)
# (One argument for the whole batch: redis-py packs each argument by copying the command
# packed so far, several microseconds a fix at a few hundred fixes a call. Rider and cell
# keys are built here from the region's prefixes, so they share the region's hash tag and
# slot with `seen`.)
# Returns one integer per rider: 1 if the fix became the rider's position, 0 if it was
# older than (or a duplicate of) the position already stored, -1 if the rider id is
# empty or longer than MAX_ID_BYTES (a record cannot hold it). `status_hint` (the status
# the rider last declared on its connection) is used only when Redis has none, which is
# how a Redis that restarted empty gets riders' statuses back with their next fix.
# (Per fix the script reads seven fields of the rider's hash and writes the eight a fix
# changes, the rest only when they are new; `seen` gets one ZADD per chunk of riders, as
# Lua's `unpack` takes a few thousand values at most. Measured with callgrind on the
# embedded redis-server: 118k instructions a fix before, 96k after.)
SEEN_CHUNK = 1000
# a line of `fixes`: eight fields free of '|' and line breaks, then `extra` (which may hold '|')
_FIX_LINE = "([^|\\n]*)|" * 8 + "([^\\n]*)\\n"


def escape_id(rider_id: str) -> str:
    """A rider id as a line of the `APPLY_FIXES` argument holds it: '%', '|' and line
    breaks percent-escaped (account ids have none, so this is nearly always the id)."""
    if "%" in rider_id or "|" in rider_id or "\n" in rider_id:
        return rider_id.replace("%", "%25").replace("|", "%7C").replace("\n", "%0A")
    return rider_id


APPLY_FIXES = _CELLS + f"""
local now = ARGV[1]
local now_ms = tonumber(now)
local ttl = ARGV[2]
local rprefix, cprefix = ARGV[3], ARGV[4]
local out = {{}}
local seen = {{}}  -- score, member, ... for one ZADD per {SEEN_CHUNK} riders at the end
for id, lat, lng, ts_s, seq_s, cell, hint, conn, extra in string.gmatch(ARGV[5], '{_FIX_LINE}') do
  if string.find(id, '%', 1, true) then
    id = string.gsub(id, '%%(%x%x)', function(h) return string.char(tonumber(h, 16)) end)
  end
  local rk = rprefix .. id
  if #id == 0 or #id > {MAX_ID_BYTES} then
    out[#out + 1] = -1
  else
    local cur = redis.call('HMGET', rk, 'ts', 'pseq', 'cell', 'status', 'load', 'seq', 'slot')
    local ts, cts = tonumber(ts_s), tonumber(cur[1]) or -1
    local seq, cseq = tonumber(seq_s), tonumber(cur[6]) or -1
    -- strings where a string is at hand: Redis formats a Lua number with snprintf
    local maxseq = seq_s
    if cseq > seq then maxseq = cur[6] end
    if ts > cts or (ts == cts and seq > (tonumber(cur[2]) or -1)) then
      local status, load = cur[4] or hint, cur[5] or '0'
      local old, slot = cur[3], cur[7]
      local rec = record(id, tonumber(lat), tonumber(lng), now_ms, tonumber(load), status)
      local ck = cprefix .. cell
      if old == cell and slot then
        redis.call('SETRANGE', ck, slot * W, rec)
        if cur[4] and cur[5] then  -- the usual fix: only what a fix changes
          redis.call('HSET', rk, 'lat', lat, 'lng', lng, 'ts', ts_s, 'pseq', seq_s,
            'seq', maxseq, 'seen', now, 'x', extra, 'conn', conn)
        else
          redis.call('HSET', rk, 'lat', lat, 'lng', lng, 'ts', ts_s, 'pseq', seq_s,
            'seq', maxseq, 'seen', now, 'x', extra, 'conn', conn, 'status', status,
            'load', load)
        end
      else
        if old and old ~= '' and slot then remove(cprefix .. old, tonumber(slot), rprefix) end
        slot = redis.call('APPEND', ck, rec) / W - 1
        redis.call('HSET', rk, 'lat', lat, 'lng', lng, 'ts', ts_s, 'pseq', seq_s, 'seq', maxseq,
          'seen', now, 'cell', cell, 'slot', slot, 'x', extra, 'status', status, 'load', load,
          'conn', conn)
      end
      redis.call('EXPIRE', rk, ttl)
      seen[#seen + 1] = now
      seen[#seen + 1] = id
      out[#out + 1] = 1
    else
      redis.call('HSET', rk, 'seq', maxseq, 'conn', conn)
      out[#out + 1] = 0
    end
  end
end
for i = 1, #seen, {2 * SEEN_CHUNK} do
  redis.call('ZADD', KEYS[1], unpack(seen, i, math.min(i + {2 * SEEN_CHUNK - 1}, #seen)))
end
return out
"""

# KEYS: [rider]   ARGV: [id, cell_prefix, field, value, (required_conn)]
# Sets `status` or `load` and rewrites the rider's record to match (its load and status
# bytes only). With a fifth argument, only does so while the rider's current connection
# id equals it (so a late "offline after grace" from an old connection never overrides
# a new one). Returns 1 if changed, 0 if the connection condition failed.
SET_FIELD = _STATUSES + f"""
local rk = KEYS[1]
local id, prefix, field, value = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if ARGV[5] and redis.call('HGET', rk, 'conn') ~= ARGV[5] then return 0 end
redis.call('HSET', rk, field, value)
local cur = redis.call('HMGET', rk, 'cell', 'status', 'load', 'slot')
if cur[1] and cur[1] ~= '' and cur[4] then
  redis.call('SETRANGE', prefix .. cur[1], tonumber(cur[4]) * {RECORD_SIZE} + {_LOAD_AT},
    struct.pack('<iB', tonumber(cur[3]) or 0, CODE[cur[2] or 'offline'] or 0))
end
return 1
"""

# KEYS: [seen]   ARGV: [cutoff_ms, limit, cell_prefix, rider_prefix]
# Removes riders whose latest fix is older than the cutoff from their cell and from
# `seen`, keeping their hash (last known position) until it expires. Returns the ids.
EVICT_STALE = _CELLS + """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  local rk = ARGV[4] .. id
  local cur = redis.call('HMGET', rk, 'cell', 'slot')
  if cur[1] and cur[1] ~= '' and cur[2] then
    remove(ARGV[3] .. cur[1], tonumber(cur[2]), ARGV[4])
  end
  if redis.call('EXISTS', rk) == 1 then
    redis.call('HSET', rk, 'cell', '')
    redis.call('HDEL', rk, 'slot')
  end
  redis.call('ZREM', KEYS[1], id)
end
return ids
"""

# KEYS: [seen] (names the region's slot; the cells read share its hash tag)
# ARGV: ["lat|lng|radius_m|k|fresh_after_ms|status ('' for any)|max_load (-1 any)|
#         key_width|offset_m", rings, bounds]
# (The scalars travel as one string: each argument costs the client an encoding.)
# `rings`: the cells' keys to scan ring by ring outwards, rings separated by ';', the
# keys of a ring concatenated (all `key_width` long: H3 cell names at one resolution
# have one length). `bounds`: one distance per ring, comma-separated, less `offset_m`
# (the query point's distance from its cell's centre; floored at 0): no rider of that
# ring or a later one is nearer than it. Once k riders are found and the k-th is nearer
# than the next ring's bound, the outer rings cannot change the answer and are not read,
# so the caller can send a generous disk for the price of the rings actually needed.
# Each ring is read with one MGET.
# Returns one binary string: for each of up to k riders, nearest first (ties by id), its
# distance (a little-endian double) and then its record as stored (see `RESULT`).
NEARBY = _STATUSES + f"""
local rad = math.pi / 180
local earth = 6371008.8
local lat_s, lng_s, radius_s, k_s, fresh_s, want_s, max_load_s, width_s, offset_s =
  string.match(ARGV[1], '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
local lat0, lng0 = tonumber(lat_s) * rad, tonumber(lng_s) * rad
local radius, k, fresh = tonumber(radius_s), tonumber(k_s), tonumber(fresh_s)
local want = want_s == '' and 0 or CODE[want_s] or -1
local max_load, width, offset = tonumber(max_load_s), tonumber(width_s), tonumber(offset_s)
local c0 = math.cos(lat0)
local sub, byte, abs, sin, cos = string.sub, string.byte, math.abs, math.sin, math.cos
local asin, sqrt = math.asin, math.sqrt
local decode = struct.unpack
local W = {RECORD_SIZE}
-- The top k so far, nearest first, as parallel arrays: distance, cell text and where
-- the rider's record starts in it (its id is cut out only to break a tie).
local td, tt, tp = {{}}, {{}}, {{}}
local function id_at(text, pos)
  return sub(text, pos + {_ID_AT}, pos + {_ID_AT - 1} + byte(text, pos + {_ID_AT - 1}))
end
local n, limit = 0, radius
local bounds = {{}}
for b in string.gmatch(ARGV[3], '[^,]+') do
  bounds[#bounds + 1] = math.max(0, tonumber(b) - offset)
end
local r = 0
for ring in string.gmatch(ARGV[2], '[^;]+') do
  r = r + 1
  if n == k and limit < bounds[r] then break end
  local keys = {{}}
  for j = 1, #ring, width do keys[#keys + 1] = sub(ring, j, j + width - 1) end
  local texts = redis.call('MGET', unpack(keys))
  for c = 1, #keys do
    local text = texts[c]
    if text then
      for pos = 1, #text, W do
        local lat, lng, seen, load, code = decode('{RECORD_HEAD}', text, pos)
        local p = lat * rad
        -- the latitude gap alone is a lower bound of the distance: skip hopeless riders
        -- before any trigonometry
        if earth * abs(p - lat0) <= limit and seen >= fresh and (want == 0 or code == want)
          and (max_load < 0 or load <= max_load) then
          local sp = sin((p - lat0) / 2)
          local sl = sin((lng * rad - lng0) / 2)
          local h = sp * sp + c0 * cos(p) * sl * sl
          if h > 1 then h = 1 end
          local d = 2 * earth * asin(sqrt(h))
          if d <= limit then
            -- insert into the sorted top-k (k is small, so a shift beats a full sort),
            -- equal distances ordered by id; when full, the k-th drops out
            local id = nil
            local i = n
            while i > 0 do
              local di = td[i]
              if d > di then break end
              if d == di then
                id = id or id_at(text, pos)
                if id >= id_at(tt[i], tp[i]) then break end
              end
              if i < k then td[i + 1], tt[i + 1], tp[i + 1] = di, tt[i], tp[i] end
              i = i - 1
            end
            if i < k then
              td[i + 1], tt[i + 1], tp[i + 1] = d, text, pos
              if n < k then n = n + 1 end
              if n == k then limit = td[k] end
            end
          end
        end
      end
    end
  end
end
local out = {{}}
for i = 1, n do
  out[i] = struct.pack('<d', td[i]) .. sub(tt[i], tp[i], tp[i] + W - 1)
end
return table.concat(out)
"""
# A result as the nearby script returns it: the distance, then the record as stored.
RESULT = struct.Struct(f"<d{RECORD.format.removeprefix('<')}")

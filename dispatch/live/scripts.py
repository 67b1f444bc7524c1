"""The Lua scripts that keep the live store consistent: each runs atomically inside Redis.

A cell is one string key holding a record for every rider currently in it, so a
nearby query reads a whole ring of cells with one MGET, and decodes each rider with
one `struct.unpack` call. (Reading a hash per cell cost a Redis call per cell and
two reply strings per rider, and parsing text fields cost several Lua calls per
rider: at 10,000 riders those were most of the query's Redis time.) A record is

    lat, lng, seen_ms (doubles), load (int32), status code, id length, position
    text length (bytes), id, position text

little-endian (`RECORD` below): the doubles keep every bit of the floats written, and
the position text (`lat|lng` as the client wrote them) is what a query returns, so it
formats one number per rider rather than three. The script walks a cell record by
record. An empty cell has no key.

A rider is in exactly one cell, or in none once evicted: every script that moves a
rider removes its record from the old cell and writes the new one in the same atomic
step. The scripts that write cells keep each touched cell in a Lua table while they
run and write it back once at the end, so a batch touching a cell many times rewrites
it once.

Keys touched but not passed in KEYS (riders' hashes and cells, built from the
region's prefixes) share the region's hash tag, so they live in the same cluster
slot as the declared key: every script stays within one slot.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from dispatch.live.models import RiderStatus

RECORD = "<dddiBBB"  # struct format of a record's fixed part; the id and position text follow
RECORD_SIZE = struct.calcsize(RECORD)
STATUS_CODES = {status.value: code for code, status in enumerate(RiderStatus, start=1)}



class CellRecord(NamedTuple):
    """One rider's record in a cell string, as the scripts write it."""

    rider_id: str
    lat: float
    lng: float
    seen_ms: int
    load: int
    status: str
    position: str


def decode_cell(data: bytes) -> list[CellRecord]:
    """The records of a cell string read raw from Redis, in stored order (for inspection)."""
    statuses = {code: name for name, code in STATUS_CODES.items()}
    records, pos = [], 0
    while pos < len(data):
        lat, lng, seen, load, code, idlen, textlen = struct.unpack_from(RECORD, data, pos)
        pos += RECORD_SIZE
        records.append(CellRecord(data[pos:pos + idlen].decode(), lat, lng, int(seen), load,
                                  statuses.get(code, ""),
                                  data[pos + idlen:pos + idlen + textlen].decode()))
        pos += idlen + textlen
    return records


# Status names and codes, shared by every script (codes fit the record's one byte).
_STATUSES = (
    "local CODE = {" + ", ".join(f"{name} = {code}" for name, code in STATUS_CODES.items())
    + "}\nlocal STATUS = {" + ", ".join(f"'{name}'" for name in STATUS_CODES) + "}\n"
)

# Helpers shared by the scripts that write cells (prepended to each of them).
# `load_cell(key)`: the cell's records (from this run's table, else Redis); assigning
# `cells[key]` keeps a new value, and `save_cells()` writes every kept cell (deleting
# the empty ones). `find_record(text, id)`: where the rider's record starts, or nil;
# `without(text, id)`: the records less the rider's; `put(text, id, rec)`: the records
# with the rider's replaced by `rec` (or `rec` added); `record(...)`: one record.
_CELLS = _STATUSES + f"""
local byte, find, sub = string.byte, string.find, string.sub
local cells = {{}}
local function load_cell(key)
  local text = cells[key]
  if not text then
    text = redis.call('GET', key) or ''
    cells[key] = text
  end
  return text
end
local function save_cells()
  for key, text in pairs(cells) do
    if text == '' then redis.call('DEL', key) else redis.call('SET', key, text) end
  end
end
local function record_end(text, pos)  -- the last byte of the record starting at `pos`
  local ends = pos + {RECORD_SIZE - 1}
  return ends + byte(text, ends - 1) + byte(text, ends)
end
local function find_record(text, id)
  -- a plain search finds the id's bytes; a walk over the records' lengths (two bytes
  -- each) confirms that a record's id starts there, not a part of another's
  local n, pos = #id, 1
  local at = find(text, id, 1, true)
  while at do
    local start = at - {RECORD_SIZE}
    while pos < start do pos = record_end(text, pos) + 1 end
    if pos == start and byte(text, at - 2) == n then return pos end
    at = find(text, id, at + 1, true)
  end
end
local function without(text, id)
  local pos = find_record(text, id)
  if not pos then return text end
  return sub(text, 1, pos - 1) .. sub(text, record_end(text, pos) + 1)
end
local function put(text, id, rec)
  local pos = find_record(text, id)
  if not pos then return text .. rec end
  return sub(text, 1, pos - 1) .. rec .. sub(text, record_end(text, pos) + 1)
end
local function record(id, lat, lng, seen, load, status, position)
  return struct.pack('{RECORD}', lat, lng, seen, load, CODE[status] or 0, #id, #position) ..
    id .. position
end
"""

# KEYS: [seen]
# ARGV: [now_ms, rider_ttl_s, rider_prefix, cell_prefix, then two values per rider:
#        id, "lat|lng|ts|seq|cell|status_hint|conn|extra"]
# (Packing each rider's fields into one string keeps the client's encoding cost per
# fix low; rider and cell keys are built here from the region's prefixes, so they
# share the region's hash tag and slot with `seen`.)
# Returns one integer per rider: 1 if the fix became the rider's position, 0 if it was
# older than (or a duplicate of) the position already stored, -1 if the rider id is
# empty or longer than 255 bytes (a record cannot hold it; nor a position text longer
# than 255 bytes, which no float's repr comes near). `status_hint` (the status
# the rider last declared on its connection) is used only when Redis has none, which is
# how a Redis that restarted empty gets riders' statuses back with their next fix.
APPLY_FIXES = _CELLS + """
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
  if #id == 0 or #id > 255 then
    out[#out + 1] = -1
  else
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
      if old and old ~= '' and old ~= cell then
        local ok = cprefix .. old
        cells[ok] = without(load_cell(ok), id)
      end
      local ck = cprefix .. cell
      cells[ck] = put(load_cell(ck), id, record(id, tonumber(lat), tonumber(lng), tonumber(now),
        tonumber(load), status, lat .. '|' .. lng))
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
end
save_cells()
return out
"""

# KEYS: [rider]   ARGV: [id, cell_prefix, field, value, (required_conn)]
# Sets `status` or `load` and rewrites the rider's cell record to match. With a fifth
# argument, only does so while the rider's current connection id equals it (so a
# late "offline after grace" from an old connection never overrides a new one).
# Returns 1 if changed, 0 if the connection condition failed.
SET_FIELD = _CELLS + f"""
local rk = KEYS[1]
local id, prefix, field, value = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if ARGV[5] and redis.call('HGET', rk, 'conn') ~= ARGV[5] then return 0 end
redis.call('HSET', rk, field, value)
local cur = redis.call('HMGET', rk, 'cell', 'status', 'load')
if cur[1] and cur[1] ~= '' then
  local ck = prefix .. cur[1]
  local text = load_cell(ck)
  local pos = find_record(text, id)
  if pos then
    local lat, lng, seen, _, _, idlen, textlen, at = struct.unpack('{RECORD}', text, pos)
    cells[ck] = put(text, id, record(id, lat, lng, seen, tonumber(cur[3]) or 0,
      cur[2] or 'offline', sub(text, at + idlen, at + idlen + textlen - 1)))
    save_cells()
  end
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
  local cell = redis.call('HGET', rk, 'cell')
  if cell and cell ~= '' then
    local ck = ARGV[3] .. cell
    cells[ck] = without(load_cell(ck), id)
  end
  if redis.call('EXISTS', rk) == 1 then redis.call('HSET', rk, 'cell', '') end
  redis.call('ZREM', KEYS[1], id)
end
save_cells()
return ids
"""

# KEYS: [seen] (names the region's slot; the cells read share its hash tag)
# ARGV: ["lat|lng|radius_m|k|fresh_after_ms|status ('' for any)|max_load (-1 any)|
#         key_width|offset_m", rings, bounds]
# (The scalars travel as one string: each argument costs the client an encoding.)
# `rings`: the cells' keys to scan ring by ring outwards, rings separated by ';', the
# keys of a ring concatenated (all `key_width` long: H3 cell names have one length).
# `bounds`: one distance per ring, comma-separated, less `offset_m` (the query point's
# distance from its cell's centre; floored at 0): no rider of that ring or a later one
# is nearer than it. Once k riders are found and the k-th is nearer than the next ring's
# bound, the outer rings cannot change the answer and are not read, so the caller can
# send a generous disk for the price of the rings actually needed. Each ring is read
# with one MGET.
# (Cells travel as one argument: encoding dozens of key arguments per query cost the
# client more than the whole scan costs Redis; and cutting fixed-width keys out of it
# costs Redis less than splitting on separators and prefixing each cell.)
# Returns up to k riders nearest first (ties by id), each as one string
# `distance_m|lat|lng|seen_ms|status|load|id` (one string per rider: formatting and
# returning seven values each cost Redis and the client more; the id goes last, so
# an id holding `|` still reads back whole).
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
-- The top k so far, nearest first, as parallel arrays: distance, cell text and where
-- the rider's record starts in it (its id is cut out only to break a tie, and for the
-- answer).
local td, tt, tp = {{}}, {{}}, {{}}
local function id_at(text, pos)
  local at = pos + {RECORD_SIZE}
  return sub(text, at, at + byte(text, at - 2) - 1)
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
      local pos, len = 1, #text
      while pos < len do
        local lat, lng, seen, load, code, idlen, textlen, at = decode('{RECORD}', text, pos)
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
        pos = at + idlen + textlen
      end
    end
  end
end
local out = {{}}
local fmt, status_of = string.format, STATUS
for i = 1, n do
  local text = tt[i]
  local _, _, seen, load, code, idlen, textlen, at = decode('{RECORD}', text, tp[i])
  out[i] = fmt('%.17g|%s|%d|%s|%d|%s', td[i], sub(text, at + idlen, at + idlen + textlen - 1), seen,
    status_of[code] or '', load, sub(text, at, at + idlen - 1))
end
return out
"""

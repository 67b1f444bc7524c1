"""`RegionLease`: one optimizer per region at a time, through a Redis lease with a fencing token.

The lease is a key `d:{region}:opt:lease` holding `owner|token`, set with NX and a PX
expiry, and renewed by a script that checks the owner first. The token comes from INCR on
`d:{region}:opt:fence`, raised past a floor the caller reads from the database, so tokens
keep growing even after Redis restarts empty. Holding the lease is an optimisation (one
solver per region); correctness comes from the token, checked at commit
(`dispatch.optimizer.service.fences`).
"""

from __future__ import annotations

from redis.asyncio import Redis

from dispatch.live.keys import RegionKeys

ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held then
  local owner, token = string.match(held, '^(.*)|(%d+)$')
  if owner == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(token)
  end
  return 0
end
local token = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[3])
if token <= floor then
  token = floor + 1
  redis.call('SET', KEYS[2], token)
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'NX', 'PX', ARGV[2])
return token
"""

RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RegionLease:
    """The lease of one region's optimizer, as seen by one would-be owner."""

    def __init__(self, redis: Redis, region: str, *, owner: str, ttl_s: float) -> None:
        if "|" in owner:
            raise ValueError("a lease owner may not contain '|'")
        tag = RegionKeys(region).tag
        self.region = region
        self.owner = owner
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.key = f"{tag}:opt:lease"
        self.counter_key = f"{tag}:opt:fence"
        self.token: int | None = None
        self._acquire = redis.register_script(ACQUIRE)
        self._renew = redis.register_script(RENEW)
        self._release = redis.register_script(RELEASE)

    @property
    def _value(self) -> str:
        return f"{self.owner}|{self.token}"

    async def acquire(self, *, floor: int) -> int | None:
        """Take the lease if it is free (a new token above `floor`) or ours; None if not."""
        token = int(await self._acquire(keys=[self.key, self.counter_key],
                                        args=[self.owner, self.ttl_ms, floor]))
        self.token = token or None
        return self.token

    async def renew(self) -> bool:
        """Extend the lease if we still hold it with our token; forget the token if not."""
        if self.token is None:
            return False
        if await self._renew(keys=[self.key], args=[self._value, self.ttl_ms]):
            return True
        self.token = None
        return False

    async def release(self) -> None:
        """Give the lease up now (clean shutdown), if it is still ours."""
        if self.token is not None:
            await self._release(keys=[self.key], args=[self._value])
            self.token = None

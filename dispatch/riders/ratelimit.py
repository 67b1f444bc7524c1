"""A token bucket per connection, and the rule for when throttling turns into a close."""

from __future__ import annotations

import time


class TokenBucket:
    """`rate` tokens a second up to `burst`; `take()` is False when the bucket is empty.

    Its clock is `time.perf_counter`, which the rider session already reads once per frame
    and passes in as `now`.
    """

    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp = time.perf_counter()

    def take(self, cost: float = 1.0, now: float | None = None) -> bool:
        """Spend `cost` tokens if there are enough (`now`: `time.perf_counter()`, if read)."""
        if now is None:
            now = time.perf_counter()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False

    @property
    def retry_after_ms(self) -> int:
        """How long until one token is available."""
        return max(1, int((1.0 - self._tokens) / self.rate * 1000))


class FloodGuard:
    """Counts throttled frames; past `max_violations` since the last allowed frame, give up."""

    __slots__ = ("bucket", "max_violations", "violations")

    def __init__(self, bucket: TokenBucket, max_violations: int) -> None:
        self.bucket = bucket
        self.max_violations = max_violations
        self.violations = 0

    def allow(self, now: float | None = None) -> bool:
        """True to process the frame; False to drop it (and reply `rate.limited`); `now` as
        `TokenBucket.take` takes it."""
        if self.bucket.take(1.0, now):
            self.violations = 0
            return True
        self.violations += 1
        return False

    @property
    def exhausted(self) -> bool:
        """True once the client kept flooding after being told to slow down."""
        return self.violations > self.max_violations

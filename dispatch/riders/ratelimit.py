"""A token bucket per connection, and the rule for when throttling turns into a close."""

from __future__ import annotations

import time


class TokenBucket:
    """`rate` tokens a second up to `burst`; `take()` is False when the bucket is empty."""

    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp = time.monotonic()

    def take(self, cost: float = 1.0) -> bool:
        """Spend `cost` tokens if there are enough."""
        now = time.monotonic()
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

    def allow(self) -> bool:
        """True to process the frame; False to drop it (and reply `rate.limited`)."""
        if self.bucket.take():
            self.violations = 0
            return True
        self.violations += 1
        return False

    @property
    def exhausted(self) -> bool:
        """True once the client kept flooding after being told to slow down."""
        return self.violations > self.max_violations

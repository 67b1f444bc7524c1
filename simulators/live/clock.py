"""`SimClock`: simulated time running `speed` times faster than the wall clock.

Scheduling uses the event loop's monotonic clock; timestamps sent to the service are
epoch seconds (the service lives in real time: ready and promised times, offer
deadlines and fix times are real instants, compressed by `speed`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class SimClock:
    """Maps simulated seconds (after midnight of the played day) to wall time and back."""

    speed: float
    sim_start_s: float
    loop_start: float  # the event loop's time at `sim_start_s`
    epoch_start: float  # the epoch time at `sim_start_s`

    @classmethod
    def starting_now(cls, speed: float, sim_start_s: float, lead_s: float = 0.0) -> SimClock:
        """A clock at which `sim_start_s` is `lead_s` wall seconds from now."""
        if not speed > 0:
            raise ValueError("speed must be > 0")
        loop_now = asyncio.get_running_loop().time()
        return cls(speed=speed, sim_start_s=sim_start_s, loop_start=loop_now + lead_s,
                   epoch_start=time.time() + lead_s)

    def now(self) -> float:
        """The simulated time now."""
        return self.sim_of_loop(asyncio.get_running_loop().time())

    def sim_of_loop(self, loop_t: float) -> float:
        """The simulated time at an event-loop time."""
        return self.sim_start_s + (loop_t - self.loop_start) * self.speed

    def loop_of(self, sim_s: float) -> float:
        """The event-loop time at a simulated time."""
        return self.loop_start + (sim_s - self.sim_start_s) / self.speed

    def epoch_of(self, sim_s: float) -> float:
        """The epoch time (seconds) at a simulated time."""
        return self.epoch_start + (sim_s - self.sim_start_s) / self.speed

    def sim_of_epoch(self, epoch_s: float) -> float:
        """The simulated time at an epoch time."""
        return self.sim_start_s + (epoch_s - self.epoch_start) * self.speed

    def wall_s(self, sim_seconds: float) -> float:
        """How many wall seconds a simulated duration takes."""
        return sim_seconds / self.speed

    async def sleep_until(self, sim_s: float) -> None:
        """Sleep until the simulated time `sim_s` (at once if it is past)."""
        delay = self.loop_of(sim_s) - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    def as_dict(self) -> dict[str, float]:
        """The clock's definition (for worker processes), in epoch terms."""
        return {"speed": self.speed, "sim_start_s": self.sim_start_s,
                "epoch_start": self.epoch_start}

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> SimClock:
        """A clock equal to one defined by `as_dict` in another process."""
        loop_now, epoch_now = asyncio.get_running_loop().time(), time.time()
        return cls(speed=data["speed"], sim_start_s=data["sim_start_s"],
                   loop_start=loop_now + (data["epoch_start"] - epoch_now),
                   epoch_start=data["epoch_start"])


class Pacer:
    """Hands out wall-clock slots at most `per_s` a second, in the order they are asked for
    (the riders' first connections: a fleet whose shifts start together would otherwise
    connect in the same instant)."""

    def __init__(self, per_s: float) -> None:
        if not per_s > 0:
            raise ValueError("per_s must be > 0")
        self.gap_s = 1.0 / per_s
        self.next_slot = -float("inf")

    async def slot(self) -> float:
        """Return at this caller's slot (now, or `1 / per_s` after the previous slot), which
        is the loop time returned (waking up to the loop's clock resolution early, later
        when the loop is busy)."""
        loop = asyncio.get_running_loop()
        at = max(loop.time(), self.next_slot)
        self.next_slot = at + self.gap_s
        if at > loop.time():
            await asyncio.sleep(at - loop.time())
        return at

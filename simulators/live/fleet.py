"""`Fleet`: the rider sessions of one process, connected at a steady rate."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random

from simulators.city import RiderProfile
from simulators.live.agent import RiderAgent
from simulators.live.api import Account
from simulators.live.session import FleetEnv, RiderSession


class Fleet:
    """Riders of the scenario, each a `RiderSession` task."""

    def __init__(self, env: FleetEnv, riders: list[tuple[RiderProfile, Account]], seed: int,
                 full_shifts: bool) -> None:
        self.env = env
        now = env.clock.now()
        agent_params = env.params.agent_params()
        self.sessions = [
            RiderSession(RiderAgent(
                profile, agent_params, random.Random(seed * 1_000_003 + profile.index), now,
                math.inf if full_shifts else profile.shift_end_s), account, env)
            for profile, account in riders]
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start every session (each connects before its shift, paced by `env.pacer`)."""
        self.tasks = [asyncio.create_task(session.run()) for session in self.sessions]

    def connected(self) -> int:
        """Riders whose websocket is open now."""
        return sum(1 for session in self.sessions if session.ws is not None)

    def carrying(self) -> int:
        """Riders with stops still ahead."""
        return sum(1 for session in self.sessions if session.agent.route)

    def crashed(self) -> list[BaseException]:
        """Exceptions that ended sessions (a bug in the simulator if not empty)."""
        return [task.exception() for task in self.tasks  # type: ignore[misc]
                if task.done() and not task.cancelled() and task.exception() is not None]

    async def close(self) -> None:
        """End every session (closing its socket) and add up distances and busy time."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        now = self.env.clock.now()
        for session in self.sessions:
            session.agent.set_route([], now)  # closes the open leg's distance and busy time
            self.env.stats.totals["odometer_m"] += session.agent.odometer_m
            self.env.stats.totals["busy_s"] += session.agent.busy_s

"""The rider app's session loop: a disconnected rider waits for its next due moment; first
connections are paced."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest

from simulators.city import RiderProfile
from simulators.live.agent import RiderAgent
from simulators.live.api import Account, ServiceApi
from simulators.live.clock import Pacer, SimClock
from simulators.live.journal import Journal, StreamStats
from simulators.live.params import AgentParams, LiveParams
from simulators.live.session import FleetEnv, RiderSession

PROFILE = RiderProfile(index=0, vehicle="bicycle", lat=52.52, lng=13.40, shift_start_s=0.0,
                       shift_end_s=10_000.0, accept_prob=1.0)


def offline_session(api: ServiceApi) -> tuple[RiderSession, RiderAgent, SimClock]:
    """A rider session that never connected (nothing here needs the service)."""
    clock = SimClock.starting_now(speed=10.0, sim_start_s=0.0)
    env = FleetEnv(ws_url="ws://127.0.0.1:9/", clock=clock, api=api, params=LiveParams(),
                   stats=StreamStats(), journal=Journal())
    agent = RiderAgent(PROFILE, AgentParams(dropouts_per_hour=60.0), random.Random(1), 0.0,
                       PROFILE.shift_end_s)
    return RiderSession(agent, Account(user_id="r0", token="t"), env), agent, clock


@pytest.mark.asyncio
async def test_a_dropout_due_while_disconnected_does_not_keep_the_rider_due() -> None:
    api = ServiceApi("http://127.0.0.1:9")
    session, agent, clock = offline_session(api)
    try:
        await asyncio.sleep(0.05)
        agent.next_dropout_s = clock.now() - 1.0  # fell due while the rider was offline
        await session._tick()
        assert session.ws is None
        assert agent.next_due_s() > clock.now()  # so the loop sleeps instead of spinning
    finally:
        await api.close()


@pytest.mark.asyncio
async def test_first_connections_are_paced_in_the_order_asked() -> None:
    pacer = Pacer(per_s=50.0)
    loop = asyncio.get_running_loop()
    slots: list[tuple[int, float, float]] = []

    async def rider(index: int) -> None:
        at = await pacer.slot()
        slots.append((index, at, loop.time()))
    await asyncio.gather(*(rider(i) for i in range(5)))
    # Slots are handed out in the order asked, 1 / per_s apart, and nobody starts before
    # their slot. (When each caller wakes after its slot depends on the machine's load.)
    assert [index for index, _, _ in slots] == list(range(5))
    gaps = [later - earlier for (_, earlier, _), (_, later, _) in itertools.pairwise(slots)]
    assert gaps == pytest.approx([0.02] * 4)
    assert all(woke >= at - 1e-3 for _, at, woke in slots)


@pytest.mark.asyncio
async def test_an_answer_the_service_did_not_record_is_sent_again() -> None:
    api = ServiceApi("http://127.0.0.1:9")
    session, agent, clock = offline_session(api)
    try:
        session.answers_sent.update({"o1": True, "o2": False})
        await session._on_frame({"type": "error", "code": "store.unavailable", "order_id": "o1"})
        await session._on_frame({"type": "error", "code": "object.conflict", "order_id": "o2"})
        assert [(order, accept) for _, order, accept in agent.answers] == [("o1", True)]
        assert agent.answers[0][0] > clock.now()  # after a pause, not at once
        assert session.answers_sent == {}
    finally:
        await api.close()

"""End to end: orders created over HTTP are offered to riders on their websocket, who
accept or reject there; timeouts and disconnects return orders to the pool."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from redis.asyncio import Redis

from dispatch.config import Settings
from tests.dispatch.optimizer.service.conftest import FAST
from tests.dispatch.optimizer.service.flow import check_exactly_once, eventually, states
from tests.dispatch.optimizer.service.riders import rider_app
from tests.support.accounts import register
from tests.support.orders import World, make_world
from tests.support.server import RunningService, run_service

pytestmark = pytest.mark.asyncio


async def test_a_rider_on_the_stream_is_offered_an_order_with_its_route_and_accepts_it(
    fast: RunningService, world: World,
) -> None:
    async with rider_app(fast.ws, world.rider.token, world.rider.id) as rider:
        order_id = await world.order()
        offer = await rider.offer()
        assert offer["order_id"] == order_id and offer["offer_id"].startswith("off_")
        assert [(s["kind"], s["order_id"]) for s in offer["route"]] == [
            ("pickup", order_id), ("dropoff", order_id)]
        assert offer["route"][0]["eta_ms"] <= offer["route"][1]["eta_ms"]
        assert offer["pickup"] == {"lat": 52.52, "lng": 13.405}
        reply = await rider.answer(order_id, accept=True)
    assert reply["type"] == "offer.accepted" and reply["state"] == "assigned"
    assert [s["kind"] for s in reply["route"]] == ["pickup", "dropoff"]
    order = (await world.client.get(f"/v1/orders/{order_id}", headers=world.operator)).json()
    assert (order["state"], order["rider_id"]) == ("assigned", world.rider.id)
    assignment = (await world.client.get(f"/v1/orders/{order_id}/assignment",
                                         headers=world.rider.headers)).json()
    assert assignment["offer"]["state"] == "accepted"
    assert [s["order_id"] for s in assignment["offer"]["route"]] == [order_id, order_id]


async def test_a_second_order_extends_the_route_of_the_rider_who_carries_the_first(
    fast: RunningService, world: World,
) -> None:
    async with rider_app(fast.ws, world.rider.token, world.rider.id) as rider:
        first = await world.order()
        await rider.offer()
        await rider.answer(first, accept=True)
        second = await world.order()
        offer = await rider.offer(order_id=second)
        stops = [(s["kind"], s["order_id"]) for s in offer["route"]]
        assert stops[:2] == [("pickup", first), ("dropoff", first)]
        assert sorted(stops[2:]) == [("dropoff", second), ("pickup", second)]
        reply = await rider.answer(second, accept=True)
        assert [(s["kind"], s["order_id"]) for s in reply["route"]] == stops
        await world.step(first, "pickup", world.rider)
        assert await check_exactly_once(fast.services.db, [first, second]) == {
            first: "picked_up", second: "assigned"}


async def test_a_rejected_order_goes_to_another_rider_never_back_to_the_one_who_declined(
    fast: RunningService, world: World,
) -> None:
    other = await register(world.client, "rider")
    async with rider_app(fast.ws, world.rider.token, world.rider.id) as first, \
            rider_app(fast.ws, other.token, other.id) as second:
        order_id = await world.order()
        offered = await eventually(lambda: _offered_to(fast, order_id))
        decliner, taker = (first, second) if offered == world.rider.id else (second, first)
        await decliner.offer()
        assert (await decliner.answer(order_id, accept=False))["type"] == "offer.rejected"
        await taker.offer(order_id=order_id)
        assert (await taker.answer(order_id, accept=True))["type"] == "offer.accepted"
        assert not [f for f in decliner.seen if f["type"] == "offer"][1:]
    assert (await states(fast.services.db, [order_id]))[order_id] == "assigned"


async def test_a_declined_order_may_return_to_the_rider_after_the_exclusion_window(
    make_settings: Callable[..., Settings],
) -> None:
    # The only rider near declined it: after `offer_exclusion_s` it is offered again, not
    # left in the pool for ever.
    async with run_service(make_settings(**FAST, offer_exclusion_s=1)) as service, \
            httpx.AsyncClient(base_url=service.http, timeout=30) as client:
        world = await make_world(service, client)
        async with rider_app(service.ws, world.rider.token, world.rider.id) as rider:
            order_id = await world.order()
            await rider.offer(order_id=order_id)
            assert (await rider.answer(order_id, accept=False))["type"] == "offer.rejected"
            await rider.offer(order_id=order_id)
            assert (await rider.answer(order_id, accept=True))["type"] == "offer.accepted"
        assert await check_exactly_once(service.services.db, [order_id]) == {
            order_id: "assigned"}


async def _offered_to(fast: RunningService, order_id: str) -> str | None:
    from dispatch.orders.offers import get_live_offer  # noqa: PLC0415

    offer = await get_live_offer(db=fast.services.db, order_id=order_id)
    return offer.rider_id if offer is not None else None


async def test_an_offer_nobody_answers_expires_and_goes_to_another_rider(
    redis: Redis, make_settings: Callable[..., Settings],
) -> None:
    async with run_service(make_settings(**FAST, offer_timeout_s=1)) as service, \
            httpx.AsyncClient(base_url=service.http, timeout=30) as client:
        world = await make_world(service, client)
        other = await register(client, "rider")
        async with rider_app(service.ws, world.rider.token, world.rider.id) as first, \
                rider_app(service.ws, other.token, other.id) as second:
            order_id = await world.order()
            silent = await eventually(lambda: _offered_to(service, order_id))
            taker = second if silent == world.rider.id else first
            await taker.offer(order_id=order_id)
            assert (await taker.answer(order_id, accept=True))["type"] == "offer.accepted"
        assert await check_exactly_once(service.services.db, [order_id]) == {
            order_id: "assigned"}


async def test_a_rider_who_disconnects_loses_its_offer_to_another_rider(
    fast: RunningService, world: World,
) -> None:
    other = await register(world.client, "rider")
    order_id = await world.order()
    async with rider_app(fast.ws, world.rider.token, world.rider.id) as gone:
        await gone.offer(order_id=order_id)
    async with rider_app(fast.ws, other.token, other.id) as taker:
        await taker.offer(order_id=order_id)
        assert (await taker.answer(order_id, accept=True))["type"] == "offer.accepted"
    order = (await world.client.get(f"/v1/orders/{order_id}", headers=world.operator)).json()
    assert order["rider_id"] == other.id


async def test_riders_on_break_busy_or_offline_are_never_offered_orders(
    fast: RunningService, world: World,
) -> None:
    async with rider_app(fast.ws, world.rider.token, world.rider.id, report=False) as rider:
        await rider.report(status="on_break")
        await rider.next("ack")
        order_id = await world.order()
        with pytest.raises(TimeoutError):
            await rider.offer(wait_s=2.0)
        assert (await states(fast.services.db, [order_id]))[order_id] == "pending_dispatch"
        await rider.report(status="available")
        assert (await rider.offer())["order_id"] == order_id


async def test_pending_offers_are_sent_again_when_the_rider_reconnects(
    fast: RunningService, world: World,
) -> None:
    async with rider_app(fast.ws, world.rider.token, world.rider.id) as rider:
        order_id = await world.order()
        first = await rider.offer()
    async with rider_app(fast.ws, world.rider.token, world.rider.id) as rider:
        again = await rider.offer(wait_s=5)
        assert again["offer_id"] == first["offer_id"]
        assert (await rider.answer(order_id, accept=True))["type"] == "offer.accepted"


async def test_bad_answers_get_error_frames_and_change_nothing(
    fast: RunningService, world: World,
) -> None:
    async with rider_app(fast.ws, world.rider.token, world.rider.id, report=False) as rider:
        await rider.send({"type": "offer.accept"})
        error = await rider.next("error")
        assert (error["code"], error["field"]) == ("request.invalid", "order_id")
        await rider.send({"type": "offer.reject", "order_id": 42})
        assert (await rider.next("error"))["field"] == "order_id"
        unknown = await rider.answer("ord_nope", accept=True)
        assert (unknown["type"], unknown["code"]) == ("error", "order.not_found")
        order_id = await world.order()  # nobody is available: it stays in the pool
        foreign = await rider.answer(order_id, accept=True)
        assert (foreign["type"], foreign["code"]) == ("error", "order.not_found")
    assert (await states(fast.services.db, [order_id]))[order_id] == "pending_dispatch"


async def test_an_offer_made_on_the_socket_can_be_answered_over_http(
    fast: RunningService, world: World,
) -> None:
    async with rider_app(fast.ws, world.rider.token, world.rider.id) as rider:
        order_id = await world.order()
        await rider.offer()
        accepted = await world.step(order_id, "accept", world.rider)
        # The socket hears of it too, with the route, as if the answer had come that way.
        pushed = await rider.next("offer.accepted")
    assert (pushed["order_id"], pushed["state"]) == (order_id, "assigned")
    assert [(s["kind"], s["order_id"]) for s in pushed["route"]] == [
        ("pickup", order_id), ("dropoff", order_id)]
    assert accepted.status_code == 200 and accepted.json()["state"] == "assigned"
    assert await check_exactly_once(fast.services.db, [order_id]) == {order_id: "assigned"}


async def test_every_batch_is_counted_in_the_metrics_and_logged(
    fast: RunningService, world: World, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="dispatch.optimizer.service.report")
    async with rider_app(fast.ws, world.rider.token, world.rider.id) as rider:
        order_id = await world.order()
        await rider.offer()
        await rider.answer(order_id, accept=True)

        async def counted() -> str | None:
            text = (await world.client.get("/metrics")).text
            return text if 'dispatch_offers_total{outcome="accepted",region="city"} 1.0' in text \
                else None

        metrics = await eventually(counted)
    for line in ('dispatch_offers_total{outcome="made",region="city"} 1.0',
                 'dispatch_batch_orders_count{region="city"}',
                 'dispatch_batch_solve_seconds_count{region="city"}',
                 'dispatch_batch_plan_cost{region="city"}',
                 'dispatch_optimizer_lease{region="city"} 1.0',
                 'dispatch_batches_total{region="city",result="committed"} 1.0'):
        assert line in metrics, line
    batches = [r for r in caplog.records if r.getMessage() == "batch"]
    made = [r for r in batches if getattr(r, "offers_made", 0) == 1]
    assert made and made[0].orders == 1 and made[0].riders == 1  # type: ignore[attr-defined]
    assert any(getattr(r, "accepted", 0) == 1 for r in batches)

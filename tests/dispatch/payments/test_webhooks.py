"""Provider webhooks: signature cases, and events applied exactly once in any order."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import httpx
import orjson
import pytest
import pytest_asyncio

from dispatch.config import Settings
from dispatch.errors import InvalidSignature
from dispatch.payments.models import PaymentRow
from dispatch.payments.webhooks import SIGNATURE_HEADER, sign, verify_signature
from tests.support.orders import World, make_world
from tests.support.server import RunningService, run_service

OLD, NEW = "whsec_old_secret", "whsec_new_secret"
BODY = b'{"id": "evt_1", "type": "charge.refunded"}'


def header(body: bytes, secret: str = NEW, at: int | None = None, extra: str = "") -> str:
    stamp = int(time.time()) if at is None else at
    return f"t={stamp},v1={sign(secret, stamp, body)}{extra}"


@pytest.mark.parametrize(("make", "ok"), [
    (lambda: header(BODY), True),
    (lambda: header(BODY, OLD), True),  # the previous secret during rotation
    (lambda: header(BODY, "whsec_unknown", extra=f",v1={sign(NEW, int(time.time()), BODY)}"),
     True),  # several signatures: one valid is enough
    (lambda: header(BODY + b" "), False),  # signed other bytes (re-serialised JSON)
    (lambda: header(BODY, at=int(time.time()) - 301), False),  # stale
    (lambda: header(BODY, at=int(time.time()) + 301), False),  # from the future
    (lambda: header(BODY, "whsec_unknown"), False),
    (lambda: header(BODY).replace("v1=", "v0="), False),
    (lambda: "garbage", False),
    (lambda: "", False),
])
def test_signature_verification(make: Callable[[], str], ok: bool) -> None:
    if ok:
        verify_signature(make(), BODY, [NEW, OLD], tolerance_s=300)
    else:
        with pytest.raises(InvalidSignature):
            verify_signature(make(), BODY, [NEW, OLD], tolerance_s=300)


def test_re_serialised_json_does_not_verify() -> None:
    body = b'{"id":"evt_1",  "type":"x"}'
    signature = header(body)
    verify_signature(signature, body, [NEW], tolerance_s=300)
    with pytest.raises(InvalidSignature):
        verify_signature(signature, orjson.dumps(orjson.loads(body)), [NEW], tolerance_s=300)


@pytest_asyncio.fixture
async def signed_service(make_settings: Callable[..., Settings]) -> AsyncIterator[RunningService]:
    async with run_service(make_settings(payment_webhook_secrets=f"{NEW},{OLD}")) as running:
        yield running


@pytest.mark.asyncio
async def test_events_take_effect_once_whatever_their_order_or_repetition(
    signed_service: RunningService,
) -> None:
    async with httpx.AsyncClient(base_url=signed_service.http) as client:
        world: World = await make_world(signed_service, client)
        order_id = await world.delivered(amount_minor=4000)
        payment_url = f"/v1/orders/{order_id}/payment"
        payment = (await client.get(payment_url, headers=world.operator)).json()
        async with signed_service.services.db() as session:
            row = await session.get(PaymentRow, payment["id"])
            assert row is not None
            ref = row.provider_ref

        def evt(n: int, refunded: int) -> bytes:
            return orjson.dumps({"id": f"evt_{n}", "type": "charge.refunded", "created": n,
                                 "data": {"ref": ref, "captured_minor": 4000,
                                          "refunded_minor": refunded}})

        later, earlier = evt(2, 1500), evt(1, 500)
        for body in (later, earlier, later, earlier):  # reordered and redelivered
            response = await client.post("/v1/payments/webhooks/sandbox", content=body,
                                         headers={SIGNATURE_HEADER: header(body)})
            assert response.status_code == 204
        assert (await client.get(payment_url, headers=world.operator)).json()[
            "refunded_minor"] == 1500
        forged = await client.post("/v1/payments/webhooks/sandbox", content=evt(3, 4000),
                                   headers={SIGNATURE_HEADER: header(evt(3, 3999))})
        assert forged.status_code == 400
        assert forged.json()["error"]["code"] == "webhook.invalid_signature"
        assert (await client.get(payment_url, headers=world.operator)).json()[
            "refunded_minor"] == 1500

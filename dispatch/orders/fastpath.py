"""`CreateOrderFastPath`: `POST /v1/orders` served without FastAPI's per-request machinery.

Creating an order is the hot endpoint; routing, dependency resolution and the body's
round trip through `json.loads` and the model cost more CPU than the create itself. This
ASGI layer, in front of the app's whole middleware stack (`dispatch.app.DispatchApp`),
takes a create only when every check passes at once: a `Bearer` token that
verifies and speaks for a customer, an `Idempotency-Key` of 1 to 255 characters or none, a
JSON body that the request model validates straight from its bytes, no query string. It
then calls the same service as the route and sends the stored JSON as the route would
(same status, body and headers; errors through the app's own exception handlers).

Anything else (a missing or bad token, another role, an invalid body, an odd header) is
handed on unchanged, body included, to the routed endpoint, which answers exactly as before:
the status codes, the error bodies naming the field and the OpenAPI document stay the
route's. So the two paths cannot disagree on what is refused, only on how fast it goes.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.auth.tokens import Principal
from dispatch.errors import NotAuthenticated
from dispatch.idempotency.service import REPLAY_HEADER
from dispatch.idempotency.views import scope_for
from dispatch.orders import service
from dispatch.orders.models import CreateOrderIn
from dispatch.services import Services

CREATE_PATH = "/v1/orders"
MAX_KEY_LENGTH = 255  # as the route's `Idempotency-Key` header declares
_BODY = TypeAdapter(CreateOrderIn)
_JSON = b"application/json"
_REPLAYED = (REPLAY_HEADER.lower().encode(), b"true")


class CreateOrderFastPath:
    """Serves well-formed customer creates itself; every other request goes to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["path"] != CREATE_PATH
                or scope["method"] != "POST" or scope["query_string"]):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client left mid-body: nobody to answer
        try:
            services: Services = scope["app"].state.services
            accepted = _accept(services, scope["headers"], body)
        except Exception as exc:  # a fault, not a refusal: a 500 as the app's stack gives it
            await _answer(scope, receive, send, exc)
            raise
        if accepted is None:
            await self.app(scope, _replay(body, receive), send)
            return
        principal, data, key = accepted
        try:
            stored, replayed = await service.create_order(
                params=services.order_params, customer_id=principal.subject, data=data,
                scope=scope_for(principal, "create_order", key, data))
        except Exception as exc:  # answered by the app's handler for it, as on the route
            await _answer(scope, receive, send, exc)
            return
        payload = stored.body.encode()
        headers = [(b"content-length", str(len(payload)).encode()),
                   (b"content-type", _JSON)]
        if replayed:
            headers.append(_REPLAYED)
        await send({"type": "http.response.start", "status": stored.status_code,
                    "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def _accept(services: Services, headers: list[tuple[bytes, bytes]], body: bytes
            ) -> tuple[Principal, CreateOrderIn, str | None] | None:
    """The caller, the order and the key, if the request needs nothing but the happy path."""
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        if name in (b"authorization", b"content-type", b"idempotency-key"):
            if name in found:
                return None  # repeated: the route decides what that means
            found[name] = value
    token = found.get(b"authorization", b"")
    key = found.get(b"idempotency-key")
    if (not token.startswith(b"Bearer ") or found.get(b"content-type") != _JSON
            or (key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH)):
        return None
    try:
        principal = services.signer.verify(token[7:].decode("latin-1"))
        data = _BODY.validate_json(body)
    except (NotAuthenticated, ValidationError):
        return None
    if principal.role != "customer":
        return None
    return principal, data, None if key is None else key.decode("latin-1")


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the app: the body already read, then the client's further messages."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}
    return replayed


async def _answer(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """Send the response of the app's exception handler for `exc`."""
    response = await _handler(scope, exc)(Request(scope, receive), exc)
    await response(scope, receive, send)


def _handler(scope: Scope, exc: Exception) -> Any:
    """The app's exception handler for the nearest class of `exc` (there is one for
    `Exception`)."""
    handlers = scope["app"].exception_handlers
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    raise exc

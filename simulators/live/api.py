"""The service's HTTP API as the simulator uses it: JSON calls with retries on transient
failures (the same `Idempotency-Key` on every retry of an order), and account set-up."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
PASSWORD = "simulated rider password 1"


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: status and decoded JSON body (None when there is none)."""

    status: int
    body: Any

    @property
    def error_code(self) -> str | None:
        """The `error.code` of an error body, if any."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            code = self.body["error"].get("code")
            return str(code) if code is not None else None
        return None


def _decode(content: bytes) -> Any:
    """The JSON body, or the raw text when it is not JSON (a proxy's or a crash's page)."""
    if not content:
        return None
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return content.decode(errors="replace")


def _transient(reply: Reply) -> bool:
    return reply.status in RETRY_STATUSES or reply.error_code == "idempotency.in_flight"


@dataclass
class ServiceApi:
    """A pooled HTTP client of one service; counts retries and failures by kind."""

    base_url: str
    max_connections: int = 64
    timeout_s: float = 30.0
    attempts: int = 6
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        limits = httpx.Limits(max_connections=self.max_connections,
                              max_keepalive_connections=self.max_connections)
        self.client = httpx.AsyncClient(base_url=self.base_url, limits=limits,
                                        timeout=self.timeout_s)

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()

    async def call(self, method: str, path: str, *, token: str | None = None,
                   body: Any = None, key: str | None = None) -> Reply:
        """One call, retried with back-off on transport errors, 429, 5xx and keys in flight."""
        headers = {"content-type": "application/json"}
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        if key is not None:
            headers["idempotency-key"] = key
        content = None if body is None else orjson.dumps(body)
        reply = Reply(0, None)
        for attempt in range(self.attempts):
            if attempt:
                self.counts["retries"] += 1
                await asyncio.sleep(min(3.0, 0.2 * 2 ** attempt))
            try:
                response = await self.client.request(method, path, headers=headers,
                                                     content=content)
            except httpx.TransportError as exc:
                self.counts[f"transport_{type(exc).__name__}"] += 1
                continue
            reply = Reply(response.status_code, _decode(response.content))
            if not _transient(reply):
                return reply
            self.counts[f"status_{reply.status}"] += 1
        return reply

    async def metrics_text(self) -> str:
        """The service's Prometheus exposition (empty if it does not answer)."""
        try:
            response = await self.client.get("/metrics")
        except httpx.TransportError:
            return ""
        return response.text if response.status_code == 200 else ""


def subject_of(token: str) -> str:
    """The `sub` claim of an access token (read, not verified: the service verifies)."""
    payload = token.split(".")[1]
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


@dataclass(frozen=True, slots=True)
class Account:
    """A logged-in account: its user id and access token."""

    user_id: str
    token: str


async def account(api: ServiceApi, email: str, role: str, region: str | None) -> Account:
    """Register (if new) and log in; raises RuntimeError when the service refuses."""
    body: dict[str, Any] = {"email": email, "password": PASSWORD, "role": role}
    if region is not None:
        body["region"] = region
    reply = await api.call("POST", "/v1/auth/register", body=body)
    if reply.status != 201 and reply.error_code != "user.email_taken":
        raise RuntimeError(f"register {email}: {reply.status} {reply.body}")
    reply = await api.call("POST", "/v1/auth/login", body={"email": email, "password": PASSWORD})
    if reply.status != 200:
        raise RuntimeError(f"login {email}: {reply.status} {reply.body}")
    token = str(reply.body["access_token"])
    return Account(user_id=subject_of(token), token=token)


async def accounts(api: ServiceApi, emails: list[str], role: str, region: str | None,
                   concurrency: int = 16) -> list[Account]:
    """Many accounts of one role, `concurrency` at a time, in the order of `emails`."""
    gate = asyncio.Semaphore(concurrency)

    async def one(email: str) -> Account:
        async with gate:
            return await account(api, email, role, region)

    return list(await asyncio.gather(*(one(email) for email in emails)))

"""Every error answer keeps the JSON error shape of docs/api.md, even when a backend is down."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from dispatch.config import Settings
from tests.support.server import run_service

pytestmark = pytest.mark.asyncio


async def test_a_backend_outage_is_a_json_503_not_a_plain_500(
    make_settings: Callable[..., Settings], tmp_path: Path,
) -> None:
    settings = make_settings(redis_url=f"unix://{tmp_path}/nothing.sock", redis_timeout_s=0.5)
    async with run_service(settings) as service, httpx.AsyncClient(
            base_url=service.http, headers=service.operator_headers()) as client:
        response = await client.get("/v1/regions/city/riders/r1")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "service.unavailable"

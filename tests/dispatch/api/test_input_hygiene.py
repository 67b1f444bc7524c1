"""NUL characters (which PostgreSQL text cannot hold) are refused with 422 naming where."""

from __future__ import annotations

import httpx
import pytest

from tests.support.server import RunningService

pytestmark = pytest.mark.asyncio


async def test_a_nul_in_a_body_field_is_a_422_naming_the_field(service: RunningService) -> None:
    async with httpx.AsyncClient(base_url=service.http) as client:
        response = await client.post("/v1/auth/register", json={
            "email": "a\u0000@example.com", "password": "long enough", "role": "customer"})
        refresh = await client.post("/v1/auth/refresh", json={"refresh_token": "rt_\u0000"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "email"
    assert refresh.status_code == 422 and refresh.json()["error"]["field"] == "refresh_token"


@pytest.mark.parametrize(("url", "where"), [("/v1/orders/ord_%00", "path"),
                                            ("/v1/orders?cursor=%00", "query")])
async def test_a_nul_in_the_path_or_query_is_a_422(
    service: RunningService, url: str, where: str
) -> None:
    async with httpx.AsyncClient(base_url=service.http,
                                 headers=service.operator_headers()) as client:
        response = await client.get(url)
    assert response.status_code == 422
    assert response.json()["error"] == {"code": "request.invalid", "field": where,
                                        "message": "text must not contain NUL (U+0000) characters"}

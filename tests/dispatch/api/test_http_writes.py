"""Responses written in one go (`dispatch.http_writes`) keep HTTP/1.1's behaviour: pipelined
requests are answered in order, and `Connection: close` still gets the whole answer before
the close. (The WebSocket upgrade that hands over the real transport is exercised by every
rider stream test.)"""

from __future__ import annotations

import asyncio

import orjson
import pytest

from dispatch.http_writes import FLUSH_AT
from tests.support.server import RunningService

pytestmark = pytest.mark.asyncio


def _get(path: str, *extra: str) -> bytes:
    return "\r\n".join([f"GET {path} HTTP/1.1", "Host: t", *extra, "", ""]).encode()


async def _read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    return head, await asyncio.wait_for(reader.readexactly(length), 5)


async def test_pipelined_requests_are_answered_in_order(service: RunningService) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    try:
        writer.write(_get("/healthz") + _get("/nothing-here") + _get("/healthz"))
        statuses = [(await _read_response(reader))[0][9:12] for _ in range(3)]
    finally:
        writer.close()
    assert statuses == [b"200", b"404", b"200"]


async def test_connection_close_gets_the_whole_answer_then_eof(service: RunningService) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    try:
        writer.write(_get("/nothing-here", "Connection: close"))
        raw = await asyncio.wait_for(reader.read(), 5)  # until the server closes
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404")
    assert b"connection: close" in head.lower()
    assert body == b'{"detail":"Not Found"}'
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    assert len(body) == length



async def test_a_large_body_arrives_whole(service: RunningService) -> None:
    """The OpenAPI document (well over `FLUSH_AT`) byte for byte, then the next answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    try:
        writer.write(_get("/openapi.json") + _get("/healthz"))
        _, document = await _read_response(reader)
        head, _ = await _read_response(reader)
    finally:
        writer.close()
    assert len(document) > FLUSH_AT
    assert orjson.loads(document) == service.server.config.app.openapi()  # type: ignore[union-attr]
    assert head.startswith(b"HTTP/1.1 200")

"""Websocket framing on the rider stream: frames however TCP cuts and joins them.

The transport unmasks whole data frames itself and leaves everything else to the
websockets layer; these tests send hand-made frames straight down the socket so that
frames arrive joined, cut in the middle, mixed with control frames, and in both
length encodings.
"""

from __future__ import annotations

import asyncio
import os
import time

import orjson
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.utils import apply_mask

from tests.support.server import RunningService, closed_with, recv_json

pytestmark = pytest.mark.asyncio

TEXT, PING = 0x1, 0x9


def masked(payload: bytes, opcode: int = TEXT, *, fin: bool = True) -> bytes:
    """One client frame, masked as RFC 6455 requires."""
    mask = os.urandom(4)
    size = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if size < 126:
        head += bytes([0x80 | size])
    else:
        head += bytes([0x80 | 126]) + size.to_bytes(2, "big")
    return head + mask + apply_mask(payload, mask)


def fix_frame(seq: int, **extra: object) -> bytes:
    return masked(orjson.dumps({"type": "fix", "seq": seq, "lat": 52.5, "lng": 13.4,
                                "ts": int(time.time() * 1000), **extra}))


def raw_write(ws: ClientConnection, data: bytes) -> None:
    ws.transport.write(data)


async def test_frames_joined_in_one_segment_are_each_acknowledged(
    service: RunningService,
) -> None:
    async with service.rider("r1") as (ws, _):
        raw_write(ws, fix_frame(1) + fix_frame(2) + masked(b"ping", PING) + fix_frame(3))
        acks = [await recv_json(ws) for _ in range(3)]
    assert sorted(a["seq"] for a in acks) == [1, 2, 3]
    assert all(a == {"type": "ack", "seq": a["seq"], "n": 1} for a in acks)


async def test_a_frame_cut_across_segments_is_reassembled(service: RunningService) -> None:
    async with service.rider("r1") as (ws, _):
        data = fix_frame(1) + fix_frame(2, speed=3.5)
        for cut in (3, len(data) // 2, len(data) - 1):  # in the header, the mask, the payload
            raw_write(ws, data[:cut])
            await asyncio.sleep(0.05)
            raw_write(ws, data[cut:])
            assert {(await recv_json(ws))["seq"] for _ in range(2)} == {1, 2}


async def test_long_frames_use_the_two_byte_length(service: RunningService) -> None:
    async with service.rider("r1") as (ws, _):
        raw_write(ws, fix_frame(7, padding="x" * 300) + fix_frame(8))
        assert {(await recv_json(ws))["seq"] for _ in range(2)} == {7, 8}


async def test_bad_json_in_a_joined_frame_errors_only_that_frame(
    service: RunningService,
) -> None:
    async with service.rider("r1") as (ws, _):
        raw_write(ws, masked(b"{not json") + fix_frame(1))
        replies = [await recv_json(ws) for _ in range(2)]
    assert [r["type"] for r in replies] == ["error", "ack"]
    assert replies[0]["code"] == "frame.invalid"


async def test_a_fragmented_message_closes_with_1003(service: RunningService) -> None:
    async with service.rider("r1") as (ws, _):
        raw_write(ws, fix_frame(1))
        assert (await recv_json(ws))["seq"] == 1
        raw_write(ws, masked(b'{"type":', fin=False))
        assert await closed_with(ws) == 1003

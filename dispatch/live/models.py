"""Plain records the live store reads and writes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class RiderStatus(StrEnum):
    """What a rider told us about their willingness to take work."""

    AVAILABLE = "available"
    BUSY = "busy"
    ON_BREAK = "on_break"
    OFFLINE = "offline"


class PositionWrite(NamedTuple):
    """The newest fix of one rider in one frame, ready to be written to the store.

    A named tuple rather than a frozen dataclass: one is built per fix frame, and a
    frozen dataclass costs several times as much to build.
    """

    region: str
    rider_id: str
    lat: float
    lng: float
    ts_ms: int
    seq: int
    extra: str
    status_hint: str
    conn: str


@dataclass(slots=True)
class NearbyRider:
    """One result of a nearby query.

    Not frozen: a query builds up to k of them, and a frozen dataclass costs several
    times as much to build (each field is set through `object.__setattr__`).
    """

    rider_id: str
    lat: float
    lng: float
    distance_m: float
    status: str
    load: int
    last_seen_ms: int


@dataclass(frozen=True, slots=True)
class RiderState:
    """Everything the store knows about one rider."""

    rider_id: str
    region: str
    lat: float | None
    lng: float | None
    ts_ms: int | None
    last_seq: int
    status: str
    load: int
    last_seen_ms: int | None
    cell: str | None

"""What a synthetic city is made of: places, merchants, riders and the orders of the day."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Place:
    """A point of the city (a customer's home, a commercial centre)."""

    lat: float
    lng: float


@dataclass(frozen=True, slots=True)
class Merchant:
    """A restaurant or shop: where it is, how popular, how long it usually prepares."""

    index: int
    lat: float
    lng: float
    area: int  # the commercial area it belongs to
    popularity: float
    prep_mean_s: float


@dataclass(frozen=True, slots=True)
class RiderProfile:
    """A rider: vehicle, where the shift starts, when, and how willing to take offers."""

    index: int
    vehicle: str
    lat: float
    lng: float
    shift_start_s: float
    shift_end_s: float
    accept_prob: float


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One order of the day as the customer places it (times in seconds after midnight)."""

    index: int
    placed_s: float
    merchant: int
    customer: int
    dropoff_lat: float
    dropoff_lng: float
    ready_s: float
    promised_s: float
    amount_minor: int
    items: int

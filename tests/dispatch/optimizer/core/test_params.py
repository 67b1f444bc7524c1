"""Parameters and inputs are validated when they are built, with ValueError."""

from __future__ import annotations

import math
from typing import Any

import pytest

from dispatch.optimizer.core import BatchParams, CarriedStop, OrderSpec, RiderSpec


@pytest.mark.parametrize("bad", [
    {"travel_weight": -1.0},
    {"lateness_weight": math.nan},
    {"unassigned_penalty_s": math.inf},
    {"candidate_radius_m": 0.0},
    {"candidate_count": 0},
    {"widen_factor": 0.5},
    {"max_bundle_size": 0},
    {"max_bundle_size": 5},
    {"bundle_partners": 0},
    {"bundle_riders": 0},
    {"bundle_route_partners": -1},
    {"bundle_pickup_radius_m": -1.0},
    {"exact_max_edges": -1},
    {"time_limit_s": 0.0},
    {"travel": "haversine"},
])
def test_bad_batch_params_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad)) if "travel" not in bad else "travel"):
        BatchParams(**bad)


def test_default_params_are_valid_and_frozen() -> None:
    params = BatchParams()
    with pytest.raises(AttributeError):
        params.seed = 3  # type: ignore[misc]


GOOD_ORDER: dict[str, Any] = {
    "order_id": "o", "pickup_lat": 4.6, "pickup_lng": -74.0, "dropoff_lat": 4.61,
    "dropoff_lng": -74.01, "placed_s": 0.0, "ready_s": 60.0, "promised_s": 1800.0,
}


@pytest.mark.parametrize("bad", [
    {"order_id": ""}, {"pickup_lat": math.nan}, {"ready_s": math.inf}, {"size": 0},
])
def test_bad_orders_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        OrderSpec(**{**GOOD_ORDER, **bad})


@pytest.mark.parametrize("bad", [
    {"rider_id": ""}, {"lat": math.nan}, {"available_s": math.inf}, {"capacity": 0},
    {"load": 4}, {"load": -1},
    {"carried": (CarriedStop("dropoff", "x", 4.6, -74.0),), "load": 0},
])
def test_bad_riders_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RiderSpec(**{"rider_id": "r", "lat": 4.6, "lng": -74.0, "available_s": 0.0, **bad})


def test_carried_stops_need_a_known_kind_and_coordinates() -> None:
    with pytest.raises(ValueError):
        CarriedStop("deliver", "x", 4.6, -74.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CarriedStop("pickup", "x", math.inf, -74.0)

"""Travel-time models: haversine with a detour factor and vehicle speeds, and the planar one."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.distance import haversine_m
from geo.travel import HaversineTravel, PlanarTravel, TravelModel

BOGOTA = (4.65, -74.08)


def test_haversine_travel_is_great_circle_times_detour_over_speed() -> None:
    model = HaversineTravel(detour_factor=1.25, speeds_mps=(("bike", 5.0),))
    lat2, lng2 = BOGOTA[0] + 0.01, BOGOTA[1] + 0.01
    straight = haversine_m(*BOGOTA, lat2, lng2)
    assert model.distance_m(BOGOTA[0], BOGOTA[1], lat2, lng2) == pytest.approx(1.25 * straight)
    assert model.travel_s(BOGOTA[0], BOGOTA[1], lat2, lng2, "bike") == pytest.approx(
        1.25 * straight / 5.0
    )


def test_faster_vehicles_take_less_time_over_the_same_ground() -> None:
    model = HaversineTravel()
    times = {
        v: float(model.travel_s(BOGOTA[0], BOGOTA[1], BOGOTA[0] + 0.02, BOGOTA[1], v))
        for v in ("walk", "bicycle", "scooter", "car", "motorcycle")
    }
    assert list(times) == sorted(times, key=lambda v: -times[v])


def test_arrays_are_evaluated_element_by_element() -> None:
    model = HaversineTravel()
    lat1 = np.array([4.60, 4.70, 4.65])
    lng1 = np.array([-74.1, -74.0, -74.05])
    many = model.travel_s(lat1, lng1, lat1 + 0.01, lng1, "car")
    pairs = zip(lat1.tolist(), lng1.tolist(), strict=True)
    one_by_one = [float(model.travel_s(a, b, a + 0.01, b, "car")) for a, b in pairs]
    assert many.tolist() == pytest.approx(one_by_one)


@pytest.mark.parametrize("kwargs", [
    {"detour_factor": 0.9}, {"detour_factor": math.nan}, {"speeds_mps": ()},
    {"speeds_mps": (("car", 0.0),)}, {"speeds_mps": (("car", math.inf),)},
])
def test_bad_haversine_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        HaversineTravel(**kwargs)  # type: ignore[arg-type]


def test_an_unknown_vehicle_is_refused() -> None:
    with pytest.raises(ValueError, match="hovercraft"):
        HaversineTravel().travel_s(0, 0, 0, 1, "hovercraft")


def test_planar_travel_counts_whole_minutes_rounded_up() -> None:
    model = PlanarTravel(metres_per_minute=320.0)
    assert model.travel_s(0, 0, 0, 640, "any") == 120.0  # exactly two minutes: no round-up
    assert model.travel_s(0, 0, 0, 641, "any") == 180.0
    assert model.travel_s(0, 0, 300, 400, "any") == 120.0  # 500 m
    exact = PlanarTravel(metres_per_minute=320.0, whole_minutes=False)
    assert exact.travel_s(0, 0, 0, 480, "any") == pytest.approx(90.0)


def test_planar_points_project_to_themselves() -> None:
    points = PlanarTravel().project([1.0, 2.0], [3.0, 4.0], origin_lat=0.0)
    assert points.tolist() == [[3.0, 1.0], [4.0, 2.0]]


def test_bad_planar_speed_is_refused() -> None:
    with pytest.raises(ValueError):
        PlanarTravel(metres_per_minute=0.0)


def test_both_models_satisfy_the_protocol() -> None:
    assert isinstance(HaversineTravel(), TravelModel)
    assert isinstance(PlanarTravel(), TravelModel)
    assert not isinstance("haversine", TravelModel)


offsets = st.floats(-0.15, 0.15)  # about 16 km either way: a city


@settings(max_examples=200, deadline=None)
@given(offsets, offsets, offsets, offsets)
def test_straight_lines_in_the_projection_never_exceed_the_travelled_distance(
    dlat1: float, dlng1: float, dlat2: float, dlng2: float
) -> None:
    model = HaversineTravel()  # detour 1.3: radius searches in the plane are a safe bound
    lat = np.array([BOGOTA[0] + dlat1, BOGOTA[0] + dlat2])
    lng = np.array([BOGOTA[1] + dlng1, BOGOTA[1] + dlng2])
    a, b = model.project(lat, lng, origin_lat=BOGOTA[0])
    straight = float(np.hypot(*(a - b)))
    travelled = float(model.distance_m(lat[0], lng[0], lat[1], lng[1]))
    assert straight <= travelled + 1e-6
    assert straight == pytest.approx(travelled / 1.3, rel=0.01, abs=1e-6)

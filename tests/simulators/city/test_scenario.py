"""Synthetic cities: reproducible for a seed, and shaped as the parameters say."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import shapely

from geo.distance import haversine_m
from simulators.city import CityParams, build_scenario
from simulators.city.demand import intensity

SMALL = CityParams(merchants=40, customers=600, riders=50, orders=400.0, start_s=10 * 3600,
                   end_s=22 * 3600)


def test_the_same_seed_gives_the_identical_scenario() -> None:
    first, second = build_scenario(SMALL, 7), build_scenario(SMALL, 7)
    assert first == second
    assert first.fingerprint() == second.fingerprint()


def test_another_seed_gives_another_scenario() -> None:
    assert build_scenario(SMALL, 7).fingerprint() != build_scenario(SMALL, 8).fingerprint()


def test_changing_the_fleet_leaves_the_city_and_its_orders_as_they_were() -> None:
    base = build_scenario(SMALL, 3)
    more_riders = build_scenario(dataclasses.replace(SMALL, riders=80), 3)
    assert more_riders.merchants == base.merchants
    assert more_riders.orders == base.orders
    assert len(more_riders.riders) == 80


def test_every_place_lies_in_the_service_area() -> None:
    city = build_scenario(SMALL, 1)
    points = ([(m.lat, m.lng) for m in city.merchants] + [(c.lat, c.lng) for c in city.customers]
              + [(r.lat, r.lng) for r in city.riders]
              + [(o.dropoff_lat, o.dropoff_lng) for o in city.orders])
    lats, lngs = np.array(points).T
    assert shapely.contains_xy(city.area, lngs, lats).all()
    assert city.area_geojson()["features"][0]["properties"] == {"region": "city"}


def test_merchants_cluster_in_commercial_areas_while_customers_spread() -> None:
    city = build_scenario(SMALL, 2)

    def nearest_centre_m(lat: float, lng: float) -> float:
        return min(haversine_m(lat, lng, c.lat, c.lng) for c in city.centres)

    merchants = np.median([nearest_centre_m(m.lat, m.lng) for m in city.merchants])
    customers = np.median([nearest_centre_m(c.lat, c.lng) for c in city.customers])
    assert merchants < 0.5 * customers


def test_demand_peaks_at_lunch_and_dinner() -> None:
    city = build_scenario(dataclasses.replace(SMALL, orders=3000.0), 4)
    hours = np.array([o.placed_s for o in city.orders]) // 3600
    per_hour = {h: int((hours == h).sum()) for h in range(10, 22)}
    assert per_hour[12] > 1.5 * per_hour[16] and per_hour[19] > 1.5 * per_hour[16]
    assert intensity([19.5 * 3600]) > intensity([12.75 * 3600]) > intensity([16 * 3600])
    assert abs(len(city.orders) - 3000) < 4 * np.sqrt(3000)


def test_orders_are_ready_after_placement_and_promised_after_ready() -> None:
    city = build_scenario(SMALL, 5)
    assert all(o.placed_s < o.ready_s < o.promised_s for o in city.orders)
    assert all(SMALL.start_s <= o.placed_s < SMALL.end_s for o in city.orders)
    assert [o.placed_s for o in city.orders] == sorted(o.placed_s for o in city.orders)


def test_riders_have_shifts_in_the_window_and_vehicles_from_the_mix() -> None:
    city = build_scenario(SMALL, 6)
    assert all(SMALL.start_s <= r.shift_start_s < r.shift_end_s <= SMALL.end_s
               for r in city.riders)
    assert {r.vehicle for r in city.riders} <= {v for v, _ in SMALL.vehicle_mix}
    full = build_scenario(dataclasses.replace(SMALL, full_shifts=True), 6)
    assert all((r.shift_start_s, r.shift_end_s) == (SMALL.start_s, SMALL.end_s)
               for r in full.riders)


def test_declined_payments_are_drawn_at_the_requested_share() -> None:
    city = build_scenario(dataclasses.replace(SMALL, decline_share=0.5), 9)
    declined = sum(1 for o in city.orders if o.amount_minor % 1000 == 402)
    assert 0.35 < declined / len(city.orders) < 0.65
    assert all(o.amount_minor % 1000 != 402 for o in build_scenario(SMALL, 9).orders)


@pytest.mark.parametrize("bad", [
    {"radius_km": 0.1}, {"start_s": 5.0, "end_s": 5.0}, {"vehicle_mix": (("rocket", 1.0),)},
    {"prep_min_s": 600.0, "prep_max_s": 300.0}, {"decline_share": 1.5}, {"merchants": 0},
])
def test_bad_parameters_are_refused_at_construction(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        CityParams(**bad)  # type: ignore[arg-type]

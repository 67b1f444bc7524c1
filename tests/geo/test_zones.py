"""Service areas: which region a point is in, and early rejection of bad definitions."""

from __future__ import annotations

import pytest

from geo.zones import ServiceAreas

TWO = {
    "type": "FeatureCollection",
    "features": [
        {"type": "Feature", "properties": {"region": "west"},
         "geometry": {"type": "Polygon",
                      "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}},
        {"type": "Feature", "properties": {"region": "east"},
         "geometry": {"type": "Polygon",
                      "coordinates": [[[1, 0], [2, 0], [2, 1], [1, 1], [1, 0]]]}},
    ],
}


def test_points_fall_in_the_region_that_covers_them() -> None:
    areas = ServiceAreas.from_geojson(TWO)
    assert areas.region_of(lat=0.5, lng=0.5) == "west"
    assert areas.region_of(lat=0.5, lng=1.5) == "east"
    assert areas.region_of(lat=0.5, lng=1.0) == "west"  # a shared edge goes to the first area
    assert areas.region_of(lat=0.0, lng=0.0) == "west"  # the boundary is inside
    assert areas.region_of(lat=5, lng=5) is None
    assert areas.regions() == ["west", "east"]


def test_the_square_default_uses_lat_lng_in_the_right_order() -> None:
    areas = ServiceAreas.around("city", lat=52.52, lng=13.405, half_side_deg=0.3)
    assert areas.region_of(lat=52.52, lng=13.405) == "city"
    assert areas.region_of(lat=13.405, lng=52.52) is None


@pytest.mark.parametrize("bad", [
    {"type": "Feature"},
    {"type": "FeatureCollection", "features": []},
    {"type": "FeatureCollection", "features": [{"properties": {}, "geometry": TWO["features"][0][
        "geometry"]}]},
    {"type": "FeatureCollection", "features": [{"properties": {"region": "x"}, "geometry": {
        "type": "Point", "coordinates": [0, 0]}}]},
    {"type": "FeatureCollection", "features": [{"properties": {"region": "bowtie"}, "geometry": {
        "type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}]},
])
def test_bad_definitions_are_refused_at_construction(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ServiceAreas.from_geojson(bad)

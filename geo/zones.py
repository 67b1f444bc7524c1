"""Service areas: named regions as shapely polygons, and which region a point falls in.

Built from GeoJSON mappings (the caller reads any file); coordinates are WGS84 `[lng, lat]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import Point, box, shape
from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True)
class ServiceArea:
    """One region's delivery area."""

    region: str
    geometry: BaseGeometry

    def __post_init__(self) -> None:
        if not self.region:
            raise ValueError("a service area needs a region name")
        if self.geometry.is_empty or self.geometry.geom_type not in ("Polygon", "MultiPolygon"):
            raise ValueError(f"service area {self.region!r} must be a non-empty (multi)polygon")
        if not self.geometry.is_valid:
            raise ValueError(f"service area {self.region!r} is not a valid polygon")
        shapely.prepare(self.geometry)


class ServiceAreas:
    """A set of regions; a point belongs to the first area (in order) that covers it."""

    def __init__(self, areas: list[ServiceArea]) -> None:
        if not areas:
            raise ValueError("at least one service area is needed")
        self.areas = areas

    @classmethod
    def from_geojson(cls, collection: Mapping[str, Any]) -> ServiceAreas:
        """Areas from a FeatureCollection whose features carry a `region` property."""
        if collection.get("type") != "FeatureCollection":
            raise ValueError("service areas must be a GeoJSON FeatureCollection")
        areas = []
        for feature in collection.get("features", []):
            region = (feature.get("properties") or {}).get("region")
            areas.append(ServiceArea(str(region or ""), shape(feature["geometry"])))
        return cls(areas)

    @classmethod
    def around(cls, region: str, lat: float, lng: float, half_side_deg: float) -> ServiceAreas:
        """One square region centred on a point (a default for a single city)."""
        return cls([ServiceArea(region, box(lng - half_side_deg, lat - half_side_deg,
                                            lng + half_side_deg, lat + half_side_deg))])

    def region_of(self, lat: float, lng: float) -> str | None:
        """The region whose area covers the point, or None outside every area."""
        point = Point(lng, lat)
        for area in self.areas:
            if area.geometry.covers(point):
                return area.region
        return None

    def regions(self) -> list[str]:
        """The region names, in order."""
        return [area.region for area in self.areas]

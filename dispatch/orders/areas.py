"""Where the service delivers: the configured GeoJSON service areas, or the built-in one."""

from __future__ import annotations

import json

from dispatch.config import Settings
from geo.zones import ServiceAreas

# Without configuration, one region named "city": a square of about 65 by 40 km around Berlin.
DEFAULT_REGION = "city"
DEFAULT_CENTRE = (52.52, 13.405)
DEFAULT_HALF_SIDE_DEG = 0.3


def load_areas(settings: Settings) -> ServiceAreas:
    """The service areas from `service_areas_path` (a GeoJSON FeatureCollection) or the default."""
    if settings.service_areas_path is None:
        lat, lng = DEFAULT_CENTRE
        return ServiceAreas.around(DEFAULT_REGION, lat, lng, DEFAULT_HALF_SIDE_DEG)
    with settings.service_areas_path.open(encoding="utf-8") as source:
        return ServiceAreas.from_geojson(json.load(source))

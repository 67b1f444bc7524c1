"""HTTP routes over the live store: nearby riders and one rider's live state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from dispatch.deps import OperatorDep, ServicesDep
from dispatch.errors import NotFound, ValidationFailed
from dispatch.live.models import NearbyRider, RiderState, RiderStatus

router = APIRouter(prefix="/v1/regions/{region}/riders", tags=["riders"])


class NearbyOut(BaseModel):
    """The nearest riders to a point, nearest first."""

    riders: list[NearbyRider]


@router.get("/nearby", response_model=NearbyOut)
async def list_nearby_riders(
    region: str,
    services: ServicesDep,
    _: OperatorDep,
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude of the point (WGS84)")],
    lng: Annotated[float, Query(ge=-180, le=180, description="Longitude of the point (WGS84)")],
    radius_m: Annotated[float, Query(gt=0, description="Search radius in metres")] = 3000.0,
    k: Annotated[int, Query(ge=1, description="How many riders at most")] = 10,
    status: Annotated[RiderStatus | None, Query(
        description="Only riders with this status; omit for available riders")] = None,
    any_status: Annotated[bool, Query(description="Return riders of every status")] = False,
) -> NearbyOut:
    """The `k` nearest fresh riders within `radius_m` of a point, with exact distances."""
    settings = services.settings
    if radius_m > settings.nearby_max_radius_m:
        raise ValidationFailed(f"radius_m must be at most {settings.nearby_max_radius_m:g}",
                               field="radius_m")
    if k > settings.nearby_max_k:
        raise ValidationFailed(f"k must be at most {settings.nearby_max_k}", field="k")
    wanted = None if any_status else (status or RiderStatus.AVAILABLE)
    found = await services.store.nearby(region, lat, lng, radius_m=radius_m, k=k, status=wanted)
    return NearbyOut(riders=found)


@router.get("/{rider_id}", response_model=RiderState)
async def get_rider_state(
    region: str, rider_id: str, services: ServicesDep, _: OperatorDep
) -> RiderState:
    """One rider's latest position, status, load and freshness."""
    state = await services.store.get_rider(region, rider_id)
    if state is None:
        raise NotFound(f"no live state for rider {rider_id!r} in region {region!r}",
                       field="rider_id")
    return state


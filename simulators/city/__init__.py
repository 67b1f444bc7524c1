"""Synthetic cities: a service area, merchants, customers, riders and a day of demand,
all drawn from one seed."""

from __future__ import annotations

from simulators.city.model import Merchant, OrderRequest, Place, RiderProfile
from simulators.city.params import CityParams
from simulators.city.scenario import Scenario, build_scenario

__all__ = [
    "CityParams",
    "Merchant",
    "OrderRequest",
    "Place",
    "RiderProfile",
    "Scenario",
    "build_scenario",
]

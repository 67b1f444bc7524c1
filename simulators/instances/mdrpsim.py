"""Reader for real delivery days in the mdrp-sim form (`orders.csv`, `couriers.csv`, WGS84).

Times are clock times within the day; one that reads more than half a day before
its order's placement belongs to the next day. Orders carry no merchant id, so
orders picked up at the same coordinates are taken to share a merchant.
"""

from __future__ import annotations

from pathlib import Path

from simulators.instances.models import DayCourier, DayOrder, Instance, Rules
from simulators.instances.tables import after, clock_s, column, number, read_rows

FILES = ("orders.csv", "couriers.csv")

# The mdrp-sim project's own settings: pay per drop-off and per hour, and service
# times; the promise is the day's `expected_drop_off_time`.
REAL_DAY_RULES = Rules(
    pickup_service_s=240.0,
    dropoff_service_s=240.0,
    target_click_to_door_s=2400.0,
    max_click_to_door_s=5400.0,
    pay_per_order_minor=300,
    pay_per_hour_minor=800,
    currency="USD",
    metres_per_minute=None,
)


def is_mdrpsim(directory: Path) -> bool:
    """True when `directory` holds the files of a real day in the mdrp-sim form."""
    return all((directory / name).is_file() for name in FILES)


def _merchant(lat: str, lng: str) -> str:
    """A merchant id from pickup coordinates (about 1 m apart counts as the same place)."""
    return f"{float(lat):.5f},{float(lng):.5f}"


def _order(row: dict[str, str], path: Path) -> DayOrder:
    placed = clock_s(column(row, "placement_time", path), path)
    ready = after(clock_s(column(row, "ready_time", path), path), placed)
    promised = after(clock_s(column(row, "expected_drop_off_time", path), path), placed)
    return DayOrder(
        order_id=column(row, "order_id", path),
        pickup_lat=number(row, "pick_up_lat", path),
        pickup_lng=number(row, "pick_up_lng", path),
        dropoff_lat=number(row, "drop_off_lat", path),
        dropoff_lng=number(row, "drop_off_lng", path),
        placed_s=placed,
        ready_s=max(placed, ready),
        promised_s=max(placed, promised),
        merchant_id=_merchant(column(row, "pick_up_lat", path), column(row, "pick_up_lng", path)),
    )


def _courier(row: dict[str, str], path: Path) -> DayCourier:
    on = clock_s(column(row, "on_time", path), path)
    return DayCourier(
        courier_id=column(row, "courier_id", path),
        lat=number(row, "on_lat", path),
        lng=number(row, "on_lng", path),
        on_s=on,
        off_s=max(on, after(clock_s(column(row, "off_time", path), path), on)),
        vehicle=column(row, "vehicle", path),
    )


def read_mdrpsim(directory: Path, rules: Rules = REAL_DAY_RULES) -> Instance:
    """Read one real day (a directory with `orders.csv` and `couriers.csv`)."""
    orders_path, couriers_path = directory / "orders.csv", directory / "couriers.csv"
    orders = sorted(
        (_order(r, orders_path) for r in read_rows(orders_path, ",")),
        key=lambda o: (o.placed_s, o.order_id),
    )
    couriers = tuple(_courier(r, couriers_path) for r in read_rows(couriers_path, ","))
    return Instance(directory.name, "mdrp-sim", tuple(orders), couriers, rules)

"""Reader for the Grubhub MDRP instance library (tab-separated `.txt` files, planar metres).

Times are whole minutes from the start of the day; they become seconds here. The
promise of an order is its placement plus the instance's target click-to-door.
"""

from __future__ import annotations

from pathlib import Path

from simulators.instances.models import DayCourier, DayOrder, Instance, Rules
from simulators.instances.tables import InstanceFormatError, column, number, read_rows

FILES = ("orders.txt", "restaurants.txt", "couriers.txt", "instance_parameters.txt")
MINUTE = 60.0

# Keywords that identify each column of instance_parameters.txt, whatever its exact header.
_PARAMETERS = {
    "metres_per_minute": ("meters_per_minute", "meters per minute"),
    "pickup": ("pickup service",),
    "dropoff": ("dropoff service",),
    "target": ("target click",),
    "maximum": ("maximum click",),
    "pay_order": ("pay per order",),
    "pay_hour": ("pay per hour",),
}


def is_mdrplib(directory: Path) -> bool:
    """True when `directory` holds the files of an MDRP library instance."""
    return all((directory / name).is_file() for name in FILES)


def read_rules(path: Path) -> Rules:
    """The instance parameters: travel speed, service times, promise and pay rule."""
    rows = read_rows(path, "\t")
    if len(rows) != 1:
        raise InstanceFormatError(f"{path}: expected one line of parameters, found {len(rows)}")
    row = rows[0]
    values: dict[str, float] = {}
    for key, words in _PARAMETERS.items():
        names = [name for name in row if any(word in name for word in words)]
        if len(names) != 1:
            raise InstanceFormatError(f"{path}: no single column for {key}")
        values[key] = number(row, names[0], path)
    return Rules(
        pickup_service_s=values["pickup"] * MINUTE,
        dropoff_service_s=values["dropoff"] * MINUTE,
        target_click_to_door_s=values["target"] * MINUTE,
        max_click_to_door_s=values["maximum"] * MINUTE,
        pay_per_order_minor=round(values["pay_order"] * 100),
        pay_per_hour_minor=round(values["pay_hour"] * 100),
        currency="USD",
        metres_per_minute=values["metres_per_minute"],
    )


def read_mdrplib(directory: Path) -> Instance:
    """Read one MDRP library instance directory."""
    rules = read_rules(directory / "instance_parameters.txt")
    restaurants_path = directory / "restaurants.txt"
    restaurants = {
        column(r, "restaurant", restaurants_path): (
            number(r, "y", restaurants_path), number(r, "x", restaurants_path)
        )
        for r in read_rows(restaurants_path, "\t")
    }
    orders_path = directory / "orders.txt"
    orders = []
    for r in read_rows(orders_path, "\t"):
        merchant = column(r, "restaurant", orders_path)
        if merchant not in restaurants:
            raise InstanceFormatError(f"{orders_path}: unknown restaurant {merchant!r}")
        placed = number(r, "placement_time", orders_path) * MINUTE
        orders.append(DayOrder(
            order_id=column(r, "order", orders_path),
            pickup_lat=restaurants[merchant][0],
            pickup_lng=restaurants[merchant][1],
            dropoff_lat=number(r, "y", orders_path),
            dropoff_lng=number(r, "x", orders_path),
            placed_s=placed,
            ready_s=max(placed, number(r, "ready_time", orders_path) * MINUTE),
            promised_s=placed + rules.target_click_to_door_s,
            merchant_id=merchant,
        ))
    couriers_path = directory / "couriers.txt"
    couriers = tuple(
        DayCourier(
            courier_id=column(r, "courier", couriers_path),
            lat=number(r, "y", couriers_path),
            lng=number(r, "x", couriers_path),
            on_s=number(r, "on_time", couriers_path) * MINUTE,
            off_s=number(r, "off_time", couriers_path) * MINUTE,
        )
        for r in read_rows(couriers_path, "\t")
    )
    orders.sort(key=lambda o: (o.placed_s, o.order_id))
    return Instance(directory.name, "mdrplib", tuple(orders), couriers, rules)

"""Tiny instances for the simulator tests: files in both formats, and a hand-built day."""

from __future__ import annotations

from pathlib import Path

from simulators.instances import DayCourier, DayOrder, Instance, Rules

MDRP_RULES = Rules(metres_per_minute=320.0)


def write_mdrplib(directory: Path) -> Path:
    """A two-order MDRP library instance (tab-separated files, minutes, planar metres)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "orders.txt": "order\tx\ty\tplacement_time\trestaurant\tready_time\n"
                      "o2\t0\t0\t40\tr1\t45\no1\t0\t6400\t0\tr1\t15\n",
        "restaurants.txt": "restaurant\tx\ty\nr1\t0\t3200\n",
        "couriers.txt": "courier\tx\ty\ton_time\toff_time\nc1\t0\t0\t0\t60\n",
        "instance_parameters.txt": (
            "meters_per_minute\tpickup service minutes\tdropoff service minutes\t"
            "target click-to-door\tmaximum click-to-door\tpay per order\tguaranteed pay per hour\n"
            "320\t4\t4\t40\t90\t10\t15\n"
        ),
    }
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def write_mdrpsim(directory: Path) -> Path:
    """A two-order real day (CSV, clock times, WGS84), one order ready after midnight."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "orders.csv").write_text(
        "order_id,pick_up_lat,pick_up_lng,drop_off_lat,drop_off_lng,placement_time,"
        "preparation_time,ready_time,expected_drop_off_time\n"
        "1,3.4500,-76.5300,3.4600,-76.5200,12:00:00,12:01:00,12:15:30,12:40:00\n"
        "2,3.4500,-76.5300,3.4400,-76.5400,23:55:00,23:56:00,00:10:00,00:35:00\n",
        encoding="utf-8",
    )
    (directory / "couriers.csv").write_text(
        "courier_id,vehicle,on_lat,on_lng,on_time,off_time\n"
        "7,walking,3.4510,-76.5310,11:00:00,23:59:00\n"
        "8,motorcycle,3.4400,-76.5300,20:00:00,02:00:00\n",
        encoding="utf-8",
    )
    return directory


def hand_day() -> Instance:
    """One courier on a line, three orders at one restaurant 3.2 km (10 min) from its start.

    o1 (placed 0, ready 15 min) goes 3.2 km beyond the restaurant; o2 (placed 40,
    ready 45) goes back to the start; o3 is ready after the only shift ends. The
    expected replay is worked out in the evaluator's tests.
    """
    def order(oid: str, y: float, placed_min: float, ready_min: float) -> DayOrder:
        return DayOrder(oid, 3200.0, 0.0, y, 0.0, placed_min * 60, ready_min * 60,
                        (placed_min + 40) * 60, "r1")

    orders = (order("o1", 6400.0, 0, 15), order("o2", 0.0, 40, 45), order("o3", 0.0, 59, 70))
    courier = DayCourier("c1", 0.0, 0.0, 0.0, 3600.0)
    return Instance("hand", "test", orders, (courier,), MDRP_RULES)

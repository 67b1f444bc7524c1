"""The human side of the report: PNG plots (when matplotlib is installed).

Orders and riders over the run, the distributions of click-to-door and assignment
latency, and a map of the city with H3 cells coloured by demand (orders' drop-offs)
and supply (riders' start points).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import h3

from simulators.city import Scenario

log = logging.getLogger(__name__)
MAP_RESOLUTION = 8


def write_plots(report: dict[str, Any], scenario: Scenario, stem: Path) -> list[str]:
    """Write the plots as `<stem>-<name>.png`; their paths (none without matplotlib)."""
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        log.warning("matplotlib is not installed: no plots")
        return []
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in (("timeline", _timeline), ("latency", _latency), ("map", _map)):
        figure = plt.figure(figsize=(11, 5))
        draw(figure, report, scenario)
        path = stem.with_name(f"{stem.name}-{name}.png")
        figure.savefig(path, dpi=90, bbox_inches="tight")
        plt.close(figure)
        written.append(str(path))
    return written


def _timeline(figure: Any, report: dict[str, Any], _: Scenario) -> None:
    samples = report.get("timeline") or []
    wall = [s["wall_s"] / 60 for s in samples]
    orders, riders = figure.subplots(1, 2)
    orders.plot(wall, [s["placed"] for s in samples], label="placed")
    orders.plot(wall, [s["delivered"] for s in samples], label="delivered")
    orders.set(title="orders (cumulative)", xlabel="wall minutes")
    orders.legend()
    riders.plot(wall, [s["connected"] for s in samples], label="connected")
    riders.plot(wall, [s["carrying"] for s in samples], label="carrying orders")
    riders.set(title="riders", xlabel="wall minutes")
    riders.legend()


def _latency(figure: Any, report: dict[str, Any], _: Scenario) -> None:
    found = report.get("distributions") or {}
    c2d, latency = figure.subplots(1, 2)
    c2d.hist(found.get("click_to_door_min") or [], bins=40)
    c2d.set(title="click-to-door (simulated minutes)", xlabel="minutes", ylabel="orders")
    latency.hist(found.get("assignment_latency_s") or [], bins=40)
    latency.set(title="order placed -> offer received (wall s)", xlabel="seconds")


def _cells(points: list[tuple[float, float]]) -> Counter[str]:
    return Counter(str(h3.latlng_to_cell(lat, lng, MAP_RESOLUTION)) for lat, lng in points)


def _map(figure: Any, _: dict[str, Any], scenario: Scenario) -> None:
    from matplotlib.collections import PolyCollection  # noqa: PLC0415

    demand = _cells([(o.dropoff_lat, o.dropoff_lng) for o in scenario.orders])
    supply = _cells([(r.lat, r.lng) for r in scenario.riders])
    lng, lat = scenario.area.exterior.xy
    for axes, counts, title in zip(figure.subplots(1, 2), (demand, supply),
                                   ("demand: drop-offs per H3 cell", "supply: riders per cell"),
                                   strict=True):
        cells = sorted(counts)
        shapes = [[(p[1], p[0]) for p in h3.cell_to_boundary(cell)] for cell in cells]
        collection = PolyCollection(shapes, array=[counts[c] for c in cells], cmap="viridis")
        axes.add_collection(collection)
        axes.plot(lng, lat, color="black", linewidth=0.8)
        axes.scatter([m.lng for m in scenario.merchants], [m.lat for m in scenario.merchants],
                     s=4, color="red", label="merchants")
        axes.set(title=title, aspect=1.6)
        axes.autoscale_view()
        figure.colorbar(collection, ax=axes, shrink=0.7)
    figure.axes[0].legend(loc="lower left")

"""The figures of a replay: the MDRP paper's metrics and the simulator report's.

Paper (Reyes et al. 2018): share undelivered, click-to-door mean and 90th
percentile, ready-to-pickup mean and 90th percentile, cost per order (each
courier is paid ``max(pay_per_order * orders, pay_per_hour * shift hours)``),
orders per bundle (delivered orders over pickup visits), courier utilisation
(busy time over shift time) and orders per courier-hour. Report (issue 5):
delivered share, on-time share and lateness against the promise, click-to-door
median, kilometres per order, and assignment latency (placement to commitment).
The click-to-door floor is what no policy can beat: per delivered order, its
preparation time, both half services and the direct trip from pickup to drop-off
on the instance's fastest vehicle; a policy's mean minus the floor's is all any
dispatcher could still gain.
Times are in minutes, money in major units of the instance's currency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from simulators.evaluate.outcomes import Outcome, courier_totals, outcomes
from simulators.replay import ReplayResult
from simulators.replay.commit import delivery_floors_s

MINUTE = 60.0


def _pct(values: Sequence[float], q: float, scale: float = MINUTE) -> float:
    return float(np.percentile(values, q)) / scale if len(values) else float("nan")


def _mean(values: Sequence[float], scale: float = MINUTE) -> float:
    return float(np.mean(values)) / scale if len(values) else float("nan")


@dataclass(frozen=True)
class Metrics:
    """Every figure of one run (see the module docstring for definitions)."""

    orders: int
    delivered: int
    delivered_share: float
    undelivered_pct: float
    click_to_door_mean_min: float
    click_to_door_p50_min: float
    click_to_door_p90_min: float
    click_to_door_floor_mean_min: float
    ready_to_pickup_mean_min: float
    ready_to_pickup_p90_min: float
    on_time_share: float
    lateness_mean_min: float
    over_max_click_to_door_share: float
    cost_per_order: float
    orders_per_bundle: float
    courier_utilisation: float
    orders_per_rider_hour: float
    km_per_order: float
    assignment_latency_p50_s: float
    assignment_latency_p99_s: float
    currency: str

    def as_dict(self) -> dict[str, float | int | str]:
        """The figures as a flat JSON-ready dict (NaN stays NaN)."""
        return asdict(self)


def evaluate(result: ReplayResult) -> Metrics:
    """Compute every figure of `result`."""
    rules = result.instance.rules
    done = outcomes(result)
    couriers = courier_totals(result)
    n, k = len(result.instance.orders), len(done)
    c2d = [o.click_to_door_s for o in done]
    r2p = [o.ready_to_pickup_s for o in done]
    late = [max(0.0, o.dropoff_s - o.promised_s) for o in done]
    latency = [o.committed_s - o.placed_s for o in done]
    hours = sum(c.shift_s for c in couriers) / 3600
    pay_minor = sum(
        max(rules.pay_per_order_minor * c.delivered, rules.pay_per_hour_minor * c.shift_s / 3600)
        for c in couriers
    )
    pickups = sum(1 for t in result.trips for v in t.visits if v.kind == "pickup")
    shift_s = sum(c.shift_s for c in couriers)
    return Metrics(
        orders=n,
        delivered=k,
        delivered_share=k / n if n else float("nan"),
        undelivered_pct=100.0 * (n - k) / n if n else float("nan"),
        click_to_door_mean_min=_mean(c2d),
        click_to_door_p50_min=_pct(c2d, 50),
        click_to_door_p90_min=_pct(c2d, 90),
        click_to_door_floor_mean_min=_mean(_floors_s(result, done)),
        ready_to_pickup_mean_min=_mean(r2p),
        ready_to_pickup_p90_min=_pct(r2p, 90),
        on_time_share=sum(1 for x in late if x <= 0) / k if k else float("nan"),
        lateness_mean_min=_mean(late),
        over_max_click_to_door_share=(
            sum(1 for x in c2d if x > rules.max_click_to_door_s) / k if k else float("nan")
        ),
        cost_per_order=pay_minor / 100 / k if k else float("nan"),
        orders_per_bundle=k / pickups if pickups else float("nan"),
        courier_utilisation=sum(c.busy_s for c in couriers) / shift_s if shift_s else float("nan"),
        orders_per_rider_hour=k / hours if hours else float("nan"),
        km_per_order=sum(c.metres for c in couriers) / 1000 / k if k else float("nan"),
        assignment_latency_p50_s=_pct(latency, 50, 1.0),
        assignment_latency_p99_s=_pct(latency, 99, 1.0),
        currency=rules.currency,
    )


def _floors_s(result: ReplayResult, done: Sequence[Outcome]) -> list[float]:
    """Each delivered order's least possible click-to-door (see the module docstring)."""
    instance = result.instance
    by_id = {o.order_id: o for o in instance.orders}
    orders = [by_id[o.order_id] for o in done]
    vehicles = {c.vehicle for c in instance.couriers} or {"motorcycle"}
    # delivery_floors_s runs from the food being ready to the drop-off, a full pickup
    # service included; the courier is there already, so half of it is spent before.
    half_pickup = instance.rules.pickup_service_s / 2
    floors = delivery_floors_s(orders, instance.rules, vehicles) if orders else []
    return [o.ready_s - o.placed_s + f - half_pickup for o, f in zip(orders, floors, strict=True)]

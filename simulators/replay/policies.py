"""Dispatch policies for replays, behind one call: pending orders and riders in, proposals out.

- `greedy`: the optimizer's nearest-rider baseline (`greedy_plan`), one order per rider.
- `flow`: `solve_batch` without bundling (min-cost flow, one order per rider).
- `full`: `solve_batch` with bundling.

Each is the optimizer's documented entry point with `BatchParams` set from the
instance's rules (travel model, service times, one-restaurant bundles on MDRP
instances) and the replay's tuning (`PolicyTuning`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

from dispatch.optimizer.core import (
    BatchMemo,
    BatchParams,
    OrderSpec,
    Plan,
    RiderSpec,
    greedy_plan,
    solve_batch,
)
from simulators.instances import Rules


@dataclass(frozen=True)
class Proposal:
    """A policy's answer for one rider: the new orders' stops, in the order it visits them."""

    rider_id: str
    stops: tuple[tuple[str, str], ...]  # (kind, order id)


@dataclass(frozen=True)
class PolicyTuning:
    """Weights and knobs of the batch objective used by the replay policies.

    The MDRP is judged on click-to-door time, so the delivery term dominates;
    travel is priced lightly (it is the rider's time and the kilometres), waiting
    for food barely (a waiting rider costs nothing but utilisation).

    `age_weight` must exceed `delivery_weight`: serving an order costs that per
    second of its age (plus `lateness_weight` once it is late), leaving it costs
    `age_weight` per second; with a smaller age weight the oldest orders are the
    first left out when riders are short, and they starve. Far above it, late
    orders crowd out fresh ones and the mean suffers (1.5 measured best).

    `distance_weight` (per metre ridden) `None` means the instance's own: nothing on
    MDRP instances, whose pay rule (per order or per hour) never pays a kilometre and
    whose paper scores click-to-door alone; `REAL_DAY_DISTANCE_WEIGHT` on real days,
    where kilometres per order are part of the score. Metres ridden beyond greedy buy
    click-to-door time, so pricing them trades one for the other (see
    docs/simulator.md, "Real days").

    `deterministic` is on: a replay's answer must not depend on how busy the machine
    was, so no batch skips a step because its wall clock ran short.
    """

    travel_weight: float = 0.3
    distance_weight: float | None = None
    wait_weight: float = 0.05
    lateness_weight: float = 1.0
    delivery_weight: float = 1.0
    unassigned_penalty_s: float = 5400.0
    age_weight: float = 1.5
    candidate_radius_m: float = 6000.0
    candidate_count: int = 24
    max_bundle_size: int = 3
    bundle_pickup_radius_m: float = 400.0
    bundle_ready_gap_s: float = 600.0
    bundle_partners: int = 4
    bundle_riders: int = 24
    exact_max_edges: int = 20_000
    time_limit_s: float = 2.0
    deterministic: bool = True


Solver = Callable[..., Plan]
Policy = Callable[[Sequence[OrderSpec], Sequence[RiderSpec], float], list[Proposal]]

# Seconds of click-to-door a metre ridden is worth on real days: 100 s a kilometre, about
# 2.5 times what a motorcycle's riding time is priced at (0.3 / 7.5 m/s). With it `full`
# rides fewer kilometres per order than greedy on all 12 shared real days; with 0.05 it
# still rode more on day 16 (docs/simulator.md, "The km weight on real days").
REAL_DAY_DISTANCE_WEIGHT = 0.1

_SOLVERS: dict[str, tuple[Solver, bool]] = {
    "greedy": (greedy_plan, False),
    "flow": (solve_batch, False),
    "full": (solve_batch, True),
}
POLICY_NAMES = tuple(_SOLVERS)


def distance_weight(rules: Rules, tuning: PolicyTuning) -> float:
    """The price of a metre ridden: the tuning's, else the instance family's own."""
    if tuning.distance_weight is not None:
        return tuning.distance_weight
    return 0.0 if rules.planar else REAL_DAY_DISTANCE_WEIGHT


def batch_params(rules: Rules, tuning: PolicyTuning, *, bundling: bool, seed: int) -> BatchParams:
    """`BatchParams` for an instance's rules: its travel model and service times.

    Every `PolicyTuning` field is a `BatchParams` field of the same name, passed as is,
    but for a `distance_weight` of None: the instance's own (see `PolicyTuning`).
    """
    knobs = asdict(tuning)
    if not bundling:
        knobs["max_bundle_size"] = 1
    knobs["distance_weight"] = distance_weight(rules, tuning)
    return BatchParams(
        **knobs,
        pickup_service_s=rules.pickup_service_s,
        dropoff_service_s=rules.dropoff_service_s,
        bundling=bundling,
        # MDRP: a courier serves one restaurant's orders at a time.
        same_merchant_only=rules.planar,
        seed=seed,
        travel=rules.travel(),
    )


def proposals(plan: Plan) -> list[Proposal]:
    """The plan's routes as proposals: each route's new stops, without building its `Stop`s."""
    return [Proposal(rid, stops) for rid, stops in sorted(plan.sequences.items()) if stops]


def make_policy(
    name: str, rules: Rules, tuning: PolicyTuning | None = None, seed: int = 0
) -> Policy:
    """The policy called `name` for an instance played by `rules`."""
    if name not in _SOLVERS:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(POLICY_NAMES)}")
    solver, bundling = _SOLVERS[name]
    params = batch_params(rules, tuning or PolicyTuning(), bundling=bundling, seed=seed)
    memo = BatchMemo()  # a replay is one region's sequence of batches

    def policy(
        orders: Sequence[OrderSpec], riders: Sequence[RiderSpec], now_s: float
    ) -> list[Proposal]:
        return proposals(solver(orders, riders, params, now_s=now_s, memo=memo))

    return policy


def with_tuning(tuning: PolicyTuning, **changes: float | int) -> PolicyTuning:
    """A copy of `tuning` with some fields changed (for sweeps)."""
    return replace(tuning, **changes)  # type: ignore[arg-type]

"""`single_answer_is_optimal`: when it says a one-order-per-rider answer is optimal, the
exact model finds nothing cheaper; and it refuses answers a bundle or a swap improves."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.optimizer.core import BatchParams
from dispatch.optimizer.core.assignment import min_cost_assignment
from dispatch.optimizer.core.batch import choose, prepare, reprice, with_bundles
from dispatch.optimizer.core.edges import Edges
from dispatch.optimizer.core.exact import exact_choice
from dispatch.optimizer.core.partition import single_answer_is_optimal
from tests.dispatch.optimizer.core.instances import NOW, random_instance

_PARAMS = BatchParams(candidate_count=4, candidate_radius_m=4000.0, max_bundle_size=3,
                      bundle_pickup_radius_m=2000.0, bundle_partners=4, bundle_riders=4)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(2, 24), st.integers(1, 12))
def test_a_proved_answer_is_as_cheap_as_the_exact_optimum(
    seed: int, n_orders: int, n_riders: int
) -> None:
    orders, riders = random_instance(seed, n_orders, n_riders)
    batch = prepare(orders, riders, _PARAMS, NOW)
    batch = reprice(with_bundles(batch, _PARAMS, NOW, riders=4), _PARAMS)
    n = batch.n_singles
    singles = np.flatnonzero(batch.edges.task < n)
    index = singles[min_cost_assignment(batch.edges.take(singles), batch.orders.penalty)]
    single = choose(batch, index, "flow")
    if not single_answer_is_optimal(batch.edges, single.picked, batch.members,
                                    batch.orders.penalty, n, batch.riders.count):
        return
    found = exact_choice(batch.edges, batch.members, batch.orders.penalty, single.picked,
                         time_limit_s=10.0, seed=0, deterministic=True)
    assert found is not None
    exact = choose(batch, found[0], found[1])
    # Both priced on the float objective; the proof holds on the flow's 1/100 s integers.
    assert exact.cost >= single.cost - 0.01 * n


def _edges(task: list[int], rider: list[int], cost: list[float]) -> Edges:
    return Edges(np.array(task), np.array(rider), np.array(cost), np.zeros(len(task)))


# Orders 0 and 1 at one restaurant, rider 0 alone can reach them; task 2 bundles both.
_MEMBERS = np.array([[0, -1], [1, -1], [0, 1]])
_PENALTY = np.array([1000.0, 1000.0])


def _proved(bundle_cost: float) -> bool:
    edges = _edges([0, 1, 2], [0, 0, 0], [100.0, 120.0, bundle_cost])
    answer = edges.take(np.array([0]))  # order 0 by rider 0, order 1 left out: 1,100
    return single_answer_is_optimal(edges, answer, _MEMBERS, _PENALTY, 2, 1)


def test_a_bundle_that_beats_the_answer_refuses_the_proof() -> None:
    assert not _proved(bundle_cost=250.0)  # both orders for 250 against 1,100
    assert not _proved(bundle_cost=1099.0)


def test_a_bundle_dearer_than_the_answer_leaves_the_proof_standing() -> None:
    assert _proved(bundle_cost=1100.0)
    assert _proved(bundle_cost=5000.0)


def test_an_answer_a_swap_improves_is_not_proved() -> None:
    # Order 0 takes rider 1 (300) though rider 0 (100) is free: not optimal.
    edges = _edges([0, 0], [0, 1], [100.0, 300.0])
    answer = edges.take(np.array([1]))
    members = np.array([[0]])
    assert not single_answer_is_optimal(edges, answer, members, np.array([1000.0]), 1, 2)
    assert single_answer_is_optimal(edges, edges.take(np.array([0])), members,
                                    np.array([1000.0]), 1, 2)

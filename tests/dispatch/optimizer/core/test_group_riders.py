"""`group_riders`: the riders a bundle is priced for are the nearest that may take it, as
scanning the first member's candidates one by one would find them."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.optimizer.core.batch import prepare
from dispatch.optimizer.core.bundle_edges import group_riders
from dispatch.optimizer.core.bundling import candidate_groups
from dispatch.optimizer.core.candidates import Reach, sorted_member
from dispatch.optimizer.core.edges import Edges
from dispatch.optimizer.core.params import BatchParams
from dispatch.optimizer.core.routes import IntArray
from tests.dispatch.optimizer.core.instances import NOW, random_instance


def scanned(
    members: IntArray, singles: Edges, reach: Reach, limit: int
) -> list[tuple[int, int]]:
    """The rule written out: each group's first-member edges in order, the first `limit`
    whose rider keeps the candidate rule for every other member."""
    out = []
    for g, row in enumerate(members.tolist()):
        taken = 0
        for k in np.flatnonzero(singles.task == row[0]).tolist():
            rider = np.array([singles.rider[k]])
            if taken < limit and all(
                reach.allows(np.array([m]), rider)[0] for m in row[1:] if m >= 0
            ):
                out.append((g, k))
                taken += 1
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n_orders=st.integers(2, 40),
    n_riders=st.integers(1, 30),
    count=st.integers(1, 12),
    radius=st.sampled_from([800.0, 3000.0, 10_000.0]),
    limit=st.integers(1, 14),
)
def test_group_riders_are_the_first_of_the_first_members_candidates_that_qualify(
    seed: int, n_orders: int, n_riders: int, count: int, radius: float, limit: int
) -> None:
    orders, riders = random_instance(seed, n_orders, n_riders)
    params = BatchParams(candidate_count=count, candidate_radius_m=radius,
                         bundle_pickup_radius_m=3000.0)
    batch = prepare(orders, riders, params, NOW)
    groups = candidate_groups(batch.orders, params)
    for members in groups:
        group, at = group_riders(members, batch.edges, batch.candidates.reach, limit)
        expected = scanned(members, batch.edges, batch.candidates.reach, limit)
        assert list(zip(group.tolist(), at.tolist(), strict=True)) == expected


@given(
    keys=st.lists(st.integers(0, 60), max_size=40),
    table=st.lists(st.integers(0, 60), min_size=1, max_size=20),
)
def test_sorted_member_agrees_with_isin(keys: list[int], table: list[int]) -> None:
    k, t = np.array(keys, dtype=np.int64), np.unique(np.array(table, dtype=np.int64))
    assert sorted_member(k, t).tolist() == np.isin(k, t).tolist()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n_orders=st.integers(2, 60),
    radius=st.sampled_from([0.0, 400.0, 3000.0]),
    gap=st.sampled_from([0.0, 300.0, 1e9]),
)
def test_candidate_pairs_are_distinct_sorted_ready_first_and_keep_the_pair_rules(
    seed: int, n_orders: int, radius: float, gap: float
) -> None:
    # The flows and the memo see bundles in this order, so it is part of the answer.
    orders, riders = random_instance(seed, n_orders, 3)
    params = BatchParams(bundle_pickup_radius_m=radius, bundle_ready_gap_s=gap)
    batch = prepare(orders, riders, params, NOW)
    groups = candidate_groups(batch.orders, params)
    if not groups:
        return
    pairs, oa = groups[0], batch.orders
    rows = [tuple(p) for p in pairs.tolist()]
    assert rows == sorted(set(rows))
    rank = np.lexsort((np.arange(oa.count), oa.ready)).argsort()
    a, b = pairs[:, 0], pairs[:, 1]
    assert np.all(rank[a] < rank[b])
    assert np.all(np.abs(oa.ready[a] - oa.ready[b]) <= gap)
    projected = params.travel.project(oa.pickup_lat, oa.pickup_lng, float(np.mean(oa.pickup_lat)))
    apart = np.hypot(*(projected[a] - projected[b]).T)
    assert np.all(apart <= radius + 1e-6)

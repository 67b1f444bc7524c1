"""The replay policies' batch parameters: what each instance family prices by default."""

from __future__ import annotations

import pytest

from simulators.instances import Rules
from simulators.replay.policies import REAL_DAY_DISTANCE_WEIGHT, PolicyTuning, batch_params
from tests.simulators.fixtures import MDRP_RULES

REAL_DAY_RULES = Rules()


@pytest.mark.parametrize(("rules", "weight", "one_merchant"), [
    (MDRP_RULES, 0.0, True),  # MDRP pays per order or per hour, never per kilometre
    (REAL_DAY_RULES, REAL_DAY_DISTANCE_WEIGHT, False),  # real days score km per order
])
def test_metres_are_priced_by_the_instance_family_unless_tuned(
    rules: Rules, weight: float, one_merchant: bool
) -> None:
    params = batch_params(rules, PolicyTuning(), bundling=True, seed=0)
    assert params.distance_weight == weight
    assert params.same_merchant_only is one_merchant
    tuned = batch_params(rules, PolicyTuning(distance_weight=0.02), bundling=True, seed=0)
    assert tuned.distance_weight == 0.02


def test_without_bundling_a_rider_takes_one_order() -> None:
    params = batch_params(REAL_DAY_RULES, PolicyTuning(), bundling=False, seed=0)
    assert params.max_bundle_size == 1 and not params.bundling

"""What a due proposal does to couriers waiting at a restaurant for food not ready yet."""

from __future__ import annotations

from simulators.replay.commit import waiting_verdict
from simulators.replay.policies import Proposal
from simulators.replay.trips import Visit


def waits_for(*order_ids: str) -> Visit:
    return Visit("pickup", order_ids, 0.0, 0.0, 100.0, 900.0, 1020.0, 0.0)


def proposal(rider: str, *order_ids: str) -> Proposal:
    stops = [("pickup", o) for o in order_ids] + [("dropoff", o) for o in order_ids]
    return Proposal(rider, tuple(stops))


def test_a_waiting_courier_given_other_work_is_released() -> None:
    assert waiting_verdict(proposal("w", "x"), {"w": waits_for("a")}) == "release"


def test_a_plan_touching_food_someone_waits_for_stands() -> None:
    waiting = {"w": waits_for("a", "b"), "v": waits_for("c")}
    assert waiting_verdict(proposal("w", "b", "a"), waiting) == "keep"  # the same again
    assert waiting_verdict(proposal("w", "a", "x"), waiting) == "keep"  # a second pickup
    assert waiting_verdict(proposal("x", "b"), waiting) == "keep"  # a swap
    assert waiting_verdict(proposal("v", "a"), waiting) == "keep"


def test_other_proposals_are_committed_as_they_are() -> None:
    waiting = {"w": waits_for("a")}
    assert waiting_verdict(proposal("x", "y"), waiting) == "commit"
    assert waiting_verdict(proposal("x", "y"), {}) == "commit"

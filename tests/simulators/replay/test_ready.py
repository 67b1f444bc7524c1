"""Ready times as the dispatcher sees them when it must estimate them."""

from __future__ import annotations

from simulators.instances import DayOrder
from simulators.replay.ready import ReadyBoard


def order(oid: str, merchant: str, placed: float, ready: float) -> DayOrder:
    return DayOrder(oid, 0.0, 0.0, 1.0, 1.0, placed, ready, placed + 2400, merchant)


def test_estimates_come_from_history_and_never_from_the_future() -> None:
    board = ReadyBoard(known=False, default_prep_s=900.0, prior_weight=1.0)
    first, second = order("a", "m", 0.0, 300.0), order("b", "m", 100.0, 2000.0)
    board.place(first)
    board.place(second)
    board.advance(50.0)
    assert board.ready_s(second, 50.0) == 100.0 + 900.0  # nothing ready yet: the default
    board.advance(300.0)
    # a's 300 s preparation blended with the all-merchant mean (also 300 s): 300 s.
    assert board.ready_s(second, 300.0) == 400.0
    assert board.ready_s(second, 500.0) == 500.0  # overdue, so no earlier than now
    assert board.ready_s(first, 500.0) == 300.0  # ready food is known to be ready


def test_known_ready_times_are_the_truth() -> None:
    board = ReadyBoard(known=True)
    late = order("a", "m", 0.0, 5000.0)
    board.place(late)
    assert board.ready_s(late, 0.0) == 5000.0

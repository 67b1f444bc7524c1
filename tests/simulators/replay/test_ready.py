"""Ready times as the dispatcher sees them when it must estimate them."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from simulators.instances import DayOrder
from simulators.replay.arrival import MEAN_ONLY, ArrivalRule
from simulators.replay.prep import PrepEstimator
from simulators.replay.ready import ReadyBoard


def order(oid: str, merchant: str, placed: float, ready: float) -> DayOrder:
    return DayOrder(oid, 0.0, 0.0, 1.0, 1.0, placed, ready, placed + 2400, merchant)


def fleet(idle: int, busy: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = idle + busy
    free = np.array([0.0] * idle + [1e9] * busy)
    return np.zeros(n), np.full(n, 1e9), free


def test_estimates_come_from_history_and_never_from_the_future() -> None:
    board = ReadyBoard(known=False, prep=PrepEstimator(default_prep_s=900.0, prior_weight=1.0),
                       arrival=MEAN_ONLY)
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


def test_known_ready_times_are_the_truth_whatever_the_load() -> None:
    board = ReadyBoard(known=True)
    late = order("a", "m", 0.0, 5000.0)
    board.place(late)
    board.observe_fleet(*fleet(idle=10, busy=0), 0.0)
    assert board.ready_s(late, 0.0) == 5000.0


def board_with_history(
    rule: ArrivalRule, preps: list[float], prep: PrepEstimator
) -> tuple[ReadyBoard, DayOrder]:
    """A board that has seen merchant m's `preps` (all placed at 0, all ready by 5,000 s),
    and m's next order, placed at 5,000 s."""
    board = ReadyBoard(known=False, prep=prep, arrival=rule)
    for i, seconds in enumerate(preps):
        board.place(order(f"h{i}", "m", 0.0, seconds))
    board.advance(5000.0)
    pending = order("p", "m", 5000.0, 9000.0)
    board.place(pending)
    return board, pending


def test_couriers_are_sent_earlier_when_the_fleet_is_idle() -> None:
    rule = ArrivalRule(idle_quantile=0.1, busy_quantile=0.9)
    board, pending = board_with_history(rule, [300.0 + 60.0 * i for i in range(20)],
                                        PrepEstimator(default_prep_s=600.0))
    board.observe_fleet(*fleet(idle=9, busy=1), 5000.0)
    early = board.ready_s(pending, 5000.0)
    board.observe_fleet(*fleet(idle=0, busy=10), 5000.0)
    late = board.ready_s(pending, 5000.0)
    assert 5000.0 <= early < late < pending.ready_s


@given(st.lists(st.tuples(st.floats(0, 3600), st.floats(0, 3600), st.sampled_from("mn")),
                min_size=2, max_size=30),
       st.floats(0, 3600), st.floats(0, 1))
def test_an_order_not_ready_is_planned_from_the_past_only(
    raw: list[tuple[float, float, str]], now: float, idle: float
) -> None:
    """Changing the true ready times of food not ready by `now` changes no estimate."""
    def board_for(shift: float) -> tuple[ReadyBoard, list[DayOrder]]:
        board = ReadyBoard(known=False)
        orders = []
        for i, (placed, prep, merchant) in enumerate(raw):
            ready = placed + prep
            if ready > now:
                ready += shift
            orders.append(order(f"o{i}", merchant, placed, ready))
        for o in sorted(orders, key=lambda o: o.placed_s):
            board.place(o)
        board.advance(now)
        board.observe_fleet(np.zeros(10), np.full(10, 1e9),
                            np.where(np.arange(10) < idle * 10, 0.0, 1e9), now)
        return board, orders

    (a, orders_a), (b, orders_b) = board_for(0.0), board_for(777.0)
    for oa, ob in zip(orders_a, orders_b, strict=True):
        if oa.ready_s > now:
            assert a.ready_s(oa, now) == b.ready_s(ob, now) >= now


def test_food_a_courier_waits_for_is_forecast_by_its_median_given_the_delay() -> None:
    # Busy fleet: couriers are sent for the largest error, but one already waiting
    # asks how long it will still wait: the median of the errors beyond the delay.
    board, late = board_with_history(
        ArrivalRule(busy_quantile=1.0, waiting_quantile=0.5),
        [600.0 + 60.0 * i for i in range(-5, 6)],  # 5 to 15 min
        PrepEstimator(default_prep_s=600.0, prior_weight=1.0))
    board.observe_fleet(*fleet(idle=0, busy=10), 5000.0)
    now = 5000.0 + 780.0  # 13 min in: only preparations of 14 and 15 min remain
    waited = board.ready_s(late, now, waited=True)
    assert now < waited < board.ready_s(late, now)
    assert waited == 5000.0 + 870.0

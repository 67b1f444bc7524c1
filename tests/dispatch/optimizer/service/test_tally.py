"""Every answered offer is counted once, even when its transaction commits after a batch
that looked for it (the answer is stamped before it commits)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.optimizer.service.tally import LAG_S, AnswerTally

T0 = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
STATES = ("accepted", "rejected", "expired", "released")


def at(s: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=s)


MAX_INTERVAL_S = 30.0
# An answer: stamped after the lease was taken, committed (visible) up to LAG_S less a
# batch interval later, in some state. (Whole milliseconds: the database keeps microseconds.)
seconds = st.integers(1, 300_000).map(lambda ms: ms / 1000)
delays = st.integers(0, int((LAG_S - MAX_INTERVAL_S) * 1000) - 1).map(lambda ms: ms / 1000)
answers_st = st.lists(st.tuples(seconds, delays, st.sampled_from(STATES)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(answers=answers_st, batch_every_s=st.floats(0.2, MAX_INTERVAL_S))
def test_each_answer_is_counted_once_however_late_it_commits(
    answers: list[tuple[float, float, str]], batch_every_s: float,
) -> None:
    tally = AnswerTally(since=T0)
    counted: Counter[str] = Counter()
    now = 0.0
    while now <= 300 + LAG_S + batch_every_s:
        window = tally.window_start(at(now))
        visible = [(f"off_{i}", state, at(stamp)) for i, (stamp, delay, state)
                   in enumerate(answers) if stamp + delay <= now and at(stamp) > window]
        counted += tally.count(visible, at(now))
        now += batch_every_s
    assert counted == Counter(state for _, _, state in answers)


def test_answers_before_the_lease_are_the_previous_holders() -> None:
    tally = AnswerTally(since=at(0))
    tally.restart(at(100))
    assert tally.window_start(at(110)) == at(100)
    assert tally.window_start(at(100 + 2 * LAG_S)) == at(100 + LAG_S)


def test_the_tally_forgets_what_can_no_longer_be_read() -> None:
    tally = AnswerTally(since=at(0))
    assert tally.count([("off_1", "accepted", at(1))], at(2)) == Counter(accepted=1)
    assert tally.count([("off_1", "accepted", at(1))], at(3)) == Counter()
    tally.count([], at(1 + LAG_S + 1))
    assert tally._counted == {}

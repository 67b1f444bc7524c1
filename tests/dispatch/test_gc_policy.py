"""`dispatch serve`'s garbage-collector set-up."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from dispatch.gc_policy import tune_collector


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_collector")
def test_what_exists_is_frozen_and_the_young_generation_waits_longer() -> None:
    middle, old = gc.get_threshold()[1:]
    tune_collector(50_000)
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (50_000, middle, old)
    # Objects made afterwards are collected as usual: a cycle is found by a full pass.
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1


@pytest.mark.usefixtures("restored_collector")
def test_zero_keeps_pythons_thresholds() -> None:
    before = gc.get_threshold()
    tune_collector(0)
    assert gc.get_threshold() == before

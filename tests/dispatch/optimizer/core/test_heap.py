"""`frozen_heap`: old objects are skipped by collections inside it, and given back after."""

from __future__ import annotations

import gc

import pytest

from dispatch.optimizer.core.heap import frozen_heap


def test_the_heap_is_frozen_inside_and_given_back_even_when_the_block_raises() -> None:
    before = gc.get_freeze_count()
    with pytest.raises(RuntimeError), frozen_heap():
        assert gc.get_freeze_count() > before
        raise RuntimeError("boom")
    assert gc.get_freeze_count() == 0


def test_cycles_made_inside_are_still_collected() -> None:
    with frozen_heap():
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1

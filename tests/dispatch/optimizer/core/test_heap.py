"""`frozen_heap`: old objects are skipped by collections inside it, given back after, and
garbage cycles among them freed by a full pass once one is due."""

from __future__ import annotations

import gc
import weakref

import pytest

from dispatch.optimizer.core import heap
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


class _Node:
    """A weakly referenceable object to put in a cycle."""

    def __init__(self) -> None:
        self.me: _Node | None = self


def _cycle() -> weakref.ref[_Node]:
    """A garbage reference cycle, and a weak reference to tell when it is freed."""
    node = _Node()
    return weakref.ref(node)


def test_a_cycle_that_outlives_its_batch_is_freed_when_a_full_pass_is_due(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(heap, "FULL_PASS_EVERY_S", 0.0)
    alive = _cycle()  # frozen on entering, moved to the oldest generation on leaving
    with frozen_heap():
        pass
    assert alive() is None


def test_full_passes_are_not_run_on_every_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "FULL_PASS_EVERY_S", 3600.0)
    heap.full_passes.maybe_collect()  # a pass run now, or one within the hour
    before = heap.full_passes.count
    for _ in range(100):
        with frozen_heap():
            pass
    assert heap.full_passes.count == before

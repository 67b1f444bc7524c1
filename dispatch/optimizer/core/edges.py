"""Priced edges: (task, rider) pairs with their cost on the batch objective."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dispatch.optimizer.core.arrays import RiderArrays
from dispatch.optimizer.core.params import BatchParams
from dispatch.optimizer.core.routes import BoolArray, IntArray, Tasks, evaluate
from geo.distance import FloatArray


@dataclass(frozen=True)
class Edges:
    """Feasible (task, rider) pairs with their cost and the time to the first stop."""

    task: IntArray
    rider: IntArray
    cost: FloatArray
    first_s: FloatArray

    @property
    def count(self) -> int:
        """Number of edges."""
        return len(self.task)

    def take(self, keep: IntArray | BoolArray) -> Edges:
        """The subset of edges selected by an index or mask array."""
        return Edges(self.task[keep], self.rider[keep], self.cost[keep], self.first_s[keep])


def concat_edges(first: Edges, second: Edges, task_offset: int) -> Edges:
    """The edges of `first`, then those of `second` with their task indices shifted."""
    return Edges(
        np.concatenate([first.task, second.task + task_offset]),
        np.concatenate([first.rider, second.rider]),
        np.concatenate([first.cost, second.cost]),
        np.concatenate([first.first_s, second.first_s]),
    )


def price_edges(
    tasks: Tasks, task: IntArray, rider: IntArray, riders: RiderArrays, params: BatchParams
) -> Edges:
    """Price every (task, rider) pair and keep the feasible ones (capacity, shift end)."""
    fits = riders.free[rider] >= tasks.size[task]
    task, rider = task[fits], rider[fits]
    timed = evaluate(tasks, task, riders.starts(rider), params, riders.vehicles)
    ok = timed.feasible
    return Edges(task[ok], rider[ok], timed.cost[ok], timed.first_s[ok])

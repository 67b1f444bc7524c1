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
    """Feasible (task, rider) pairs with cost, rider travel, and time to the first stop."""

    task: IntArray
    rider: IntArray
    cost: FloatArray
    travel_m: FloatArray
    first_s: FloatArray

    @property
    def count(self) -> int:
        """Number of edges."""
        return len(self.task)

    def take(self, keep: IntArray | BoolArray) -> Edges:
        """The subset of edges selected by an index or mask array."""
        return Edges(
            self.task[keep], self.rider[keep], self.cost[keep],
            self.travel_m[keep], self.first_s[keep],
        )


def concat_edges(first: Edges, second: Edges, task_offset: int) -> Edges:
    """The edges of `first`, then those of `second` with their task indices shifted."""
    return Edges(
        np.concatenate([first.task, second.task + task_offset]),
        np.concatenate([first.rider, second.rider]),
        np.concatenate([first.cost, second.cost]),
        np.concatenate([first.travel_m, second.travel_m]),
        np.concatenate([first.first_s, second.first_s]),
    )


def cheapest_per_key(cost: FloatArray, *keys: IntArray) -> IntArray:
    """Sorted indices of the cheapest element of each distinct key tuple (ties: lowest index)."""
    order = np.lexsort((np.arange(len(cost)), cost, *reversed(keys)))
    head = np.zeros(len(order), dtype=bool)
    head[:1] = True
    for key in keys:
        ranked = key[order]
        head[1:] |= ranked[1:] != ranked[:-1]
    picked: IntArray = np.sort(order[head])
    return picked


def price_edges(
    tasks: Tasks, task: IntArray, rider: IntArray, riders: RiderArrays, params: BatchParams
) -> Edges:
    """Price every (task, rider) pair and keep the feasible ones (capacity, shift end)."""
    fits = riders.free[rider] >= tasks.size[task]
    task, rider = task[fits], rider[fits]
    timed = evaluate(tasks, task, riders.starts(rider), params, riders.vehicles)
    ok = timed.feasible
    return Edges(task[ok], rider[ok], timed.cost[ok], timed.travel_m[ok], timed.first_s[ok])

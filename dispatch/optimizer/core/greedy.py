"""The nearest-rider rule: the baseline every optimizer result is measured against.

Orders are taken oldest first; each goes to the free candidate rider that reaches
its pickup soonest. It uses the same candidate graph and feasibility rules as the
optimizer, so the two are compared on equal terms.
"""

from __future__ import annotations

import numpy as np

from dispatch.optimizer.core.edges import Edges
from dispatch.optimizer.core.routes import IntArray
from geo.distance import FloatArray


def greedy_assignment(edges: Edges, placed: FloatArray, n_riders: int) -> IntArray:
    """Indices of the edges the nearest-rider rule picks (tasks oldest first, ties by index)."""
    if edges.count == 0:
        return np.zeros(0, dtype=np.int64)
    task_rank = np.empty(len(placed), dtype=np.int64)
    task_rank[np.lexsort((np.arange(len(placed)), placed))] = np.arange(len(placed))
    order = np.lexsort((edges.rider, edges.first_s, task_rank[edges.task]))
    ranks = task_rank[edges.task[order]]
    bounds = np.flatnonzero(np.diff(ranks)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(order)]])
    taken = [False] * n_riders
    riders = edges.rider[order].tolist()
    chosen: list[int] = []
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        for k in range(lo, hi):
            if not taken[riders[k]]:
                taken[riders[k]] = True
                chosen.append(int(order[k]))
                break
    return np.array(chosen, dtype=np.int64)

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
    tasks = edges.task[order].tolist()
    riders = edges.rider[order].tolist()
    taken = [False] * n_riders
    done = [False] * len(placed)
    chosen: list[int] = []
    for k, (t, r) in enumerate(zip(tasks, riders, strict=True)):
        if not done[t] and not taken[r]:
            done[t] = taken[r] = True
            chosen.append(k)
    return order[np.array(chosen, dtype=np.int64)]

"""Regions' batches solved side by side in worker processes, as the service's per-region
optimizer processes solve them.

Each worker builds the policy once (from its name, the day's rules, the tuning and
the seed) and then solves whatever region's batch it is handed; a batch's answer
does not depend on which process solves it. The pool is closed when the replay ends,
so its CPU time is counted among the replaying process's reaped children.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from dispatch.optimizer.core import OrderSpec, RiderSpec
from simulators.instances import Rules
from simulators.replay.policies import Policy, PolicyTuning, Proposal, make_policy

Batch = tuple[list[OrderSpec], list[RiderSpec]]

_WORKER: dict[str, Policy] = {}  # in a worker process: its policy, set by `_start`


def _start(name: str, rules: Rules, tuning: PolicyTuning, seed: int) -> None:
    _WORKER["policy"] = make_policy(name, rules, tuning, seed)


def _solve(orders: list[OrderSpec], riders: list[RiderSpec], now_s: float
           ) -> tuple[list[Proposal], float]:
    t0 = time.perf_counter()
    return _WORKER["policy"](orders, riders, now_s), time.perf_counter() - t0


class RegionPool:
    """`workers` processes, each able to solve any region's batch with the named policy."""

    def __init__(self, name: str, rules: Rules, tuning: PolicyTuning, seed: int, workers: int):
        if workers < 1:
            raise ValueError("a region pool needs at least one worker")
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("fork"),
            initializer=_start, initargs=(name, rules, tuning, seed))

    def solve(self, batches: Sequence[Batch], now_s: float) -> list[tuple[list[Proposal], float]]:
        """Each batch's proposals and solve time (seconds in its worker), in the given order."""
        futures = [self._pool.submit(_solve, orders, riders, now_s) for orders, riders in batches]
        return [future.result() for future in futures]

    def close(self) -> None:
        """Stop the workers and wait for them."""
        self._pool.shutdown(wait=True)

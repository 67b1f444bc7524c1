"""The set-partitioning model solved exactly: each order and each rider in at most one edge.

Variables are the edges cheaper than leaving their orders out (no other edge can
be in an optimal choice); the objective is each edge's cost minus its orders'
penalties. Two OR-Tools solvers, in turn, within the time left:

1. the LP relaxation with GLOP, built straight from a sparse matrix and read back
   as one numpy array (OR-Tools' `ModelSolverHelper`, under `model_builder`'s
   per-variable `Solver.values`, which costs a Python call per variable). Assignment
   constraints make it integral more often than not, and an integral LP optimum
   is the optimum;
2. otherwise CP-SAT on the 0-1 model, hinted with the best answer so far, with
   one worker and a fixed seed so that a batch is reproducible.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from ortools.linear_solver.python import model_builder_helper as mbh
from ortools.sat.python import cp_model
from scipy.sparse import csr_matrix

from dispatch.optimizer.core.assignment import COST_SCALE
from dispatch.optimizer.core.bundle_edges import member_penalty
from dispatch.optimizer.core.edges import Edges
from dispatch.optimizer.core.routes import IntArray
from geo.distance import FloatArray

_INTEGRAL_TOL = 1e-6
# Dual simplex without presolve: on these packing LPs (every column a few 0-1 entries,
# every row <= 1) presolve removes little and the dual simplex pivots less; about a
# third faster on replayed real days, the same optima.
_GLOP_PARAMS = "use_dual_simplex: true use_preprocessing: false"
# The deterministic limit normally ends a CP-SAT search, so a seed gives one answer;
# the wall-clock limit is the hard stop for a machine too loaded to keep up.
_DETERMINISTIC_SHARE = 0.5


def exact_choice(
    edges: Edges,
    members: IntArray,
    penalty: FloatArray,
    hint: Edges,
    *,
    time_limit_s: float,
    seed: int,
    deterministic: bool = False,
) -> tuple[IntArray, str] | None:
    """Indices of the best edges found and the solver ("lp" or "cp-sat"); None if none in time.

    Parameters
    ----------
    edges
        All (task, rider) edges of the batch, singles and bundles.
    members
        The (T, m) orders of each task, padded with -1.
    penalty
        Each order's cost of being left out.
    hint
        The edges of a feasible answer to start CP-SAT from.
    time_limit_s, seed
        Budget and seed of the search.
    deterministic
        No wall-clock limit: GLOP runs to its end and CP-SAT stops at its
        deterministic limit only, so the answer does not depend on the machine's load.
    """
    reduced = edges.cost - member_penalty(members, penalty)[edges.task]
    live = np.flatnonzero(reduced < 0)
    if len(live) == 0:
        return np.zeros(0, dtype=np.int64), "lp"
    rows = members[edges.task[live]]
    var, col = np.nonzero(rows >= 0)
    cons = np.concatenate([rows[var, col], len(penalty) + edges.rider[live]])
    var = np.concatenate([var, np.arange(len(live))])
    lp = _lp(cons, var, reduced[live], None if deterministic else time_limit_s)
    if lp is not None:
        return live[lp], "lp"
    span = int(max(edges.rider.max(initial=0), hint.rider.max(initial=0))) + 1
    hinted = np.isin(edges.task[live] * span + edges.rider[live], hint.task * span + hint.rider)
    found = _cp_sat(cons, var, reduced[live], hinted, time_limit_s, seed, deterministic)
    return None if found is None else (live[found], "cp-sat")


def _lp(
    cons: IntArray, var: IntArray, cost: FloatArray, time_limit_s: float | None
) -> IntArray | None:
    """The LP optimum's chosen variables when it is integral, else None (no limit: None)."""
    n_vars = len(cost)
    matrix = csr_matrix((np.ones(len(cons)), (cons, var)), shape=(int(cons.max()) + 1, n_vars))
    # The helpers under `model_builder`: the model filled from the matrix in one call and
    # the solution read back as one array (its stubs mistype the numpy arguments).
    model: Any = mbh.ModelBuilderHelper()
    model.fill_model_from_sparse_data(
        np.zeros(n_vars), np.ones(n_vars), cost.astype(np.float64),
        np.full(matrix.shape[0], -np.inf), np.ones(matrix.shape[0]), matrix,
    )
    solver = mbh.ModelSolverHelper("glop")
    if time_limit_s is not None:
        solver.set_time_limit_in_seconds(time_limit_s)
    solver.set_solver_specific_parameters(_GLOP_PARAMS)
    solver.solve(model)
    if solver.status() != mbh.SolveStatus.OPTIMAL or not solver.has_solution():
        return None
    values = np.asarray(solver.variable_values(), dtype=np.float64).ravel()
    if np.any((values > _INTEGRAL_TOL) & (values < 1 - _INTEGRAL_TOL)):
        return None
    taken: IntArray = np.flatnonzero(values > 0.5)
    return taken


class _CpModel(cp_model.CpModel):
    """`CpModel` without the camelCase aliases OR-Tools adds to every instance.

    `CpModel.__init__` stores ~60 bound methods of the model on the model itself (the
    pre-PEP 8 names), a reference cycle that only a full garbage collection frees, with
    the model's proto, and it walks `dir(self)` to make them. We fill the proto
    directly and never use those names.
    """

    def _add_pre_pep8_methods(self) -> None:
        pass


def _cp_sat(
    cons: IntArray, var: IntArray, cost: FloatArray, hinted: npt.NDArray[np.bool_],
    time_limit_s: float, seed: int, deterministic: bool,
) -> IntArray | None:
    """The 0-1 model in CP-SAT; the chosen variables of the best solution found, or None."""
    model = _CpModel()
    proto = model.proto
    for _ in range(len(cost)):
        proto.variables.add().domain.extend([0, 1])
    order = np.lexsort((var, cons))
    cuts = np.flatnonzero(np.diff(cons[order])) + 1
    for block in np.split(var[order], cuts):
        if len(block) > 1:
            proto.constraints.add().at_most_one.literals.extend(block.tolist())
    proto.objective.vars.extend(range(len(cost)))
    proto.objective.coeffs.extend(np.rint(cost * COST_SCALE).astype(np.int64).tolist())
    proto.solution_hint.vars.extend(range(len(cost)))
    proto.solution_hint.values.extend(hinted.astype(np.int64).tolist())
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.max_deterministic_time = time_limit_s * _DETERMINISTIC_SHARE
    if not deterministic:
        solver.parameters.max_time_in_seconds = time_limit_s
    if solver.solve(model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    taken: IntArray = np.flatnonzero(np.array(solver.response_proto.solution) > 0)
    return taken

"""Choosing disjoint tasks once bundles exist: each order in at most one chosen task.

Tasks are single orders and bundles; an edge is a (task, rider) pair. A choice
is a set of edges with every order and every rider used at most once, priced as
its edges' costs plus the penalties of the orders it leaves out. Two ways to
improve on the single-order min-cost flow:

- `savings_partition` + `partition_flow`: take bundles in order of what they save
  against the current answer (members disjoint), then solve the min-cost flow over
  that partition of the orders (the chosen bundles plus every other order alone),
  which is exact for the partition. Fast at any size. Bundles that only save
  against the reference's poorer choices can make it costlier than the single-order
  flow, so the caller compares the two unless `single_flow_bound` settles it.

`dispatch.optimizer.core.exact` solves the whole model when it is small enough;
`single_answer_is_optimal` proves, by LP duality, when a one-order-per-rider answer
already is its optimum, so that the exact solve can be skipped.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from dispatch.optimizer.core.assignment import COST_SCALE, min_cost_assignment
from dispatch.optimizer.core.bundle_edges import member_penalty
from dispatch.optimizer.core.edges import Edges
from dispatch.optimizer.core.routes import IntArray
from geo.distance import FloatArray


def order_costs(picked: Edges, members: IntArray, penalty: FloatArray) -> FloatArray:
    """What each order costs in a choice: its penalty if left out, else its share of its route."""
    cost = penalty.copy()
    rows = members[picked.task]
    share = picked.cost / np.maximum((rows >= 0).sum(axis=1), 1)
    live = rows >= 0
    cost[rows[live]] = np.broadcast_to(share[:, None], rows.shape)[live]
    return cost


def savings_partition(
    edges: Edges, reference: Edges, members: IntArray, penalty: FloatArray, n_singles: int
) -> IntArray:
    """Bundle tasks to serve as units: best saving against the `reference` answer's edges
    first, no order in two of them."""
    current = order_costs(reference, members, penalty)
    bundle_members = members[n_singles:]
    now = np.where(bundle_members >= 0, current[np.maximum(bundle_members, 0)], 0.0).sum(axis=1)
    best = np.full(len(bundle_members), np.inf)  # each bundle task's cheapest rider
    bundle = edges.task >= n_singles
    np.minimum.at(best, edges.task[bundle] - n_singles, edges.cost[bundle])
    saving = now - best
    tasks = np.flatnonzero(saving > 0)
    ranked = tasks[np.lexsort((tasks, -saving[tasks]))] + n_singles
    return _greedy_disjoint(ranked, members, len(penalty))


def _greedy_disjoint(ranked: IntArray, members: IntArray, n_orders: int) -> IntArray:
    """The tasks the sequential rule "best first, skip any that shares an order" takes.

    Computed in rounds: a task whose rank is the best among all live tasks sharing an
    order with it is taken by the sequential rule too; its rivals then die. Each round
    takes at least the best live task, and in practice a few rounds take them all.
    """
    rank = np.arange(len(ranked))
    taken: list[IntArray] = []
    while len(rank):
        rows = members[ranked[rank]]
        task_of, col = np.nonzero(rows >= 0)
        order = rows[task_of, col]
        best = np.full(n_orders, len(ranked))
        np.minimum.at(best, order, rank[task_of])
        lost = np.zeros(len(rank), dtype=bool)
        lost[task_of[best[order] != rank[task_of]]] = True
        won = ~lost
        taken.append(ranked[rank[won]])
        used = np.zeros(n_orders, dtype=bool)
        used[order[won[task_of]]] = True
        clash = np.zeros(len(rank), dtype=bool)
        clash[task_of[used[order]]] = True
        rank = rank[~clash]
    return np.sort(np.concatenate([np.zeros(0, dtype=np.int64), *taken]))


def partition_flow(
    edges: Edges, bundles: IntArray, members: IntArray, penalty: FloatArray, n_singles: int
) -> IntArray:
    """Min-cost flow over the chosen bundles plus every other order on its own."""
    task_penalty = member_penalty(members, penalty)
    in_bundle = np.zeros(n_singles, dtype=bool)
    rows = members[bundles]
    in_bundle[rows[rows >= 0]] = True
    allowed = np.zeros(len(members), dtype=bool)
    allowed[bundles] = True
    allowed[:n_singles] = ~in_bundle
    keep = np.flatnonzero(allowed[edges.task])
    chosen: IntArray = keep[min_cost_assignment(edges.take(keep), task_penalty)]
    return np.concatenate([chosen, _repair(edges, chosen, members, penalty, n_singles)])


def _repair(
    edges: Edges, chosen: IntArray, members: IntArray, penalty: FloatArray, n_singles: int
) -> IntArray:
    """Single-order edges for orders a partition left out (their bundle found no rider),
    on riders the partition left free."""
    rows = members[edges.task[chosen]]
    covered = np.zeros(n_singles, dtype=bool)
    covered[rows[rows >= 0]] = True
    busy = np.zeros(int(edges.rider.max(initial=-1)) + 1, dtype=bool)
    busy[edges.rider[chosen]] = True
    single = edges.task < n_singles
    keep = np.flatnonzero(single & ~covered[np.where(single, edges.task, 0)] & ~busy[edges.rider])
    repaired: IntArray = keep[min_cost_assignment(edges.take(keep), penalty)]
    return repaired


def single_flow_bound(edges: Edges, penalty: FloatArray, n_singles: int) -> float:
    """A lower bound on the cost of the single-order min-cost flow over `edges`.

    Each order costs at least its cheapest single-order edge or its penalty, whichever
    is less; and with one order per rider at most a maximum matching's worth of orders
    is served (orders at a popular restaurant compete for the same few nearby riders),
    so the others pay their full penalty: the bound adds the smallest of those extra
    amounts for every order beyond the matching. Where riders are contested this is
    close to the flow's cost, at a tenth of its time (Hopcroft-Karp in SciPy).
    """
    leave = penalty[:n_singles]  # each order's cost of being left out
    single = np.flatnonzero(edges.task < n_singles)
    task, cost = edges.task[single], edges.cost[single]
    worth = cost < leave[task]  # the flow never takes an edge dearer than leaving
    task, rider, cost = task[worth], edges.rider[single[worth]], cost[worth]
    cheapest = leave.copy()
    np.minimum.at(cheapest, task, cost)
    bound = float(cheapest.sum())
    left_out = n_singles - _matching_size(task, rider, n_singles)
    if left_out > 0:
        bound += float(np.partition(leave - cheapest, left_out - 1)[:left_out].sum())
    return bound


def _matching_size(task: IntArray, rider: IntArray, n_tasks: int) -> int:
    """How many tasks a maximum matching of the (task, rider) pairs serves."""
    if len(task) == 0:
        return 0
    graph = csr_matrix((np.ones(len(task), dtype=np.int8), (task, rider)),
                       shape=(n_tasks, int(rider.max()) + 1))
    return int(np.count_nonzero(maximum_bipartite_matching(graph, perm_type="column") >= 0))


# Rounds of raising riders' prices before `single_answer_is_optimal` gives up (each is one
# pass over the edges; the prices of a real day's batch settle in a handful).
_PRICE_ROUNDS = 64


def single_answer_is_optimal(
    edges: Edges, picked: Edges, members: IntArray, penalty: FloatArray, n_singles: int,
    n_riders: int,
) -> bool:
    """Whether a one-order-per-rider answer is optimal for the whole model, bundles too.

    LP duality, on the integer costs the flow solves (1/100 s): give every rider, and
    every order's leave-out option, a price y >= 0, zero where unused; an order's price
    is what it pays in the answer plus the price of what it uses. If no single-order
    edge costs less than its order's price minus its rider's, the answer is optimal
    among single-order answers; if no bundle edge costs less than its members' prices
    minus its rider's either, those prices are feasible for the dual of the whole
    set-partitioning LP at the answer's cost, so the answer is optimal for it, and for
    the 0-1 model. The prices tried are the lowest that make every single-order edge
    hold (raised round by round, as Bellman-Ford does, at most `_PRICE_ROUNDS` times),
    which keeps the members' prices as low as they can be. False proves nothing: an
    answer that is not optimal, prices that did not settle, or a bundle that beats them.
    """
    if picked.count and int(picked.task.max()) >= n_singles:
        return False  # an answer with bundles: nothing to prove here
    leave = np.rint(penalty[:n_singles] * COST_SCALE)
    column = n_riders + np.arange(n_singles)  # what each order uses: its leave-out option
    paid = leave.copy()
    column[picked.task] = picked.rider
    paid[picked.task] = np.rint(picked.cost * COST_SCALE)
    served = np.sort(picked.task)
    single = np.flatnonzero(edges.task < n_singles)
    task, rider = edges.task[single], edges.rider[single]
    unused = rider != column[task]
    task, rider = task[unused], rider[unused]
    # Each unused option k of order t asks price[k] >= price[column[t]] - slack.
    src = np.concatenate([rider, n_riders + served])
    dst = column[np.concatenate([task, served])]
    slack = np.concatenate([np.rint(edges.cost[single[unused]] * COST_SCALE) - paid[task],
                            (leave - paid)[served]])
    price = np.zeros(n_riders + n_singles)
    for _ in range(_PRICE_ROUNDS):
        raised = price.copy()
        np.maximum.at(raised, src, price[dst] - slack)
        if np.array_equal(raised, price):
            break
        price = raised
    else:
        return False
    free = np.ones(n_riders + n_singles, dtype=bool)
    free[column] = False
    if np.any(price[free] > 0):
        return False  # an unused rider or leave-out would have to be priced: not optimal
    order_price = paid + price[column]
    bundle = np.flatnonzero(edges.task >= n_singles)
    rows = members[edges.task[bundle]]
    member_price = np.where(rows >= 0, order_price[np.maximum(rows, 0)], 0.0).sum(axis=1)
    reduced = np.rint(edges.cost[bundle] * COST_SCALE) - member_price + price[edges.rider[bundle]]
    return bool(np.all(reduced >= 0))

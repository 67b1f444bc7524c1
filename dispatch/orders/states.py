"""The order state machine: every legal transition, in one place."""

from __future__ import annotations

from enum import StrEnum

from dispatch.errors import IllegalTransition


class OrderState(StrEnum):
    """Where an order is in its life."""

    CREATED = "created"
    AUTHORISED = "authorised"
    PENDING_DISPATCH = "pending_dispatch"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    FAILED = "failed"


S = OrderState
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.CREATED: frozenset({S.AUTHORISED, S.CANCELLED, S.FAILED}),
    S.AUTHORISED: frozenset({S.PENDING_DISPATCH, S.CANCELLED, S.FAILED}),
    S.PENDING_DISPATCH: frozenset({S.OFFERED, S.CANCELLED, S.FAILED}),
    # A rejected or expired offer returns the order to the pool.
    S.OFFERED: frozenset({S.ASSIGNED, S.PENDING_DISPATCH, S.CANCELLED, S.FAILED}),
    # A rider who drops an order before pickup returns it to the pool too.
    S.ASSIGNED: frozenset({S.PICKED_UP, S.PENDING_DISPATCH, S.CANCELLED, S.FAILED}),
    # Once the food left the merchant, the order can only arrive or fail.
    S.PICKED_UP: frozenset({S.DELIVERED, S.FAILED}),
    S.DELIVERED: frozenset(),
    S.CANCELLED: frozenset(),
    S.FAILED: frozenset(),
}
TERMINAL = frozenset(state for state, nexts in TRANSITIONS.items() if not nexts)
# States from which each kind of caller may cancel (operators: any state that allows it).
CANCELLABLE_BY = {
    "customer": frozenset({S.CREATED, S.AUTHORISED, S.PENDING_DISPATCH, S.OFFERED}),
    "merchant": frozenset({S.CREATED, S.AUTHORISED, S.PENDING_DISPATCH, S.OFFERED, S.ASSIGNED}),
    "operator": frozenset(s for s, nexts in TRANSITIONS.items() if S.CANCELLED in nexts),
}


def is_legal(current: OrderState, target: OrderState) -> bool:
    """Whether `current → target` is a transition of the machine."""
    return target in TRANSITIONS[current]


def check_transition(order_id: str, current: OrderState | str, target: OrderState) -> OrderState:
    """`target` if the move is legal; `IllegalTransition` (409, with the current state) if not."""
    current = OrderState(current)
    if not is_legal(current, target):
        raise IllegalTransition(
            f"order {order_id} is {current.value}; it cannot become {target.value}",
            order_id=order_id, state=current.value, requested=target.value,
        )
    return target


def path(order_id: str, start: OrderState, *targets: OrderState) -> list[OrderState]:
    """Check a sequence of moves from `start`; the states passed through (for the outbox)."""
    states, current = [], start
    for target in targets:
        current = check_transition(order_id, current, target)
        states.append(current)
    return states

"""Object-level authorisation: which orders each caller may see, as one SQL condition."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, false, select, true

from dispatch.auth.tokens import Principal
from dispatch.errors import Forbidden
from dispatch.orders.models import OfferRow, OrderRow


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """Orders the caller may see: customers their own, merchants their stores', riders those
    offered or assigned to them, operators all."""
    sub = principal.subject
    if principal.role == "operator":
        return true()
    if principal.role == "customer":
        return OrderRow.customer_id == sub
    if principal.role == "merchant":
        return OrderRow.merchant_id == sub
    if principal.role == "rider":
        offered = exists(select(OfferRow.id).where(
            OfferRow.order_id == OrderRow.id, OfferRow.rider_id == sub))
        return (OrderRow.rider_id == sub) | offered
    return false()


def require_role(principal: Principal, *roles: str) -> None:
    """`Forbidden` unless the caller has one of the roles."""
    if principal.role not in roles:
        raise Forbidden(f"{principal.role}s may not do this")

"""Order and offer rows, and the HTTP schemas of the order endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import JSON, BigInteger, Float, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.api_input import ApiIn
from dispatch.db.base import Base, UTCDateTime
from dispatch.orders.states import OrderState

LIVE_OFFER = "state IN ('pending', 'accepted')"
# Offer states: pending, then accepted, rejected, expired (nobody answered in time),
# released (the rider went offline, stale or on break) or withdrawn (the order was cancelled).
OFFER_CLOSED_FOR_RIDER = ("rejected", "expired", "released")
# What an object id may look like (`ord_…`, `usr_…`): no control characters or NULs, which
# PostgreSQL refuses in text.
ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,40}$"


class OrderRow(Base):
    """One order: a pickup at a merchant and a drop-off at a customer."""

    __tablename__ = "orders"
    __table_args__ = (
        # The pending pool the optimizer reads: orders waiting for dispatch, per region.
        Index("ix_orders_pool", "region", "created_at",
              postgresql_where=text("state = 'pending_dispatch'"),
              sqlite_where=text("state = 'pending_dispatch'")),
        Index("ix_orders_customer", "customer_id", "created_at"),
        Index("ix_orders_merchant", "merchant_id", "created_at"),
        # Every query names a rider, and a new order has none: it needs no entry.
        Index("ix_orders_rider", "rider_id", postgresql_where=text("rider_id IS NOT NULL"),
              sqlite_where=text("rider_id IS NOT NULL")),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(40))
    merchant_id: Mapped[str] = mapped_column(String(40))
    region: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))
    pickup_lat: Mapped[float] = mapped_column(Float)
    pickup_lng: Mapped[float] = mapped_column(Float)
    dropoff_lat: Mapped[float] = mapped_column(Float)
    dropoff_lng: Mapped[float] = mapped_column(Float)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    ready_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    promised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    rider_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class OfferRow(Base):
    """An order proposed to a rider; at most one live (pending or accepted) offer per order."""

    __tablename__ = "offers"
    __table_args__ = (
        Index("uq_offers_live_order", "order_id", unique=True,
              postgresql_where=text(LIVE_OFFER), sqlite_where=text(LIVE_OFFER)),
        Index("ix_offers_rider", "rider_id", "state"),
        Index("ix_offers_order", "order_id", "state"),
        Index("ix_offers_answered", "answered_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40))
    rider_id: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # When the offer left `pending` (per-batch outcome metrics count these).
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The rider's whole planned route if it accepts: carried stops first, then the new ones.
    route: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class LatLng(BaseModel):
    """A WGS84 point."""

    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class Item(BaseModel):
    """One line of the items summary."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    quantity: int = Field(1, ge=1, le=1000)


class CreateOrderIn(ApiIn):
    """A new order; money in integer minor units of an ISO-4217 currency."""

    model_config = ConfigDict(extra="forbid")

    merchant_id: str = Field(min_length=1, max_length=40)
    pickup: LatLng
    dropoff: LatLng
    items: list[Item] = Field(min_length=1, max_length=100)
    amount_minor: int = Field(ge=1, le=10_000_000_00)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    ready_at: AwareDatetime
    promised_at: AwareDatetime

    @model_validator(mode="after")
    def _promise_after_ready(self) -> CreateOrderIn:
        if self.promised_at < self.ready_at:
            raise ValueError("promised_at must not be before ready_at")
        return self


class OrderOut(BaseModel):
    """An order as the API shows it."""

    id: str
    state: OrderState
    region: str
    customer_id: str
    merchant_id: str
    rider_id: str | None
    pickup: LatLng
    dropoff: LatLng
    items: list[Item]
    amount_minor: int
    currency: str
    ready_at: dt.datetime
    promised_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime


class OrderPageOut(BaseModel):
    """One page of orders, newest first; pass `next_cursor` back for the next page."""

    orders: list[OrderOut]
    next_cursor: str | None


class RouteStop(BaseModel):
    """One stop of a rider's route: a pickup or drop-off of an order, with its estimate."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["pickup", "dropoff"]
    order_id: str = Field(min_length=1, max_length=40, pattern=ID_PATTERN)
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    eta_ms: int | None = Field(None, ge=0, description="Estimated arrival, epoch milliseconds")


class OfferIn(ApiIn):
    """An order offered to a rider for a while, with the rider's route if it accepts."""

    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(min_length=1, max_length=40, pattern=ID_PATTERN)
    rider_id: str = Field(min_length=1, max_length=40, pattern=ID_PATTERN)
    expires_in_s: int = Field(60, ge=1, le=3600)
    route: list[RouteStop] | None = Field(None, max_length=64)


class OffersIn(ApiIn):
    """A batch of offers committed together (no order twice, no rider beyond capacity)."""

    model_config = ConfigDict(extra="forbid")

    offers: list[OfferIn] = Field(min_length=1, max_length=1000)
    rider_capacity: int = Field(1, ge=1, le=20)


class OfferOut(BaseModel):
    """An offer as the API shows it."""

    id: str
    order_id: str
    rider_id: str
    state: str
    created_at: dt.datetime
    expires_at: dt.datetime
    route: list[RouteStop] | None = None


class AssignmentOut(BaseModel):
    """Where the order stands in dispatch: its state, its rider and its live offer."""

    order_id: str
    state: OrderState
    rider_id: str | None
    offer: OfferOut | None


def order_out(row: OrderRow) -> OrderOut:
    """The API view of an order row."""
    return OrderOut(
        id=row.id, state=OrderState(row.state), region=row.region, customer_id=row.customer_id,
        merchant_id=row.merchant_id, rider_id=row.rider_id,
        pickup=LatLng(lat=row.pickup_lat, lng=row.pickup_lng),
        dropoff=LatLng(lat=row.dropoff_lat, lng=row.dropoff_lng),
        items=[Item(**item) for item in row.items], amount_minor=row.amount_minor,
        currency=row.currency, ready_at=row.ready_at, promised_at=row.promised_at,
        created_at=row.created_at, updated_at=row.updated_at,
    )


def offer_out(row: OfferRow) -> OfferOut:
    """The API view of an offer row."""
    route = None if row.route is None else [RouteStop(**stop) for stop in row.route]
    return OfferOut(id=row.id, order_id=row.order_id, rider_id=row.rider_id, state=row.state,
                    created_at=row.created_at, expires_at=row.expires_at, route=route)

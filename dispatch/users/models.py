"""User and refresh-token rows, and the HTTP schemas of the accounts endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.api_input import ApiIn
from dispatch.db.base import Base, UTCDateTime

Role = Literal["customer", "merchant", "rider", "operator"]
SelfServiceRole = Literal["customer", "merchant", "rider"]


class UserRow(Base):
    """One account; `region` is set for riders (the region they work in)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class RefreshTokenRow(Base):
    """One refresh token (only its hash is kept); rotated on every use."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_user_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    secret_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class RegisterIn(ApiIn):
    """A new account; riders name the region they work in."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=8, max_length=256)
    role: SelfServiceRole = "customer"
    region: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")

    @model_validator(mode="after")
    def _rider_has_region(self) -> RegisterIn:
        if self.role == "rider" and self.region is None:
            raise ValueError("a rider account needs a region")
        return self


class CreateUserIn(RegisterIn):
    """An account created by an operator, who may also create operators."""

    role: Role = "customer"  # type: ignore[assignment]


class LoginIn(ApiIn):
    """Credentials."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=256)


class RefreshIn(ApiIn):
    """A refresh token to exchange for a new pair."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=200)


class UserOut(BaseModel):
    """An account as the API shows it."""

    id: str
    email: str
    role: Role
    region: str | None
    active: bool
    created_at: dt.datetime


class TokenPairOut(BaseModel):
    """A short-lived access token and the refresh token that renews it."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


def user_out(row: UserRow) -> UserOut:
    """The API view of a row."""
    return UserOut(id=row.id, email=row.email, role=row.role,
                   region=row.region, active=row.active, created_at=row.created_at)

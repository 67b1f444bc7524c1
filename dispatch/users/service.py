"""Accounts in the database: register, authenticate, issue and rotate tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatch.auth.tokens import TokenSigner
from dispatch.db.base import new_id, utcnow
from dispatch.errors import AccountInactive, EmailTaken, InvalidCredentials
from dispatch.users.models import RefreshTokenRow, RegisterIn, TokenPairOut, UserRow
from dispatch.users.passwords import Passwords

Db = async_sessionmaker[AsyncSession]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_user(*, db: Db, passwords: Passwords, data: RegisterIn) -> UserRow:
    """A new account; `EmailTaken` if the email is in use."""
    password_hash = await passwords.hash(data.password)
    row = UserRow(
        id=new_id("usr"), email=data.email.lower(), password_hash=password_hash,
        role=data.role, region=data.region if data.role == "rider" else None, active=True,
        created_at=utcnow(),
    )
    try:
        async with db.begin() as session:
            session.add(row)
    except IntegrityError as exc:
        raise EmailTaken("an account with this email exists", field="email") from exc
    return row


async def get_user(*, db: Db, user_id: str) -> UserRow | None:
    """The account with this id, if any."""
    async with db() as session:
        return await session.get(UserRow, user_id)


async def authenticate(*, db: Db, passwords: Passwords, email: str, password: str) -> UserRow:
    """The active account these credentials belong to; `InvalidCredentials` otherwise."""
    async with db() as session:
        row = (await session.execute(
            select(UserRow).where(UserRow.email == email.lower()))).scalar_one_or_none()
    if not await passwords.verify(row.password_hash if row else None, password) or row is None:
        raise InvalidCredentials("wrong email or password")
    if not row.active:
        raise AccountInactive("this account is disabled")
    return row


async def issue_tokens(*, db: Db, signer: TokenSigner, user: UserRow, refresh_ttl_s: int
                       ) -> TokenPairOut:
    """A fresh access token and a new refresh token for the account."""
    token_id, secret = new_id("rt"), secrets.token_urlsafe(32)
    async with db.begin() as session:
        session.add(RefreshTokenRow(
            id=token_id, user_id=user.id, secret_hash=_digest(secret),
            expires_at=utcnow() + dt.timedelta(seconds=refresh_ttl_s), revoked_at=None))
    return TokenPairOut(
        access_token=signer.mint(user.id, user.role, region=user.region),
        refresh_token=f"{token_id}.{secret}", expires_in=signer.ttl_s,
    )


async def rotate_refresh(*, db: Db, token: str) -> UserRow:
    """Spend a refresh token (once); the account it belongs to.

    A token presented a second time means it leaked: every token of the account is revoked.
    """
    token_id, _, secret = token.partition(".")
    now = utcnow()
    async with db.begin() as session:
        row = await session.get(RefreshTokenRow, token_id, with_for_update=True)
        if row is None or not hmac.compare_digest(row.secret_hash, _digest(secret)):
            raise InvalidCredentials("unknown refresh token")
        if row.revoked_at is not None:
            await _revoke_all(session, row.user_id, now)
        elif row.expires_at > now:
            row.revoked_at = now
            user = await session.get(UserRow, row.user_id)
            if user is not None and user.active:
                return user
    raise InvalidCredentials("refresh token expired, revoked or reused")


async def _revoke_all(session: AsyncSession, user_id: str, now: dt.datetime) -> None:
    await session.execute(update(RefreshTokenRow).where(
        RefreshTokenRow.user_id == user_id, RefreshTokenRow.revoked_at.is_(None)
    ).values(revoked_at=now))


async def check_riders(*, db: Db, riders: list[tuple[str, str]]
                       ) -> dict[tuple[str, str], str | None]:
    """For each (rider_id, region): why that rider may not stream there (no account,
    inactive, not a rider, other region), or None. One query for all of them."""
    ids = sorted({rider_id for rider_id, _ in riders})
    async with db() as session:
        rows = (await session.execute(select(
            UserRow.id, UserRow.role, UserRow.region, UserRow.active,
        ).where(UserRow.id.in_(ids)))).all()
    accounts = {row.id: row for row in rows}
    refusals: dict[tuple[str, str], str | None] = {}
    for rider_id, region in riders:
        user = accounts.get(rider_id)
        if user is None:
            refusals[rider_id, region] = "no such rider account"
        elif not user.active:
            refusals[rider_id, region] = "rider account disabled"
        elif user.role != "rider" or user.region != region:
            refusals[rider_id, region] = "account is not a rider of this region"
        else:
            refusals[rider_id, region] = None
    return refusals

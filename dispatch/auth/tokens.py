"""Signed access tokens (JWT, HS256 pinned) with required `exp`, `iat`, `sub` and audience.

Riders present one on the location stream; operators and services on HTTP. The
accounts work (issue 3) issues them at login; until then `dispatch token` mints
them for a rider or an operator.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from dispatch.errors import NotAuthenticated

ALGORITHM = "HS256"
# Verified tokens remembered per signer (a client sends the same token with every request;
# verifying it again cost ~6% of an order's create). The oldest is forgotten past this.
VERIFIED_CACHE_SIZE = 4096
AUDIENCE = "dispatch"
ROLES = frozenset({"customer", "merchant", "rider", "operator"})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token speaks for."""

    subject: str
    role: str
    region: str | None


def load_or_create_secret(configured: str | None, data_dir: Path) -> str:
    """The signing secret: the configured one, else one kept in `data_dir/secret_key`."""
    if configured:
        return configured
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret)
    return secret


class TokenSigner:
    """Mints and verifies access tokens with one secret."""

    def __init__(self, secret: str, *, ttl_s: int = 3600) -> None:
        if len(secret) < 32:
            raise ValueError("the signing secret must be at least 32 characters")
        self._secret = secret
        self.ttl_s = ttl_s
        self._verified: dict[str, tuple[Principal, float]] = {}  # token: (principal, exp)

    def mint(
        self, subject: str, role: str, *, region: str | None = None, ttl_s: int | None = None
    ) -> str:
        """A signed token for `subject` acting as `role` (in `region`, for riders)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": subject, "role": role, "aud": AUDIENCE, "iat": now,
            "exp": now + (ttl_s if ttl_s is not None else self.ttl_s),
        }
        if region is not None:
            claims["region"] = region
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; `NotAuthenticated` for anything else.

        A token verified before is taken from memory until its `exp` (PyJWT's rule: expired
        once `exp <= now`), when it is verified afresh and so refused as expired. Access
        tokens carry no state to revoke, so a remembered one stays exactly as valid."""
        known = self._verified.get(token)
        if known is not None:
            if known[1] > time.time():
                return known[0]
            del self._verified[token]
        principal, exp = self._decode(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (principal, exp)
        return principal

    def _decode(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM], audience=AUDIENCE,
                options={"require": ["exp", "iat", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise NotAuthenticated("token expired") from exc
        except jwt.PyJWTError as exc:
            raise NotAuthenticated(f"invalid token: {exc}") from exc
        role = claims.get("role")
        if role not in ROLES:
            raise NotAuthenticated("token has no valid role")
        region = claims.get("region")
        return Principal(subject=str(claims["sub"]), role=role,
                         region=str(region) if region is not None else None), int(claims["exp"])

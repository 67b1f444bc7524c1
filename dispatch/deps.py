"""`Annotated` dependency aliases shared by the HTTP routes.

Every dependency is `async def` although none awaits: FastAPI runs plain `def`
dependencies in a worker thread, and that hop cost more than the request's own work.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatch.auth.tokens import Principal
from dispatch.errors import Forbidden, NotAuthenticated
from dispatch.services import Services

_bearer = HTTPBearer(auto_error=False)


async def get_services(request: Request) -> Services:
    """The app's services, created in its lifespan."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_principal(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from its `Authorization: Bearer` token."""
    if credentials is None:
        raise NotAuthenticated("missing bearer token")
    return services.signer.verify(credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def require_operator(principal: PrincipalDep) -> Principal:
    """The caller, who must be an operator."""
    if principal.role != "operator":
        raise Forbidden("operators only")
    return principal


OperatorDep = Annotated[Principal, Depends(require_operator)]


async def get_db(services: ServicesDep) -> async_sessionmaker[AsyncSession]:
    """The session factory of the app's database."""
    return services.db


DbDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_db)]

IdempotencyKeyDep = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=255,
    description="Makes the request safe to retry: the first response is stored and replayed",
)]

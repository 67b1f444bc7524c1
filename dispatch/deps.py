"""`Annotated` dependency aliases shared by the HTTP routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dispatch.auth.tokens import Principal
from dispatch.errors import Forbidden, NotAuthenticated
from dispatch.services import Services

_bearer = HTTPBearer(auto_error=False)


def get_services(request: Request) -> Services:
    """The app's services, created in its lifespan."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_principal(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from its `Authorization: Bearer` token."""
    if credentials is None:
        raise NotAuthenticated("missing bearer token")
    return services.signer.verify(credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_operator(principal: PrincipalDep) -> Principal:
    """The caller, who must be an operator."""
    if principal.role != "operator":
        raise Forbidden("operators only")
    return principal


OperatorDep = Annotated[Principal, Depends(require_operator)]

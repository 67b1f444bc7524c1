"""Accounts routes: register, log in, refresh, who am I, and operator-created accounts."""

from __future__ import annotations

from fastapi import APIRouter, status

from dispatch.deps import DbDep, OperatorDep, PrincipalDep, ServicesDep
from dispatch.errors import NotFound
from dispatch.users import service
from dispatch.users.models import (
    CreateUserIn,
    LoginIn,
    RefreshIn,
    RegisterIn,
    TokenPairOut,
    UserOut,
    user_out,
)

router = APIRouter(prefix="/v1", tags=["accounts"])


@router.post("/auth/register", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def register_user(body: RegisterIn, services: ServicesDep, db: DbDep) -> UserOut:
    """Create a customer, merchant or rider account."""
    return user_out(await service.create_user(db=db, passwords=services.passwords, data=body))


@router.post("/auth/login", response_model=TokenPairOut)
async def login_user(body: LoginIn, services: ServicesDep, db: DbDep) -> TokenPairOut:
    """Exchange email and password for an access token and a refresh token."""
    user = await service.authenticate(db=db, passwords=services.passwords,
                                      email=body.email, password=body.password)
    return await service.issue_tokens(db=db, signer=services.signer, user=user,
                                      refresh_ttl_s=services.settings.refresh_token_ttl_s)


@router.post("/auth/refresh", response_model=TokenPairOut)
async def refresh_token(body: RefreshIn, services: ServicesDep, db: DbDep) -> TokenPairOut:
    """Spend a refresh token for a new pair (each refresh token works once)."""
    user = await service.rotate_refresh(db=db, token=body.refresh_token)
    return await service.issue_tokens(db=db, signer=services.signer, user=user,
                                      refresh_ttl_s=services.settings.refresh_token_ttl_s)


@router.get("/users/me", response_model=UserOut)
async def get_me(principal: PrincipalDep, db: DbDep) -> UserOut:
    """The caller's own account."""
    user = await service.get_user(db=db, user_id=principal.subject)
    if user is None:
        raise NotFound("no account for this token")
    return user_out(user)


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def create_user(body: CreateUserIn, _: OperatorDep, services: ServicesDep, db: DbDep
                      ) -> UserOut:
    """Create an account of any role, operators included (operators only)."""
    return user_out(await service.create_user(db=db, passwords=services.passwords, data=body))

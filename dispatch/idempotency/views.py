"""Turning a stored (or fresh) idempotent result into an HTTP response."""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel

from dispatch.auth.tokens import Principal
from dispatch.idempotency.models import Scope, StoredResponse
from dispatch.idempotency.service import REPLAY_HEADER, request_hash


def scope_for(principal: Principal, endpoint: str, key: str | None, body: BaseModel | None
              ) -> Scope | None:
    """The key's scope: this caller on this endpoint, with the body's canonical fingerprint."""
    if key is None:
        return None
    canonical = body.model_dump_json().encode() if body is not None else b""
    return Scope(owner=principal.subject, endpoint=endpoint, key=key,
                 request_hash=request_hash(canonical))


def respond(stored: StoredResponse, replayed: bool) -> Response:
    """The stored JSON response, marked when it is a replay."""
    headers = {REPLAY_HEADER: "true"} if replayed else {}
    return Response(stored.body, status_code=stored.status_code, headers=headers,
                    media_type="application/json")

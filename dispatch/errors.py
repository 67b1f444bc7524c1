"""The `DispatchError` hierarchy: every failure a client can cause, with a dotted code.

Services raise these; `dispatch.api_errors` maps them to HTTP responses and
`dispatch.riders.protocol` to websocket error frames, each in one place.
"""

from __future__ import annotations

from typing import Any


class DispatchError(Exception):
    """Base of our errors: a dotted `code`, a human `message`, an HTTP status."""

    code = "dispatch.error"
    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON body (or websocket error frame payload) describing this error."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        body.update(self.details)
        return body


class ValidationFailed(DispatchError):
    """Input that is well-formed but wrong: a field missing, mistyped or out of range."""

    code = "request.invalid"
    status_code = 422


class NotAuthenticated(DispatchError):
    """Missing, malformed, expired or forged credentials."""

    code = "auth.invalid_token"
    status_code = 401


class Forbidden(DispatchError):
    """Authenticated, but not allowed to act on this object."""

    code = "auth.forbidden"
    status_code = 403


class NotFound(DispatchError):
    """The object does not exist (or the caller may not know that it does)."""

    code = "object.not_found"
    status_code = 404


class Conflict(DispatchError):
    """The request conflicts with the object's current state."""

    code = "object.conflict"
    status_code = 409


class Unavailable(DispatchError):
    """A dependency (Redis, the database) cannot be reached right now."""

    code = "service.unavailable"
    status_code = 503

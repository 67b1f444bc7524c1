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


class InvalidCredentials(NotAuthenticated):
    """Wrong email or password, or an unknown, expired or revoked refresh token."""

    code = "auth.invalid_credentials"


class AccountInactive(Forbidden):
    """The account exists but is disabled."""

    code = "user.inactive"


class EmailTaken(Conflict):
    """An account with this email already exists."""

    code = "user.email_taken"


class OrderNotFound(NotFound):
    """No such order, or not one the caller may see."""

    code = "order.not_found"


class IllegalTransition(Conflict):
    """The order (or payment) is not in a state that allows this; `state` says which it is in."""

    code = "order.illegal_transition"


class OutsideServiceArea(ValidationFailed):
    """A pickup or drop-off point lies outside every service area."""

    code = "order.outside_service_area"


class UnknownMerchant(ValidationFailed):
    """The order names no active merchant account."""

    code = "order.unknown_merchant"


class AlreadyOffered(Conflict):
    """The order already has a live offer or an assignment."""

    code = "order.already_offered"


class RiderOverCapacity(Conflict):
    """The rider already carries as many orders as allowed."""

    code = "rider.over_capacity"


class IdempotencyInFlight(Conflict):
    """A request with this Idempotency-Key is still being processed; retry later."""

    code = "idempotency.in_flight"


class IdempotencyKeyReused(ValidationFailed):
    """This Idempotency-Key was first used with a different request body."""

    code = "idempotency.key_reused"


class PaymentDeclined(DispatchError):
    """The payment provider declined the authorisation."""

    code = "payment.declined"
    status_code = 402


class PaymentNotFound(NotFound):
    """The order has no payment."""

    code = "payment.not_found"


class RefundExceedsCaptured(Conflict):
    """A refund would return more than was captured."""

    code = "payment.refund_exceeds_captured"


class ProviderUnavailable(Unavailable):
    """The payment provider could not be reached; the call is safe to retry."""

    code = "payment.provider_unavailable"


class InvalidSignature(DispatchError):
    """A webhook whose signature is missing, wrong or outside the time tolerance."""

    code = "webhook.invalid_signature"
    status_code = 400

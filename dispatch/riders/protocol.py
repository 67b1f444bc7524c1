"""The rider stream's wire format: parsing and validating frames, building replies, close codes.

Documented for app developers in docs/rider-stream.md; keep the two in step.
This is the one place that turns a `DispatchError` into an `error` frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from dispatch.errors import DispatchError, ValidationFailed
from dispatch.live.models import RiderStatus
from dispatch.orders.models import ID_PATTERN

# Close codes (RFC 6455 range 1000-1015 and the private 4000-4999 range).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008  # rate limit exceeded for too long
CLOSE_TOO_BIG = 1009  # frame over the size limit (sent by the websocket layer)
CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN = 1013  # too many riders connecting at once; reconnect after a back-off
CLOSE_UNAUTHORIZED = 4401  # missing, invalid or expired token, or not a rider token
CLOSE_AUTH_TIMEOUT = 4408  # no hello frame in time
CLOSE_REPLACED = 4409  # the same rider connected again elsewhere

MAX_SEQ = 2**53 - 1
STATUSES = frozenset(s.value for s in RiderStatus)


class ProtocolError(DispatchError):
    """A frame that is not valid JSON, not an object, or of an unknown type."""

    code = "frame.invalid"


class RateLimited(DispatchError):
    """The connection sends frames faster than its limit; the frame was dropped."""

    code = "rate.limited"
    status_code = 429


class BatchTooLarge(DispatchError):
    """A `fixes` frame with more fixes than the limit; none of them was taken."""

    code = "batch.too_large"


class StoreUnavailable(DispatchError):
    """The live store could not be written; the fixes were not acknowledged, re-send them."""

    code = "store.unavailable"
    status_code = 503


class Fix(NamedTuple):
    """One validated location fix (a named tuple: one is built per fix, and cheaply)."""

    seq: int
    lat: float
    lng: float
    ts_ms: int
    extra: str  # "speed|heading|accuracy", empty fields where the app sent none


@dataclass(frozen=True, slots=True)
class FixLimits:
    """What the server accepts as a plausible device time."""

    max_future_ms: int
    max_age_ms: int


def decode_frame(data: str | bytes) -> dict[str, Any]:
    """A frame's JSON object, or `ProtocolError`."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"malformed JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("a frame must be a JSON object")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("a frame needs a string field 'type'", field="type")
    return obj


def _number(obj: dict[str, Any], name: str, lo: float, hi: float) -> float | None:
    value = obj.get(name)
    if value is None:
        return None
    if type(value) not in (int, float):
        raise ValidationFailed(f"{name} must be a number", field=name)
    if not lo <= value <= hi:  # also false for NaN
        raise ValidationFailed(f"{name} must be within [{lo}, {hi}]", field=name)
    return float(value)


def _required_int(obj: dict[str, Any], name: str, lo: int, hi: int) -> int:
    value = obj.get(name)
    if value is None:
        raise ValidationFailed(f"{name} is required", field=name)
    if type(value) is not int:
        raise ValidationFailed(f"{name} must be an integer", field=name)
    if not lo <= value <= hi:
        raise ValidationFailed(f"{name} must be within [{lo}, {hi}]", field=name)
    return value


def parse_fix(obj: Any, now_ms: int, limits: FixLimits) -> Fix:
    """Validate one fix object; `ValidationFailed` names the first bad field."""
    # Nearly every fix is well formed: check the required fields inline (a helper call per
    # field cost ~5,000 of a single-fix frame's ~100,000 instructions), and leave anything
    # else to `_parse_fix`, which accepts the same fixes and names the first bad field.
    if type(obj) is dict:
        seq, lat, lng, ts = obj.get("seq"), obj.get("lat"), obj.get("lng"), obj.get("ts")
        if (type(seq) is int and 0 <= seq <= MAX_SEQ
                and type(lat) is float and -90.0 <= lat <= 90.0
                and type(lng) is float and -180.0 <= lng <= 180.0
                and type(ts) is int and 0 <= ts <= MAX_SEQ
                and now_ms - limits.max_age_ms <= ts <= now_ms + limits.max_future_ms):
            return Fix(seq, lat, lng, ts, _extra(obj))
    return _parse_fix(obj, now_ms, limits)


def _parse_fix(obj: Any, now_ms: int, limits: FixLimits) -> Fix:
    if not isinstance(obj, dict):
        raise ValidationFailed("a fix must be a JSON object", field="fix")
    seq = _required_int(obj, "seq", 0, MAX_SEQ)
    lat = _number(obj, "lat", -90.0, 90.0)
    lng = _number(obj, "lng", -180.0, 180.0)
    if lat is None:
        raise ValidationFailed("lat is required", field="lat")
    if lng is None:
        raise ValidationFailed("lng is required", field="lng")
    ts = _required_int(obj, "ts", 0, MAX_SEQ)
    if ts > now_ms + limits.max_future_ms:
        raise ValidationFailed("ts is too far in the future", field="ts")
    if ts < now_ms - limits.max_age_ms:
        raise ValidationFailed("ts is too old", field="ts")
    return Fix(seq=seq, lat=lat, lng=lng, ts_ms=ts, extra=_extra(obj))


def _extra(obj: dict[str, Any]) -> str:
    """The optional fields as `Fix.extra` ("" when none is given); `ValidationFailed` if bad."""
    if "speed" not in obj and "heading" not in obj and "accuracy" not in obj:
        return ""
    speed = _number(obj, "speed", 0.0, 150.0)
    heading = _number(obj, "heading", 0.0, 360.0)
    accuracy = _number(obj, "accuracy", 0.0, 100_000.0)
    if speed is None and heading is None and accuracy is None:
        return ""
    return f"{_fmt(speed)}|{_fmt(heading)}|{_fmt(accuracy)}"


def _fmt(value: float | None) -> str:
    return "" if value is None else repr(value)


def parse_status(obj: dict[str, Any]) -> RiderStatus:
    """The status of a `status` frame, or `ValidationFailed`."""
    value = obj.get("status")
    if not isinstance(value, str) or value not in STATUSES:
        raise ValidationFailed(
            f"status must be one of {sorted(STATUSES)}", field="status"
        )
    return RiderStatus(value)


OFFER_ANSWERS = {"offer.accept": True, "offer.reject": False}
_ORDER_ID = re.compile(ID_PATTERN)


def parse_offer_answer(obj: dict[str, Any]) -> str:
    """The order id of an `offer.accept` or `offer.reject` frame, or `ValidationFailed`."""
    order_id = obj.get("order_id")
    if not isinstance(order_id, str) or not _ORDER_ID.fullmatch(order_id):
        raise ValidationFailed("order_id must be an order id (1 to 40 letters, digits, _.:-)",
                               field="order_id")
    return order_id


def offer_frame(*, offer_id: str, order_id: str, expires_at_ms: int, pickup: dict[str, float],
                dropoff: dict[str, float], ready_at_ms: int, promised_at_ms: int,
                route: list[dict[str, Any]]) -> bytes:
    """The `offer` frame: an order proposed to the rider, with its whole route if it accepts."""
    return frame("offer", offer_id=offer_id, order_id=order_id, expires_at_ms=expires_at_ms,
                 pickup=pickup, dropoff=dropoff, ready_at_ms=ready_at_ms,
                 promised_at_ms=promised_at_ms, route=route)


def newest(fixes: list[Fix]) -> Fix:
    """The fix that would win in the store: latest device time, then highest sequence."""
    return max(fixes, key=lambda f: (f.ts_ms, f.seq))


def frame(kind: str, **fields: Any) -> bytes:
    """A server frame as JSON bytes."""
    return orjson.dumps({"type": kind, **fields})


def ack_frame(seq: int, n: int) -> bytes:
    """The `ack` frame: `n` fixes stored, the highest sequence number `seq` (see `frame`)."""
    return b'{"type":"ack","seq":%d,"n":%d}' % (seq, n)


def error_frame(error: DispatchError, **context: Any) -> bytes:
    """The `error` frame for a `DispatchError`, with optional context (seq, rejected...)."""
    return frame("error", **{**error.to_dict(), **context})


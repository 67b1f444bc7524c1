"""`parse_fix` checks well-formed fixes inline and leaves the rest to the field-by-field
validator: both paths must accept the same fixes and name the same first bad field."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.errors import ValidationFailed
from dispatch.riders import protocol as p
from dispatch.riders.protocol import _parse_fix

NOW = 1_764_000_000_000
LIMITS = p.FixLimits(max_future_ms=5_000, max_age_ms=3_600_000)

_values = st.one_of(
    st.none(), st.booleans(), st.text(max_size=3),
    st.integers(min_value=-2**60, max_value=2**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-200, max_value=200),
    st.integers(min_value=NOW - 4_000_000, max_value=NOW + 10_000),
)
_fixes = st.dictionaries(
    st.sampled_from(["seq", "lat", "lng", "ts", "speed", "heading", "accuracy", "other"]),
    _values,
)


def _outcome(parse: Any, obj: Any) -> tuple[str, Any]:
    try:
        return "ok", parse(obj, NOW, LIMITS)
    except ValidationFailed as err:
        return "error", (err.field, err.message)


@settings(max_examples=600, deadline=None)
@given(_fixes | st.lists(st.integers(), max_size=2) | st.none())
def test_the_inline_check_agrees_with_the_field_by_field_validator(obj: Any) -> None:
    assert _outcome(p.parse_fix, obj) == _outcome(_parse_fix, obj)


@settings(max_examples=300, deadline=None)
@given(seq=st.integers(0, p.MAX_SEQ), lat=st.floats(-90, 90), lng=st.floats(-180, 180),
       age=st.integers(-5_000, 3_600_000),
       speed=st.none() | st.floats(0, 150) | st.integers(0, 150))
def test_well_formed_fixes_are_accepted_as_sent(seq: int, lat: float, lng: float, age: int,
                                               speed: float | None) -> None:
    obj: dict[str, Any] = {"seq": seq, "lat": lat, "lng": lng, "ts": NOW - age}
    if speed is not None:
        obj["speed"] = speed
    fix = p.parse_fix(obj, NOW, LIMITS)
    assert (fix.seq, fix.lat, fix.lng, fix.ts_ms) == (seq, lat, lng, NOW - age)
    assert fix.extra == ("" if speed is None else f"{float(speed)!r}||")


def test_a_nan_latitude_is_refused_by_name() -> None:
    obj = {"seq": 1, "lat": math.nan, "lng": 0.0, "ts": NOW}
    assert _outcome(p.parse_fix, obj) == ("error", ("lat", "lat must be within [-90.0, 90.0]"))

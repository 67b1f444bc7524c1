"""The instance readers on tiny fixtures of both formats, and format detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.instances import (
    InstanceFormatError,
    detect_format,
    find_instances,
    load_instance,
)
from tests.simulators.fixtures import write_mdrplib, write_mdrpsim


def test_mdrplib_reader_converts_minutes_to_seconds_and_promises_the_target(
    tmp_path: Path,
) -> None:
    instance = load_instance(write_mdrplib(tmp_path / "0o50t100s1p100"))
    assert instance.source == "mdrplib"
    assert [o.order_id for o in instance.orders] == ["o1", "o2"]  # sorted by placement
    o1 = instance.orders[0]
    assert (o1.pickup_lat, o1.pickup_lng) == (3200.0, 0.0)  # the restaurant's y, x
    assert (o1.dropoff_lat, o1.dropoff_lng) == (6400.0, 0.0)
    assert (o1.placed_s, o1.ready_s, o1.promised_s) == (0.0, 900.0, 2400.0)
    assert o1.merchant_id == "r1"
    rules = instance.rules
    assert rules.metres_per_minute == 320.0
    assert (rules.pickup_service_s, rules.dropoff_service_s) == (240.0, 240.0)
    assert (rules.pay_per_order_minor, rules.pay_per_hour_minor) == (1000, 1500)
    assert instance.couriers[0].off_s == 3600.0


def test_mdrpsim_reader_reads_clock_times_and_moves_past_midnight_to_the_next_day(
    tmp_path: Path,
) -> None:
    instance = load_instance(write_mdrpsim(tmp_path / "day"))
    assert instance.source == "mdrp-sim"
    first, late = instance.orders
    assert (first.placed_s, first.ready_s, first.promised_s) == (43200.0, 44130.0, 45600.0)
    assert late.ready_s == 86400.0 + 600.0
    assert late.promised_s == 86400.0 + 2100.0
    assert first.merchant_id == late.merchant_id  # same pickup coordinates
    walker, night = instance.couriers
    assert walker.vehicle == "walking"
    assert night.off_s == 86400.0 + 7200.0
    assert instance.rules.travel().travel_s(3.45, -76.53, 3.46, -76.52, "walking") > 0


def test_format_is_detected_from_the_files_present(tmp_path: Path) -> None:
    write_mdrplib(tmp_path / "lib" / "a")
    write_mdrpsim(tmp_path / "sim" / "1")
    (tmp_path / "empty").mkdir()
    assert detect_format(tmp_path / "lib" / "a") == "mdrplib"
    assert detect_format(tmp_path / "sim" / "1") == "mdrp-sim"
    assert detect_format(tmp_path / "empty") is None
    assert [p.name for p in find_instances(tmp_path)] == ["a", "1"]
    with pytest.raises(InstanceFormatError):
        load_instance(tmp_path / "empty")


def test_a_missing_column_is_reported_with_the_file(tmp_path: Path) -> None:
    directory = write_mdrplib(tmp_path / "bad")
    (directory / "couriers.txt").write_text("courier\tx\ty\ton_time\nc1\t0\t0\t0\n")
    with pytest.raises(InstanceFormatError, match=r"couriers\.txt"):
        load_instance(directory)

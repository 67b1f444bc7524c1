"""`dispatch-sim`: the report file and the last-line summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulators.cli import main
from tests.simulators.fixtures import write_mdrplib

SUMMARY = {"orders", "delivered_share", "click_to_door_mean_min", "click_to_door_p90_min",
           "on_time_share", "orders_per_rider_hour", "km_per_order", "policy", "wall_s"}


def _replay(tmp_path: Path, *options: str) -> dict[str, Any]:
    """`dispatch-sim replay` on the tiny MDRP instance; the report it wrote."""
    instance = write_mdrplib(tmp_path / "tiny")
    out = tmp_path / "report.json"
    assert main(["replay", "--instance", str(instance), *options, "--out", str(out)]) == 0
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def test_replay_writes_the_report_and_ends_with_the_summary_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _replay(tmp_path, "--policy", "greedy")
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(last) >= SUMMARY
    assert last["policy"] == "greedy"
    assert last["orders"] == 2
    assert report["delivered"] + len(report["undelivered"]) == 2
    assert report["rule_breaches"] == 0
    assert report["distance_weight"] == 0.0  # an MDRP instance prices no kilometre


def test_the_distance_weight_can_be_set_and_is_reported(tmp_path: Path) -> None:
    assert _replay(tmp_path, "--distance-weight", "0.05")["distance_weight"] == 0.05


def test_compare_runs_every_policy_on_the_same_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instance = write_mdrplib(tmp_path / "tiny")
    assert main(["compare", "--instance", str(instance), "--estimate-ready"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| policy")
    policies = [row["policy"] for row in json.loads(lines[-1])["policies"]]
    assert policies == ["greedy", "flow", "full"]

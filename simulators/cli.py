"""`dispatch-sim`: replay a delivery day offline and compare dispatch policies on it.

    dispatch-sim replay --instance DIR --policy full [--estimate-ready] [--out report.json]
    dispatch-sim compare --instance DIR [--estimate-ready] [--out comparison.json]

Both print a human table, then as their last line one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulators.evaluate.report import build_report, summary, table
from simulators.instances import load_instance
from simulators.live.cli import add_parser as add_simulate
from simulators.replay import POLICY_NAMES, ReplayConfig, replay
from simulators.replay.policies import REAL_DAY_DISTANCE_WEIGHT, PolicyTuning


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dispatch-sim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("replay", "replay one policy"), ("compare", "replay every policy")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--instance", required=True, type=Path, help="instance directory")
        if name == "replay":
            cmd.add_argument("--policy", default="full", choices=POLICY_NAMES)
        cmd.add_argument("--estimate-ready", action="store_true",
                         help="estimate ready times from each merchant's history")
        cmd.add_argument("--interval", type=float, default=ReplayConfig().batch_interval_s,
                         help="seconds between batches")
        cmd.add_argument("--seed", type=int, default=0)
        cmd.add_argument("--distance-weight", type=float, default=None, metavar="W",
                         help="price of a metre ridden, in seconds of click-to-door "
                              f"(default: {REAL_DAY_DISTANCE_WEIGHT} on real days, 0 on MDRP "
                              "instances)")
        cmd.add_argument("--out", type=Path, help="write the JSON report here")
    add_simulate(sub)  # live mode: `simulate`, defined in simulators/live/cli.py
    return parser


def run_one(instance_dir: Path, policy: str, args: argparse.Namespace) -> dict[str, Any]:
    """Replay one policy on one instance and return its report."""
    tuning = PolicyTuning(distance_weight=args.distance_weight)
    config = ReplayConfig(policy=policy, estimate_ready=args.estimate_ready,
                          batch_interval_s=args.interval, seed=args.seed, tuning=tuning)
    return build_report(replay(load_instance(instance_dir), config))


def _write(path: Path | None, document: Any) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `dispatch-sim` console script."""
    args = _parser().parse_args(argv)
    if args.command == "simulate":
        return int(args.run(args))
    policies = [args.policy] if args.command == "replay" else list(POLICY_NAMES)
    reports = [run_one(args.instance, p, args) for p in policies]
    sys.stdout.write(table(reports) + "\n")
    if args.command == "replay":
        _write(args.out, reports[0])
        line: dict[str, Any] = summary(reports[0])
    else:
        _write(args.out, {"reports": reports})
        line = {"instance": reports[0]["instance"], "policies": [summary(r) for r in reports]}
    sys.stdout.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

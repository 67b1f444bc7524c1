"""`dispatch-sim simulate`: play a synthetic city against the live service.

    dispatch-sim simulate [--url URL] [--riders N] [--orders-per-min M] [--minutes T]
                          [--speed X] [--seed S] [--out report.json]

Without `--url` the service is started on its embedded defaults (its own redis-server,
SQLite in a temporary directory) with the scenario's service area and load-test limits.
Writes the JSON report (and PNG plots next to it when matplotlib is installed) and
prints, as its last line, one JSON object of headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from simulators.city import CityParams, Scenario, build_scenario
from simulators.live import report as live_report
from simulators.live.params import LiveParams

SIM_START_S = 11.5 * 3600  # the played window starts before the lunch peak


def add_parser(verbs: Any) -> None:
    """Register the `simulate` verb on a `dispatch-sim` sub-parser set."""
    cmd = verbs.add_parser("simulate", help="load-test the live service with a synthetic city",
                           description=__doc__.splitlines()[0])
    cmd.add_argument("--url", help="the service's base URL (default: start one)")
    cmd.add_argument("--operator-token", help="operator token for --url (checks the counts)")
    cmd.add_argument("--riders", type=int, default=200)
    cmd.add_argument("--orders-per-min", type=float, default=30.0,
                     help="orders placed per wall-clock minute")
    cmd.add_argument("--minutes", type=float, default=5.0, help="wall minutes of placing orders")
    cmd.add_argument("--speed", type=float, default=10.0, help="simulated seconds per wall second")
    cmd.add_argument("--seed", type=int, default=1)
    cmd.add_argument("--fix-every", type=float, default=LiveParams().fix_every_wall_s,
                     help="wall seconds between a rider's GPS fixes")
    cmd.add_argument("--connect-rate", type=float, default=LiveParams().connect_per_s,
                     help="riders connecting per second at the start")
    cmd.add_argument("--drain", type=float, default=None,
                     help="wall seconds to let open orders finish after the last one is "
                          "placed (default: 75 simulated minutes)")
    cmd.add_argument("--service-env", action="append", default=[], metavar="NAME=VALUE",
                     help="a DISPATCH_* setting for the service it starts (repeat), e.g. "
                          "DISPATCH_DATABASE_URL=postgresql://...")
    cmd.add_argument("--out", type=Path, help="write the JSON report here")
    cmd.set_defaults(run=main_simulate)


def city_params(args: argparse.Namespace) -> CityParams:
    """The synthetic city of the command's arguments: every rider on for the whole window."""
    window_s = args.minutes * 60 * args.speed
    return CityParams(riders=args.riders, orders=args.orders_per_min * args.minutes,
                      start_s=SIM_START_S, end_s=SIM_START_S + window_s, full_shifts=True,
                      merchants=max(20, min(300, args.riders // 10)),
                      customers=max(500, args.riders))


async def simulate(args: argparse.Namespace, scenario: Scenario) -> dict[str, Any]:
    """Run the scenario (starting the service if no --url) and build the report."""
    # Imported here so that `dispatch-sim replay` does not need the HTTP client.
    from simulators.live.runner import Target, run_live  # noqa: PLC0415
    from simulators.live.service import embedded_service  # noqa: PLC0415

    params = LiveParams(speed=args.speed, fix_every_wall_s=args.fix_every,
                        connect_per_s=args.connect_rate, drain_wall_s=args.drain)
    if args.url:
        record = await run_live(Target(args.url, args.operator_token), scenario, params)
        return live_report.build(record)
    extra = dict(item.split("=", 1) for item in args.service_env)
    async with embedded_service(scenario.area_geojson(), extra) as started:
        record = await run_live(Target(started.url, started.operator_token, started.pid),
                                scenario, params)
        return {**live_report.build(record), "service_log": str(started.data_dir / "service.log")}


def main_simulate(args: argparse.Namespace) -> int:
    """Entry point of `dispatch-sim simulate`."""
    scenario = build_scenario(city_params(args), args.seed)
    document = live_report.clean(asyncio.run(simulate(args, scenario)))
    if args.out is not None:
        from simulators.live.plots import write_plots  # noqa: PLC0415

        document["plots"] = write_plots(document, scenario, args.out.with_suffix(""))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(json.dumps(live_report.summary(document)) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m simulators.live.cli simulate ...` (the same as `dispatch-sim simulate`)."""
    parser = argparse.ArgumentParser(prog="dispatch-sim")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())

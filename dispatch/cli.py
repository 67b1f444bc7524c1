"""The `dispatch` command line: `serve` runs the service, `optimizer` runs batch loops on
their own, `token` mints access tokens."""

from __future__ import annotations

import os

# The parent as this process first sees it, read before the imports below (a quarter of a
# second, more on a loaded host): a parent that dies during them is then still noticed by
# `--exit-with-parent`, which compares it with the parent once the death signal is armed.
_PARENT_AT_START = os.getppid()

import argparse
import asyncio
import sys
from collections.abc import Sequence

import uvicorn

from dispatch.auth.tokens import ROLES, TokenSigner, load_or_create_secret
from dispatch.children import exit_with_parent
from dispatch.config import Settings, get_settings
from dispatch.logs import configure_logging


def uvicorn_config(settings: Settings, *, host: str, port: int, freeze_gc: bool = False
                   ) -> uvicorn.Config:
    """The uvicorn configuration that enforces the rider stream's transport limits and sends
    each HTTP response in one write. `freeze_gc`: the process is this server alone, so what
    its start-up made is frozen out of the garbage collector and its young generation is
    collected less often (`dispatch.gc_policy`)."""
    from dispatch.app import create_app  # noqa: PLC0415  (keep `dispatch token` light)
    from dispatch.http_writes import CoalescingHttpProtocol  # noqa: PLC0415
    from dispatch.riders.fastpath import RiderStreamProtocol  # noqa: PLC0415

    app = create_app(settings)
    app.state.freeze_gc = freeze_gc
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http=CoalescingHttpProtocol,  # httptools, each response in one write
        ws=RiderStreamProtocol,  # serves the rider stream; other paths go to uvicorn's own
        ws_max_size=settings.max_frame_bytes,
        ws_max_queue=8,
        ws_per_message_deflate=False,  # frames are tiny JSON: compressing costs more than it saves
        ws_ping_interval=settings.ping_interval_s,
        ws_ping_timeout=settings.ping_timeout_s,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    uvicorn.Server(uvicorn_config(settings, host=args.host or settings.host,
                                  port=args.port if args.port is not None else settings.port,
                                  freeze_gc=True)).run()
    return 0


def _optimizer(args: argparse.Namespace, settings: Settings) -> int:
    from dispatch.optimizer.service.runner import run_standalone  # noqa: PLC0415

    if settings.redis_url is None:
        print("dispatch optimizer needs DISPATCH_REDIS_URL (the API's Redis)", file=sys.stderr)
        return 2
    asyncio.run(run_standalone(settings, args.region or [], metrics_port=args.metrics_port))
    return 0


def _token(args: argparse.Namespace, settings: Settings) -> int:
    signer = TokenSigner(load_or_create_secret(settings.secret_key, settings.data_dir),
                         ttl_s=settings.token_ttl_s)
    if args.role == "rider" and not args.region:
        print("a rider token needs --region", file=sys.stderr)
        return 2
    print(signer.mint(args.subject, args.role, region=args.region, ttl_s=args.ttl))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every verb."""
    parser = argparse.ArgumentParser(prog="dispatch", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    supervised = argparse.ArgumentParser(add_help=False)
    supervised.add_argument(
        "--exit-with-parent", action="store_true",
        help="stop (as on SIGTERM) when the process that started this one dies, even killed "
             "with SIGKILL; exit at once if it is gone already (Linux only: elsewhere a "
             "warning)")
    serve = verbs.add_parser("serve", parents=[supervised],
                             help="run the service (embedded Redis unless configured)")
    serve.add_argument("--host", default=None, help="bind address (DISPATCH_HOST)")
    serve.add_argument("--port", type=int, default=None, help="port (DISPATCH_PORT)")
    serve.set_defaults(run=_serve)
    optimizer = verbs.add_parser(
        "optimizer", parents=[supervised],
        help="run the batch loops of some regions as their own process (set "
             "DISPATCH_OPTIMIZER_EMBEDDED=false on the API workers)")
    optimizer.add_argument("--region", action="append", default=None,
                           help="a region to batch (repeat; default DISPATCH_OPTIMIZER_REGIONS "
                                "or every service area)")
    optimizer.add_argument("--metrics-port", type=int, default=None,
                           help="serve Prometheus metrics on this port")
    optimizer.set_defaults(run=_optimizer)
    token = verbs.add_parser("token", help="mint an access token signed with the service's key")
    token.add_argument("--role", choices=sorted(ROLES), required=True)
    token.add_argument("--subject", required=True, help="the user or rider id")
    token.add_argument("--region", default=None, help="the rider's region (riders only)")
    token.add_argument("--ttl", type=int, default=None, help="lifetime in seconds")
    token.set_defaults(run=_token)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `dispatch` command."""
    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    if getattr(args, "exit_with_parent", False):  # before the verb starts anything
        exit_with_parent(_PARENT_AT_START)
    code: int = args.run(args, settings)
    return code


if __name__ == "__main__":
    sys.exit(main())

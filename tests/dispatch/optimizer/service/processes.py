"""Service processes for crash tests: `dispatch optimizer` and `dispatch serve` as children
we can kill -9, configured like the in-process service of the same test."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import httpx

from dispatch.children import die_with_parent
from dispatch.config import Settings
from tests.conftest import TEST_SECRET


def child_env(settings: Settings, **overrides: Any) -> dict[str, str]:
    """DISPATCH_* variables that point a child at the same Redis, database and secret."""
    values: dict[str, Any] = {
        "redis_url": settings.redis_url, "database_url": settings.database_url,
        "database_schema": settings.database_schema, "secret_key": TEST_SECRET,
        "data_dir": settings.data_dir, "log_format": "text", "log_level": "INFO",
        "batch_interval_s": settings.batch_interval_s, "lease_ttl_s": settings.lease_ttl_s,
        "batch_time_limit_s": settings.batch_time_limit_s,
        "offline_grace_s": settings.offline_grace_s, "password_time_cost": 1,
        "password_memory_kib": 64, **overrides,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env.update({f"DISPATCH_{k.upper()}": str(v) for k, v in values.items() if v is not None})
    return env


# Every child `spawn` started, so that one a failed test never got to kill is reaped.
_children: list[asyncio.subprocess.Process] = []


async def spawn(args: list[str], env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    """Start `python -m dispatch.cli <args>` with its output in `log`."""
    return await spawn_command([sys.executable, "-m", "dispatch.cli", *args], env, log)


async def spawn_command(argv: list[str], env: dict[str, str], log: Path
                        ) -> asyncio.subprocess.Process:
    """Start `argv` from the repository's root with its output in `log`; reaped at the end
    of the test if still running."""
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT,
            cwd=Path(__file__).parents[4], preexec_fn=die_with_parent())
    _children.append(process)
    return process


async def reap_children() -> list[int]:
    """SIGKILL every child of `spawn` still running; their pids. (A test that fails between
    starting a child and killing it would otherwise leave it running after the suite, still
    batching against a database schema and a Redis that are gone.)"""
    left = [process for process in _children if process.returncode is None]
    _children.clear()
    for process in left:
        await kill_9(process)
    return [process.pid for process in left]


async def kill_9(process: asyncio.subprocess.Process) -> None:
    """SIGKILL: no cleanup, no lease release, sockets dropped by the kernel."""
    process.send_signal(signal.SIGKILL)
    await process.wait()


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM and wait (killing it if it takes too long)."""
    if process.returncode is None:
        process.terminate()
        try:
            async with asyncio.timeout(15):
                await process.wait()
        except TimeoutError:
            await kill_9(process)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_healthy(base_url: str, process: asyncio.subprocess.Process,
                       timeout_s: float = 60) -> None:
    """Poll /healthz until the child answers."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(int(timeout_s * 10)):
            if process.returncode is not None:
                raise AssertionError(f"child exited with {process.returncode}")
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("child never became healthy")

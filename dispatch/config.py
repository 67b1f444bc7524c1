"""The service's one `Settings` class, read from `DISPATCH_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from dispatch.gc_policy import YOUNG_THRESHOLD


class Settings(BaseSettings):
    """Every tunable of the service; see docs/configuration.md for the meaning of each."""

    model_config = SettingsConfigDict(env_prefix="DISPATCH_", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    data_dir: Path = Path("var")
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    worker_id: str = ""

    # Redis: unset means "start our own redis-server as a child process".
    redis_url: str | None = None
    redis_server_binary: str | None = None
    redis_timeout_s: float = Field(2.0, gt=0)
    redis_max_connections: int = Field(256, ge=8)  # per process; waiters queue up to timeout

    # Auth: unset means "generate one and keep it in data_dir/secret_key".
    secret_key: str | None = None
    token_ttl_s: int = Field(3600, gt=0)

    # Live store.
    h3_resolution: int = Field(9, ge=5, le=11)
    stale_after_s: float = Field(60.0, gt=0)
    evict_interval_s: float = Field(5.0, gt=0)
    rider_key_ttl_s: int = Field(86_400, gt=0)
    max_write_batch: int = Field(2000, ge=1)
    max_write_calls: int = Field(4, ge=1)  # script calls in flight at once, per worker
    gc_young_threshold: int = Field(YOUNG_THRESHOLD, ge=0)  # under `dispatch serve`; 0: 700

    # Rider stream protocol limits.
    max_frame_bytes: int = Field(256 * 1024, ge=1024)
    max_fixes_per_batch: int = Field(500, ge=1)
    max_future_skew_s: float = Field(120.0, ge=0)
    max_fix_age_s: float = Field(86_400.0, gt=0)
    auth_timeout_s: float = Field(10.0, gt=0)
    max_opening_riders: int = Field(10_000, ge=1)  # hellos awaiting their welcome, per worker
    offline_grace_s: float = Field(30.0, ge=0)
    ping_interval_s: float = Field(20.0, gt=0)
    ping_timeout_s: float = Field(20.0, gt=0)
    rate_frames_per_s: float = Field(20.0, gt=0)
    rate_burst_frames: float = Field(60.0, ge=1)
    rate_max_violations: int = Field(20, ge=1)

    # Database: unset means "an SQLite file in data_dir"; else a postgresql:// or sqlite:// URL.
    database_url: str | None = None
    database_schema: str | None = None  # PostgreSQL only: use this schema (created if missing)
    database_pool_size: int = Field(20, ge=1)
    database_timeout_s: float = Field(5.0, gt=0)
    migrate_on_start: bool = True

    # Accounts: argon2id cost (lower only in tests) and refresh-token lifetime.
    password_time_cost: int = Field(2, ge=1)
    password_memory_kib: int = Field(19_456, ge=8)
    refresh_token_ttl_s: int = Field(30 * 86_400, gt=0)
    # Riders on the stream must have an active rider account in their token's region.
    rider_accounts_required: bool = True

    # Orders: where we deliver, and how long idempotency keys live.
    service_areas_path: Path | None = None  # GeoJSON; unset means the built-in "city" area
    idempotency_ttl_s: int = Field(86_400, ge=86_400)
    idempotency_lock_s: float = Field(30.0, gt=0)
    order_page_max: int = Field(100, ge=1)

    # Outbox relay to the Redis stream of events.
    outbox_relay: bool = True
    outbox_stream: str = "dispatch:events"
    outbox_poll_s: float = Field(0.2, gt=0)
    outbox_batch: int = Field(500, ge=1)
    outbox_stream_maxlen: int = Field(1_000_000, ge=1000)

    # Payments: webhook secrets, comma-separated (several during rotation), and tolerance.
    payment_webhook_secrets: str = ""
    payment_webhook_tolerance_s: int = Field(300, gt=0)

    # Nearby queries.
    nearby_max_radius_m: float = Field(20_000.0, gt=0)
    nearby_max_k: int = Field(200, ge=1)

    # Optimizer: one batch loop per region, owned through a fenced Redis lease.
    optimizer_embedded: bool = True  # run the batch loops inside the API process
    optimizer_regions: str = ""  # comma-separated; empty means every service-area region
    batch_interval_s: float = Field(2.0, gt=0)
    batch_time_limit_s: float = Field(1.0, gt=0)  # the solve's budget, within the interval
    batch_max_orders: int = Field(2000, ge=1)  # oldest first; the rest wait for a later batch
    lease_ttl_s: float = Field(6.0, gt=0)  # a dead optimizer's region is free after this
    offer_timeout_s: int = Field(30, ge=1, le=3600)
    # A rider who declined an order, let its offer lapse or went away holding it is not
    # offered that order again for this long (then it may be, if still nobody took it).
    offer_exclusion_s: float = Field(900.0, ge=0)
    rider_capacity: int = Field(3, ge=1, le=20)  # orders a rider may hold at once
    candidate_radius_m: float = Field(5000.0, gt=0)
    candidate_riders: int = Field(24, ge=1, le=200)  # nearest riders fetched per pickup


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()

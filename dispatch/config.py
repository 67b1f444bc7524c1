"""The service's one `Settings` class, read from `DISPATCH_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    # Auth: unset means "generate one and keep it in data_dir/secret_key".
    secret_key: str | None = None
    token_ttl_s: int = Field(3600, gt=0)

    # Live store.
    h3_resolution: int = Field(9, ge=5, le=11)
    stale_after_s: float = Field(60.0, gt=0)
    evict_interval_s: float = Field(5.0, gt=0)
    rider_key_ttl_s: int = Field(86_400, gt=0)
    max_write_batch: int = Field(2000, ge=1)

    # Rider stream protocol limits.
    max_frame_bytes: int = Field(256 * 1024, ge=1024)
    max_fixes_per_batch: int = Field(500, ge=1)
    max_future_skew_s: float = Field(120.0, ge=0)
    max_fix_age_s: float = Field(86_400.0, gt=0)
    auth_timeout_s: float = Field(10.0, gt=0)
    offline_grace_s: float = Field(30.0, ge=0)
    ping_interval_s: float = Field(20.0, gt=0)
    ping_timeout_s: float = Field(20.0, gt=0)
    rate_frames_per_s: float = Field(20.0, gt=0)
    rate_burst_frames: float = Field(60.0, ge=1)
    rate_max_violations: int = Field(20, ge=1)

    # Nearby queries.
    nearby_max_radius_m: float = Field(20_000.0, gt=0)
    nearby_max_k: int = Field(200, ge=1)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()

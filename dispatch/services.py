"""`Services`: the long-lived resources of one process, created in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from dispatch.auth.tokens import TokenSigner
from dispatch.config import Settings
from dispatch.live.store import LiveStore
from dispatch.live.writer import PositionWriter
from dispatch.metrics import Metrics
from dispatch.riders.hub import RiderHub


@dataclass
class Services:
    """Everything a request handler may need."""

    settings: Settings
    redis: Redis
    store: LiveStore
    writer: PositionWriter
    hub: RiderHub
    metrics: Metrics
    signer: TokenSigner

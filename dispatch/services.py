"""`Services`: the long-lived resources of one process, created in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dispatch.auth.tokens import TokenSigner
from dispatch.config import Settings
from dispatch.live.store import LiveStore
from dispatch.live.writer import PositionWriter
from dispatch.metrics import Metrics
from dispatch.orders.service import CreateParams
from dispatch.orders.tracking import OrderEvents
from dispatch.payments.provider import PaymentProvider
from dispatch.riders.hub import RiderHub
from dispatch.users.passwords import Passwords
from geo.zones import ServiceAreas


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
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    passwords: Passwords
    payments: PaymentProvider
    areas: ServiceAreas
    order_events: OrderEvents

    @property
    def order_params(self) -> CreateParams:
        """What order creation needs, bundled."""
        return CreateParams(db=self.db, provider=self.payments, areas=self.areas,
                            lock_s=self.settings.idempotency_lock_s,
                            ttl_s=self.settings.idempotency_ttl_s)

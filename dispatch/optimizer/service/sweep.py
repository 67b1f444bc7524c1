"""Before each batch: return to the pool the orders whose offers can no longer be answered.

Offers past their deadline expire. Offers held by riders the live store shows offline,
busy, on break or stale are released (the grace timer of a closed socket marks a rider
offline; a worker killed outright leaves its riders to go stale). A rider the store does
not know at all (Redis restarted empty and it has not reported since) keeps its offers
until they expire: its next fix brings it back within seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.live.models import RiderStatus
from dispatch.live.store import LiveStore, now_ms
from dispatch.optimizer.service import queries
from dispatch.orders.offers import expire_offers, release_riders_offers


@dataclass(frozen=True)
class Swept:
    """How many offers the sweep expired and released."""

    expired: int
    released: int


async def unavailable_riders(store: LiveStore, region: str, rider_ids: list[str],
                             stale_after_s: float) -> list[str]:
    """Those of the riders that the live store shows unable to take work now."""
    fresh_after = now_ms() - int(stale_after_s * 1000)
    gone = []
    for rider_id in rider_ids:
        state = await store.get_rider(region, rider_id)
        if state is not None and (state.status != RiderStatus.AVAILABLE
                                  or (state.last_seen_ms or 0) < fresh_after):
            gone.append(rider_id)
    return gone


async def sweep(*, db: queries.Db, store: LiveStore, region: str, stale_after_s: float
                ) -> Swept:
    """Expire lapsed offers and release those of riders who went away."""
    expired = await expire_offers(db=db)
    holders = await queries.riders_with_pending_offers(db=db, region=region)
    gone = await unavailable_riders(store, region, holders, stale_after_s)
    released = await release_riders_offers(db=db, rider_ids=gone)
    return Swept(expired=expired, released=released)

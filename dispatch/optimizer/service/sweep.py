"""Before each batch: return to the pool the orders whose offers can no longer be answered.

Offers past their deadline expire. Offers held by riders the live store shows offline,
busy, on break or stale are released (the grace timer of a closed socket marks a rider
offline; a worker killed outright leaves its riders to go stale). A rider the store does
not know at all (Redis restarted empty and it has not reported since) keeps its offers
until they expire: its next fix brings it back within seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
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


@dataclass(frozen=True)
class Liveness:
    """Riders split by what the live store says about them right now."""

    available: frozenset[str]  # available and fresh: may be offered work
    gone: frozenset[str]  # offline, busy, on break, or stale
    unknown: frozenset[str]  # not in the store (e.g. Redis restarted empty)


async def liveness(store: LiveStore, region: str, rider_ids: Iterable[str],
                   stale_after_s: float) -> Liveness:
    """Read the riders' live state (one round trip) and split them."""
    ids = sorted(set(rider_ids))
    states = await store.get_riders(region, ids)
    fresh_after = now_ms() - int(stale_after_s * 1000)
    split: dict[str, set[str]] = {"available": set(), "gone": set(), "unknown": set()}
    for rider_id, state in zip(ids, states, strict=True):
        if state is None:
            split["unknown"].add(rider_id)
        elif state.status == RiderStatus.AVAILABLE and (state.last_seen_ms or 0) >= fresh_after:
            split["available"].add(rider_id)
        else:
            split["gone"].add(rider_id)
    return Liveness(**{name: frozenset(ids) for name, ids in split.items()})


async def sweep(*, db: queries.Db, store: LiveStore, region: str, stale_after_s: float
                ) -> Swept:
    """Expire lapsed offers and release those of riders who went away."""
    expired = await expire_offers(db=db)
    holders = await queries.riders_with_pending_offers(db=db, region=region)
    live = await liveness(store, region, holders, stale_after_s)
    released = await release_riders_offers(db=db, rider_ids=sorted(live.gone))
    return Swept(expired=expired, released=released)

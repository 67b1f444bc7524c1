"""Couriers during a replay: where and when each is free, truly and as the dispatcher sees it.

A courier's committed trips run back to back; the dispatcher treats it as free at
the end of its last trip, at that trip's last stop. With ready times estimated,
a trip whose pickup has not happened yet ends, in the dispatcher's eyes, when it
would with the estimated ready time instead of the true one.

A courier waiting at a restaurant for food not ready yet can be offered to the
optimizer again (`waiting`, then `release` if it is given other work): it is
seen free now, where it waits.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from dispatch.optimizer.core import RiderSpec
from simulators.instances import DayCourier, DayOrder, Instance
from simulators.replay.ready import ReadyBoard
from simulators.replay.trips import Leg, Trip, Visit, cut_at_wait, waiting_pickup


class Fleet:
    """Every courier's state; arrays for the per-batch filter, trips for the record."""

    def __init__(self, instance: Instance) -> None:
        self.couriers: tuple[DayCourier, ...] = instance.couriers
        self.index = {c.courier_id: i for i, c in enumerate(self.couriers)}
        self.on_s = np.array([c.on_s for c in self.couriers], dtype=np.float64)
        self.off_s = np.array([c.off_s for c in self.couriers], dtype=np.float64)
        self.free_s = self.on_s.copy()
        self.lat = np.array([c.lat for c in self.couriers], dtype=np.float64)
        self.lng = np.array([c.lng for c in self.couriers], dtype=np.float64)
        self.trips: list[Trip] = []
        self._last_trip: dict[int, int] = {}  # courier index -> its last trip's index in trips
        self._orders: dict[str, DayOrder] = {o.order_id: o for o in instance.orders}
        self._half_pickup = instance.rules.pickup_service_s / 2
        # The spec last handed out per courier, and the availability it was made for
        # (NaN: none, or the courier's state changed since).
        self._specs: list[RiderSpec | None] = [None] * len(self.couriers)
        self._spec_s = np.full(len(self.couriers), np.nan)

    def leg(self, courier_id: str, now_s: float) -> Leg:
        """Where and when the courier would start a trip committed at `now_s`."""
        i = self.index[courier_id]
        c = self.couriers[i]
        depart = max(now_s, float(self.free_s[i]))
        return Leg(c.courier_id, float(self.lat[i]), float(self.lng[i]), depart, c.off_s, c.vehicle)

    def record(self, trip: Trip) -> None:
        """Append a committed trip: the courier is next free at its end."""
        i = self.index[trip.courier_id]
        self._last_trip[i] = len(self.trips)
        self.trips.append(trip)
        self.free_s[i] = trip.end_s
        self.lat[i], self.lng[i] = trip.end_lat, trip.end_lng
        self._spec_s[i] = np.nan

    def waiting(self, now_s: float) -> dict[str, Visit]:
        """Couriers waiting at a restaurant for food not ready by `now_s`, with that pickup.

        Only a courier's last trip can be waiting: a later trip would start after it.
        """
        waiting = {}
        for i in np.flatnonzero(self.free_s > now_s).tolist():
            k = self._last_trip.get(i)
            visit = None if k is None else waiting_pickup(self.trips[k], now_s, self._half_pickup)
            if visit is not None:
                waiting[self.couriers[i].courier_id] = visit
        return waiting

    def release(self, courier_id: str, visit: Visit, now_s: float) -> Trip:
        """Take a waiting courier off its trip at `now_s`: it is free where it waits.

        Returns the trip as cut (its `released` orders go back to the pool).
        """
        i = self.index[courier_id]
        k = self._last_trip[i]
        cut = cut_at_wait(self.trips[k], visit, now_s)
        self.trips[k] = cut
        self.free_s[i] = cut.end_s
        self.lat[i], self.lng[i] = cut.end_lat, cut.end_lng
        self._spec_s[i] = np.nan
        return cut

    def available(
        self, now_s: float, lookahead_s: float, board: ReadyBoard, capacity: int,
        waiting: Mapping[str, Visit] | None = None,
    ) -> list[RiderSpec]:
        """Couriers on shift (or starting soon) that the dispatcher sees free by now + lookahead.

        Each is a `RiderSpec` free at the end of its committed trips, at their last
        stop; specs are kept until the courier's state (or its estimate) changes.
        Couriers in `waiting` are seen free now, where they wait.
        """
        horizon = now_s + lookahead_s
        on_shift = (self.on_s <= horizon) & (self.off_s > now_s)
        waits = [(self.index[c], v) for c, v in (waiting or {}).items()]
        on_shift[[i for i, _ in waits]] = False  # seen below, where they wait
        idx = np.flatnonzero(on_shift)
        seen = self.free_s[idx]
        if not board.known:
            busy = np.flatnonzero(seen > now_s)
            seen[busy] = [self._seen_free_s(int(idx[k]), now_s, board) for k in busy.tolist()]
        keep = (seen <= horizon) & (seen < self.off_s[idx])
        idx = idx[keep]
        available = np.maximum(seen[keep], self.on_s[idx])
        stale = self._spec_s[idx] != available  # NaN never equals: no spec yet
        for i, free in zip(idx[stale].tolist(), available[stale].tolist(), strict=True):
            self._specs[i] = self._new_spec(i, free, capacity, self.lat[i], self.lng[i])
            self._spec_s[i] = free
        for i, visit in waits:
            # Made afresh every batch (NaN key): free now, not at its trip's end.
            self._specs[i] = self._new_spec(i, now_s, capacity, visit.lat, visit.lng)
            self._spec_s[i] = np.nan
        specs = self._specs
        return [specs[i] for i in [*idx.tolist(), *(i for i, _ in waits)]]  # type: ignore[misc]

    def spec(self, courier_id: str) -> RiderSpec:
        """The spec last handed out for a courier by `available`."""
        spec = self._specs[self.index[courier_id]]
        if spec is None:
            raise KeyError(courier_id)
        return spec

    def _new_spec(
        self, i: int, available_s: float, capacity: int, lat: float, lng: float
    ) -> RiderSpec:
        """Courier `i` as the optimizer sees it: free at `available_s` at (`lat`, `lng`)."""
        c = self.couriers[i]
        return RiderSpec(rider_id=c.courier_id, lat=float(lat), lng=float(lng),
                         available_s=available_s, capacity=capacity, vehicle=c.vehicle,
                         shift_end_s=c.off_s)

    def _seen_free_s(self, i: int, now_s: float, board: ReadyBoard) -> float:
        """When the dispatcher believes courier `i` is free (true end once its food is known)."""
        true_free = float(self.free_s[i])
        k = self._last_trip.get(i)
        if board.known or k is None or true_free <= now_s:
            return true_free
        trip = self.trips[k]
        for visit in trip.visits:
            if visit.kind == "pickup" and visit.at_s > now_s:
                ready = max(board.ready_s(self._orders[o], now_s, waited=True)
                            for o in visit.order_ids)
                seen_at = max(ready, visit.arrive_s + self._half_pickup)
                return true_free + (seen_at - visit.at_s)
        return true_free

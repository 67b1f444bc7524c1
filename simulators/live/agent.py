"""`RiderAgent`: what one rider does, as plain logic on simulated time (no I/O).

The rider follows its route (the stops the service sent with its last accepted offer),
moving in a straight line at its vehicle's speed with the street detour folded into the
time; waits at a pickup until the food is ready; hands over after a dwell; answers offers
after a moment's thought; records a noisy GPS fix every `fix_every_s`. The I/O layer
(`simulators.live.session`) asks what is due and reports what the service said.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, NamedTuple

from geo.travel import HaversineTravel
from simulators.city.model import RiderProfile
from simulators.live.params import AgentParams

M_PER_DEG = 111_320.0
TRAVEL = HaversineTravel()


@dataclass(frozen=True, slots=True)
class Stop:
    """One stop of the route."""

    kind: str  # "pickup" or "dropoff"
    order_id: str
    lat: float
    lng: float


class Action(NamedTuple):
    """Something due that needs the service: pickup, deliver, answer an offer, go off."""

    kind: str
    order_id: str = ""
    accept: bool = False


class RiderAgent:
    """One rider's movement, route and decisions."""

    def __init__(self, profile: RiderProfile, params: AgentParams, rng: random.Random,
                 now_s: float, shift_end_s: float) -> None:
        self.profile, self.params, self.rng = profile, params, rng
        self.speed_mps = TRAVEL.speed_mps(profile.vehicle) / TRAVEL.detour_factor
        self.shift_end_s = shift_end_s
        self.route: list[Stop] = []
        self.origin = (profile.lat, profile.lng)  # where the current leg started
        self.depart_s = self.arrive_s = now_s
        self.ready_s: dict[str, float] = {}
        self.done: set[tuple[str, str]] = set()
        self.answers: list[tuple[float, str, bool]] = []
        self.acting: Stop | None = None  # the stop whose call to the service is under way
        self.seq = -1
        self.next_fix_s = now_s
        self.next_dropout_s = now_s + self._dropout_gap()
        self.odometer_m = self.busy_s = 0.0
        self.mark_s = now_s

    def _dropout_gap(self) -> float:
        rate = self.params.dropouts_per_hour
        return math.inf if rate <= 0 else self.rng.expovariate(rate / 3600.0)

    def position(self, now_s: float) -> tuple[float, float]:
        """Where the rider is (without GPS noise)."""
        if not self.route or now_s <= self.depart_s:
            return self.origin
        target = self.route[0]
        if now_s >= self.arrive_s:
            return target.lat, target.lng
        share = (now_s - self.depart_s) / (self.arrive_s - self.depart_s)
        lat0, lng0 = self.origin
        return lat0 + (target.lat - lat0) * share, lng0 + (target.lng - lng0) * share

    def _halt(self, now_s: float) -> None:
        """Stop where the rider is now, counting the distance and busy time so far."""
        here = self.position(now_s)
        self.odometer_m += float(TRAVEL.distance_m(*self.origin, *here))
        if self.route:
            self.busy_s += now_s - self.mark_s
        self.mark_s = now_s
        self.origin, self.depart_s, self.arrive_s = here, now_s, now_s

    def _leg(self, now_s: float) -> None:
        """Set off from where the rider stands to the route's first stop."""
        if self.route:
            stop = self.route[0]
            metres = float(TRAVEL.distance_m(*self.origin, stop.lat, stop.lng))
            self.arrive_s = now_s + metres / TRAVEL.detour_factor / self.speed_mps

    def set_route(self, stops: list[dict[str, Any]], now_s: float) -> None:
        """Follow the route the service sent, minus the stops already served."""
        route = [Stop(s["kind"], s["order_id"], float(s["lat"]), float(s["lng"])) for s in stops
                 if (s["kind"], s["order_id"]) not in self.done]
        same_target = bool(self.route and route and route[0] == self.route[0])
        if same_target:
            self.route = route
            return
        self._halt(now_s)
        self.route = route
        self._leg(now_s)

    def finish_stop(self, now_s: float, ok: bool) -> None:
        """The stop's call came back: served (ok) or refused (drop the order's stops)."""
        stop, self.acting = self.acting, None
        if stop is None:
            return
        self._halt(now_s)
        self.done.add((stop.kind, stop.order_id))
        self.route = [s for s in self.route if s != stop and (ok or s.order_id != stop.order_id)]
        self._leg(now_s)

    def on_offer(self, order_id: str, ready_s: float, now_s: float) -> None:
        """Decide on an offer; the answer goes out after a moment's thought."""
        self.ready_s[order_id] = ready_s
        accept = self.rng.random() < self.profile.accept_prob and now_s < self.shift_end_s
        low, high = self.params.think_s
        self.answers.append((now_s + self.rng.uniform(low, high), order_id, accept))

    def stop_due_s(self) -> float:
        """When the first stop's pickup or hand-over is due (inf if none or under way)."""
        if not self.route or self.acting is not None:
            return math.inf
        stop = self.route[0]
        if stop.kind == "pickup":
            start = max(self.arrive_s, self.ready_s.get(stop.order_id, self.arrive_s))
            return start + self.params.pickup_dwell_s
        return self.arrive_s + self.params.dropoff_dwell_s

    def off_due_s(self) -> float:
        """When the rider may end its shift (inf while it has work)."""
        return math.inf if self.route or self.answers else self.shift_end_s

    def next_due_s(self) -> float:
        """The next moment something is due."""
        answer = min((due for due, _, _ in self.answers), default=math.inf)
        return min(answer, self.stop_due_s(), self.next_fix_s, self.next_dropout_s,
                   self.off_due_s())

    def due_actions(self, now_s: float) -> list[Action]:
        """Everything due now that needs the service; marks a stop's call as under way."""
        actions = [Action("answer", oid, accept) for due, oid, accept in self.answers
                   if due <= now_s]
        self.answers = [a for a in self.answers if a[0] > now_s]
        if self.stop_due_s() <= now_s:
            stop = self.acting = self.route[0]
            actions.append(Action("pickup" if stop.kind == "pickup" else "deliver",
                                  stop.order_id))
        if self.off_due_s() <= now_s:
            actions.append(Action("off"))
        return actions

    def fix(self, now_s: float) -> tuple[int, float, float, float]:
        """Record a GPS fix now: (seq, lat, lng, speed m/s), with noise."""
        self.seq += 1
        self.next_fix_s = now_s + self.params.fix_every_s
        lat, lng = self.position(now_s)
        noise = self.params.gps_noise_m / M_PER_DEG
        moving = bool(self.route) and self.depart_s < now_s < self.arrive_s
        return (self.seq, lat + self.rng.gauss(0.0, noise),
                lng + self.rng.gauss(0.0, noise) / math.cos(math.radians(lat)),
                self.speed_mps * TRAVEL.detour_factor if moving else 0.0)

    def dropout_due(self, now_s: float) -> bool:
        """True (once) when the connection should drop now."""
        if now_s < self.next_dropout_s:
            return False
        self.next_dropout_s = now_s + self._dropout_gap()
        return True

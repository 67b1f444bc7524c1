"""The rider agent's logic on simulated time: routes, waits, refusals, offers, fixes."""

from __future__ import annotations

import math
import random
from typing import Any

from geo.distance import haversine_m
from simulators.city import RiderProfile
from simulators.live.agent import RiderAgent
from simulators.live.params import AgentParams, LiveParams

PROFILE = RiderProfile(index=0, vehicle="bicycle", lat=52.52, lng=13.40, shift_start_s=0.0,
                       shift_end_s=10_000.0, accept_prob=1.0)
PARAMS = AgentParams(gps_noise_m=0.0, dropouts_per_hour=0.0, think_s=(5.0, 5.0))


def stop(kind: str, order_id: str, lat: float, lng: float) -> dict[str, Any]:
    return {"kind": kind, "order_id": order_id, "lat": lat, "lng": lng, "eta_ms": None}


def agent(profile: RiderProfile = PROFILE) -> RiderAgent:
    return RiderAgent(profile, PARAMS, random.Random(1), 0.0, profile.shift_end_s)


def serve_first(rider: RiderAgent, ok: bool = True) -> float:
    due = rider.stop_due_s()
    assert [a.kind for a in rider.due_actions(due)] in (["pickup"], ["deliver"])
    rider.finish_stop(due, ok)
    return due


def test_a_rider_rides_to_the_pickup_waits_for_the_food_then_delivers() -> None:
    rider = agent()
    rider.on_offer("o1", ready_s=5000.0, now_s=0.0)
    assert [a.kind for a in rider.due_actions(5.0)] == ["answer"]
    rider.set_route([stop("pickup", "o1", 52.53, 13.40), stop("dropoff", "o1", 52.53, 13.42)],
                    5.0)
    assert rider.arrive_s < 5000.0
    assert rider.stop_due_s() == 5000.0 + PARAMS.pickup_dwell_s
    serve_first(rider)
    assert rider.position(rider.depart_s) == (52.53, 13.40)
    delivered = serve_first(rider)
    assert rider.route == []
    metres = haversine_m(52.52, 13.40, 52.53, 13.40) + haversine_m(52.53, 13.40, 52.53, 13.42)
    assert math.isclose(rider.odometer_m, metres * 1.3, rel_tol=1e-6)
    assert math.isclose(rider.busy_s, delivered - 5.0)


def test_a_refused_pickup_drops_every_stop_of_that_order() -> None:
    rider = agent()
    rider.set_route([stop("pickup", "o1", 52.53, 13.40), stop("pickup", "o2", 52.53, 13.41),
                     stop("dropoff", "o1", 52.54, 13.40), stop("dropoff", "o2", 52.54, 13.41)],
                    0.0)
    serve_first(rider, ok=False)
    assert [(s.kind, s.order_id) for s in rider.route] == [("pickup", "o2"), ("dropoff", "o2")]


def test_a_new_route_keeps_the_current_leg_and_skips_stops_already_served() -> None:
    rider = agent()
    first = [stop("pickup", "o1", 52.53, 13.40), stop("dropoff", "o1", 52.54, 13.40)]
    rider.set_route(first, 0.0)
    arrive = rider.arrive_s
    rider.set_route([*first, stop("pickup", "o2", 52.53, 13.41)], 60.0)
    assert rider.arrive_s == arrive
    serve_first(rider)
    rider.set_route([*first, stop("pickup", "o2", 52.53, 13.41)], rider.depart_s)
    assert [(s.kind, s.order_id) for s in rider.route] == [("dropoff", "o1"), ("pickup", "o2")]


def test_offers_after_the_shift_are_declined_and_the_rider_goes_off_when_idle() -> None:
    rider = agent()
    rider.on_offer("late", ready_s=0.0, now_s=PROFILE.shift_end_s + 1)
    (answer, off) = rider.due_actions(PROFILE.shift_end_s + 10)
    assert (answer.kind, answer.accept) == ("answer", False) and off.kind == "off"


def test_fixes_count_up_and_follow_the_cadence() -> None:
    rider = agent()
    seqs = []
    for now in (0.0, 20.0, 40.0):
        seq, lat, lng, speed = rider.fix(now)
        seqs.append(seq)
        assert (lat, lng, speed) == (52.52, 13.40, 0.0)
    assert seqs == [0, 1, 2] and rider.next_fix_s == 40.0 + PARAMS.fix_every_s


def test_wall_clock_settings_become_simulated_time_at_the_run_speed() -> None:
    params = LiveParams(speed=20.0, fix_every_wall_s=5.0, max_offline_wall_s=2.0)
    habits = params.agent_params()
    assert habits.fix_every_s == 100.0
    assert habits.offline_s == (5.0, 40.0)
    assert params.drain_s() == 75 * 60 / 20

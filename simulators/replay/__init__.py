"""Offline replay of a delivery day through the optimizer's library entry point."""

from __future__ import annotations

from simulators.replay.engine import Replay, ReplayConfig, ReplayResult, replay
from simulators.replay.policies import POLICY_NAMES, PolicyTuning, Proposal, make_policy
from simulators.replay.trips import Trip, Visit

__all__ = [
    "POLICY_NAMES",
    "PolicyTuning",
    "Proposal",
    "Replay",
    "ReplayConfig",
    "ReplayResult",
    "Trip",
    "Visit",
    "make_policy",
    "replay",
]

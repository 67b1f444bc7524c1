"""What the simulator saw: rider-side events per order, and counters of the stream.

Both are plain data so that worker processes can send theirs back to be merged.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

# Error codes on the rider stream that mean the simulator or the service broke the protocol.
PROTOCOL_CODES = frozenset({"frame.invalid", "request.invalid", "batch.too_large",
                            "rate.limited", "store.unavailable"})


@dataclass
class Journal:
    """First time of each event per order (epoch seconds), and which rider it was."""

    events: dict[str, dict[str, float]] = field(default_factory=dict)

    def note(self, order_id: str, kind: str, epoch_s: float) -> None:
        """Record `kind` for the order unless it was seen before."""
        self.events.setdefault(order_id, {}).setdefault(kind, epoch_s)

    def merge(self, other: dict[str, dict[str, float]]) -> None:
        """Fold in another journal's events (earliest time wins)."""
        for order_id, kinds in other.items():
            mine = self.events.setdefault(order_id, {})
            for kind, when in kinds.items():
                mine[kind] = min(when, mine.get(kind, when))


@dataclass
class StreamStats:
    """Counters of the riders' side: frames, fixes, offers, errors, closes, distances."""

    counts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # error frames, by code
    closes: Counter[str] = field(default_factory=Counter)  # unexpected closes, by code
    totals: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def protocol_errors(self) -> int:
        """Error frames about the protocol plus connections the server closed on us."""
        return sum(n for code, n in self.errors.items() if code in PROTOCOL_CODES) + sum(
            self.closes.values())

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for merging and reports)."""
        return {"counts": dict(self.counts), "errors": dict(self.errors),
                "closes": dict(self.closes), "totals": dict(self.totals)}

    def merge(self, other: dict[str, Any]) -> None:
        """Fold in another process's counters."""
        self.counts.update(other["counts"])
        self.errors.update(other["errors"])
        self.closes.update(other["closes"])
        for key, value in other["totals"].items():
            self.totals[key] += value

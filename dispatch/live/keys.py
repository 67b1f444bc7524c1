"""Redis key names of the live store, hash-tagged by region so a region's keys share one slot."""

from __future__ import annotations

from dataclasses import dataclass

REGIONS_KEY = "d:regions"


@dataclass(frozen=True, slots=True)
class RegionKeys:
    """The key names of one region; every one carries the `{region}` hash tag."""

    region: str

    @property
    def tag(self) -> str:
        return f"d:{{{self.region}}}"

    @property
    def seen(self) -> str:
        """Sorted set: rider id scored by the server time (ms) of its latest applied fix."""
        return f"{self.tag}:seen"

    @property
    def cell_prefix(self) -> str:
        return f"{self.tag}:cell:"

    @property
    def rider_prefix(self) -> str:
        return f"{self.tag}:r:"

    def cell(self, cell: str) -> str:
        """String: a fixed-width record for each rider currently in `cell` (see `scripts`).
        Named apart from the hashes per cell that came before it, so a store upgraded in
        place never reads one of those as a string."""
        return f"{self.cell_prefix}{cell}"

    def rider(self, rider_id: str) -> str:
        """Hash: one rider's latest position, sequence numbers, status, load and cell."""
        return f"{self.tag}:r:{rider_id}"

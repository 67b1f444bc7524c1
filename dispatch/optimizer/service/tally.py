"""`AnswerTally`: every answered offer counted once in its region's batch reports.

An answer is stamped (`answered_at`) before its transaction commits. A batch that read
only the answers stamped since the previous batch would miss one whose transaction was
still open when the previous batch looked, and never count it (seen on a loaded machine:
an accepted offer missing from `dispatch_offers_total`). So each batch reads the answers
stamped in the last `LAG_S` (and not before the lease was taken) and counts the offers it
has not counted yet; it remembers the ones it counted for as long as they can be read
again.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable

LAG_S = 60.0  # counted if its transaction commits within this less a batch interval of its stamp

Answer = tuple[str, str, dt.datetime]  # offer id, its state, when it was answered


class AnswerTally:
    """The offers of one region counted so far, and from when answers are this holder's."""

    def __init__(self, since: dt.datetime) -> None:
        self.since = since
        self._counted: dict[str, dt.datetime] = {}

    def restart(self, since: dt.datetime) -> None:
        """A new lease: answers before `since` were the previous holder's to count."""
        self.since = since

    def window_start(self, now: dt.datetime) -> dt.datetime:
        """Read the answers stamped after this."""
        return max(self.since, now - dt.timedelta(seconds=LAG_S))

    def count(self, answers: Iterable[Answer], now: dt.datetime) -> Counter[str]:
        """The answers not counted before, by state; they are counted from now on."""
        fresh: Counter[str] = Counter()
        for offer_id, state, answered_at in answers:
            if offer_id not in self._counted:
                self._counted[offer_id] = answered_at
                fresh[state] += 1
        horizon = self.window_start(now)
        self._counted = {k: at for k, at in self._counted.items() if at > horizon}
        return fresh

"""`TaskStore`: tasks kept in slots of a fixed number of rows, appended to and gathered by slot.

What `BatchMemo` keeps of candidate bundles: each slot holds one group's template
tasks. Appending grows the arrays by doubling, so a batch pays for its new groups only,
and a batch's tasks come out in one `np.take` per field, however its groups mix old and
new slots (scattering old and new rows into place cost as much as building them all).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np

from dispatch.optimizer.core.routes import IntArray, Tasks

_FIELDS = tuple(f.name for f in fields(Tasks))


class TaskStore:
    """Slots of `width` tasks each; slots are numbered in the order they were appended."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.slots = 0
        self._columns: dict[str, Any] = {}

    def append(self, tasks: Tasks) -> IntArray:
        """Store `tasks` (`width` rows per slot, slot-major); return their new slots."""
        n = tasks.count
        used = self.slots * self.width
        if not self._columns:
            self._columns = {name: getattr(tasks, name).copy() for name in _FIELDS}
        else:
            for name in _FIELDS:
                column, new = self._columns[name], getattr(tasks, name)
                if used + n > len(column):
                    grown = np.empty((max(2 * len(column), used + n), *column.shape[1:]),
                                     dtype=column.dtype)
                    grown[:used] = column[:used]
                    self._columns[name] = column = grown
                column[used:used + n] = new
        first = self.slots
        self.slots += n // self.width
        return np.arange(first, self.slots, dtype=np.int64)

    def take(self, slots: IntArray) -> Tasks:
        """The tasks of `slots`, slot by slot."""
        rows = (slots[:, None] * self.width + np.arange(self.width)).ravel()
        return Tasks(**{name: np.take(self._columns[name], rows, axis=0) for name in _FIELDS})
